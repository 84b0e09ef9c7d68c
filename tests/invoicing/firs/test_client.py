"""FirsClient against the local sandbox over real sockets: every outcome the
submission state machine has to tell apart, and what each attempt records."""
import hashlib
import socket
import time
from decimal import Decimal

import pytest
from invoicing.firs.breaker import CLOSED, OPEN
from invoicing.firs.client import (
    FIRS_REQUEST_LATENCY,
    FirsAuthError,
    FirsCircuitOpen,
    FirsDuplicate,
    FirsError,
    FirsNotFound,
    FirsOutcomeUnknown,
    FirsRejected,
    FirsRetryable,
    get_client,
    json_bytes,
    signed_document_matches,
    mask_body,
)
from taxpoynt.errors import ApplicationError

from .samples import encode, sample_invoice


def assert_no_secrets(exchange, business):
    text = repr(exchange)
    assert business.api_key not in text
    assert business.api_secret not in text


def test_validate_and_sign_return_exchanges(firs_client, firs_business):
    raw = encode(sample_invoice(firs_business))
    exchange = firs_client.validate_invoice(raw)
    assert (exchange.method, exchange.status_code, exchange.data, exchange.outcome) == ("POST", 200, {"ok": True}, "ok")
    assert exchange.url.endswith("/api/v1/invoice/validate")
    exchange = firs_client.sign_invoice(raw)
    assert exchange.status_code == 201 and exchange.data == {"ok": True}
    assert exchange.request_body == raw.decode()  # the exact bytes sent, recorded
    assert exchange.response_body == '{"code": 201, "data": {"ok": true}}'
    assert isinstance(exchange.latency_ms, int) and exchange.latency_ms >= 0
    assert exchange.endpoint == "sign"
    assert_no_secrets(exchange, firs_business)


def test_dict_bodies_and_small_calls(firs_client, firs_business):
    assert firs_client.health().data == {"healthy": True}
    assert {t["code"] for t in firs_client.resources("invoice-types").data} >= {"380", "381"}
    ok = firs_client.validate_irn(firs_business.business_id, "INV001", "INV001-59854B81-20250115")
    assert ok.data == {"ok": True}
    body = sample_invoice(firs_business)
    assert firs_client.validate_invoice(encode(body)).data == {"ok": True}
    assert firs_client.search_entities().data["items"][0]["id"] == firs_business.entity_id
    assert firs_client.entity(firs_business.entity_id).data["businesses"][0]["service_id"] == "59854B81"


def test_rejection_carries_details(firs_client, firs_business):
    body = sample_invoice(firs_business)
    body["tax_total"][0]["tax_subtotal"][0]["tax_category"]["id"] = "VAT"
    with pytest.raises(FirsRejected) as caught:
        firs_client.sign_invoice(encode(body))
    error = caught.value
    assert not isinstance(error, FirsDuplicate)
    assert error.details == (
        "invoicerequest.invoice.taxtotal[0].taxsubtotal[0].taxcategory.id must be a valid tax category, "
        "refer to the invoice resource apis")
    assert error.public_message.startswith("validation failed")
    assert error.handler == "invoice_actions"
    assert error.errors[0]["field"] == "invoicerequest.invoice.taxtotal[0].taxsubtotal[0].taxcategory.id"
    assert error.exchange.status_code == 400 and error.exchange.outcome == "rejected"
    assert_no_secrets(error.exchange, firs_business)


def test_resign_is_a_duplicate_and_confirm_proves_it(firs_client, firs_business):
    raw = encode(sample_invoice(firs_business))
    firs_client.sign_invoice(raw)
    with pytest.raises(FirsDuplicate) as caught:
        firs_client.sign_invoice(raw)
    assert not isinstance(caught.value, FirsRejected)
    assert caught.value.details == "unable to complete this operation at this time, kindly try again later"
    assert caught.value.exchange.outcome == "duplicate"
    confirmed = firs_client.confirm("INV001-59854B81-20250115").data
    assert confirmed["body_sha256"] == hashlib.sha256(raw).hexdigest()
    assert confirmed["legal_monetary_total"]["payable_amount"] == Decimal("3494.29")  # Decimal, not float
    assert isinstance(confirmed["legal_monetary_total"]["line_extension_amount"], Decimal)


def test_validate_of_a_signed_irn_is_not_a_duplicate(firs_client, firs_business):
    raw = encode(sample_invoice(firs_business))
    firs_client.sign_invoice(raw)
    assert firs_client.validate_invoice(raw).data == {"ok": True}


def test_unknown_route_is_not_found(make_firs_client, firs_business):
    client = make_firs_client(firs_business)
    with pytest.raises(FirsNotFound, match="no route found"):
        client._send("nowhere", "GET", "/api/v9/nowhere")


def test_unknown_irn_is_not_found(firs_client):
    with pytest.raises(FirsNotFound) as caught:
        firs_client.confirm("NOPE1-59854B81-20250115")
    assert isinstance(caught.value, FirsRejected)
    assert caught.value.exchange.status_code == 404


@pytest.mark.parametrize("mode, status", [("400", 400), ("401", 401)])
def test_bad_credentials(make_firs_client, firs_business, firs_sandbox, mode, status):
    firs_sandbox.app.sandbox.set_auth_mode(mode)
    client = make_firs_client(api_key=firs_business.api_key, api_secret="wrong-secret")
    with pytest.raises(FirsAuthError) as caught:
        client.sign_invoice(encode(sample_invoice(firs_business)))
    assert caught.value.exchange.status_code == status
    assert caught.value.public_message == "unable to validate api key"
    assert "wrong-secret" not in repr(caught.value.exchange)
    assert_no_secrets(caught.value.exchange, firs_business)


def test_password_is_masked_in_the_record(firs_client, firs_business):
    exchange = firs_client.authenticate(firs_business.email, firs_business.password)
    assert exchange.data["entity_id"] == firs_business.entity_id
    assert firs_business.password not in exchange.request_body
    assert '"password": "********"' in exchange.request_body
    assert mask_body(b'{"a": [{"api_secret": "s"}]}') == '{"a": [{"api_secret": "********"}]}'
    # Any case, and a key name spelt with JSON escapes, is still found.
    assert mask_body(b'{"PassWord": "s"}') == '{"PassWord": "********"}'
    assert mask_body(b'{"\\u0070assword": "s"}') == '{"password": "********"}'
    # A body with no secret key is kept byte for byte (an invoice payload).
    assert mask_body('{"irn":"INV1-94ND90NR-20240611", "note": "caf\u00e9"}'.encode()) == \
        '{"irn":"INV1-94ND90NR-20240611", "note": "caf\u00e9"}'


@pytest.mark.parametrize("kind, retry_after", [("500", None), ("502", None), ("503", 2.0), ("504", None), ("429", 1.0)])
def test_server_trouble_is_retryable(firs_client, firs_business, firs_sandbox, kind, retry_after):
    firs_sandbox.app.sandbox.set_fault("sign", kind, times=1)
    with pytest.raises(FirsRetryable) as caught:
        firs_client.sign_invoice(encode(sample_invoice(firs_business)))
    assert not isinstance(caught.value, FirsCircuitOpen)
    assert caught.value.retry_after == retry_after
    assert caught.value.exchange.status_code == int(kind)
    assert caught.value.exchange.outcome == "retry"


def test_connection_refused_is_retryable(make_firs_client, firs_business):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = make_firs_client(firs_business, base_url=f"http://127.0.0.1:{port}")
    with pytest.raises(FirsRetryable) as caught:
        client.sign_invoice(encode(sample_invoice(firs_business)))
    assert caught.value.exchange.status_code is None
    assert type(caught.value) is FirsRetryable


def test_reset_after_sending_is_unknown_for_a_post(firs_client, firs_business, firs_sandbox):
    firs_sandbox.app.sandbox.set_fault("sign", "reset", times=1)
    with pytest.raises(FirsOutcomeUnknown) as caught:
        firs_client.sign_invoice(encode(sample_invoice(firs_business)))
    assert caught.value.exchange.outcome == "unknown" and caught.value.exchange.status_code is None


def test_reset_on_a_get_is_just_retryable(firs_client, firs_sandbox):
    firs_sandbox.app.sandbox.set_fault("confirm", "reset", times=1)
    with pytest.raises(FirsRetryable):
        firs_client.confirm("INV001-59854B81-20250115")


def test_timeout_is_unknown(firs_client, firs_business, firs_sandbox):
    firs_sandbox.app.sandbox.set_fault("sign", "hang", times=1)
    with pytest.raises(FirsOutcomeUnknown) as caught:
        firs_client.sign_invoice(encode(sample_invoice(firs_business)))
    assert caught.value.exchange.latency_ms >= 900  # the 1 s client timeout
    assert "ReadTimeout" in caught.value.message
    assert firs_sandbox.app.sandbox.invoices() == []  # a hang commits nothing


def test_commit_then_timeout_is_the_duplicate_trap(firs_client, firs_business, firs_sandbox):
    firs_sandbox.app.sandbox.set_fault("sign", "commit_then_timeout", times=1)
    raw = encode(sample_invoice(firs_business))
    with pytest.raises(FirsOutcomeUnknown):
        firs_client.sign_invoice(raw)
    # What the state machine must do: look it up before resending.
    confirmed = firs_client.confirm("INV001-59854B81-20250115")
    assert confirmed.data["body_sha256"] == hashlib.sha256(raw).hexdigest()
    with pytest.raises(FirsDuplicate):
        firs_client.sign_invoice(raw)


def test_payment_update(firs_client, firs_business, firs_sandbox):
    firs_client.sign_invoice(encode(sample_invoice(firs_business)))
    irn = "INV001-59854B81-20250115"
    with pytest.raises(ApplicationError, match="PENDING, PAID, REJECTED"):
        firs_client.update_payment(irn, "OVERDUE")
    assert firs_sandbox.app.sandbox.requests["update"] == 0  # refused before sending
    assert firs_client.update_payment(irn, "PAID", reference="RCPT-1").data == {"ok": True}
    assert firs_client.confirm(irn).data["payment_status"] == "PAID"


def test_transmit(firs_client, firs_business, firs_sandbox):
    firs_client.sign_invoice(encode(sample_invoice(firs_business)))
    with pytest.raises(FirsRejected, match="webhook"):
        firs_client.transmit("INV001-59854B81-20250115")


def test_breaker_opens_on_upstream_failures_and_stops_sending(make_firs_client, firs_business, firs_sandbox):
    client = make_firs_client(firs_business, failure_threshold=2)
    firs_sandbox.app.sandbox.set_fault("confirm", "503")
    for _ in range(2):
        with pytest.raises(FirsRetryable):
            client.confirm("INV001-59854B81-20250115")
    assert client.breaker.current() == OPEN
    with pytest.raises(FirsCircuitOpen) as caught:
        client.confirm("INV001-59854B81-20250115")
    assert caught.value.exchange.status_code is None and caught.value.exchange.outcome == "circuit_open"
    assert 29 < caught.value.retry_after <= 30  # when the breaker will let a trial through
    assert firs_sandbox.app.sandbox.requests["confirm"] == 2  # the third was never sent


def test_rejections_do_not_open_the_breaker(make_firs_client, firs_business):
    client = make_firs_client(firs_business, failure_threshold=2)
    for _ in range(4):
        with pytest.raises(FirsNotFound):
            client.confirm("NOPE1-59854B81-20250115")
    assert client.breaker.current() == CLOSED


def test_breaker_half_opens_and_closes_on_a_good_trial(make_firs_client, firs_business, firs_sandbox):
    client = make_firs_client(firs_business, failure_threshold=1, cooldown_seconds=0.3)
    firs_sandbox.app.sandbox.set_fault("health", "502", times=1)
    with pytest.raises(FirsRetryable):
        client.health()
    with pytest.raises(FirsCircuitOpen):
        client.health()
    time.sleep(0.35)
    assert client.health().data == {"healthy": True}  # the trial
    assert client.breaker.state()["state"] == CLOSED


def test_latency_histogram(firs_client, firs_business, firs_sandbox):
    def count(outcome):
        # Collect this metric alone (the registry also holds collectors that query the database).
        for metric in FIRS_REQUEST_LATENCY.collect():
            for sample in metric.samples:
                if sample.name == "firs_request_latency_seconds_count" and \
                        sample.labels == {"endpoint": "sign", "outcome": outcome}:
                    return sample.value
        return 0

    ok_before, retry_before = count("ok"), count("retry")
    firs_sandbox.app.sandbox.set_fault("sign", "500", times=1)
    raw = encode(sample_invoice(firs_business))
    with pytest.raises(FirsRetryable):
        firs_client.sign_invoice(raw)
    firs_client.sign_invoice(raw)
    assert (count("ok"), count("retry")) == (ok_before + 1, retry_before + 1)


def test_every_failure_is_a_firs_error_with_its_exchange(firs_client):
    with pytest.raises(FirsError) as caught:
        firs_client.confirm("NOPE1-59854B81-20250115")
    assert caught.value.exchange.method == "GET"


def test_get_client_is_one_client_per_credentials_over_one_pool_per_host(firs_sandbox, firs_business):
    a = get_client(api_key=firs_business.api_key, api_secret=firs_business.api_secret, base_url=firs_sandbox.url)
    b = get_client(api_key=firs_business.api_key, api_secret=firs_business.api_secret, base_url=firs_sandbox.url + "/")
    c = get_client(api_key=firs_business.api_key, api_secret="other", base_url=firs_sandbox.url)
    assert a is b and a is not c
    assert a._transport is c._transport  # every organization's requests share the host's connections
    # ... each with its own credentials: the same pool carries one accepted and one refused.
    assert a.sign_invoice(encode(sample_invoice(firs_business))).status_code == 201
    with pytest.raises(FirsAuthError):
        c.sign_invoice(encode(sample_invoice(firs_business, invoice_number="INV002")))
    c.close()  # a client of the shared pool leaves it open for the others
    assert a.confirm(f"INV001-{firs_business.service_id}-20250115").status_code == 200


def test_dict_bodies_keep_exact_decimal_numbers(firs_client, firs_business):
    body = sample_invoice(firs_business)
    exchange = firs_client.sign_invoice(body)
    assert exchange.status_code == 201
    assert '"payable_amount": 3494.29' in exchange.request_body
    assert json_bytes({"a": Decimal("107.50"), "b": [Decimal("0.1")]}) == b'{"a": 107.50, "b": [0.1]}'


def test_signed_document_matches(firs_client, firs_business):
    raw = encode(sample_invoice(firs_business))
    other = encode(sample_invoice(firs_business, lines=[("Other", Decimal("1"), Decimal("10.00"), "STANDARD_VAT",
                                                         Decimal("7.5"))]))
    firs_client.sign_invoice(raw)
    data = firs_client.confirm("INV001-59854B81-20250115").data
    assert signed_document_matches(data, raw) is True
    assert signed_document_matches(data, other) is False
    # What the real FIRS answers (no sandbox extensions): only dates can contradict.
    real = {k: v for k, v in data.items() if k not in ("body_sha256", "legal_monetary_total")}
    assert signed_document_matches(real, raw) is None
    assert signed_document_matches(dict(real, issue_date="2025-01-16"), raw) is False


def test_calls_carry_the_credentials_and_share_one_keep_alive_connection():
    # The client sends through httpx's pooled transport directly (no
    # httpx.Client): the headers it sets and the connection reuse are its own.
    from invoicing.firs.client import FirsClient
    from taxpoynt.sandboxing import serve

    seen = []

    def app(environ, start_response):
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        seen.append({"method": environ["REQUEST_METHOD"], "port": environ["REMOTE_PORT"],
                     **{k: environ.get(k) for k in ("HTTP_X_API_KEY", "HTTP_X_API_SECRET", "HTTP_ACCEPT",
                                                    "HTTP_USER_AGENT", "CONTENT_TYPE")}})
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"code": 200, "data": {"ok": true}}']

    server = serve(app, host="127.0.0.1", port=0, name="firs-headers")
    try:
        with FirsClient(server.url, "the-key", "the-secret", timeout=5) as client:
            assert client.confirm("INV1-ABCDEF12-20261206").data == {"ok": True}
            assert client.validate_invoice(b'{"irn": "INV1-ABCDEF12-20261206"}').data == {"ok": True}
            assert client.sign_invoice({"irn": "INV1-ABCDEF12-20261206"}).outcome == "ok"
    finally:
        server.stop()
    assert [s["method"] for s in seen] == ["GET", "POST", "POST"]
    assert len({s["port"] for s in seen}) == 1
    for s in seen:
        assert (s["HTTP_X_API_KEY"], s["HTTP_X_API_SECRET"]) == ("the-key", "the-secret")
        assert (s["HTTP_ACCEPT"], s["HTTP_USER_AGENT"]) == ("application/json", "TaxPoynt-FIRS-client")
    assert [s["CONTENT_TYPE"] for s in seen] == [None, "application/json", "application/json"]
