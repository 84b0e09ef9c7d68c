"""What the FIRS sandbox's transmit webhooks send and record whatever the
receiver does: each {irn, message} POSTed as JSON to the configured path and
query, each outcome in the webhook log (a status, or the error and FAILED),
and a kept connection the receiver closed is never reused. The delivery's
HTTP client is the product's pool (taxpoynt.transport.KeepAliveTransport.post)."""
import json
import time

from werkzeug.wrappers import Request, Response

from taxpoynt import sandboxing

from ..samples import encode, sample_invoice

MESSAGES = ["TRANSMITTING", "TRANSMITTED", "ACKNOWLEDGED"]


def _transmit(sandbox, business, number):
    body = sample_invoice(business, invoice_number=number)
    sandbox.sign(business, encode(body), body)
    sandbox.transmit(sandbox.invoice(body["irn"]), sandbox.business(business.business_id))
    sandbox.join_webhooks()
    return body["irn"]


def _log(sandbox, irn):
    return [(e["message"], e.get("status_code"), "error" in e) for e in sandbox.webhook_log if e["irn"] == irn]


def test_each_message_is_a_json_post_to_the_url_and_its_status_is_logged(firs_sandbox, firs_business):
    seen = []

    def receiver(environ, start_response):
        request = Request(environ)
        seen.append((request.method, request.full_path, request.content_type, json.loads(request.get_data()),
                     environ["REMOTE_PORT"]))
        status = 500 if len(seen) == 3 else 200
        return Response("ok", status=status)(environ, start_response)

    running = sandboxing.serve(receiver, host="127.0.0.1", port=0, name="receiver")
    sandbox = firs_sandbox.app.sandbox
    try:
        sandbox.set_webhook(firs_business.business_id, f"{running.url}/firs/hook?tenant=7")
        irn = _transmit(sandbox, firs_business, "HOOK1")
    finally:
        running.stop()
    assert [s[:4] for s in seen] == [("POST", "/firs/hook?tenant=7", "application/json", {"irn": irn, "message": m})
                                     for m in MESSAGES]
    assert len({s[4] for s in seen}) == 1  # one kept connection
    assert _log(sandbox, irn) == [("TRANSMITTING", 200, False), ("TRANSMITTED", 200, False),
                                  ("ACKNOWLEDGED", 500, False), ("FAILED", None, False)]


def test_a_refused_connection_or_a_url_that_is_not_http_is_a_failed_delivery(firs_sandbox, firs_business):
    sandbox = firs_sandbox.app.sandbox
    for n, url in enumerate(("http://127.0.0.1:9/firs", "ftp://127.0.0.1/firs")):
        sandbox.set_webhook(firs_business.business_id, url)
        irn = _transmit(sandbox, firs_business, f"BAD{n}")
        assert _log(sandbox, irn) == [("TRANSMITTING", None, True), ("FAILED", None, False)], url


def test_a_kept_connection_the_receiver_closed_is_not_reused(firs_sandbox, firs_business):
    """The receiver closes its idle kept connections between two transmits
    (an idle timeout of 0.2 s): the second transmit's messages go on a new
    connection instead of failing on the closed one."""
    received = []

    def receiver(environ, start_response):
        received.append(json.loads(Request(environ).get_data()))
        return Response("ok")(environ, start_response)

    running = sandboxing.serve(receiver, host="127.0.0.1", port=0, name="receiver")
    running.server.timeout = 0.2  # cheroot closes a connection idle this long (checked every 0.5 s)
    sandbox = firs_sandbox.app.sandbox
    sandbox.set_webhook(firs_business.business_id, f"{running.url}/hook")
    try:
        first = _transmit(sandbox, firs_business, "IDLE1")
        time.sleep(1.2)
        second = _transmit(sandbox, firs_business, "IDLE2")
    finally:
        running.stop()
    assert received == [{"irn": irn, "message": m} for irn in (first, second) for m in MESSAGES]
    assert [e.get("status_code") for e in sandbox.webhook_log] == [200] * 6
