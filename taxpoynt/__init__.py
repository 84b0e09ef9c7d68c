"""TaxPoynt project package: settings, URLs, the Celery app and the small
cross-cutting apps (tenancy, audit, ops, dashboard, api plumbing)."""
from .celery import app as celery_app

__all__ = ("celery_app",)
