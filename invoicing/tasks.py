"""Celery tasks of the submission pipeline (thin: each calls one service).

- `process_submission` runs one submission; callers enqueue it on the
  submission's own queue (`apply_async(queue=submission.queue)`), so a POS
  sale's submission runs on pos_realtime, not behind CRM work.
- `process_submissions` runs a chunk of them in one task: the bulk creation
  of a batch (`invoices_create_from_canonicals`) enqueues its new submissions
  that way, a publish per chunk instead of per invoice.
- `process_due_submissions` is the beat task (every 5 s, registered in
  migration 0003): it claims due rows with SELECT … FOR UPDATE SKIP LOCKED in a
  short transaction (a lease per row), then processes each. It also picks up
  anything whose task was lost (broker down at enqueue time, worker killed).
"""
import time

from celery import shared_task

from . import services

# One beat run stops claiming after this long, so runs do not pile up.
DUE_BATCH_SIZE = 50
DUE_TIME_BUDGET_SECONDS = 20


@shared_task(name="invoicing.tasks.process_submission", ignore_result=True)
def process_submission(submission_id: str):
    services.submission_process(submission_id=submission_id)


@shared_task(name="invoicing.tasks.process_submissions", ignore_result=True)
def process_submissions(submission_ids: list[str]):
    """Run several submissions one after another (a bulk creation's chunk;
    what a worker killed midway leaves, the due-submission sweep finishes)."""
    for submission_id in submission_ids:
        services.submission_process(submission_id=submission_id)


@shared_task(name="invoicing.tasks.process_due_submissions", ignore_result=True)
def process_due_submissions(limit: int = DUE_BATCH_SIZE) -> int:
    """Process due submissions; returns how many were claimed."""
    deadline = time.monotonic() + DUE_TIME_BUDGET_SECONDS
    claimed = services.submission_claim_due(limit=limit)
    for n, (submission_id, token) in enumerate(claimed):
        if time.monotonic() > deadline:
            # Hand the rest back: their leases are released for the next run.
            for rest_id, rest_token in claimed[n:]:
                services.submission_release(submission_id=rest_id, token=rest_token)
            break
        services.submission_process_claimed(submission_id=submission_id, token=token)
    return len(claimed)
