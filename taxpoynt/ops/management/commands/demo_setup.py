"""Create (idempotently) the demo organization and its owner for `make demo`."""
from django.contrib.auth import get_user_model
from django.contrib.sites.models import Site
from django.core.management.base import BaseCommand

from taxpoynt.tenancy.models import Membership, Organization
from taxpoynt.tenancy.services import organization_create

# DEMO values, printed by `make demo`; never used outside the demo.
DEMO_EMAIL = "demo@taxpoynt.local"
DEMO_PASSWORD = "demo-pass-2026"


class Command(BaseCommand):
    help = "Create the demo organization and user (idempotent) and print the login."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000/")

    def handle(self, *args, url, **options):
        from allauth.account.models import EmailAddress

        Site.objects.update_or_create(pk=1, defaults={"domain": "127.0.0.1:8000", "name": "TaxPoynt demo"})
        User = get_user_model()
        user = User.objects.filter(email=DEMO_EMAIL).first()
        if user is None:
            user = User.objects.create_user(username="demo", email=DEMO_EMAIL, password=DEMO_PASSWORD)
        EmailAddress.objects.update_or_create(user=user, email=DEMO_EMAIL,
                                              defaults={"verified": True, "primary": True})
        org = Organization.objects.filter(slug="demo-foods").first()
        if org is None:
            org = organization_create(
                name="Demo Foods Ltd", slug="demo-foods", tin="12345678-0001", owner=user,
                email="accounts@demofoods.ng", telephone="+2348012345678",
                firs_service_id="F3A3A0CF", street_name="12 Marina Road", city_name="Lagos",
                postal_zone="101241", country="NG",
            )
        Membership.objects.get_or_create(user=user, organization=org, defaults={"role": Membership.Role.OWNER})
        if not User.objects.filter(is_superuser=True).exists():
            User.objects.create_superuser(username="support", email="support@taxpoynt.local",
                                          password=DEMO_PASSWORD)
        self.stdout.write(self.style.SUCCESS(
            f"\nTaxPoynt demo is ready.\n  URL:      {url}\n  Email:    {DEMO_EMAIL}\n  Password: {DEMO_PASSWORD}\n"
            f"  Support console: {url}admin/  (support@taxpoynt.local / {DEMO_PASSWORD})\n"))
