"""WSGI entry point (gunicorn taxpoynt.wsgi).

Vendor webhooks (`/webhooks/…`) go to a second Django handler whose middleware
chain leaves out what only browser and API users need: a delivery is
authenticated by its signature alone, carries no cookie or session, and its
acknowledgement is on the clock (docs/architecture.md, request path 2). Every
other path gets the full settings.MIDDLEWARE.
"""
import os

from django.core.exceptions import MiddlewareNotUsed
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application
from django.utils.module_loading import import_string

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taxpoynt.settings")

WEBHOOK_PREFIX = "/webhooks/"


def webhook_middleware() -> list[str]:
    from django.conf import settings

    # Everything but settings.BROWSER_MIDDLEWARE: security, Prometheus and any
    # middleware added later still run.
    return [m for m in settings.MIDDLEWARE if m not in settings.BROWSER_MIDDLEWARE]


class WebhookWSGIHandler(WSGIHandler):
    """Django's WSGI handler with webhook_middleware() as its chain."""

    def load_middleware(self, is_async=False):
        # BaseHandler.load_middleware for a synchronous chain, from our list.
        self._view_middleware, self._template_response_middleware, self._exception_middleware = [], [], []
        handler = convert_exception_to_response(self._get_response)
        for path in reversed(webhook_middleware()):
            try:
                mw = import_string(path)(handler)
            except MiddlewareNotUsed:
                continue
            if hasattr(mw, "process_view"):
                self._view_middleware.insert(0, mw.process_view)
            if hasattr(mw, "process_template_response"):
                self._template_response_middleware.append(mw.process_template_response)
            if hasattr(mw, "process_exception"):
                self._exception_middleware.append(mw.process_exception)
            handler = convert_exception_to_response(mw)
        self._middleware_chain = handler


django_application = get_wsgi_application()
webhook_application = WebhookWSGIHandler()

# Imported once a gunicorn worker is forked (or before, with --preload): its
# startup objects leave the garbage collector's full passes (taxpoynt.heap).
from taxpoynt.heap import freeze_once  # noqa: E402

freeze_once()


def application(environ, start_response):
    # PATH_INFO excludes SCRIPT_NAME, as Django's URL resolution does.
    if environ.get("PATH_INFO", "").startswith(WEBHOOK_PREFIX):
        return webhook_application(environ, start_response)
    return django_application(environ, start_response)
