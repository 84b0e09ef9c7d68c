"""Helpers shared by the end-to-end tests (real worker processes, sandboxes)."""
import time

from integrations.connections.models import WebhookEvent
from invoicing.models import Submission


def wait_for(predicate, timeout=60.0, what="condition", worker=None):
    """Poll `predicate` until it returns something truthy; on timeout fail with
    what the pipeline holds (events, submissions) and the worker's last output."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    output = ""
    if worker is not None:
        if worker.poll() is None:
            worker.terminate()
        output = worker.stdout.read().decode(errors="replace")[-4000:]
    events = list(WebhookEvent.objects.values_list("event_type", "status", "error"))
    subs = list(Submission.objects.values_list("state", "error", "errors"))
    raise AssertionError(f"timed out waiting for {what}; events {events}; submissions {subs}; worker: {output}")
