"""The FIRS submission state machine (Odoo account_edi's document states).

    draft ──validate──▶ validated ──sign──▶ signed ──transmit──▶ transmitted ──confirm──▶ confirmed
      │                    │  └─sign timed out─▶ unknown ──resend same bytes / lookup──▶ signed
      └──────────── rejected / dead (retries exhausted) / cancelled ◀─────────────┘

The allowed moves are data (`ALLOWED`); `transition` is the one function that
changes `Submission.state`. It refuses any move not in the table and records a
`SubmissionAttempt` for every move (the FIRS exchange, secrets already masked
by the client). A "stay" move (same state, blocking level warning) records a
retryable failure; only the live states allow it.

Retry timing (exponential backoff with full jitter) and the attempt limit are
the constants below, overridable from Django settings of the same name.
"""
import logging
import random
from datetime import timedelta

from django.conf import settings
from django.db import connection as db_connection
from django.utils import timezone

from taxpoynt.db import insert_parts, mark_saved
from taxpoynt.errors import ApplicationError
from taxpoynt.ops import metrics

from .models import Invoice, Submission, SubmissionAttempt

logger = logging.getLogger(__name__)
S = Submission.State

LIVE_STATES = (S.DRAFT, S.VALIDATED, S.SIGNED, S.TRANSMITTED, S.UNKNOWN)
TERMINAL_STATES = (S.CONFIRMED, S.CANCELLED)

# from_state → the states it may move to. Self-loops are "retry later".
ALLOWED: dict[str, frozenset] = {
    S.DRAFT: frozenset({S.DRAFT, S.VALIDATED, S.REJECTED, S.DEAD, S.CANCELLED}),
    S.VALIDATED: frozenset({S.VALIDATED, S.SIGNED, S.UNKNOWN, S.REJECTED, S.DEAD, S.CANCELLED}),
    S.SIGNED: frozenset({S.SIGNED, S.TRANSMITTED, S.REJECTED, S.DEAD}),
    S.TRANSMITTED: frozenset({S.TRANSMITTED, S.CONFIRMED, S.REJECTED, S.DEAD}),
    S.UNKNOWN: frozenset({S.UNKNOWN, S.SIGNED, S.REJECTED, S.DEAD}),
    # A retry (support or merchant) resumes where the document stopped.
    S.REJECTED: frozenset({S.DRAFT, S.VALIDATED, S.SIGNED, S.TRANSMITTED, S.UNKNOWN}),
    S.DEAD: frozenset({S.DRAFT, S.VALIDATED, S.SIGNED, S.TRANSMITTED, S.UNKNOWN}),
    S.CONFIRMED: frozenset(),
    S.CANCELLED: frozenset(),
}

# With full jitter these give up after roughly an hour of consecutive failures:
# a FIRS outage delays documents, only a long one dead-letters them.
BACKOFF_BASE_SECONDS = 5
BACKOFF_CAP_SECONDS = 30 * 60
MAX_ATTEMPTS = 12
# How long a worker's claim on a submission lasts; renewed at every transition.
LEASE_SECONDS = 5 * 60
# The lease a live sale's submission is created with (its creator runs it
# within milliseconds; the first step renews to LEASE_SECONDS). Short, so a
# creator that dies before it starts is replaced by the sweep within a minute.
CREATION_LEASE_SECONDS = 60


def setting(name: str):
    return getattr(settings, f"FIRS_SUBMISSION_{name}", globals()[name])


class IllegalTransition(ApplicationError):
    def __init__(self, from_state, to_state):
        super().__init__(f"a submission cannot move from {from_state} to {to_state}", code="illegal_transition")
        self.from_state = from_state
        self.to_state = to_state


def can_transition(from_state: str, to_state: str) -> bool:
    return to_state in ALLOWED.get(from_state, frozenset())


def backoff_delay(attempt_count: int, *, rng=random) -> float:
    """Seconds before attempt number `attempt_count + 1` (full jitter: uniform
    over [0, min(cap, base · 2^n)], so a burst of failures spreads out)."""
    ceiling = min(setting("BACKOFF_CAP_SECONDS"), setting("BACKOFF_BASE_SECONDS") * (2 ** attempt_count))
    return rng.uniform(0, ceiling)


def _outcome(from_state, to_state):
    if to_state == S.REJECTED:
        return "rejected"
    if to_state == S.UNKNOWN:
        return "unknown"
    if to_state == S.DEAD:
        return "error"
    if to_state == from_state:
        return "retry"
    return "ok"


class SubmissionChanged(ApplicationError):
    """The row is no longer what the caller read (another actor moved it, or
    the caller's lease was taken over); nothing was written."""

    def __init__(self, submission_id):
        super().__init__(f"submission {submission_id} changed under us", code="submission_changed")


def transition(submission: Submission, to_state: str, *, step: str, exchange=None, error: str = "",
               blocking_level: str = "", errors: list | None = None, error_source: str = "",
               lease_token=None) -> SubmissionAttempt:
    """Move `submission` to `to_state` (or keep it there, for a retryable
    failure) and record the attempt. Raises IllegalTransition for a move the
    table does not allow.

    The write is a compare-and-set: the row is updated only while it is still
    in the state the caller read (and, with `lease_token`, while the caller's
    lease still holds; the lease is renewed by the same write). Otherwise
    SubmissionChanged is raised and nothing is written, so a worker never
    overwrites an admin's retry or cancel, and no row lock is needed around
    a FIRS call. A move out of the live states also ends the lease.

    A stay with blocking level warning counts an attempt and schedules the
    next one with backoff; past MAX_ATTEMPTS it moves to dead instead.
    """
    from_state = submission.state
    if not can_transition(from_state, to_state):
        raise IllegalTransition(from_state, to_state)
    now = timezone.now()
    attempt_count = submission.attempt_count
    next_attempt_at = submission.next_attempt_at
    resume_state = submission.resume_state
    sub_errors = submission.errors

    if to_state == from_state or to_state == S.UNKNOWN:
        # A failed attempt whose outcome allows another: count it, back off.
        attempt_count += 1
        if attempt_count >= setting("MAX_ATTEMPTS"):
            error = f"gave up after {attempt_count} attempts: {error}"
            to_state = S.DEAD
            blocking_level = Submission.BlockingLevel.ERROR
        else:
            next_attempt_at = now + timedelta(seconds=backoff_delay(attempt_count))
    else:
        # Progress, a retry from a stopped state, or a stop: due at once / never.
        attempt_count = 0 if from_state in (S.DEAD, S.REJECTED) or to_state in LIVE_STATES else attempt_count
        next_attempt_at = None

    if to_state in (S.DEAD, S.REJECTED) and from_state in LIVE_STATES:
        resume_state = from_state
    elif to_state in LIVE_STATES:
        resume_state = ""
    if to_state in (S.DEAD, S.REJECTED, S.CONFIRMED, S.CANCELLED):
        next_attempt_at = None
    if errors is not None:
        sub_errors = errors
    elif to_state not in (S.REJECTED, S.DEAD) and to_state != from_state:
        sub_errors = []

    fields = {"state": to_state, "error": error, "blocking_level": blocking_level, "errors": sub_errors,
              "error_source": error_source if (error or errors) else "", "attempt_count": attempt_count,
              "next_attempt_at": next_attempt_at, "resume_state": resume_state, "updated_at": now}
    if exchange is not None:
        fields["last_exchange_at"] = now
    if lease_token is not None and to_state in LIVE_STATES:
        fields["locked_until"] = now + timedelta(seconds=setting("LEASE_SECONDS"))
    elif lease_token is not None:
        # No step follows a stopped state: the run's lease ends with this
        # write, not with a release statement after it.
        fields["lease_token"] = fields["locked_until"] = None
    attempt = SubmissionAttempt(
        submission=submission,
        step=step,
        from_state=from_state,
        to_state=to_state,
        request_method=getattr(exchange, "method", "") or "",
        request_url=(getattr(exchange, "url", "") or "")[:500],
        request_body=_text(getattr(exchange, "request_body", "")),
        response_status=getattr(exchange, "status_code", None),
        response_body=_text(getattr(exchange, "response_body", "")),
        latency_ms=_latency(getattr(exchange, "latency_ms", None)),
        outcome=_outcome(from_state, to_state),
        error=error,
    )
    first_signed_at = now if to_state == S.SIGNED and submission.format == "firs" else None
    if not _write(submission, fields, attempt, from_state=from_state, lease_token=lease_token,
                  first_signed_at=first_signed_at):
        raise SubmissionChanged(submission.pk)
    for name, value in fields.items():
        setattr(submission, name, value)
    if Submission.invoice.is_cached(submission):
        submission.invoice.firs_state = to_state
    if to_state == S.CONFIRMED and from_state != S.CONFIRMED and submission.source_received_at:
        metrics.observe_sale_to_confirmed(submission)

    logger.log(
        logging.WARNING if to_state in (S.REJECTED, S.DEAD, S.UNKNOWN) else logging.INFO,
        "submission %s → %s (%s)%s", from_state, to_state, step, f": {error}" if error else "",
        extra={"submission_id": submission.pk, "invoice_id": submission.invoice_id,
               "organization_id": submission.invoice.organization_id
               if Submission.invoice.is_cached(submission) else None},
    )
    return attempt


def _write(submission, fields: dict, attempt: SubmissionAttempt, *, from_state: str, lease_token=None,
           first_signed_at=None) -> bool:
    """The compare-and-set UPDATE (only while the row is in `from_state` and,
    given one, under `lease_token`), the invoice's first-signing time and the
    attempt row as ONE statement (a data-modifying CTE: atomic on its own, one
    round trip where a transaction took five). False when the row was not so
    held, and then nothing is written. The migration-0005 trigger copies the
    state to Invoice.firs_state inside it. PostgreSQL only, as the worker's
    claim and the webhook intake are."""
    quote = db_connection.ops.quote_name
    columns, params = [], []
    for name, value in fields.items():
        field = Submission._meta.get_field(name)
        columns.append(f"{quote(field.column)} = %s")
        params.append(field.get_db_prep_save(value, db_connection))
    held_sql = "id = %s AND state = %s" + (" AND lease_token = %s" if lease_token is not None else "")
    params += [submission.pk, from_state] + ([lease_token] if lease_token is not None else [])
    sql = f"WITH moved AS (UPDATE {Submission._meta.db_table} SET {', '.join(columns)} WHERE {held_sql} RETURNING id)"
    if first_signed_at is not None:
        sql += (f", signed AS (UPDATE {Invoice._meta.db_table} SET signed_at = COALESCE(signed_at, %s) "
                f"WHERE id = %s AND EXISTS (SELECT 1 FROM moved))")
        params += [first_signed_at, submission.invoice_id]
    attempt_columns, placeholders, attempt_params = insert_parts(attempt)
    sql += (f" INSERT INTO {SubmissionAttempt._meta.db_table} ({attempt_columns}) "
            f"SELECT {placeholders} FROM moved RETURNING id")
    with db_connection.cursor() as cursor:
        cursor.execute(sql, params + attempt_params)
        written = cursor.fetchone() is not None
    if written:
        mark_saved(attempt)
    return written


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, str):
        return value
    import json

    return json.dumps(value, default=str)


def _latency(value):
    if value is None:
        return None
    return max(0, int(round(value)))
