"""The local FIRS sandbox, driven over real sockets with plain httpx: every rule
of FIRS.md §7 it promises to reproduce."""
import base64
import datetime
import hashlib
import json
import threading
import time
import uuid
from decimal import Decimal

import httpx
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from invoicing.firs import codes
from invoicing.firs.stamp import load_crypto_keys, stamp_irn

from ..samples import encode, modified, sample_invoice

VALIDATION = "validation failed: we are unable to process your request. also confirm this is not a duplicate request"


def auth(business):
    return {"x-api-key": business.api_key, "x-api-secret": business.api_secret}


@pytest.fixture
def http(firs_sandbox):
    with httpx.Client(base_url=firs_sandbox.url, timeout=5) as client:
        yield client


@pytest.fixture
def call(http, firs_business):
    def call(method, path, body=None, business=firs_business, **kwargs):
        headers = auth(business) if business is not None else {}
        content = encode(body) if isinstance(body, dict) else body
        return http.request(method, "/api/v1" + path, content=content, headers=headers, **kwargs)
    return call


def assert_error_envelope(response, status, handler):
    body = response.json()
    assert response.status_code == status
    assert set(body) == {"code", "data", "message", "error"}
    assert body["code"] == status and body["data"] is None and body["message"] == "error has occurred"
    assert body["error"]["handler"] == handler
    uuid.UUID(body["error"]["id"])
    return body["error"]


# --- open endpoints, routing ------------------------------------------------------------
def test_health_is_open(http):
    response = http.get("/api")
    assert response.status_code == 200 and response.json() == {"healthy": True}


@pytest.mark.parametrize("name", codes.RESOURCE_NAMES)
def test_resources_are_open(http, name):
    response = http.get(f"/api/v1/invoice/resources/{name}")
    assert response.status_code == 200
    assert response.json()["code"] == 200 and len(response.json()["data"]) > 0


def test_invoice_types_are_firs_own_list(http):
    types = {t["code"]: t["value"] for t in http.get("/api/v1/invoice/resources/invoice-types").json()["data"]}
    assert types["380"] == "Credit Note"
    assert types["381"] == "Commercial Invoice"
    assert types["396"] == "Invoice Request"


def test_recorded_firs_lists_are_served(http):
    currencies = http.get("/api/v1/invoice/resources/currencies").json()["data"]
    assert len(currencies) == 118
    assert {"symbol": "₦", "name": "Nigerian Naira", "symbol_native": "₦", "decimal_digits": 2, "rounding": 0,
            "code": "NGN", "name_plural": "Nigerian nairas"} in currencies
    services = http.get("/api/v1/invoice/resources/services-codes").json()["data"]
    assert {"description": "Growing of rice", "code": "0112"} in services
    countries = {c["alpha_2"]: c for c in http.get("/api/v1/invoice/resources/countries").json()["data"]}
    assert len(countries) == 249 and countries["NG"]["alpha_3"] == "NGA" and countries["NG"]["country_code"] == "566"
    exemptions = http.get("/api/v1/invoice/resources/vat-exemptions").json()["data"]
    assert exemptions[0]["harmonized_system_code"] == "2915.3100"


def test_tax_categories_include_standard_vat_at_7_5(http):
    cats = {c["code"]: c for c in http.get("/api/v1/invoice/resources/tax-categories").json()["data"]}
    assert cats["STANDARD_VAT"]["percent"] == "7.5"


@pytest.mark.parametrize("method, path", [
    ("GET", "/api/v2/nothing"), ("GET", "/api/v1/invoice/resources/planets"), ("DELETE", "/api/v1/invoice/sign"),
])
def test_unknown_route(http, method, path):
    response = http.request(method, path)
    assert response.status_code == 404
    # Exactly FIRS's recorded answer: no `error` object on this one.
    assert response.json() == {
        "code": 404, "data": None, "message": "no route found for this path. kindly check your request and try again"}


# --- auth -----------------------------------------------------------------------------------
@pytest.mark.parametrize("headers", [{}, {"x-api-key": "nope", "x-api-secret": "nope"}, {"x-api-key": "only-key"}])
def test_bad_keys_get_firs_400(call, headers, http, firs_business):
    response = http.get("/api/v1/invoice/confirm/INV1-59854B81-20250115", headers=headers)
    error = assert_error_envelope(response, 400, "handler")
    assert error == {"id": error["id"], "handler": "handler", "public_message": "unable to validate api key"}


def test_wrong_secret_for_a_real_key(http, firs_business):
    response = http.get("/api/v1/entity", headers={"x-api-key": firs_business.api_key, "x-api-secret": "x"})
    assert_error_envelope(response, 400, "handler")


def test_error_ids_are_fresh(http):
    ids = {http.get("/api/v1/entity").json()["error"]["id"] for _ in range(3)}
    assert len(ids) == 3


def test_401_mode(http, firs_sandbox):
    assert http.post("/_sandbox/auth", json={"mode": "401"}).json() == {"mode": "401"}
    error = assert_error_envelope(http.get("/api/v1/entity"), 401, "handler")
    assert error["public_message"] == "unable to validate api key"


# --- validation -------------------------------------------------------------------------------
def test_a_consistent_invoice_validates_and_signs(call, firs_business, firs_sandbox):
    body = sample_invoice(firs_business)
    response = call("POST", "/invoice/validate", body)
    assert response.status_code == 200 and response.json() == {"code": 200, "data": {"ok": True}}
    assert firs_sandbox.app.sandbox.invoices() == []  # validate registers nothing
    response = call("POST", "/invoice/sign", body)
    assert response.status_code == 201 and response.json() == {"code": 201, "data": {"ok": True}}
    [signed] = firs_sandbox.app.sandbox.invoices()
    assert signed["irn"] == "INV001-59854B81-20250115"


def _set(path, value):
    def mutate(body):
        target = body
        for key in path[:-1]:
            target = target[key]
        if value is KeyError:
            del target[path[-1]]
        else:
            target[path[-1]] = value
    return mutate


def _many(*mutations):
    def mutate(body):
        for m in mutations:
            m(body)
    return mutate


P = "invoicerequest.invoice."
RES = ", refer to the invoice resource apis"
CASES = {
    "business id not a uuid": (_set(["business_id"], "31569955-0001"), "invalid UUID length: 13"),
    "business id unknown": (_set(["business_id"], str(uuid.uuid4())), "invoicerequest.businessid business not found"),
    "irn off template": (_set(["irn"], "INV001-AAAAAAAA-20250115"),
                         P + "irn does not match the business irn template {{invoice_id}}-59854B81-{{YYYYMMDD}}"),
    "irn special chars": (_set(["irn"], "INV/001-59854B81-20250115"),
                          P + "irn does not match the business irn template {{invoice_id}}-59854B81-{{YYYYMMDD}}"),
    "irn date not issue date": (_set(["irn"], "INV001-59854B81-20250116"), P + "irn date does not match issue_date"),
    "unknown invoice type": (_set(["invoice_type_code"], "999"), P + "invoicetypecode must be a valid invoice type" + RES),
    "unknown currency": (_set(["document_currency_code"], "ABC"), P + "documentcurrencycode must be a valid currency" + RES),
    "unknown country": (_set(["accounting_customer_party", "postal_address", "country"], "ZZ"),
                        P + "accountingcustomerparty.postaladdress.country must be a valid country" + RES),
    "unknown tax category": (_set(["tax_total", 0, "tax_subtotal", 0, "tax_category", "id"], "VAT"),
                             P + "taxtotal[0].taxsubtotal[0].taxcategory.id must be a valid tax category" + RES),
    "missing supplier tin": (_set(["accounting_supplier_party", "tin"], KeyError), P + "accountingsupplierparty.tin is required"),
    "missing customer email": (_set(["accounting_customer_party", "email"], KeyError),
                               P + "accountingcustomerparty.email is required"),
    "missing tax currency": (_set(["tax_currency_code"], KeyError), P + "taxcurrencycode is required"),
    "telephone without plus": (_set(["accounting_customer_party", "telephone"], "08012345678"),
                               P + "accountingcustomerparty.telephone must start with + (country code)"),
    "short tin": (_set(["accounting_customer_party", "tin"], "1234"),
                  P + "accountingcustomerparty.tin must be at least 5 characters"),
    "payable off by a cent": (_set(["legal_monetary_total", "payable_amount"], Decimal("3494.30")),
                              P + "legalmonetarytotal.payableamount must equal 3494.29 recomputed from the invoice"),
    "line total not the sum": (_set(["invoice_line", 1, "line_extension_amount"], Decimal("250.00")),
                               P + "legalmonetarytotal.lineextensionamount must equal 3250.00 recomputed from the invoice"),
    "tax total not the subtotals": (_set(["tax_total", 0, "tax_amount"], Decimal("243.80")),
                                    P + "taxtotal[0].taxamount must equal 243.79 recomputed from the invoice"),
    "subtotal tax not the rate": (
        _many(_set(["tax_total", 0, "tax_subtotal", 0, "tax_amount"], Decimal("250.00")),
              _set(["tax_total", 0, "tax_amount"], Decimal("250.00")),
              _set(["legal_monetary_total", "tax_inclusive_amount"], Decimal("3500.50")),
              _set(["legal_monetary_total", "payable_amount"], Decimal("3500.50"))),
        P + "taxtotal[0].taxsubtotal[0].taxamount must equal 243.79 recomputed from the invoice"),
    "inclusive not exclusive plus tax": (
        _many(_set(["legal_monetary_total", "tax_inclusive_amount"], Decimal("3494.28")),
              _set(["legal_monetary_total", "payable_amount"], Decimal("3494.28"))),
        P + "legalmonetarytotal.taxinclusiveamount must equal 3494.29 recomputed from the invoice"),
    "amount as a string": (_set(["legal_monetary_total", "payable_amount"], "3494.29"),
                           P + "legalmonetarytotal.payableamount must be a number"),
    "bad issue date": (_set(["issue_date"], "15/01/2025"), P + "issuedate must be a valid date (YYYY-MM-DD)"),
    "no lines": (_set(["invoice_line"], []), P + "invoiceline is required"),
    "no customer": (_set(["accounting_customer_party"], KeyError), P + "accountingcustomerparty is required"),
}


@pytest.mark.parametrize("endpoint", ["validate", "sign"])
@pytest.mark.parametrize("case", list(CASES))
def test_validation_rejections(call, firs_business, firs_sandbox, endpoint, case):
    mutate, details = CASES[case]
    response = call("POST", f"/invoice/{endpoint}", modified(sample_invoice(firs_business), mutate))
    error = assert_error_envelope(response, 400, "invoice_actions")
    assert error["details"] == details
    assert error["public_message"] == VALIDATION
    assert error["errors"][0]["message"] in details
    assert firs_sandbox.app.sandbox.invoices() == []


def test_every_violation_is_listed(call, firs_business):
    body = modified(sample_invoice(firs_business), _many(
        _set(["accounting_supplier_party", "tin"], "12"), _set(["invoice_type_code"], "1")))
    error = call("POST", "/invoice/validate", body).json()["error"]
    assert [e["field"] for e in error["errors"]] == [P + "invoicetypecode", P + "accountingsupplierparty.tin"]


def test_allowances_and_charges_enter_the_totals(call, firs_business):
    body = sample_invoice(firs_business, allowance_charge=[{"charge_indicator": False, "amount": Decimal("250.50")},
                                                           {"charge_indicator": True, "amount": Decimal("100")}])
    assert body["legal_monetary_total"]["tax_exclusive_amount"] == Decimal("3100.00")
    assert call("POST", "/invoice/validate", body).status_code == 200
    body["legal_monetary_total"]["tax_exclusive_amount"] = Decimal("3250.50")
    details = call("POST", "/invoice/validate", body).json()["error"]["details"]
    assert details == P + "legalmonetarytotal.taxexclusiveamount must equal 3100.00 recomputed from the invoice"


def test_body_that_is_not_json(call):
    response = call("POST", "/invoice/sign", b"{not json")
    assert assert_error_envelope(response, 400, "invoice_actions")["public_message"] == VALIDATION


def test_another_business_id_is_not_yours(call, firs_sandbox, firs_business):
    other = firs_sandbox.app.sandbox.register_business(service_id="AB12CD34")
    body = sample_invoice(other)
    error = call("POST", "/invoice/sign", body).json()["error"]  # with firs_business's keys
    assert error["details"] == "invoicerequest.businessid business not found"
    assert call("POST", "/invoice/sign", body, business=other).status_code == 201


# --- IRN validation -----------------------------------------------------------------------------
def test_irn_validate(call, firs_business):
    ok = {"business_id": firs_business.business_id, "invoice_reference": "ITW001", "irn": "ITW001-59854B81-20240619"}
    assert call("POST", "/invoice/irn/validate", json.dumps(ok)).json() == {"code": 200, "data": {"ok": True}}
    wrong = dict(ok, irn="ITW001-F3A3A0CF-20240619")
    error = assert_error_envelope(call("POST", "/invoice/irn/validate", json.dumps(wrong)), 400, "invoice_actions")
    assert error["details"] == "invoicerequest.irn does not match the business irn template {{invoice_id}}-59854B81-{{YYYYMMDD}}"
    wrong = dict(ok, invoice_reference="ITW002")
    assert "invoicereference" in call("POST", "/invoice/irn/validate", json.dumps(wrong)).json()["error"]["details"]


# --- duplicate, confirm, state -------------------------------------------------------------------------
def test_resign_is_the_duplicate_error(call, firs_business):
    body = sample_invoice(firs_business)
    assert call("POST", "/invoice/sign", body).status_code == 201
    error = assert_error_envelope(call("POST", "/invoice/sign", body), 400, "invoice_actions")
    assert error["details"] == "unable to complete this operation at this time, kindly try again later"
    assert error["public_message"] == VALIDATION
    assert "errors" not in error


def test_confirm_returns_the_firs_fields_and_sandbox_extensions(call, firs_business):
    body = sample_invoice(firs_business)
    raw = encode(body)
    call("POST", "/invoice/sign", raw)
    response = call("GET", f"/invoice/confirm/{body['irn']}")
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["issue_date"] == "2025-01-15" and data["due_date"] == "2025-02-14"
    assert data["payment_status"] == "PENDING"
    assert data["transmitted"] is False and data["delivered"] is False
    datetime.datetime.fromisoformat(data["sync_date"])
    assert data["body_sha256"] == hashlib.sha256(raw).hexdigest()
    assert '"payable_amount": 3494.29' in response.text  # the exact number signed, not a float artefact
    assert data["legal_monetary_total"]["line_extension_amount"] == 3250.5


def test_unknown_irn_is_404(call, firs_sandbox):
    for method, path in [("GET", "/invoice/confirm/NOPE1-59854B81-20250115"),
                         ("POST", "/invoice/transmit/NOPE1-59854B81-20250115"),
                         ("PATCH", "/invoice/update/NOPE1-59854B81-20250115"),
                         ("GET", "/invoice/transmit/lookup/NOPE1-59854B81-20250115")]:
        response = call(method, path, json.dumps({"payment_status": "PAID"}) if method == "PATCH" else None)
        assert_error_envelope(response, 404, "invoice_actions")


def test_someone_elses_irn_is_404(call, firs_sandbox, firs_business):
    other = firs_sandbox.app.sandbox.register_business(service_id="AB12CD34")
    body = sample_invoice(other)
    call("POST", "/invoice/sign", body, business=other)
    assert call("GET", f"/invoice/confirm/{body['irn']}").status_code == 404


def test_update_accepts_only_firs_statuses(call, firs_business):
    body = sample_invoice(firs_business)
    call("POST", "/invoice/sign", body)
    for status in ("PAID", "REJECTED", "PENDING", "PAID"):
        response = call("PATCH", f"/invoice/update/{body['irn']}", json.dumps({"payment_status": status}))
        assert response.json() == {"code": 200, "data": {"ok": True}}
    assert call("GET", f"/invoice/confirm/{body['irn']}").json()["data"]["payment_status"] == "PAID"
    response = call("PATCH", f"/invoice/update/{body['irn']}", json.dumps({"payment_status": "OVERDUE"}))
    error = assert_error_envelope(response, 400, "invoice_actions")
    assert error["details"] == P + "paymentstatus must be one of PENDING, PAID, REJECTED"


def test_transmit_needs_a_webhook(call, firs_business):
    body = sample_invoice(firs_business)
    call("POST", "/invoice/sign", body)
    error = assert_error_envelope(call("POST", f"/invoice/transmit/{body['irn']}"), 400, "invoice_actions")
    assert "webhook" in error["details"]
    assert call("GET", f"/invoice/confirm/{body['irn']}").json()["data"]["transmitted"] is False


def test_transmit_posts_webhooks_and_the_buyer_confirms(call, http, firs_sandbox, firs_business, webhook_receiver):
    url, received = webhook_receiver
    assert http.post("/_sandbox/webhook", json={"business_id": firs_business.business_id, "url": url}).status_code == 200
    buyer = firs_sandbox.app.sandbox.register_business(name="Buyer Nigeria Ltd", tin="TIN-000001", service_id="BB12CD34")
    body = sample_invoice(firs_business)
    call("POST", "/invoice/sign", body)
    assert call("POST", f"/invoice/transmit/{body['irn']}").json() == {"code": 200, "data": {"ok": True}}
    firs_sandbox.app.sandbox.join_webhooks()
    assert received == [{"irn": body["irn"], "message": m} for m in ("TRANSMITTING", "TRANSMITTED", "ACKNOWLEDGED")]
    assert [e["status_code"] for e in http.get("/_sandbox/webhooks").json()] == [200, 200, 200]
    assert call("GET", f"/invoice/confirm/{body['irn']}").json()["data"]["transmitted"] is True
    # The buyer sees it, pulls it, and acknowledges receipt.
    assert [i["irn"] for i in call("GET", "/invoice/transmit/pull", business=buyer).json()["data"]] == [body["irn"]]
    assert call("GET", "/invoice/transmit/lookup/tin/TIN-000001", business=buyer).json()["data"][0]["irn"] == body["irn"]
    assert call("PATCH", f"/invoice/transmit/{body['irn']}", b"{}", business=buyer).status_code == 200
    assert call("GET", f"/invoice/confirm/{body['irn']}").json()["data"]["delivered"] is True
    assert call("GET", "/invoice/transmit/pull", params={"confirmed": "false"}, business=buyer).json()["data"] == []


def test_search_and_download(call, firs_business):
    body = sample_invoice(firs_business)
    raw = encode(body)
    call("POST", "/invoice/sign", raw)
    call("POST", "/invoice/sign", sample_invoice(firs_business, invoice_number="INV002"))
    found = call("GET", f"/invoice/{firs_business.business_id}", params={"irn": body["irn"]}).json()["data"]
    assert found["total"] == 1 and found["items"][0]["irn"] == body["irn"]
    assert call("GET", f"/invoice/{firs_business.business_id}").json()["data"]["total"] == 2
    assert call("GET", "/invoice/31569955-0001").json()["error"]["details"] == "invalid UUID length: 13"
    data = call("GET", f"/invoice/download/{body['irn']}").json()["data"]
    key = hashlib.sha256(firs_business.api_secret.encode()).digest()
    decryptor = Cipher(algorithms.AES(key), modes.CFB(bytes.fromhex(data["iv_hex"]))).decryptor()
    assert decryptor.update(base64.b64decode(data["data"])) + decryptor.finalize() == raw


def test_entity_party_tin_and_authenticate(call, firs_business):
    entities = call("GET", "/entity").json()["data"]
    assert entities["items"][0]["businesses"][0]["irn_template"] == "{{invoice_id}}-59854B81-{{YYYYMMDD}}"
    entity = call("GET", f"/entity/{firs_business.entity_id}").json()["data"]
    assert entity["businesses"][0]["id"] == firs_business.business_id
    error = assert_error_envelope(call("GET", "/entity/31569955-0001"), 400, "entity_actions")
    assert error["details"] == "invalid UUID length: 13"
    party = {"business_id": firs_business.business_id, "party_name": "Buyer", "tin": "TIN-77777", "email": "a@b.ng",
             "telephone": "+2348000000000"}
    created = call("POST", "/invoice/party", json.dumps(party))
    assert created.status_code == 201
    listed = call("GET", f"/invoice/party/{firs_business.business_id}").json()["data"]
    assert [p["id"] for p in listed] == [created.json()["data"]["id"]]
    bad = call("POST", "/invoice/party", json.dumps(dict(party, telephone="0800")))
    assert bad.json()["error"]["details"] == "invoicerequest.telephone must start with + (country code)"
    verified = call("POST", "/utilities/verify-tin/", json.dumps({"tin": "TIN-77777"})).json()["data"]
    assert (verified["tin"], verified["taxpayer_name"], verified["message"]) == ("TIN-77777", "Buyer", "TIN Information")
    assert call("POST", "/utilities/verify-tin", json.dumps({"tin": "TIN-00000"})).status_code == 404
    assert call("POST", "/utilities/verify-tin/", json.dumps({"tin": "123"})).status_code == 400
    login = {"email": firs_business.email, "password": firs_business.password}
    logged_in = call("POST", "/utilities/authenticate", json.dumps(login)).json()["data"]
    assert logged_in["entity_id"] == firs_business.entity_id and logged_in["message"] == "User logged in"
    assert call("POST", "/utilities/authenticate", json.dumps(dict(login, password="x"))).status_code == 400
    assert call("GET", "/invoice/transmit/self-health-check").json()["data"]["healthy"] is True


# --- faults, latency -------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["500", "502", "503", "504", "429"])
def test_status_faults(call, firs_sandbox, firs_business, kind):
    firs_sandbox.app.sandbox.set_fault("sign", kind, times=1)
    body = sample_invoice(firs_business)
    response = call("POST", "/invoice/sign", body)
    assert response.status_code == int(kind)
    if kind in ("429", "503"):
        assert float(response.headers["retry-after"]) > 0
    assert firs_sandbox.app.sandbox.invoices() == []  # nothing was committed
    assert call("POST", "/invoice/sign", body).status_code == 201  # `times` ran out


def test_fault_probability(call, firs_sandbox):
    sandbox = firs_sandbox.app.sandbox
    sandbox.set_fault("confirm", "503", probability=0.0)
    assert all(call("GET", "/invoice/confirm/X1-59854B81-20250115").status_code == 404 for _ in range(20))
    sandbox.clear_faults()
    sandbox.set_fault("confirm", "503", probability=0.5)
    statuses = [call("GET", "/invoice/confirm/X1-59854B81-20250115").status_code for _ in range(60)]
    assert 0 < statuses.count(503) < 60 and statuses.count(503) + statuses.count(404) == 60


def test_reset_closes_without_answering(call, firs_sandbox, firs_business):
    firs_sandbox.app.sandbox.set_fault("sign", "reset", times=1)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        call("POST", "/invoice/sign", sample_invoice(firs_business))
    assert firs_sandbox.app.sandbox.invoices() == []


def test_hang_outlasts_the_client_timeout(firs_sandbox, firs_business):
    firs_sandbox.app.sandbox.set_fault("*", "hang", times=1, hang_seconds=2)
    with httpx.Client(base_url=firs_sandbox.url, timeout=0.3) as client, pytest.raises(httpx.ReadTimeout):
        client.get("/api/v1/entity", headers=auth(firs_business))


def test_commit_then_timeout_registers_the_signature(call, firs_sandbox, firs_business):
    firs_sandbox.app.sandbox.set_fault("sign", "commit_then_timeout", times=1, hang_seconds=2)
    body = sample_invoice(firs_business)
    with httpx.Client(base_url=firs_sandbox.url, timeout=0.3) as client, pytest.raises(httpx.ReadTimeout):
        client.post("/api/v1/invoice/sign", content=encode(body), headers=auth(firs_business))
    assert [i["irn"] for i in firs_sandbox.app.sandbox.invoices()] == [body["irn"]]
    assert call("POST", "/invoice/sign", body).json()["error"]["handler"] == "invoice_actions"


def test_commit_then_reset(call, firs_sandbox, firs_business):
    firs_sandbox.app.sandbox.set_fault("sign", "commit_then_reset", times=1)
    body = sample_invoice(firs_business)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        call("POST", "/invoice/sign", body)
    assert call("GET", f"/invoice/confirm/{body['irn']}").status_code == 200


def test_fixed_latency(http, firs_sandbox):
    assert http.post("/_sandbox/latency", json={"mode": "fixed", "ms": 300}).json()["mode"] == "fixed"
    started = time.monotonic()
    http.get("/api")
    assert time.monotonic() - started >= 0.3


def test_random_latency_stays_in_its_range(firs_sandbox):
    sandbox = firs_sandbox.app.sandbox
    sandbox.set_latency("random", min_ms=100, max_ms=1500)
    samples = [sandbox.latency_seconds() for _ in range(2000)]
    assert min(samples) >= 0.1 and max(samples) <= 1.5
    assert sorted(samples)[1000] < 0.5 < sorted(samples)[1990]  # most are quick, the tail is long


# --- control API over HTTP ---------------------------------------------------------------------
def test_control_api_registers_businesses_faults_and_resets(http):
    created = http.post("/_sandbox/businesses", json={"service_id": "CAFE1234", "tin": "99887766-0001"})
    assert created.status_code == 201
    business = created.json()
    assert business["irn_template"] == "{{invoice_id}}-CAFE1234-{{YYYYMMDD}}"
    keys = load_crypto_keys(business["crypto_keys"])
    headers = {"x-api-key": business["api_key"], "x-api-secret": business["api_secret"]}
    assert http.get("/api/v1/entity", headers=headers).status_code == 200

    faults = http.post("/_sandbox/faults", json={"endpoint": "entity_search", "kind": "503", "times": 1}).json()
    assert faults == [{"endpoint": "entity_search", "kind": "503", "probability": 1.0, "times": 1, "hang_seconds": None}]
    assert http.get("/api/v1/entity", headers=headers).status_code == 503
    assert http.post("/_sandbox/faults", json={"endpoint": "nope", "kind": "503"}).status_code == 400
    assert http.delete("/_sandbox/faults").json() == []
    assert http.get("/_sandbox/requests").json()["entity_search"] == 2

    stamp = stamp_irn("INV7-CAFE1234-20250115", keys, timestamp=1736935200)
    verified = http.post("/_sandbox/verify-stamp", json={"stamp": stamp}).json()
    assert verified["valid"] is True and verified["certificate_matches"] is True
    assert verified["irn"] == "INV7-CAFE1234-20250115" and verified["timestamp"] == 1736935200
    assert verified["signed"] is False
    assert http.post("/_sandbox/verify-stamp", json={"stamp": base64.b64encode(b"x" * 256).decode()}).json()["valid"] is False

    assert http.post("/_sandbox/reset", json={}).json() == {"ok": True}
    assert http.get("/_sandbox/businesses").json() == []
    assert http.get("/api/v1/entity", headers=headers).status_code == 400


def test_concurrent_signs_of_one_irn_register_it_once(firs_sandbox, firs_business):
    raw = encode(sample_invoice(firs_business))
    statuses, barrier = [], threading.Barrier(8)

    def sign():
        with httpx.Client(base_url=firs_sandbox.url, timeout=10) as client:
            barrier.wait()
            statuses.append(client.post("/api/v1/invoice/sign", content=raw, headers=auth(firs_business)).status_code)

    threads = [threading.Thread(target=sign) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [201] + [400] * 7
    assert len(firs_sandbox.app.sandbox.invoices()) == 1
