"""The pipeline from a canonical invoice to a confirmed FIRS submission,
against the FIRS sandbox served over a real socket, on PostgreSQL.

The fixtures here (`firs`, `firs_org`, `make_canonical`, `run`) are imported
by the other pipeline test modules of this directory."""
import copy
import dataclasses
import datetime
import hashlib
import json
import pathlib
import threading
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from invoicing import services, submissions
from invoicing.canonical import SourceFigures, SourceRef, canonical_from_dict
from invoicing.models import Invoice, InvoiceSequence, Submission
from taxpoynt import sandboxing
from taxpoynt.errors import ApplicationError
from tests.concurrency import race

S = Submission.State
FIXTURE = json.loads((pathlib.Path(__file__).parent / "fixtures" / "invoice_b2b.json").read_text())
# Below the sandbox's hang, above its latency: a hung call becomes an unknown outcome quickly.
CLIENT_TIMEOUT = 1.5


@pytest.fixture
def firs(settings):
    """The FIRS sandbox on a free port, with a fresh business; settings point at it."""
    running = sandboxing.start("firs", port=0)
    settings.FIRS_BASE_URL = running.url
    settings.FIRS_TIMEOUT_SECONDS = CLIENT_TIMEOUT
    settings.FIRS_BREAKER_FAILURE_THRESHOLD = 1000  # these tests fault on purpose
    running.business = running.app.sandbox.register_business(
        name="Adaeze Foods Ltd", webhook_url="http://127.0.0.1:9/firs-webhook")
    yield running
    running.app.sandbox.close()
    running.stop()


@pytest.fixture
def firs_org(make_org, firs):
    b = firs.business
    return make_org(
        name="Adaeze Foods Ltd", email="billing@adaezefoods.ng", telephone="+2348012345678",
        street_name="12 Broad Street", city_name="Lagos", postal_zone="100001",
        firs_business_id=uuid.UUID(b.business_id), firs_service_id=b.service_id, firs_api_key=b.api_key,
        firs_api_secret=b.api_secret, firs_crypto_keys=b.crypto_keys_json)


@pytest.fixture
def make_canonical():
    def make(source_id=None, **changes):
        data = copy.deepcopy(FIXTURE)
        data["source"]["id"] = source_id or uuid.uuid4().hex
        data.pop("number", None)
        data.pop("irn", None)
        inv = canonical_from_dict(data)
        return dataclasses.replace(inv, **changes) if changes else inv
    return make


def process(invoice_or_sub, *, due_now=True) -> Submission:
    """Run the worker's service once on a submission (as a task would)."""
    sub = invoice_or_sub.submissions.get() if isinstance(invoice_or_sub, Invoice) else invoice_or_sub
    if due_now:
        Submission.objects.filter(pk=sub.pk).update(next_attempt_at=None)
    services.submission_process(submission_id=sub.pk)
    return Submission.objects.select_related("invoice").get(pk=sub.pk)


def steps(sub) -> list[tuple[str, str, str, str]]:
    return list(sub.attempts.order_by("created_at").values_list("step", "from_state", "to_state", "outcome"))


def create(org, canonical, **kw) -> Invoice:
    return services.invoice_create_from_canonical(organization=org, canonical=canonical, **kw)


# --- creating ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_create_stores_canonical_lines_totals_and_draft_submission(firs_org, make_canonical):
    inv = create(firs_org, make_canonical(source_id="deal-1"), queue="pos_realtime")
    inv.refresh_from_db()
    assert (inv.source_system, inv.source_type, inv.source_id) == ("hubspot", "deal", "deal-1")
    assert inv.kind == Invoice.Kind.INVOICE and inv.number == "" and inv.irn == "" and inv.frozen_at is None
    assert inv.customer_name == "Chukwu Retail Plc" and inv.customer_tin == "87654321-0001"
    assert inv.lines.count() == 3
    assert [l.line_extension_amount for l in inv.lines.all()] == [Decimal("36000.00"), Decimal("3500.00"),
                                                                 Decimal("17999.98")]
    assert inv.lines.get(position=1).allowance_amount == Decimal("1500.00")
    assert inv.payable_amount == inv.tax_inclusive_amount == inv.tax_exclusive_amount + inv.tax_amount
    assert inv.canonical["source"]["id"] == "deal-1" and inv.canonical["lines"][0]["unit_price"] == "12500.00"
    sub = inv.submissions.get()
    assert (sub.state, sub.format, sub.queue) == (S.DRAFT, "firs", "pos_realtime")


@pytest.mark.django_db
def test_create_is_idempotent_on_source(firs_org, make_canonical):
    first = create(firs_org, make_canonical(source_id="deal-2"))
    again = create(firs_org, make_canonical(source_id="deal-2"))
    assert again.pk == first.pk
    assert Invoice.objects.filter(organization=firs_org).count() == 1
    assert Submission.objects.filter(invoice__organization=firs_org).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_for_one_source_make_one_invoice(firs_org, make_canonical):
    results = race(4, lambda: create(firs_org, make_canonical(source_id="deal-race")).pk)
    assert len(set(results)) == 1
    assert Invoice.objects.filter(organization=firs_org, source_id="deal-race").count() == 1


@pytest.mark.django_db
def test_supplier_is_filled_from_the_organization_when_empty(firs_org, make_canonical):
    canonical = make_canonical()
    canonical = dataclasses.replace(canonical, supplier=dataclasses.replace(canonical.supplier, name="", tin=""))
    inv = create(firs_org, canonical)
    supplier = Invoice.objects.get(pk=inv.pk).canonical["supplier"]
    assert supplier["name"] == firs_org.name and supplier["tin"] == firs_org.tin
    assert supplier["telephone"] == "+2348012345678" and supplier["city_name"] == "Lagos"


@pytest.mark.django_db
def test_tax_mismatch_is_flagged_with_both_figures(firs_org, make_canonical):
    canonical = make_canonical(source_figures=SourceFigures(tax_amount=Decimal("3000.00"),
                                                            payable_amount=Decimal("62349.98")))
    inv = Invoice.objects.get(pk=create(firs_org, canonical).pk)
    assert inv.tax_mismatch is True
    assert inv.source_figures["source"]["tax_amount"] == "3000.00"
    assert inv.source_figures["ours"]["tax_amount"] == str(inv.tax_amount)
    assert Decimal(inv.source_figures["difference"]["tax_amount"]) == Decimal("3000.00") - inv.tax_amount


@pytest.mark.django_db
def test_matching_source_figures_are_kept_without_flag(firs_org, make_canonical):
    probe = create(firs_org, make_canonical())
    canonical = make_canonical(source_figures=SourceFigures(tax_amount=probe.tax_amount,
                                                            payable_amount=probe.payable_amount))
    inv = Invoice.objects.get(pk=create(firs_org, canonical).pk)
    assert inv.tax_mismatch is False
    assert inv.source_figures["source"]["payable_amount"] == str(probe.payable_amount)


@pytest.mark.django_db
def test_invalid_canonical_is_rejected_locally_with_every_rule_and_nothing_sent(firs, firs_org, make_canonical):
    canonical = make_canonical()
    bad_line = dataclasses.replace(canonical.lines[0], quantity=Decimal("-1"), description="")
    canonical = dataclasses.replace(canonical, currency="XXX", lines=[bad_line] + canonical.lines[1:])
    inv = create(firs_org, canonical)
    sub = inv.submissions.get()
    assert sub.state == S.REJECTED and sub.blocking_level == "error" and sub.error_source == "local"
    assert sub.error.startswith("Rejected locally")
    assert len(sub.errors) >= 2 and all({"rule", "message", "path"} <= set(e) for e in sub.errors)
    assert any("currency" in e["path"] for e in sub.errors)
    sub = process(inv)
    assert sub.state == S.REJECTED
    assert sum(firs.app.sandbox.requests.values()) == 0
    assert not InvoiceSequence.objects.filter(organization=firs_org).exists()


# --- the pipeline ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_happy_path_to_confirmed(firs, firs_org, make_canonical):
    inv = create(firs_org, make_canonical())
    sub = process(inv)
    assert sub.state == S.CONFIRMED, sub.error
    inv.refresh_from_db()
    assert inv.number == "INV000001"
    assert inv.irn == f"INV000001-{firs_org.firs_service_id}-{inv.issue_date:%Y%m%d}" == sub.irn
    assert inv.frozen_at and inv.signed_at and inv.ubl_xml.startswith("<?xml") and inv.stamp
    assert [s[:3] for s in steps(sub)] == [("validate", "draft", "validated"), ("sign", "validated", "signed"),
                                           ("transmit", "signed", "transmitted"),
                                           ("confirm", "transmitted", "confirmed")]
    body = bytes(sub.signed_payload)
    assert json.loads(body)["irn"] == inv.irn and inv.firs_json.encode() == body
    assert sub.payload_sha256 == hashlib.sha256(body).hexdigest()
    held = firs.app.sandbox.invoice(inv.irn)
    assert held.raw == body and held.transmitted
    assert firs.app.sandbox.requests["sign"] == 1
    stamp = firs.app.sandbox.verify_stamp(inv.stamp)
    assert stamp["valid"] and stamp["irn"] == inv.irn
    attempt = sub.attempts.get(step="sign")
    assert attempt.response_status == 201 and attempt.request_url.endswith("/api/v1/invoice/sign")
    assert attempt.request_body == body.decode() and firs.business.api_secret not in attempt.request_body


@pytest.mark.django_db
def test_5xx_then_success(firs, firs_org, make_canonical):
    firs.app.sandbox.set_fault("validate", "503", times=1)
    inv = create(firs_org, make_canonical())
    sub = process(inv, due_now=False)
    assert sub.state == S.DRAFT and sub.blocking_level == "warning" and sub.attempt_count == 1
    assert sub.next_attempt_at is not None and sub.error_source == "network"
    frozen_number, frozen_irn = sub.invoice.number, sub.invoice.irn
    assert frozen_irn  # frozen before the first send
    # Not due yet: the worker leaves it alone.
    Submission.objects.filter(pk=sub.pk).update(next_attempt_at=timezone.now() + datetime.timedelta(minutes=5))
    assert services.submission_process(submission_id=sub.pk) is None
    assert firs.app.sandbox.requests["validate"] == 1
    sub = process(sub)
    assert sub.state == S.CONFIRMED
    sub.invoice.refresh_from_db()
    assert (sub.invoice.number, sub.invoice.irn) == (frozen_number, frozen_irn)
    assert ("validate", "draft", "draft", "retry") in steps(sub)
    assert InvoiceSequence.objects.get(organization=firs_org, kind="invoice").last_number == 1


@pytest.mark.django_db
def test_timeout_on_sign_then_same_bytes_resend(firs, firs_org, make_canonical):
    firs.app.sandbox.set_fault("sign", "hang", times=1, hang_seconds=CLIENT_TIMEOUT + 2)
    inv = create(firs_org, make_canonical())
    sub = process(inv)
    assert sub.state == S.UNKNOWN and sub.blocking_level == "warning"
    assert firs.app.sandbox.invoice(sub.irn) is None  # the hang did not sign
    sub = process(sub)
    assert sub.state == S.CONFIRMED, sub.error
    signs = list(sub.attempts.filter(step="sign").values_list("request_body", "to_state"))
    assert [s[1] for s in signs] == [S.UNKNOWN, S.SIGNED]
    assert signs[0][0] == signs[1][0] == bytes(sub.signed_payload).decode()
    assert firs.app.sandbox.invoice(sub.irn).raw == bytes(sub.signed_payload)


@pytest.mark.django_db
def test_commit_then_timeout_duplicate_lookup_adopt(firs, firs_org, make_canonical):
    firs.app.sandbox.set_fault("sign", "commit_then_timeout", times=1, hang_seconds=CLIENT_TIMEOUT + 2)
    inv = create(firs_org, make_canonical())
    sub = process(inv)
    assert sub.state == S.UNKNOWN
    assert firs.app.sandbox.invoice(sub.irn) is not None  # FIRS did sign it
    sub = process(sub)
    assert sub.state == S.CONFIRMED, sub.error
    assert [s[:3] for s in steps(sub)][-4:] == [("sign", "unknown", "unknown"), ("lookup", "unknown", "signed"),
                                                ("transmit", "signed", "transmitted"),
                                                ("confirm", "transmitted", "confirmed")]
    assert sub.attempts.get(step="lookup").response_status == 200
    assert firs.app.sandbox.requests["sign"] == 2
    assert len(firs.app.sandbox.invoices()) == 1
    assert Invoice.objects.filter(organization=firs_org).count() == 1


@pytest.mark.django_db
def test_duplicate_with_different_content_is_flagged_never_regenerated(firs, firs_org, make_canonical):
    firs.app.sandbox.set_fault("validate", "500", times=1)
    inv = create(firs_org, make_canonical())
    sub = process(inv)
    number, irn = sub.invoice.number, sub.invoice.irn
    other = json.loads(bytes(sub.signed_payload))
    other["note"] = "a different document"
    firs.app.sandbox.sign(firs.business, json.dumps(other).encode(), other)
    sub = process(sub)
    assert sub.state == S.REJECTED and sub.blocking_level == "error" and sub.error_source == "firs"
    assert "duplicate IRN with different content" in sub.error
    sub.invoice.refresh_from_db()
    assert (sub.invoice.number, sub.invoice.irn) == (number, irn)
    assert Invoice.objects.filter(organization=firs_org).count() == 1
    assert not services.submission_can_retry(sub)


@pytest.mark.django_db
def test_firs_4xx_is_rejected_with_its_reason(firs, firs_org, make_canonical):
    firs_org.firs_business_id = uuid.uuid4()  # a business FIRS does not know for these keys
    firs_org.save()
    inv = create(firs_org, make_canonical())
    sub = process(inv)
    assert sub.state == S.REJECTED and sub.error_source == "firs" and sub.blocking_level == "error"
    assert sub.error.startswith("Rejected by FIRS:") and "business" in sub.error
    assert sub.errors[0]["rule"] == "FIRS"
    assert sub.attempts.get(step="validate").response_status == 400
    assert firs.app.sandbox.requests["sign"] == 0


@pytest.mark.django_db
def test_bad_credentials_reject_as_auth_and_can_be_retried_once_fixed(firs, firs_org, make_canonical):
    good = firs_org.firs_api_secret
    firs_org.firs_api_secret = "wrong-secret"
    firs_org.save()
    inv = create(firs_org, make_canonical())
    sub = process(inv)
    assert sub.state == S.REJECTED and sub.error_source == "auth"
    assert services.submission_can_retry(sub)
    firs_org.firs_api_secret = good
    firs_org.save()
    services.submission_retry(submission=sub)
    sub = process(sub)
    assert sub.state == S.CONFIRMED, sub.error


@pytest.mark.django_db
def test_missing_firs_setup_rejects_without_taking_a_number(firs, make_org, make_canonical):
    org = make_org()
    inv = create(org, make_canonical())
    sub = process(inv)
    assert sub.state == S.REJECTED and sub.error_source == "auth"
    assert "FIRS service id" in sub.error
    assert not InvoiceSequence.objects.filter(organization=org).exists()
    assert Invoice.objects.get(pk=inv.pk).frozen_at is None


@pytest.mark.django_db
def test_max_retries_dead_then_retry_resumes(firs, firs_org, make_canonical, settings):
    settings.FIRS_SUBMISSION_MAX_ATTEMPTS = 3
    firs.app.sandbox.set_fault("transmit", "502")
    inv = create(firs_org, make_canonical())
    sub = process(inv)
    assert sub.state == S.SIGNED and sub.attempt_count == 1
    sub = process(sub)
    sub = process(sub)
    assert sub.state == S.DEAD and sub.resume_state == S.SIGNED and "gave up after 3 attempts" in sub.error
    assert services.submission_process(submission_id=sub.pk) is None  # dead rows are not picked up
    firs.app.sandbox.clear_faults()
    services.submission_retry(submission=sub)
    sub.refresh_from_db()
    assert sub.state == S.SIGNED and sub.attempt_count == 0
    sub = process(sub)
    assert sub.state == S.CONFIRMED
    assert firs.app.sandbox.requests["sign"] == 1  # resumed, never re-signed


@pytest.mark.django_db
def test_retry_refused_for_confirmed_and_content_rejections(firs, firs_org, make_canonical):
    sub = process(create(firs_org, make_canonical()))
    with pytest.raises(ApplicationError, match="cannot be retried"):
        services.submission_retry(submission=sub)


@pytest.mark.django_db
def test_unknown_can_be_retried_now(firs, firs_org, make_canonical):
    firs.app.sandbox.set_fault("sign", "reset", times=1)
    sub = process(create(firs_org, make_canonical()))
    assert sub.state == S.UNKNOWN and sub.next_attempt_at is not None
    services.submission_retry(submission=sub)
    sub.refresh_from_db()
    assert sub.state == S.UNKNOWN and sub.next_attempt_at is None
    assert process(sub, due_now=False).state == S.CONFIRMED


# --- credit notes -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_full_credit_note_pipeline(firs, firs_org, make_canonical):
    original = process(create(firs_org, make_canonical())).invoice
    credit = services.credit_note_create(invoice=original, source=SourceRef("hubspot", "deal_cancelled", "d-9"),
                                         reason="Deal cancelled")
    credit.refresh_from_db()
    assert credit.kind == Invoice.Kind.CREDIT_NOTE and credit.original_invoice_id == original.pk
    assert credit.payable_amount == original.payable_amount and credit.credit_reason == "Deal cancelled"
    assert credit.canonical["billing_reference"] == {"number": original.number, "irn": original.irn,
                                                     "issue_date": original.issue_date.isoformat()}
    sub = process(credit)
    assert sub.state == S.CONFIRMED, (sub.error, sub.errors)
    credit.refresh_from_db()
    assert credit.number == "CRN000001" and credit.irn.startswith("CRN000001-")
    body = json.loads(bytes(sub.signed_payload))
    assert original.irn in json.dumps(body.get("billing_reference"))
    # Idempotent on its source, like every invoice.
    again = services.credit_note_create(invoice=original, source=SourceRef("hubspot", "deal_cancelled", "d-9"),
                                        reason="Deal cancelled")
    assert again.pk == credit.pk


@pytest.mark.django_db
def test_partial_credit_note(firs, firs_org, make_canonical):
    original = process(create(firs_org, make_canonical())).invoice
    credit = services.credit_note_create(invoice=original, source=SourceRef("square", "refund", "r-1"),
                                         reason="Returned one", lines=[{"position": 2, "quantity": "4"}])
    credit.refresh_from_db()
    line = credit.lines.get()
    assert (line.description, line.quantity) == ("Bottled water (zero-rated)", Decimal("4"))
    assert credit.payable_amount == Decimal("1400.00")
    assert process(credit).state == S.CONFIRMED
    with pytest.raises(ApplicationError, match="at most"):
        services.credit_note_create(invoice=original, source=SourceRef("square", "refund", "r-2"),
                                    reason="too many", lines=[{"position": 2, "quantity": "11"}])


@pytest.mark.django_db
def test_credit_note_needs_a_frozen_original(firs_org, make_canonical):
    draft = create(firs_org, make_canonical())
    with pytest.raises(ApplicationError, match="IRN"):
        services.credit_note_create(invoice=draft, source=SourceRef("hubspot", "x", "1"), reason="r")


@pytest.mark.django_db
def test_transmit_refusal_can_be_retried_without_resigning(firs, firs_org, make_canonical):
    firs.app.sandbox.set_webhook(firs.business.business_id, "")  # FIRS refuses transmit without one
    sub = process(create(firs_org, make_canonical()))
    assert sub.state == S.REJECTED and sub.resume_state == S.SIGNED and "webhook" in sub.error
    assert services.submission_can_retry(sub)
    firs.app.sandbox.set_webhook(firs.business.business_id, "http://127.0.0.1:9/firs-webhook")
    services.submission_retry(submission=sub)
    assert process(sub).state == S.CONFIRMED
    assert firs.app.sandbox.requests["sign"] == 1


@pytest.mark.django_db
def test_failed_freeze_rolls_back_its_number(firs, firs_org, make_canonical):
    good_keys = firs_org.firs_crypto_keys
    firs_org.firs_crypto_keys = '{"public_key": "not base64!", "certificate": "x"}'
    firs_org.save()
    first = process(create(firs_org, make_canonical()))
    # The number was allocated, then the stamp failed: the whole freeze rolled back.
    assert first.state == S.REJECTED and first.error_source == "auth" and "key file" in first.error
    assert Invoice.objects.get(pk=first.invoice_id).number == ""
    assert InvoiceSequence.objects.filter(organization=firs_org).values_list("last_number", flat=True) \
        .first() in (None, 0)
    assert firs.app.sandbox.requests["validate"] == 0
    firs_org.firs_crypto_keys = good_keys
    firs_org.save()
    second = process(create(firs_org, make_canonical()))
    assert second.state == S.CONFIRMED and second.invoice.number == "INV000001"
    services.submission_retry(submission=first)
    first = process(first)
    assert first.state == S.CONFIRMED and first.invoice.number == "INV000002"


# --- leased creation (the real-time POS path) ----------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_leased_creation_is_run_by_its_creator_only(firs, firs_org, make_canonical):
    token = uuid.uuid4()
    inv = create(firs_org, make_canonical(), queue="pos_realtime", lease_token=token)
    sub = inv.submissions.get()
    assert sub.lease_token == token and sub.state == S.DRAFT
    assert inv.leased_submission.pk == sub.pk and inv.leased_submission.invoice is inv
    assert timezone.now() < sub.locked_until <= timezone.now() + datetime.timedelta(
        seconds=submissions.CREATION_LEASE_SECONDS)
    # Another worker (a stray task, the sweep) finds it held and leaves it.
    assert services.submission_process(submission_id=sub.pk) is None
    assert services.submission_claim_due() == []
    # A token that holds nothing runs nothing.
    assert services.submission_process_claimed(token=uuid.uuid4(), submission=inv.leased_submission) is None
    done = services.submission_process_claimed(token=token, submission=inv.leased_submission)
    assert done.state == S.CONFIRMED and done.lease_token is None
    sub.refresh_from_db()
    assert sub.state == S.CONFIRMED and sub.lease_token is None and sub.locked_until is None


@pytest.mark.django_db(transaction=True)
def test_leased_creation_whose_creator_died_is_swept_when_the_lease_ends(firs, firs_org, make_canonical):
    inv = create(firs_org, make_canonical(), queue="pos_realtime", lease_token=uuid.uuid4())
    sub = inv.submissions.get()
    assert services.submission_claim_due() == []
    Submission.objects.filter(pk=sub.pk).update(locked_until=timezone.now() - datetime.timedelta(seconds=1))
    claimed = services.submission_claim_due()
    assert [pk for pk, _ in claimed] == [sub.pk]
    done = services.submission_process_claimed(submission_id=sub.pk, token=claimed[0][1])
    assert done.state == S.CONFIRMED
    assert firs.app.sandbox.requests["sign"] == 1


@pytest.mark.django_db(transaction=True)
def test_an_invalid_invoice_is_never_leased(firs_org, make_canonical):
    inv = create(firs_org, make_canonical(currency="XXX"), lease_token=uuid.uuid4())
    sub = inv.submissions.get()
    assert sub.state == S.REJECTED and sub.lease_token is None


@pytest.mark.django_db(transaction=True)
def test_an_admin_move_during_a_run_stops_the_worker_without_overwriting(firs, firs_org, make_canonical,
                                                                            monkeypatch):
    """The worker's next transition is a compare-and-set on the state it read:
    a cancel made while it waited on FIRS stands, and it records nothing."""
    inv = create(firs_org, make_canonical())
    sub = inv.submissions.get()
    real_validate = services.firs_client_for(firs_org).__class__.validate_invoice

    def validate_while_support_cancels(client, body):
        Submission.objects.filter(pk=sub.pk).update(state=S.CANCELLED)
        return real_validate(client, body)

    monkeypatch.setattr(services.firs_client_for(firs_org).__class__, "validate_invoice",
                        validate_while_support_cancels)
    services.submission_process(submission_id=sub.pk)
    sub.refresh_from_db()
    assert sub.state == S.CANCELLED
    assert not sub.attempts.filter(step="validate").exists()
    assert firs.app.sandbox.requests["sign"] == 0


@pytest.mark.django_db(transaction=True)
def test_the_frozen_documents_pass_every_rule_the_provisional_check_ran(firs, firs_org, make_canonical):
    """The schematron runs before the number is taken, on a provisional
    number/IRN; the stored final UBL must pass it all the same."""
    from invoicing.canonical import canonical_from_dict
    from invoicing.documents import render
    from invoicing.ubl.validator import validate_ubl

    sub = process(create(firs_org, make_canonical()))
    assert sub.state == S.CONFIRMED
    invoice = Invoice.objects.get(pk=sub.invoice_id)
    assert invoice.number == "INV000001" and invoice.irn.startswith("INV000001-")
    assert f"<cbc:ID>{invoice.number}</cbc:ID>" in invoice.ubl_xml and invoice.irn in invoice.ubl_xml
    assert validate_ubl(invoice.ubl_xml.encode("utf-8")) == []
    # The provisional documents with the final number put in: what a fresh build of it gives.
    fresh = render(canonical_from_dict(invoice.canonical, stored=True), business_id=str(firs_org.firs_business_id))
    assert invoice.ubl_xml.encode("utf-8") == fresh.ubl_xml
    assert bytes(sub.signed_payload) == fresh.firs_json and invoice.firs_json.encode("utf-8") == fresh.firs_json


# --- creating a batch's page at once ----------------------------------------------------


def create_many(org, canonicals, **kw) -> list[Invoice]:
    return services.invoices_create_from_canonicals(organization=org, canonicals=canonicals, **kw)


@pytest.mark.django_db
def test_bulk_create_stores_what_the_single_create_stores(firs_org, make_canonical):
    one = create(firs_org, make_canonical(source_id="deal-single"))
    [many] = create_many(firs_org, [make_canonical(source_id="deal-bulk")], queue="batch")
    many.refresh_from_db()
    skip = {"id", "source_id", "canonical", "created_at", "updated_at"}
    fields = [f.attname for f in Invoice._meta.concrete_fields if f.attname not in skip]
    assert {f: getattr(many, f) for f in fields} == {f: getattr(one, f) for f in fields}
    assert {**many.canonical, "source": None} == {**one.canonical, "source": None}
    line_values = ("position", "description", "quantity", "unit_price", "allowance_amount", "charge_amount",
                   "line_extension_amount", "tax_category", "tax_rate")
    assert list(many.lines.values_list(*line_values)) == list(one.lines.values_list(*line_values))
    sub = many.submissions.get()
    assert (sub.state, sub.queue, sub.lease_token) == (S.DRAFT, "batch", None)


@pytest.mark.django_db
def test_bulk_create_is_idempotent_and_keeps_the_callers_order(firs_org, make_canonical):
    earlier = create(firs_org, make_canonical(source_id="sale-2"))
    ids = ["sale-1", "sale-2", "sale-3", "sale-1"]
    first = create_many(firs_org, [make_canonical(source_id=i) for i in ids])
    assert [inv.source_id for inv in first] == ids
    assert first[1].pk == earlier.pk and first[0].pk == first[3].pk
    again = create_many(firs_org, [make_canonical(source_id=i) for i in reversed(ids)])
    assert [inv.pk for inv in again] == [inv.pk for inv in reversed(first)]
    assert Invoice.objects.filter(organization=firs_org).count() == 3
    assert Submission.objects.filter(invoice__organization=firs_org).count() == 3


@pytest.mark.django_db
def test_bulk_create_rejects_a_rule_breaker_locally_and_keeps_the_rest(firs_org, make_canonical):
    bad = make_canonical(source_id="sale-bad", currency="XXX")
    good, broken = create_many(firs_org, [make_canonical(source_id="sale-good"), bad])
    assert good.submissions.get().state == S.DRAFT
    sub = broken.submissions.get()
    assert (sub.state, sub.error_source, sub.blocking_level) == (S.REJECTED, "local", "error")
    assert sub.errors and sub.error.startswith("Rejected locally")
    assert Invoice.objects.get(pk=broken.pk).firs_state == S.REJECTED


@pytest.mark.django_db(transaction=True)
def test_bulk_create_enqueues_its_new_submissions_in_chunks_after_commit(firs_org, make_canonical, monkeypatch):
    from invoicing import tasks

    sent = []
    # Observe the enqueue call itself; the broker is the real Redis in every other respect.
    monkeypatch.setattr(tasks.process_submissions, "apply_async",
                        lambda args=None, queue=None, **kw: sent.append((args, queue)))
    monkeypatch.setattr(services, "SUBMISSIONS_PER_TASK", 2)
    invoices = create_many(firs_org, [make_canonical(source_id=f"sale-{i}") for i in range(5)]
                           + [make_canonical(source_id="sale-bad", currency="XXX")], queue="batch")
    new = [str(inv.submissions.get().pk) for inv in invoices[:5]]
    assert sent == [([[new[0], new[1]]], "batch"), ([[new[2], new[3]]], "batch"), ([[new[4]]], "batch")]
    sent.clear()
    create_many(firs_org, [make_canonical(source_id="sale-1")], queue="batch")
    assert sent == []  # nothing new, nothing sent


@pytest.mark.django_db(transaction=True)
def test_bulk_create_yields_to_an_invoice_a_concurrent_writer_committed_first(firs_org, make_canonical):
    """The concurrent invoice is made after our existence check (it is not
    committed yet) and committed while our INSERT waits on its unique key: its
    row stands, ours is dropped, and the page still gets its invoices."""
    from django.db import transaction

    inserted, commit = threading.Event(), threading.Event()
    theirs = []

    def concurrent_writer():
        try:
            with transaction.atomic():
                theirs.append(create(firs_org, make_canonical(source_id="sale-race")))
                inserted.set()
                commit.wait(10)
        finally:
            connection.close()

    writer = threading.Thread(target=concurrent_writer)
    writer.start()
    inserted.wait(10)
    threading.Timer(0.5, commit.set).start()  # while our INSERT below waits on the key
    race, other = create_many(firs_org, [make_canonical(source_id="sale-race"),
                                         make_canonical(source_id="sale-other")])
    writer.join()
    assert race.pk == theirs[0].pk
    assert Invoice.objects.filter(organization=firs_org, source_id="sale-race").count() == 1
    assert Submission.objects.filter(invoice__source_id="sale-race").count() == 1
    assert other.submissions.get().state == S.DRAFT


def test_bulk_create_refuses_credit_notes(make_canonical):
    from invoicing.canonical import CREDIT_NOTE

    with pytest.raises(ValueError):
        services.invoices_create_from_canonicals(organization=None, canonicals=[make_canonical(kind=CREDIT_NOTE)])
