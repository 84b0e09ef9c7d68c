"""Deployment checks (`manage.py check --deploy`): refuse the labelled demo
secrets outside the demo."""
from django.conf import settings
from django.core.checks import Error, register


@register(deploy=True)
def demo_secrets_check(app_configs, **kwargs):
    errors = []
    if settings.SECRET_KEY == settings.DEMO_SECRET_KEY:
        errors.append(Error("SECRET_KEY is the demo value.", hint="Set SECRET_KEY in the environment.",
                            id="taxpoynt.E001"))
    if any(key.startswith("demo-only-") for key in settings.FERNET_KEYS):
        errors.append(Error("FERNET_KEYS holds the demo key.",
                            hint="Set FERNET_KEYS (comma-separated, newest first) in the environment.",
                            id="taxpoynt.E002"))
    if any(v["client_secret"].startswith("demo-") for v in settings.VENDORS.values()):
        names = sorted(k for k, v in settings.VENDORS.items() if v["client_secret"].startswith("demo-"))
        errors.append(Error(f"Vendor client secrets are demo values: {', '.join(names)}.",
                            hint="Set <VENDOR>_CLIENT_ID / <VENDOR>_CLIENT_SECRET for each connected vendor.",
                            id="taxpoynt.E003"))
    if settings.SQUARE_WEBHOOK_SIGNATURE_KEY.startswith("demo-"):
        # The demo key is in this repository: anyone could sign deliveries with it.
        errors.append(Error("SQUARE_WEBHOOK_SIGNATURE_KEY is the demo value.",
                            hint="Set SQUARE_WEBHOOK_SIGNATURE_KEY to the webhook subscription's signature key "
                                 "(Square Developer Console).",
                            id="taxpoynt.E004"))
    return errors
