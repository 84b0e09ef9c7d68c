"""Running the local vendor and FIRS sandboxes.

Each sandbox is a WSGI app in its vendor's package (`<package>/sandbox/app.py`,
function `create_app(**options)`), speaking that vendor's documented protocol.
This module knows only the registry below; it serves any of them on a port
(threaded werkzeug server) for `manage.py sandboxes`, `make demo`, the tests and
the benches. Production never runs these: settings point at the real hosts.
"""
import importlib
import importlib.util
import threading
from dataclasses import dataclass

from django.conf import settings
from werkzeug.serving import make_server

# name → "module:factory"; a sandbox is served once its module exists.
KNOWN_SANDBOXES = (
    ("firs", "invoicing.firs.sandbox.app:create_app"),
    ("hubspot", "integrations.crm.hubspot.sandbox.app:create_app"),
    ("salesforce", "integrations.crm.salesforce.sandbox.app:create_app"),
    ("pipedrive", "integrations.crm.pipedrive.sandbox.app:create_app"),
    ("square", "integrations.pos.square.sandbox.app:create_app"),
    ("toast", "integrations.pos.toast.sandbox.app:create_app"),
    ("lightspeed", "integrations.pos.lightspeed.sandbox.app:create_app"),
    ("odoo", "integrations.erp.odoo.sandbox.app:create_app"),
)
SANDBOX_APPS: dict[str, str] = {}


def _load_registry():
    """Register every sandbox whose module exists in this checkout."""
    for name, path in KNOWN_SANDBOXES:
        try:
            found = importlib.util.find_spec(path.split(":")[0]) is not None
        except ModuleNotFoundError:
            found = False
        if found:
            SANDBOX_APPS.setdefault(name, path)
    return SANDBOX_APPS


def available() -> dict[str, str]:
    return dict(_load_registry())


@dataclass
class RunningSandbox:
    name: str
    url: str
    app: object
    server: object
    thread: threading.Thread

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def create_app(name: str, **options):
    path = available()[name]
    module_name, factory = path.split(":")
    return getattr(importlib.import_module(module_name), factory)(**options)


def start(name: str, *, host: str | None = None, port: int | None = None, **options) -> RunningSandbox:
    """Serve sandbox `name` in a background thread; port 0 picks a free one."""
    host = host or settings.SANDBOX_HOST
    port = settings.SANDBOX_PORTS[name] if port is None else port
    app = create_app(name, **options)
    server = make_server(host, port, app, threaded=True)
    url = f"http://{host}:{server.server_port}"
    if hasattr(app, "set_base_url"):
        app.set_base_url(url)
    thread = threading.Thread(target=server.serve_forever, name=f"sandbox-{name}", daemon=True)
    thread.start()
    return RunningSandbox(name=name, url=url, app=app, server=server, thread=thread)
