"""Running a retrying Celery task in a test as a worker would, without the
waits: `run_retrying(task, **kwargs)` runs it, then each retry it asks for at
once, and returns (its result, the countdowns it asked to wait)."""
from celery.exceptions import Retry


def run_retrying(task, **kwargs) -> tuple[object, list]:
    waits = []
    while True:
        try:
            return task.apply(kwargs=kwargs, retries=len(waits), throw=True).get(), waits
        except Retry as retry:
            waits.append(retry.when)
