"""`manage.py check --deploy` (taxpoynt/ops/checks.py) refuses each demo
secret the repository carries, and passes once each is set."""
from django.core.checks import run_checks

IDS = {"taxpoynt.E001", "taxpoynt.E002", "taxpoynt.E003", "taxpoynt.E004"}


def _ours(**kwargs):
    return {e.id for e in run_checks(include_deployment_checks=True, **kwargs) if e.id in IDS}


def test_every_demo_secret_is_refused(settings):
    settings.SECRET_KEY = settings.DEMO_SECRET_KEY
    settings.FERNET_KEYS = ["demo-only-fernet-key-0001"]
    settings.VENDORS = {**settings.VENDORS, "square": {**settings.VENDORS["square"],
                                                       "client_secret": "demo-square-client-secret"}}
    settings.SQUARE_WEBHOOK_SIGNATURE_KEY = "demo-square-signature-key"
    assert _ours() == IDS


def test_real_secrets_pass(settings):
    settings.SECRET_KEY = "a-real-secret-key-" + "x" * 40
    settings.FERNET_KEYS = ["a-real-fernet-key"]
    settings.VENDORS = {k: {**v, "client_secret": f"real-{k}-secret"} for k, v in settings.VENDORS.items()}
    settings.SQUARE_WEBHOOK_SIGNATURE_KEY = "a-real-signature-key"
    assert _ours() == set()
