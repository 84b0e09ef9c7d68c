"""The FIRS sandbox's transmit webhooks ({irn, message}) delivered from reused
threads through one pooled client: every message, in order, and a delivery
that fails does not stop later ones."""
import httpx

from ..samples import encode, sample_invoice


def auth(business):
    return {"x-api-key": business.api_key, "x-api-secret": business.api_secret}


def test_every_transmit_delivers_its_messages_in_order(firs_sandbox, firs_business, webhook_receiver):
    url, received = webhook_receiver
    sandbox = firs_sandbox.app.sandbox
    sandbox.set_webhook(firs_business.business_id, url)
    irns = []
    for n in range(12):
        body = sample_invoice(firs_business, invoice_number=f"INV{n}")
        with httpx.Client(base_url=firs_sandbox.url, timeout=5, headers=auth(firs_business)) as client:
            assert client.post("/api/v1/invoice/sign", content=encode(body)).status_code == 201
            assert client.post(f"/api/v1/invoice/transmit/{body['irn']}").status_code == 200
        sandbox.join_webhooks()
        irns.append(body["irn"])
    assert [(m["irn"], m["message"]) for m in received] == [
        (irn, m) for irn in irns for m in ("TRANSMITTING", "TRANSMITTED", "ACKNOWLEDGED")]
    assert [e["status_code"] for e in sandbox.webhook_log] == [200] * 36


def test_a_delivery_that_raises_does_not_stop_later_ones(firs_sandbox, firs_business, webhook_receiver):
    url, received = webhook_receiver
    sandbox = firs_sandbox.app.sandbox
    first, second = (sample_invoice(firs_business, invoice_number=n) for n in ("BAD1", "GOOD1"))
    for body in (first, second):
        sandbox.sign(firs_business, encode(body), body)
    sandbox.set_webhook(firs_business.business_id, "http://[::1")  # httpx.InvalidURL, not an HTTPError
    sandbox.transmit(sandbox.invoice(first["irn"]), sandbox.business(firs_business.business_id))
    sandbox.join_webhooks()
    sandbox.set_webhook(firs_business.business_id, url)
    sandbox.transmit(sandbox.invoice(second["irn"]), sandbox.business(firs_business.business_id))
    sandbox.join_webhooks()
    assert [m["irn"] for m in received] == [second["irn"]] * 3
