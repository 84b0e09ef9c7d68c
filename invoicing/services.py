"""Writes on invoices and their FIRS submissions: the pipeline from a canonical
invoice to a confirmed FIRS submission, exactly once.

- `invoice_create_from_canonical` is THE entry point every source calls. It is
  idempotent on (organization, source.system, source.type, source.id).
- `submission_process` runs the state machine of `invoicing.submissions` one
  step after another (validate → sign → transmit → confirm) for one submission
  that this worker has claimed (a lease taken with SELECT … FOR UPDATE SKIP
  LOCKED), so two workers never send one document twice.
- `credit_note_create` issues a credit note for a frozen invoice.
- `submission_retry` restarts a dead / unknown / retryable-rejected submission.

Rejections, and who made them (the error text always says which):
- local validation failure (a canonical, UBL XSD or EN 16931 rule) → state
  `rejected`, error_source `local`, blocking level error, `errors` = every
  RuleViolation {rule, message, path}; nothing is sent to FIRS. It stops
  before `validated`, because `validated` means "FIRS validated it".
- FIRS 4xx → `rejected`, error_source `firs`, FIRS's reason stored. Not
  retryable when FIRS refused the document's content (validate/sign, or a
  duplicate IRN holding different content); retryable when it refused a later
  step of a document it had already signed (transmit/confirm, e.g. no webhook
  URL set up yet).
- FIRS refusing our credentials, or the organization missing its FIRS set-up
  (service id, business id, key file) → `rejected`, error_source `auth`;
  retryable once fixed.
- 5xx / 429 / connection failures → stay, blocking level warning, retried with
  backoff; after MAX_ATTEMPTS → `dead`.

Freezing (draft, first run): the gap-free number, the IRN, the documents
(UBL XML + FIRS JSON), the stamp and the exact payload bytes are built and
committed in ONE transaction before anything is sent. From then on the number,
the IRN and the bytes never change: every resend uses the stored bytes.
"""
import concurrent.futures
import dataclasses
import datetime
import functools
import hashlib
import json
import logging
import os
import threading
import time
import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from taxpoynt.audit.models import AuditLog
from taxpoynt.audit.services import audit_log_record, snapshot
from taxpoynt.db import update_one_skip_locked
from taxpoynt.errors import ApplicationError

from . import submissions
from .canonical import CREDIT_NOTE, BillingReference, CanonicalInvoice, Party, SourceFigures, SourceRef
from .models import Invoice, InvoiceLine, Submission

logger = logging.getLogger(__name__)
S = Submission.State
LEVEL = Submission.BlockingLevel
SOURCE = Submission.ErrorSource

# The most steps one run takes (draft → confirmed is four); a bound, not a target.
MAX_STEPS_PER_RUN = 6


class LeaseLost(Exception):
    """Our claim on a submission expired and another worker took it over."""


# --- creating invoices --------------------------------------------------------------------


def _existing_invoice(*, organization, source: SourceRef) -> Invoice | None:
    return Invoice.objects.filter(organization=organization, source_system=source.system,
                                  source_type=source.type, source_id=source.id).first()


def _supplier_from_organization(organization) -> Party:
    return Party(name=organization.name, tin=organization.tin, email=organization.email,
                 telephone=organization.telephone, street_name=organization.street_name,
                 city_name=organization.city_name, postal_zone=organization.postal_zone,
                 country=organization.country or "NG")


def _violation_dicts(violations) -> list[dict]:
    return [{"rule": v.rule, "message": v.message, "path": v.path} for v in violations]


def _money(value) -> str | None:
    return None if value is None else str(value)


def _source_figures(canonical: CanonicalInvoice, totals, mismatch: dict | None) -> dict:
    """Both figures, always: the source's own and ours (and the difference)."""
    if mismatch:
        return json.loads(json.dumps(mismatch, default=str))
    figures = canonical.source_figures or SourceFigures()
    ours = {"tax_amount": _money(totals.tax_amount), "payable_amount": _money(totals.payable_amount)} \
        if totals else {}
    return {"source": {"tax_amount": _money(figures.tax_amount), "payable_amount": _money(figures.payable_amount)},
            "ours": ours}


def _line_sums(line) -> tuple[Decimal, Decimal]:
    allowances = sum((ac.amount for ac in line.allowance_charges if not ac.charge_indicator), Decimal("0"))
    charges = sum((ac.amount for ac in line.allowance_charges if ac.charge_indicator), Decimal("0"))
    return allowances, charges


@dataclasses.dataclass
class _Draft:
    """A canonical invoice checked and priced, as the unsaved rows it becomes."""
    invoice: Invoice
    lines: list
    violations: list


def _draft(*, organization, canonical: CanonicalInvoice, connection, original=None) -> _Draft:
    """Every rule checked, the totals computed and the source's own figures
    compared, as an unsaved Invoice (draft, its FIRS state draft) and lines.
    An invoice that breaks a rule is still drafted, with its violations."""
    from .canonical import canonical_to_dict
    from .tax import compare_source_figures, compute_totals
    from .validation import validate_canonical

    if canonical.supplier is None or not (canonical.supplier.name and canonical.supplier.tin):
        canonical = dataclasses.replace(canonical, supplier=_supplier_from_organization(organization))
    # A number or IRN is only ever given at freeze time, by us.
    canonical = dataclasses.replace(canonical, number="", irn="")

    violations = list(validate_canonical(canonical))
    totals = mismatch = None
    try:
        totals = compute_totals(canonical)
        mismatch = compare_source_figures(canonical, totals)
    except Exception as exc:  # noqa: BLE001 - bad input is reported as rules, never a crash
        if not violations:
            raise
        logger.info("totals not computable for an invalid invoice: %s", exc)

    customer = canonical.customer
    zero = Decimal("0.00")
    invoice = Invoice(
        organization=organization,
        kind=Invoice.Kind.CREDIT_NOTE if canonical.kind == CREDIT_NOTE else Invoice.Kind.INVOICE,
        issue_date=canonical.issue_date,
        due_date=canonical.due_date,
        currency=canonical.currency,
        customer_name=(customer.name if customer else "")[:300],
        customer_tin=(customer.tin if customer else "")[:20],
        line_extension_amount=totals.line_extension_amount if totals else zero,
        allowance_total_amount=totals.allowance_total_amount if totals else zero,
        charge_total_amount=totals.charge_total_amount if totals else zero,
        tax_exclusive_amount=totals.tax_exclusive_amount if totals else zero,
        tax_amount=totals.tax_amount if totals else zero,
        tax_inclusive_amount=totals.tax_inclusive_amount if totals else zero,
        payable_amount=totals.payable_amount if totals else zero,
        source_figures=_source_figures(canonical, totals, mismatch),
        tax_mismatch=bool(mismatch),
        source_system=canonical.source.system,
        source_type=canonical.source.type,
        source_id=canonical.source.id,
        connection=connection,
        original_invoice=original,
        credit_reason=canonical.note if canonical.kind == CREDIT_NOTE else "",
        canonical=canonical_to_dict(canonical),
        firs_state=Submission.State.DRAFT,  # its submission, created with it, starts in draft
    )
    lines = [
        InvoiceLine(
            invoice=invoice, position=i, description=line.description[:500],
            item_code=line.item_code[:100], classification_code=line.classification_code[:20],
            quantity=line.quantity, unit_price=line.unit_price,
            allowance_amount=totals.line_allowance_amounts[i - 1] if totals else _line_sums(line)[0],
            charge_amount=totals.line_charge_amounts[i - 1] if totals else _line_sums(line)[1],
            line_extension_amount=totals.line_net_amounts[i - 1] if totals else zero,
            tax_category=line.tax_category, tax_rate=line.tax_rate,
            exemption_reason=line.exemption_reason[:300],
        )
        for i, line in enumerate(canonical.lines, start=1)
    ]
    return _Draft(invoice=invoice, lines=lines, violations=violations)


def _reject_locally(submission: Submission, violations) -> None:
    submissions.transition(
        submission, S.REJECTED, step="validate_local", blocking_level=LEVEL.ERROR,
        error=f"Rejected locally: {len(violations)} invoice rule(s) failed; nothing was sent to FIRS.",
        errors=_violation_dicts(violations), error_source=SOURCE.LOCAL,
    )


def _creation_lease(lease_token) -> dict:
    """The fields of a new submission leased to its creator (`lease_token`),
    or none without a token."""
    if not lease_token:
        return {}
    return {"lease_token": lease_token, "locked_until": timezone.now() + datetime.timedelta(
        seconds=submissions.setting("CREATION_LEASE_SECONDS"))}


def invoice_create_from_canonical(*, organization, canonical: CanonicalInvoice, connection=None,
                                  queue: str = "crm", lease_token: uuid.UUID | None = None,
                                  source_received_at=None) -> Invoice:
    """Store `canonical` as an invoice with its FIRS submission and enqueue the
    submission. A second call for the same source returns the existing invoice
    and creates nothing. An invoice that fails a rule is stored with its
    submission rejected (locally) and every failed rule listed; nothing is sent.

    With `lease_token`, a new submission is created already leased to the
    caller and is not enqueued; it is left on the invoice as
    `invoice.leased_submission` and the caller runs it right after commit
    (`submission_process_claimed(token=..., submission=...)`). Should the
    caller die first, the lease (CREATION_LEASE_SECONDS) expires and the
    due-submission sweep takes it over.

    `source_received_at`: when the live event behind it (a POS sale's
    webhook) was received; its confirmation is timed from then.
    """
    existing = _existing_invoice(organization=organization, source=canonical.source)
    if existing is not None:
        return existing

    original = None
    if canonical.billing_reference and canonical.billing_reference.irn:
        original = Invoice.objects.filter(organization=organization, irn=canonical.billing_reference.irn).first()
    draft = _draft(organization=organization, canonical=canonical, connection=connection, original=original)
    invoice, violations = draft.invoice, draft.violations
    try:
        with transaction.atomic():
            invoice.save(force_insert=True)
            InvoiceLine.objects.bulk_create(draft.lines)
            leased = _creation_lease(lease_token) if not violations else {}
            submission = Submission.objects.create(invoice=invoice, queue=queue,
                                                   source_received_at=source_received_at, **leased)
            if violations:
                _reject_locally(submission, violations)
            elif leased:
                invoice.leased_submission = submission
            else:
                _enqueue_on_commit(submission)
    except IntegrityError:
        # Lost a race with a concurrent call for the same source: theirs stands.
        existing = _existing_invoice(organization=organization, source=canonical.source)
        if existing is not None:
            return existing
        raise
    return invoice


# How many new submissions one `process_submissions` task runs (bulk creation).
SUBMISSIONS_PER_TASK = 50


def invoices_create_from_canonicals(*, canonicals: list[CanonicalInvoice], organization=None, connection=None,
                                    owners: list[tuple] | None = None, queue: str = "batch",
                                    lease_token: uuid.UUID | None = None,
                                    source_received_at: list | None = None) -> list[Invoice]:
    """The bulk twin of `invoice_create_from_canonical` for a page of a batch
    (an end-of-day reconciliation, a historical import): the same checks,
    totals and rows, written with one INSERT per table for the page instead
    of three statements an invoice, and the new submissions enqueued
    SUBMISSIONS_PER_TASK to a task on `queue` after commit. Idempotent on the
    source like the single one: returns each canonical's invoice, in order,
    the existing one where there was one (also one a concurrent writer made
    meanwhile: its row stands and ours is dropped). Invoices (not credit
    notes: those need their original's IRN, one at a time).

    Every canonical is `organization`'s, from `connection`, unless `owners`
    gives each its own (organization, connection): a backlog of several
    sellers' live sales is still one INSERT per table.

    With `lease_token` (live sales taken a few at a time) the new
    submissions are created leased to the caller and left on their invoices
    as `invoice.leased_submission`, as `invoice_create_from_canonical` does;
    `source_received_at` then gives each canonical's webhook receipt."""
    if any(c.kind == CREDIT_NOTE for c in canonicals):
        raise ValueError("credit notes are created one at a time (invoice_create_from_canonical)")
    owners = owners or [(organization, connection)] * len(canonicals)

    def existing_for(keys) -> dict:
        found = Invoice.objects.filter(organization_id__in={k[0] for k in keys}, source_id__in={k[3] for k in keys})
        return {(i.organization_id, i.source_system, i.source_type, i.source_id): i for i in found}

    keys = [(org.pk, c.source.system, c.source.type, c.source.id) for (org, _), c in zip(owners, canonicals)]
    received = dict(zip(keys, source_received_at or []))
    by_key = existing_for(keys)
    drafts = {}
    for k, (org, conn), canonical in zip(keys, owners, canonicals):
        if k not in by_key and k not in drafts:
            drafts[k] = _draft(organization=org, canonical=canonical, connection=conn)
    leased = _creation_lease(lease_token)
    if drafts:
        new_ids = []
        with transaction.atomic():
            # Conflicts (a webhook or sync made the same sale's invoice
            # meanwhile) are skipped, not raised; which rows are ours is read back.
            Invoice.objects.bulk_create([d.invoice for d in drafts.values()], ignore_conflicts=True)
            ours = set(Invoice.objects.filter(pk__in=[d.invoice.pk for d in drafts.values()])
                       .values_list("pk", flat=True))
            lost = [k for k, d in drafts.items() if d.invoice.pk not in ours]
            mine = {k: d for k, d in drafts.items() if d.invoice.pk in ours}
            InvoiceLine.objects.bulk_create([line for d in mine.values() for line in d.lines])
            subs = Submission.objects.bulk_create([
                Submission(invoice=d.invoice, queue=queue, source_received_at=received.get(k),
                           **(leased if not d.violations else {}))
                for k, d in mine.items()])
            for d, submission in zip(mine.values(), subs):
                if d.violations:
                    _reject_locally(submission, d.violations)
                elif leased:
                    d.invoice.leased_submission = submission
                else:
                    new_ids.append(str(submission.pk))
            by_key.update({k: d.invoice for k, d in mine.items()})
            if lost:
                by_key.update(existing_for(lost))
            if new_ids:
                transaction.on_commit(lambda: _enqueue_many(submission_ids=new_ids, queue=queue))
    return [by_key[k] for k in keys]


def credit_note_create(*, invoice: Invoice, source: SourceRef, reason: str, lines=None) -> Invoice:
    """A credit note for frozen `invoice`: the full amount by default, or the
    given `lines` ([{"position": n, "quantity": q}], quantities no larger than
    the original's). It references the original's number, IRN and issue date
    and goes through the same pipeline."""
    from .canonical import canonical_from_dict

    if not invoice.is_frozen or not invoice.irn:
        raise ApplicationError("only an invoice that has been numbered and given an IRN can be credited")
    if invoice.kind != Invoice.Kind.INVOICE:
        raise ApplicationError("a credit note cannot itself be credited")
    if not (reason or "").strip():
        raise ApplicationError("a credit note needs a reason")

    original = canonical_from_dict(invoice.canonical)
    chosen = list(original.lines)
    if lines:
        chosen = []
        for item in lines:
            try:
                position = int(item["position"])
                quantity = Decimal(str(item.get("quantity", original.lines[position - 1].quantity)))
                line = original.lines[position - 1]
            except (KeyError, IndexError, ValueError, ArithmeticError):
                raise ApplicationError(f"no line {item.get('position')!r} on invoice {invoice.number}")
            if position < 1 or quantity <= 0 or quantity > line.quantity:
                raise ApplicationError(f"line {position}: credit quantity must be above 0 and at most "
                                       f"{line.quantity}")
            chosen.append(dataclasses.replace(line, quantity=quantity))

    credit = dataclasses.replace(
        original,
        kind=CREDIT_NOTE,
        issue_date=timezone.localdate(),
        issue_time=None,
        due_date=None,
        payment_means=[],
        lines=chosen,
        # Document-level allowances/charges belong to the full document only.
        allowance_charges=original.allowance_charges if not lines else [],
        source=source,
        note=reason.strip(),
        billing_reference=BillingReference(number=invoice.number, irn=invoice.irn,
                                           issue_date=invoice.issue_date),
        source_figures=SourceFigures(),
        number="",
        irn="",
    )
    submission = invoice.submissions.filter(format="firs").first()
    return invoice_create_from_canonical(organization=invoice.organization, canonical=credit,
                                         connection=invoice.connection,
                                         queue=submission.queue if submission else "crm")


# --- enqueueing -----------------------------------------------------------------------------


def _enqueue_on_commit(submission: Submission):
    submission_id, queue = str(submission.pk), submission.queue
    transaction.on_commit(lambda: _enqueue(submission_id=submission_id, queue=queue))


def _enqueue(*, submission_id: str, queue: str):
    from .tasks import process_submission

    try:
        process_submission.apply_async(args=[submission_id], queue=queue)
    except Exception:  # noqa: BLE001 - the beat task picks up anything due that was not enqueued
        logger.exception("could not enqueue submission %s; the beat will pick it up", submission_id)


def _enqueue_many(*, submission_ids: list[str], queue: str):
    from .tasks import process_submissions

    for i in range(0, len(submission_ids), SUBMISSIONS_PER_TASK):
        chunk = submission_ids[i:i + SUBMISSIONS_PER_TASK]
        try:
            process_submissions.apply_async(args=[chunk], queue=queue)
        except Exception:  # noqa: BLE001 - the beat task picks up anything due that was not enqueued
            logger.exception("could not enqueue %d submissions; the beat will pick them up", len(chunk))


# --- claiming (the worker lease) --------------------------------------------------------


def _due_filter(now):
    return (Q(state__in=submissions.LIVE_STATES)
            & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            & (Q(locked_until__isnull=True) | Q(locked_until__lt=now)))


def submission_claim_due(*, limit: int = 50, queue: str | None = None) -> list[tuple[str, uuid.UUID]]:
    """Claim up to `limit` due submissions for this worker: rows locked by
    another transaction are skipped (SKIP LOCKED), claimed rows get a lease so
    other workers skip them after this short transaction commits."""
    now = timezone.now()
    claimed = []
    with transaction.atomic():
        qs = Submission.objects.select_for_update(skip_locked=True).filter(_due_filter(now))
        if queue:
            qs = qs.filter(queue=queue)
        rows = list(qs.order_by("next_attempt_at", "created_at").only("id")[:limit])
        lease = now + datetime.timedelta(seconds=submissions.setting("LEASE_SECONDS"))
        for row in rows:
            token = uuid.uuid4()
            Submission.objects.filter(pk=row.pk).update(lease_token=token, locked_until=lease)
            claimed.append((row.pk, token))
    return claimed


def _claim_one(submission_id) -> uuid.UUID | None:
    """Lease one due submission in a single statement (the row is skipped,
    not waited for, when another transaction holds it)."""
    now = timezone.now()
    token = uuid.uuid4()
    claimed = update_one_skip_locked(
        Submission, submission_id, set_sql="lease_token = %s, locked_until = %s",
        set_params=[token, now + datetime.timedelta(seconds=submissions.setting("LEASE_SECONDS"))],
        where_sql="state = ANY(%s) AND (next_attempt_at IS NULL OR next_attempt_at <= %s) "
                  "AND (locked_until IS NULL OR locked_until < %s)",
        where_params=[list(submissions.LIVE_STATES), now, now])
    return token if claimed else None


def submission_release(*, submission_id, token):
    """Give a claimed submission back (its lease ends now)."""
    Submission.objects.filter(pk=submission_id, lease_token=token).update(lease_token=None, locked_until=None)


# --- processing ----------------------------------------------------------------------------


def submission_process(*, submission_id) -> Submission | None:
    """Advance one submission as far as it goes now. Returns None when another
    worker holds it or it is not due."""
    token = _claim_one(submission_id)
    if token is None:
        return None
    return submission_process_claimed(submission_id=submission_id, token=token)


def submission_process_claimed(*, token, submission_id=None, submission=None) -> Submission | None:
    """Run the steps of a submission this worker holds the lease `token` on,
    then release it: read by id, or `submission` as its creator holds it in
    memory (`invoice.leased_submission`, with its invoice and organization;
    nothing is read).

    The row is read at most once; every step after that is one compare-and-set
    transition (`submissions.transition` with the lease token), so a lost
    lease or an admin's move stops the run without a re-read per step."""
    if submission is not None:
        sub = submission if submission.lease_token == token else None
    else:
        sub = Submission.objects.select_related("invoice", "invoice__organization").filter(
            lease_token=token, pk=submission_id).first()
    if sub is None:  # the lease was taken over (or the caller never held one)
        logger.info("no submission held for %s", submission_id or submission)
        return None
    return _run(sub, token)


def _run(sub, token) -> Submission | None:
    """Run the held submission's due steps one after the other, then release it."""
    try:
        for _ in range(MAX_STEPS_PER_RUN):
            if not _run_step(sub, token):
                break
    except LeaseLost:
        logger.warning("lease on submission %s lost; another worker continues it", sub.pk)
        return None
    finally:
        if sub.lease_token == token:  # not already ended by the last transition
            submission_release(submission_id=sub.pk, token=token)
    sub.lease_token = sub.locked_until = None
    return sub


def submissions_process_claimed(*, token, batch: list[Submission]) -> None:
    """Run several submissions this worker holds under one lease `token`
    (a batch of live sales invoiced together, in memory with their invoices
    and organization) in lockstep: the drafts frozen together (one number
    allocation, one commit), then each FIRS step for all of them, its
    successful moves written as one statement (`submissions.transitions`).

    A submission whose step does not simply succeed has that outcome
    recorded on its own, as `submission_process_claimed` records it, and
    leaves the lockstep; whatever is still due for it then runs one step
    after the other. The same documents, requests, moves and attempts as
    running each alone; fewer statements and commits."""
    held = [sub for sub in batch if sub.lease_token == token]
    if len(held) < 2:
        for sub in held:
            _run(sub, token)
        return
    try:
        now = timezone.now()
        due = [sub for sub in held if sub.state in submissions.LIVE_STATES
               and not (sub.next_attempt_at and sub.next_attempt_at > now)]
        frozen, lost = _freeze_all([sub for sub in due if not sub.invoice.is_frozen], token)
        for sub in lost:  # another run froze it: that run carries it on
            logger.warning("lease on submission %s lost; another worker continues it", sub.pk)
            submission_release(submission_id=sub.pk, token=token)
            sub.lease_token = sub.locked_until = None
        lockstep = [sub for sub in due if sub.invoice.is_frozen or sub in frozen]
        for state in (S.DRAFT, S.VALIDATED, S.SIGNED, S.TRANSMITTED):
            at = [sub for sub in lockstep if sub.state == state and sub.lease_token == token]
            lockstep = [sub for sub in lockstep if sub.state != state] + _step_together(at, token)
    except Exception:
        # A bug or an outage (the database): give them all back to the sweep.
        for sub in held:
            if sub.lease_token == token:
                submission_release(submission_id=sub.pk, token=token)
        raise
    # Anything still held: its due steps alone, then its lease released.
    for sub in held:
        if sub.lease_token == token:
            _run(sub, token)


def _step_together(subs, token) -> list[Submission]:
    """The FIRS step of `subs` (all in one state): each request sent, the
    successes recorded by one statement, every other outcome by `_recorded`
    on its own. Those that moved on to a state with a step left."""
    if not subs:
        return []
    step = FIRS_STEPS[subs[0].state]
    # Read here, not in the sending threads, which never touch the database.
    clients = [firs_client_for(sub.invoice.organization) for sub in subs]
    outcomes = _send_all([functools.partial(_attempt, functools.partial(step.request, client, sub))
                          for client, sub in zip(clients, subs)])
    results = [(sub, *outcome) for sub, outcome in zip(subs, outcomes)]
    from_state = subs[0].state
    written = {attempt.submission_id for attempt in submissions.transitions(
        [submissions.Move(sub, step.to_state, exchange=exchange) for sub, exchange, error in results
         if error is None],
        step=step.name, lease_token=token)}
    for sub, exchange, error in results:
        changed = sub.pk not in written if error is None else _recorded(sub, token, step, from_state, error) is None
        if changed:  # under us (an admin's move, a lost lease): this run stops with it, as one alone does
            submission_release(submission_id=sub.pk, token=token)
            sub.lease_token = sub.locked_until = None
    return [sub for sub in subs if sub.state == step.to_state and _progressed(sub.state, from_state)]


# A lockstep step's requests go one after the other while FIRS answers
# fast, as threads would only cost CPU (bench/pos_worker_cpu.py --backlog,
# FIRS +0: 9.2 ms of worker CPU a sale with threads, 8.3 without); when it
# answers slower than LOCKSTEP_SLOW_SECONDS, at once, each from a thread of
# its own (the pooled httpx client is thread-safe): at 150 ms an answer a
# step of ten takes 0.15 s, not 1.5 s. Which it is, the first request of a
# step sent alone tells, and the process remembers it: while the last step
# found FIRS slow, a step sends all its requests at once, and one whose
# fastest request came back within the threshold goes back to one after the
# other. The fastest, not the step's whole time: requests sent together
# queue at a server that serves them one at a time (the sandbox, a busy
# machine), so a step of twenty took longer than the threshold however fast
# each answer was, and a worker once in threads stayed there (at 100 sales/s
# with the sandbox answering at once, 3 % of steps ran in threads taken ten
# at a time and 45 % taken twenty at a time, the machine then idling at
# 164-178 % of its 200: bench/pos_realtime.py, docs/performance.md).
LOCKSTEP_SLOW_SECONDS = 0.02
_firs_slow = False
# The threads a step sends from at once: kept, one pool for each thread that
# runs steps (a pool shared by a threads-pool worker's tasks would queue one
# batch's requests behind another's). Starting ten threads for every step
# cost the worker ~0.3 ms of CPU a request at FIRS +150 ms. A step of more
# requests than this waits for free threads.
LOCKSTEP_THREADS = 16
_lockstep_pools = threading.local()


def _send_all(calls: list) -> list:
    """Each call's result, in order (see LOCKSTEP_SLOW_SECONDS)."""
    if len(calls) < 2:
        return [call() for call in calls]
    if _firs_slow:
        return _at_once(calls)
    started = time.monotonic()
    results = [calls[0]()]
    if time.monotonic() - started <= LOCKSTEP_SLOW_SECONDS:
        return results + [call() for call in calls[1:]]
    return results + _at_once(calls[1:])


def _at_once(calls: list) -> list:
    """Each call's result, all sent at once; remembers whether the fastest
    answer was slow (see LOCKSTEP_SLOW_SECONDS)."""
    global _firs_slow
    timed = list(_lockstep_pool().map(_timed, calls))
    _firs_slow = min(seconds for _, seconds in timed) > LOCKSTEP_SLOW_SECONDS
    return [result for result, _ in timed]


def _timed(call) -> tuple[Any, float]:
    started = time.monotonic()
    return call(), time.monotonic() - started


def _lockstep_pool() -> concurrent.futures.ThreadPoolExecutor:
    """This thread's pool."""
    pool = getattr(_lockstep_pools, "pool", None)
    if pool is None:
        pool = _lockstep_pools.pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=LOCKSTEP_THREADS, thread_name_prefix="firs-lockstep")
    return pool


def _forget_inherited_lockstep_pools() -> None:
    # A forked child (a prefork worker) has none of its parent's pool
    # threads: it makes pools of its own, as taxpoynt.transport does its connections.
    global _lockstep_pools
    _lockstep_pools = threading.local()


os.register_at_fork(after_in_child=_forget_inherited_lockstep_pools)


def _record(sub, token, from_state, to_state, **kwargs) -> str | None:
    """Apply one transition; the new state, or None when the submission
    changed under us (an admin action, a lost lease) and we stop."""
    if sub.state != from_state:
        return None
    try:
        submissions.transition(sub, to_state, lease_token=token, **kwargs)
    except submissions.SubmissionChanged:
        return None
    return sub.state


def _progressed(new_state, from_state) -> bool:
    """Keep going in this run only after real progress to a state with work left."""
    return new_state is not None and new_state != from_state and new_state in (S.VALIDATED, S.SIGNED, S.TRANSMITTED)


def _run_step(sub, token) -> bool:
    """Run the step due for the submission's current state; True to continue."""
    state = sub.state
    if state not in submissions.LIVE_STATES:
        return False
    if sub.next_attempt_at and sub.next_attempt_at > timezone.now():
        return False
    if not sub.invoice.is_frozen:
        frozen, lost = _freeze_all([sub], token)
        if lost:
            raise LeaseLost(str(sub.pk))
        if not frozen:
            return False
    step = FIRS_STEPS[state]
    new_state = _call(sub, token, step, lambda: step.request(firs_client_for(sub.invoice.organization), sub))
    return _progressed(new_state, state)


class _LocalRejection(Exception):
    def __init__(self, message, *, errors=None, source=SOURCE.LOCAL, retry=False):
        super().__init__(message)
        self.retry = retry
        self.message = message
        self.errors = errors or []
        self.source = source


@dataclasses.dataclass
class _PreparedFreeze:
    """A draft ready to be numbered (`_freeze_write`): its provisional
    canonical invoice, then (`_checked`) its documents checked with it."""

    sub: Submission
    keys: Any
    provisional: CanonicalInvoice
    business_id: str
    numbered: Any  # number → the numbered canonical
    checked: Any = None  # the provisional Rendered

    def documents(self, numbered_canonical, *, schematron):
        from .documents import render_many

        outcome, = render_many([(numbered_canonical, self.business_id)], schematron=schematron)
        return _accepted(outcome)


def _accepted(outcome):
    """A render_many outcome: its Rendered, or the rejection of its rules."""
    from .validation import InvoiceRuleError

    if isinstance(outcome, InvoiceRuleError):
        raise _LocalRejection(
            f"Rejected locally: {len(outcome.violations)} invoice rule(s) failed; nothing was sent to FIRS.",
            errors=_violation_dicts(outcome.violations))
    return outcome


def _freeze_all(subs, token) -> tuple[list, list]:
    """Freeze the drafts `subs` held under `token`: number, IRN, documents,
    stamp and payload bytes. Returns (those frozen, those whose lease was
    lost meanwhile); a draft that fails a rule or cannot be prepared has the
    failure recorded and is in neither.

    Every rule is checked first, outside any transaction, on the documents
    built with a provisional number and IRN of the final form, all the
    batch's documents together (`_checked`): the rules (the EN 16931
    schematron included) read that the number and IRN are present, never
    their digits. Then ONE transaction numbers them all
    (`_freeze_write`): the organization's sequence row, locked from the
    allocation to the commit, is held for a few statements only (freezes of
    one busy merchant queue on that row). Should that fail for a batch, each
    is frozen alone, so one bad draft never holds the others back."""
    prepared = []
    for sub in subs:
        try:
            prepared.append(_prepare_freeze(sub))
        except Exception as exc:  # noqa: BLE001 - recorded: rejected, or retried then dead
            _record_freeze_failure(sub, token, exc)
    prepared = _checked(prepared, token)
    if len(prepared) > 1:
        try:
            _freeze_write(prepared, token)
            return [p.sub for p in prepared], []
        except Exception:  # noqa: BLE001 - each alone below says which
            logger.warning("freezing %d invoices together failed; freezing them one at a time", len(prepared),
                           exc_info=True)
    frozen, lost = [], []
    for p in prepared:
        try:
            _freeze_write([p], token)
            frozen.append(p.sub)
        except LeaseLost:
            lost.append(p.sub)
        except Exception as exc:  # noqa: BLE001
            _record_freeze_failure(p.sub, token, exc)
    return frozen, lost


def _record_freeze_failure(sub, token, exc):
    """The freeze rolled back as a whole (its number included); record why."""
    if isinstance(exc, _LocalRejection):
        failure = exc
    else:  # a bug or an outage while freezing: retried, then dead
        logger.error("freezing invoice %s failed", sub.invoice_id, exc_info=exc)
        failure = _LocalRejection(f"could not prepare the invoice, will retry: {exc}", retry=True)
    state = sub.state
    if failure.retry:
        _record(sub, token, state, state, step="freeze", blocking_level=LEVEL.WARNING, error=failure.message)
    else:
        _record(sub, token, state, S.REJECTED, step="freeze", blocking_level=LEVEL.ERROR,
                error=failure.message, errors=failure.errors, error_source=failure.source)


def _prepare_freeze(sub: Submission) -> _PreparedFreeze:
    from .canonical import canonical_from_dict
    from .firs.irn import build_irn
    from .firs.stamp import load_crypto_keys
    from .numbering import format_number

    org = sub.invoice.organization
    missing = [label for label, value in (("FIRS service id", org.firs_service_id),
                                          ("FIRS business id", org.firs_business_id),
                                          ("FIRS crypto keys", org.firs_crypto_keys)) if not value]
    if missing:
        raise _LocalRejection(f"Not sent: the organization has no {', '.join(missing)} configured.",
                              source=SOURCE.AUTH)
    try:
        keys = load_crypto_keys(org.firs_crypto_keys)
    except ApplicationError as exc:
        raise _LocalRejection(f"Not sent: the FIRS key file cannot stamp the IRN: {exc.message}",
                              source=SOURCE.AUTH)
    canonical = canonical_from_dict(sub.invoice.canonical, stored=True)

    def numbered(number):
        try:
            irn = build_irn(invoice_number=number, service_id=org.firs_service_id, issue_date=canonical.issue_date)
        except ApplicationError as exc:
            raise _LocalRejection(f"Rejected locally: cannot build the IRN: {exc.message}")
        return dataclasses.replace(canonical, number=number, irn=irn)

    return _PreparedFreeze(sub=sub, keys=keys, provisional=numbered(format_number(kind=sub.invoice.kind, value=0)),
                           business_id=str(org.firs_business_id), numbered=numbered)


def _checked(prepared: list[_PreparedFreeze], token) -> list[_PreparedFreeze]:
    """`prepared` with each draft's documents built with its provisional
    number and checked against every rule, all of them together
    (`documents.render_many`: the schematrons one after another); a draft
    failing a rule is recorded and left out."""
    from .documents import render_many

    try:
        outcomes = render_many([(p.provisional, p.business_id) for p in prepared])
    except Exception:  # noqa: BLE001 - a bug building one of them: each alone below says which
        logger.warning("rendering %d invoices together failed; rendering them one at a time", len(prepared),
                       exc_info=True)
        outcomes = [None] * len(prepared)
    checked = []
    for p, outcome in zip(prepared, outcomes):
        try:
            p.checked = _accepted(outcome) if outcome is not None else p.documents(p.provisional, schematron=True)
            checked.append(p)
        except Exception as exc:  # noqa: BLE001 - recorded: rejected, or retried then dead
            _record_freeze_failure(p.sub, token, exc)
    return checked


def _freeze_write(prepared: list[_PreparedFreeze], token):
    """The numbering transaction of `_freeze_all`: the numbers of every
    organization and kind taken by one statement, each allocated number and its IRN put in the
    provisional ones' places (`documents.renumbered`, byte for byte a fresh
    build's), the stamps made, and every invoice and submission written by
    one statement each. Rolled back as a whole on any failure; LeaseLost when
    an invoice was frozen by another run meanwhile (a lease taken over) or a
    submission's lease is no longer ours."""
    from taxpoynt.db import update_rows

    from .canonical import canonical_to_dict
    from .documents import renumbered
    from .firs.stamp import stamp_irn
    from .numbering import allocate_number_blocks

    now = timezone.now()
    invoices, subs = {}, {}
    with transaction.atomic():
        kinds: dict[tuple, list] = {}
        for p in prepared:
            kinds.setdefault((p.sub.invoice.organization_id, p.sub.invoice.kind), []).append(p)
        # Every organization's numbers in one statement (its rows locked in one order).
        blocks = allocate_number_blocks({key: len(group) for key, group in kinds.items()})
        for key, group in kinds.items():
            numbers = blocks[key]
            for p, number in zip(group, numbers):
                final = p.numbered(number)
                # The provisional values not where expected: build it again.
                rendered = (renumbered(p.checked, number=(p.provisional.number, number),
                                       irn=(p.provisional.irn, final.irn))
                            or p.documents(final, schematron=False))
                try:
                    stamp = stamp_irn(final.irn, p.keys)
                except ApplicationError as exc:
                    raise _LocalRejection(f"Not sent: the FIRS key file cannot stamp the IRN: {exc.message}",
                                          source=SOURCE.AUTH)
                # The one serialization of the payload (exact numbers); stored, then sent verbatim.
                body = bytes(rendered.firs_json)
                ubl = rendered.ubl_xml.decode("utf-8") if isinstance(rendered.ubl_xml, bytes) else rendered.ubl_xml
                invoices[p.sub.invoice] = {"number": number, "irn": final.irn, "canonical": canonical_to_dict(final),
                                           "ubl_xml": ubl, "firs_json": body.decode("utf-8"), "stamp": stamp,
                                           "frozen_at": now}
                subs[p.sub.pk] = {"signed_payload": body, "payload_sha256": hashlib.sha256(body).hexdigest(),
                                  "irn": final.irn, "updated_at": now,
                                  "locked_until": now + datetime.timedelta(
                                      seconds=submissions.setting("LEASE_SECONDS"))}
        # Frozen by one conditional UPDATE, which also locks the rows: an
        # invoice another run froze meanwhile is left as it is and this
        # freeze rolls back, its numbers with it.
        if len(Invoice.write_frozen_many(invoices)) != len(invoices):
            raise LeaseLost(str([p.sub.pk for p in prepared]))
        # The exact bytes, committed with the freeze, before any send.
        if len(update_rows(Submission, subs, where_sql="o.lease_token = %s", where_params=[token])) != len(subs):
            raise LeaseLost(str([p.sub.pk for p in prepared]))
    for p in prepared:
        p.sub.invoice.hold_frozen(invoices[p.sub.invoice])
        for name, value in subs[p.sub.pk].items():
            setattr(p.sub, name, value)


# --- the FIRS steps ---------------------------------------------------------------------------

def firs_client_for(organization):
    """The process's pooled FIRS client for the organization's credentials."""
    from .firs.client import get_client

    return get_client(api_key=organization.firs_api_key, api_secret=organization.firs_api_secret,
                      base_url=settings.FIRS_BASE_URL)


def _firs_reason(exc) -> str:
    parts = [getattr(exc, "public_message", "") or "", getattr(exc, "details", "") or ""]
    text = ": ".join(p for p in parts if p) or str(exc)
    return text


def _firs_errors(exc) -> list[dict]:
    errors = [{"rule": "FIRS", "message": _firs_reason(exc), "path": ""}]
    for item in getattr(exc, "errors", None) or []:
        if isinstance(item, dict):
            errors.append({"rule": "FIRS", "message": str(item.get("message", "")),
                           "path": str(item.get("field", ""))})
    return errors


@dataclasses.dataclass(frozen=True)
class FirsStep:
    """The FIRS step due in a live state: its name in the attempt history,
    the state it moves to, its request, and where a timed-out send leaves
    the document (None: where it was)."""

    name: str
    to_state: str
    request: Any  # (client, submission) → Exchange, or raises a FirsError
    unknown_to: str | None = None


def _body(sub) -> bytes:
    return bytes(sub.signed_payload)


def _attempt(request):
    """(exchange, None) when the request succeeded, (None, the FirsError) when not."""
    from .firs import client as firs

    try:
        return request(), None
    except firs.FirsError as exc:
        return None, exc


def _call(sub, token, step: FirsStep, request) -> str | None:
    """Make one FIRS request and record its outcome as a transition; the new
    state, or None when the submission changed under us."""
    from_state = sub.state
    exchange, error = _attempt(request)
    if error is None:
        return _record(sub, token, from_state, step.to_state, step=step.name, exchange=exchange)
    return _recorded(sub, token, step, from_state, error)


def _recorded(sub, token, step: FirsStep, from_state, exc) -> str | None:
    """Record a failed request of `step` (the FirsError `exc`) as what its
    kind calls for: a rejection, a stay with backoff, unknown, or for a
    duplicate sign the lookup."""
    from .firs import client as firs

    if isinstance(exc, firs.FirsDuplicate):
        if step.name == "sign":
            # Keep FIRS's answer in the history, then look the IRN up.
            new_state = _record(sub, token, from_state, from_state, step=step.name, exchange=exc.exchange,
                                blocking_level=LEVEL.WARNING, error_source=SOURCE.FIRS,
                                error=f"FIRS says this IRN is already signed ({_firs_reason(exc)}); looking it up")
            if new_state != from_state:
                return new_state
            return _resolve_duplicate(sub, token, from_state, exc)
        return _record(sub, token, from_state, S.REJECTED, step=step.name, exchange=exc.exchange,
                       blocking_level=LEVEL.ERROR, error=f"Rejected by FIRS: {_firs_reason(exc)}",
                       errors=_firs_errors(exc), error_source=SOURCE.FIRS)
    if isinstance(exc, firs.FirsAuthError):
        return _record(sub, token, from_state, S.REJECTED, step=step.name, exchange=exc.exchange,
                       blocking_level=LEVEL.ERROR, error=f"FIRS refused our credentials: {_firs_reason(exc)}",
                       errors=_firs_errors(exc), error_source=SOURCE.AUTH)
    if isinstance(exc, firs.FirsRejected):
        return _record(sub, token, from_state, S.REJECTED, step=step.name, exchange=exc.exchange,
                       blocking_level=LEVEL.ERROR, error=f"Rejected by FIRS: {_firs_reason(exc)}",
                       errors=_firs_errors(exc), error_source=SOURCE.FIRS)
    if isinstance(exc, firs.FirsOutcomeUnknown):
        return _record(sub, token, from_state, step.unknown_to or from_state, step=step.name,
                       exchange=getattr(exc, "exchange", None), blocking_level=LEVEL.WARNING,
                       error=f"FIRS did not answer in time ({exc}); the same bytes will be sent again",
                       error_source=SOURCE.NETWORK)
    # FirsRetryable (5xx, 429, refused, circuit open) and anything else FIRS-side.
    new_state = _record(sub, token, from_state, from_state, step=step.name,
                        exchange=getattr(exc, "exchange", None), blocking_level=LEVEL.WARNING,
                        error=f"FIRS unavailable, will retry: {exc}", error_source=SOURCE.NETWORK)
    retry_after = getattr(exc, "retry_after", None)
    if new_state == from_state and retry_after:
        # Never sooner than FIRS (or the open breaker) asked.
        earliest = timezone.now() + datetime.timedelta(seconds=float(retry_after))
        Submission.objects.filter(pk=sub.pk, next_attempt_at__lt=earliest).update(next_attempt_at=earliest)
    return new_state


def _data(exchange) -> dict:
    data = getattr(exchange, "data", None)
    if isinstance(data, dict) and isinstance(data.get("data"), dict):
        return data["data"]
    return data if isinstance(data, dict) else {}


def _flag(data: dict, name: str, *, default: bool) -> bool:
    value = data.get(name, default)
    if isinstance(value, str):
        return value.lower() in ("true", "1", "yes")
    return bool(value)


def _confirmed_or_raise(client, irn):
    from .firs.client import FirsRetryable

    exchange = client.confirm(irn)
    if not _flag(_data(exchange), "transmitted", default=True):
        raise FirsRetryable("FIRS has not recorded the transmission yet", exchange=exchange)
    return exchange


def _resolve_duplicate(sub, token, from_state, exc) -> str | None:
    """FIRS says the IRN is already signed: look it up and compare with ours.
    Same content → adopt it (signed); different → flag, never a new IRN."""
    from .firs import client as firs

    client = firs_client_for(sub.invoice.organization)
    try:
        exchange = client.confirm(sub.irn)
    except firs.FirsError as lookup_exc:
        return _record(sub, token, from_state, S.UNKNOWN, step="lookup",
                       exchange=getattr(lookup_exc, "exchange", None), blocking_level=LEVEL.WARNING,
                       error=f"FIRS reported a duplicate IRN and the lookup failed, will retry: {lookup_exc}",
                       error_source=SOURCE.NETWORK)
    if duplicate_matches(sub, _data(exchange)):
        return _record(sub, token, from_state, S.SIGNED, step="lookup", exchange=exchange)
    return _record(sub, token, from_state, S.REJECTED, step="lookup", exchange=exchange,
                   blocking_level=LEVEL.ERROR,
                   error="Rejected by FIRS: duplicate IRN with different content (FIRS holds another document "
                         "under this IRN; the IRN is never regenerated, a person must resolve it)",
                   errors=[{"rule": "FIRS-DUPLICATE", "message": "duplicate IRN with different content",
                            "path": "irn"}],
                   error_source=SOURCE.FIRS)


# Names the lookup answer may carry the body digest and the totals under.
DIGEST_KEYS = ("body_sha256", "payload_sha256", "sha256")
TOTAL_KEYS = ("payable_amount", "tax_amount", "tax_exclusive_amount", "tax_inclusive_amount")


def duplicate_matches(sub: Submission, data: dict) -> bool:
    """Is what FIRS holds under our IRN the document we sent? The body digest
    decides when FIRS gives one; else every total it gives must equal ours."""
    for key in DIGEST_KEYS:
        if data.get(key):
            return str(data[key]).lower() == sub.payload_sha256
    totals = data.get("legal_monetary_total") if isinstance(data.get("legal_monetary_total"), dict) else data
    totals = data.get("totals") if isinstance(data.get("totals"), dict) else totals
    invoice = sub.invoice
    compared = 0
    for key in TOTAL_KEYS:
        if totals.get(key) is not None:
            compared += 1
            if Decimal(str(totals[key])) != getattr(invoice, key):
                return False
    return compared > 0


_SIGN = FirsStep("sign", S.SIGNED, lambda client, sub: client.sign_invoice(_body(sub)),
                 unknown_to=S.UNKNOWN)  # from unknown: resend the SAME stored bytes
FIRS_STEPS = {
    S.DRAFT: FirsStep("validate", S.VALIDATED, lambda client, sub: client.validate_invoice(_body(sub))),
    S.VALIDATED: _SIGN,
    S.UNKNOWN: _SIGN,
    S.SIGNED: FirsStep("transmit", S.TRANSMITTED, lambda client, sub: client.transmit(sub.irn)),
    # FIRS answering is not enough: its record must show the transmission.
    S.TRANSMITTED: FirsStep("confirm", S.CONFIRMED, lambda client, sub: _confirmed_or_raise(client, sub.irn)),
}


# --- retry -----------------------------------------------------------------------------------

RETRYABLE_REJECTIONS = (SOURCE.AUTH, SOURCE.NETWORK)


def submission_can_retry(submission: Submission) -> bool:
    """Dead and unknown always; rejected only when retrying can help: our
    credentials/setup or the network were at fault, or FIRS had already
    accepted the document (a transmit/confirm refusal, e.g. no webhook set up).
    A document FIRS or our rules rejected for its content is never resent."""
    if submission.state in (S.DEAD, S.UNKNOWN):
        return True
    return submission.state == S.REJECTED and (
        submission.error_source in RETRYABLE_REJECTIONS or submission.resume_state in (S.SIGNED, S.TRANSMITTED))


def submission_retry(*, submission: Submission, actor=None, audit_source: str = AuditLog.Source.SYSTEM) \
        -> Submission:
    """Restart a dead, unknown, or retryable-rejected submission where it
    stopped (same number, IRN and bytes), and enqueue it."""
    with transaction.atomic():
        sub = Submission.objects.select_for_update().select_related("invoice").get(pk=submission.pk)
        if not submission_can_retry(sub):
            reason = ("it was rejected by its content; fix the source and issue a new document"
                      if sub.state == S.REJECTED else f"it is {sub.get_state_display().lower()}")
            raise ApplicationError(f"submission cannot be retried: {reason}", code="not_retryable")
        before = snapshot(sub)
        if sub.state == S.UNKNOWN:
            # Already where it resumes from (resend same bytes); just make it due now.
            sub.attempt_count = 0
            sub.next_attempt_at = None
            sub.save(update_fields=["attempt_count", "next_attempt_at", "updated_at"])
            sub.attempts.create(step="retry", from_state=S.UNKNOWN, to_state=S.UNKNOWN, outcome="ok")
        else:
            target = sub.resume_state or S.DRAFT
            if target not in submissions.LIVE_STATES:
                target = S.DRAFT
            submissions.transition(sub, target, step="retry")
        sub.lease_token = None
        sub.locked_until = None
        sub.save(update_fields=["lease_token", "locked_until"])
        if actor is not None:
            audit_log_record(actor=actor, source=audit_source, action="retry", instance=sub, before=before,
                             after=snapshot(sub))
        _enqueue_on_commit(sub)
    return sub
