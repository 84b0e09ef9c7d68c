"""A document validated and then signed (the same bytes, the same caller) is
checked once, and every answer stays what checking it again would give."""
import httpx
import pytest

from invoicing.firs.sandbox import app as sandbox_app

from ..samples import encode, modified, sample_invoice


def auth(business):
    return {"x-api-key": business.api_key, "x-api-secret": business.api_secret}


@pytest.fixture
def checks(monkeypatch):
    """How many times the sandbox checks an invoice body."""
    made = []
    original = sandbox_app.check_invoice

    def counted(body, business):
        made.append(body.get("irn"))
        return original(body, business)

    monkeypatch.setattr(sandbox_app, "check_invoice", counted)
    return made


def post(firs_sandbox, business, path, raw):
    return httpx.post(f"{firs_sandbox.url}/api/v1/invoice/{path}", content=raw, headers=auth(business), timeout=5)


def test_a_validated_document_is_not_checked_again_when_signed(firs_sandbox, firs_business, checks):
    """Speed cut (fails on the old code, which checked it twice)."""
    raw = encode(sample_invoice(firs_business, invoice_number="ONCE1"))
    assert post(firs_sandbox, firs_business, "validate", raw).status_code == 200
    assert post(firs_sandbox, firs_business, "sign", raw).status_code == 201
    assert len(checks) == 1
    stored = firs_sandbox.app.sandbox.invoice(sample_invoice(firs_business, invoice_number="ONCE1")["irn"])
    assert stored.raw == raw and encode(stored.body) == raw


def test_every_answer_is_what_a_fresh_check_gives(firs_sandbox, firs_business, firs_test_keys):
    """Equivalence: a second sign of the same bytes is a duplicate; a
    document validated by one business and signed with another's keys is
    checked for that caller (business not found); an invalid document
    answers its violations on validate and on sign alike."""
    sandbox = firs_sandbox.app.sandbox
    other = sandbox.register_business(name="Other Ltd", tin="12345678-0001", service_id="AB12CD34",
                                      keys=firs_test_keys)
    raw = encode(sample_invoice(firs_business, invoice_number="TWICE1"))
    assert post(firs_sandbox, firs_business, "validate", raw).status_code == 200
    refused = post(firs_sandbox, other, "sign", raw)
    assert refused.status_code == 400
    assert [e["message"] for e in refused.json()["error"]["errors"]] == ["business not found"]
    assert post(firs_sandbox, firs_business, "sign", raw).status_code == 201
    duplicate = post(firs_sandbox, firs_business, "sign", raw)
    assert duplicate.status_code == 400 and duplicate.json()["error"]["details"].startswith("unable to complete")

    wrong = encode(modified(sample_invoice(firs_business, invoice_number="BAD1"),
                            lambda b: b["legal_monetary_total"].update(payable_amount=1)))
    on_validate = post(firs_sandbox, firs_business, "validate", wrong).json()["error"]
    on_sign = post(firs_sandbox, firs_business, "sign", wrong).json()["error"]
    assert on_validate["errors"] == on_sign["errors"] and on_validate["errors"]
    assert on_validate["id"] != on_sign["id"]
    assert sandbox.invoice(sample_invoice(firs_business, invoice_number="BAD1")["irn"]) is None
