import socket

from celery import shared_task

from . import services


@shared_task(name="taxpoynt.ops.tasks.heartbeat")
def heartbeat(queue: str):
    """Scheduled onto each queue by beat; proves a worker drains it."""
    services.heartbeat_record(queue=queue, hostname=socket.gethostname())
