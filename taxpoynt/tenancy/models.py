import uuid

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from fernet_fields import EncryptedTextField

tin_validator = RegexValidator(r"^[0-9A-Za-z-]{5,20}$", "A TIN is 5 to 20 letters, digits or dashes.")
service_id_validator = RegexValidator(r"^[0-9A-Za-z]{8}$", "The FIRS service id is 8 letters or digits.")


class Organization(models.Model):
    """A merchant business: the tenant that owns every other row."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    tin = models.CharField("TIN", max_length=20, validators=[tin_validator])
    email = models.EmailField(blank=True)
    telephone = models.CharField(max_length=30, blank=True, help_text="International form, starting with +.")
    firs_business_id = models.UUIDField("FIRS business id", null=True, blank=True)
    firs_service_id = models.CharField(
        "FIRS service id", max_length=8, blank=True, validators=[service_id_validator]
    )
    street_name = models.CharField(max_length=200, blank=True)
    city_name = models.CharField(max_length=100, blank=True)
    postal_zone = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, default="NG")
    default_currency = models.CharField(max_length=3, default="NGN")
    # FIRS credentials and the stamp key file (crypto_keys JSON), encrypted at rest.
    firs_api_key = EncryptedTextField(blank=True, default="")
    firs_api_secret = EncryptedTextField(blank=True, default="")
    firs_crypto_keys = EncryptedTextField(blank=True, default="", help_text="The crypto_keys JSON issued by FIRS.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ACCOUNTANT = "accountant", "Accountant"
        VIEWER = "viewer", "Viewer"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "organization"], name="uniq_membership")]

    def __str__(self):
        return f"{self.user} @ {self.organization} ({self.role})"


class StaffAssignment(models.Model):
    """Which organizations a non-superuser support agent may see in admin."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_assignments")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="staff_assignments")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "organization"], name="uniq_staff_assignment")]
