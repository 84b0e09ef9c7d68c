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
from celery.signals import task_postrun, task_prerun

from taxpoynt.heap import freeze_once

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taxpoynt.settings")

app = Celery("taxpoynt")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _is_eager(task) -> bool:
    """An eager task runs inside its caller (its process, its transaction)."""
    return getattr(getattr(task, "request", None), "is_eager", False)


@task_prerun.connect
@task_postrun.connect
def close_old_db_connections(sender=None, **kwargs):
    """Around each task, what Django does around each request: drop the
    connections past CONN_MAX_AGE or unusable, keep (and health-check on first
    use) the others. Eager tasks run inside their caller's transaction."""
    if _is_eager(sender):
        return
    from django.db import close_old_connections

    close_old_connections()


@task_postrun.connect
def freeze_the_warm_heap(sender=None, **kwargs):
    """After a worker process's first task, its long-lived objects (those of
    the lazy compilations and pools too) leave the full collections
    (taxpoynt.heap). Not for eager tasks: their process is the caller's."""
    if not _is_eager(sender):
        freeze_once()


def route_task(name, args, kwargs, options, task=None, **kw):
    """Celery router: the queue for a task, from its dotted name. A `batch*`
    task is batch work whatever its module (a POS end of day included: a
    retry is routed by name again and must not land on pos_realtime)."""
    leaf = name.rsplit(".", 1)[-1]
    if leaf.startswith("batch"):
        return {"queue": "batch"}
    if name.startswith("integrations.pos."):
        return {"queue": "pos_realtime"}
    if leaf.startswith("sync") or ".sync" in name:
        return {"queue": "sync"}
    if ".batch" in name:
        return {"queue": "batch"}
    return {"queue": "crm"}
