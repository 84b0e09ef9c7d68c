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
import functools
import logging
import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection as db_connection
from django.utils import timezone

from taxpoynt.db import current_connection, insert_parts, insert_values, mark_saved, rows_params, rows_sql
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


@dataclass
class Move:
    """One submission's move, as `transitions` takes it: the target state and
    what the attempt records (the FIRS exchange, the error and its level)."""

    submission: Submission
    to_state: str
    exchange: Any = None
    error: str = ""
    blocking_level: str = ""
    errors: list | None = None
    error_source: str = ""


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
    move = Move(submission, to_state, exchange=exchange, error=error, blocking_level=blocking_level,
                errors=errors, error_source=error_source)
    attempts = transitions([move], step=step, lease_token=lease_token)
    if not attempts:
        raise SubmissionChanged(submission.pk)
    return attempts[0]


def transitions(moves: list[Move], *, step: str, lease_token=None) -> list[SubmissionAttempt]:
    """`transition` for several submissions at once (a batch's step, all
    under one lease): every move checked against the table first, then all
    written by one statement per shape of write. Returns the attempts of the
    moves written; a submission that changed under us is left out (nothing
    written for it) and its instance untouched."""
    for move in moves:
        if not can_transition(move.submission.state, move.to_state):
            raise IllegalTransition(move.submission.state, move.to_state)
    now = timezone.now()
    plans = [_plan(move, step=step, now=now, lease_token=lease_token) for move in moves]
    written = _write(plans, lease_token=lease_token, now=now)
    attempts = []
    for move, (fields, attempt, from_state) in zip(moves, plans):
        if move.submission.pk not in written:
            continue
        mark_saved(attempt)
        attempts.append(attempt)
        submission, to_state = move.submission, fields["state"]
        for name, value in fields.items():
            setattr(submission, name, value)
        if Submission.invoice.is_cached(submission):
            submission.invoice.firs_state = to_state
        if to_state == S.CONFIRMED and from_state != S.CONFIRMED and submission.source_received_at:
            metrics.observe_sale_to_confirmed(submission)
        logger.log(
            logging.WARNING if to_state in (S.REJECTED, S.DEAD, S.UNKNOWN) else logging.INFO,
            "submission %s → %s (%s)%s", from_state, to_state, step,
            f": {fields['error']}" if fields["error"] else "",
            extra={"submission_id": submission.pk, "invoice_id": submission.invoice_id,
                   "organization_id": submission.invoice.organization_id
                   if Submission.invoice.is_cached(submission) else None},
        )
    return attempts


def _plan(move: Move, *, step: str, now, lease_token) -> tuple[dict, SubmissionAttempt, str]:
    """(the submission's new column values, its attempt row, the state it is
    moved from): the move's retry counting, backoff and lease, computed."""
    submission, to_state = move.submission, move.to_state
    error, blocking_level = move.error, move.blocking_level
    from_state = submission.state
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
    if move.errors is not None:
        sub_errors = move.errors
    elif to_state not in (S.REJECTED, S.DEAD) and to_state != from_state:
        sub_errors = []

    fields = {"state": to_state, "error": error, "blocking_level": blocking_level, "errors": sub_errors,
              "error_source": move.error_source if (error or move.errors) else "", "attempt_count": attempt_count,
              "next_attempt_at": next_attempt_at, "resume_state": resume_state, "updated_at": now}
    if move.exchange is not None:
        fields["last_exchange_at"] = now
    if lease_token is not None and to_state in LIVE_STATES:
        fields["locked_until"] = now + timedelta(seconds=setting("LEASE_SECONDS"))
    elif lease_token is not None:
        # No step follows a stopped state: the run's lease ends with this
        # write, not with a release statement after it.
        fields["lease_token"] = fields["locked_until"] = None
    exchange = move.exchange
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
    return fields, attempt, from_state


def _write(plans, *, lease_token, now) -> set:
    """The compare-and-set UPDATEs (each row only while it is in the state
    its move was planned from and, given one, under `lease_token`), the
    invoices' first-signing time and the attempt rows: ONE statement per
    shape of write (a data-modifying CTE over the rows, `rows_sql`:
    atomic on its own, one round trip however many moves). The ids of the
    submissions written; a row not so held is not written, nor its attempt.
    The migration-0005 trigger copies each state to Invoice.firs_state
    inside it (the signing write sets it itself). PostgreSQL only, as the worker's claim and the webhook intake
    are."""
    shapes: dict[tuple, list] = {}
    for plan in plans:
        shapes.setdefault(tuple(plan[0]), []).append(plan)
    written = set()
    db = current_connection()
    for names, group in shapes.items():
        fields = [Submission._meta.get_field(name) for name in names]
        signing = [p[1].submission_id for p in group
                   if p[0]["state"] == S.SIGNED and p[1].submission.format == "firs"]
        params = rows_params([[attempt.submission_id, from_state,
                               *(f.get_db_prep_save(fields_[f.name], db) for f in fields)]
                              for fields_, attempt, from_state in group])
        params += [lease_token] if lease_token is not None else []
        params += [now, S.SIGNED, signing] if signing else []
        params += rows_params([insert_values(p[1]) for p in group])
        with db_connection.cursor() as cursor:
            # `rows_sql`'s text is one for one row and one for any more: cached by min(count, 2).
            cursor.execute(_write_sql(names, min(len(group), 2), leased=lease_token is not None,
                                      signing=bool(signing)), params)
            written.update(row[0] for row in cursor.fetchall())
    return written


@functools.lru_cache(maxsize=256)
def _write_sql(names: tuple[str, ...], count: int, *, leased: bool, signing: bool) -> str:
    """`_write`'s statement for one shape, built once per process: the
    columns' types and quoting take 0.15 ms a build, and a sale run alone
    writes four times."""
    quote = db_connection.ops.quote_name
    fields = [Submission._meta.get_field(name) for name in names]
    columns = [quote(f.column) for f in fields]
    values = rows_sql(["uuid", "text"] + [f.db_type(db_connection) for f in fields], count)
    sql = (f"WITH moved AS (UPDATE {Submission._meta.db_table} AS s SET "
           f"{', '.join(f'{c} = v.{c}' for c in columns)} "
           f"FROM {values} AS v(id, from_state, {', '.join(columns)}) "
           f"WHERE s.id = v.id AND s.state = v.from_state"
           + (" AND s.lease_token = %s" if leased else "")
           + " RETURNING s.id, s.invoice_id)")
    if signing:
        # The state with the signing time: the trigger then finds it copied,
        # and the invoice gets one new row version (an entry in each index) instead of two.
        sql += (f", signed AS (UPDATE {Invoice._meta.db_table} AS i SET signed_at = COALESCE(i.signed_at, %s), "
                f"firs_state = %s FROM moved WHERE i.id = moved.invoice_id AND moved.id = ANY(%s::uuid[]))")
    attempt_columns, attempt_types = insert_parts(SubmissionAttempt)
    submission_column = quote(SubmissionAttempt.submission.field.column)
    return sql + (f" INSERT INTO {SubmissionAttempt._meta.db_table} ({attempt_columns}) "
                  f"SELECT * FROM {rows_sql(attempt_types, count)} AS a({attempt_columns}) "
                  f"WHERE a.{submission_column} IN (SELECT id FROM moved) RETURNING {submission_column}")


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
