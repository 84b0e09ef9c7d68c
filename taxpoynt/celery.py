"""The Celery app: Redis broker, four queues, routing by task module.

Routing is by the module a task lives in, so a new vendor's tasks land on the
right queue by where they are written, never by a list of vendor names:
- `integrations.pos.*`            → pos_realtime (a sale must not wait)
- `*.sync*` task names            → sync        (delta syncs, historical imports)
- `*.batch*` task names           → batch       (end-of-day, bulk re-processing)
- everything else                 → crm         (CRM/ERP events, FIRS submissions)
A caller may still pass `queue=` explicitly (e.g. a POS invoice's submission).
"""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taxpoynt.settings")

app = Celery("taxpoynt")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def route_task(name, args, kwargs, options, task=None, **kw):
    """Celery router: the queue for a task, from its dotted name."""
    leaf = name.rsplit(".", 1)[-1]
    if name.startswith("integrations.pos."):
        return {"queue": "pos_realtime"}
    if leaf.startswith("sync") or ".sync" in name:
        return {"queue": "sync"}
    if leaf.startswith("batch") or ".batch" in name:
        return {"queue": "batch"}
    return {"queue": "crm"}
