"""Outbound-message intake at /webhooks/crm/salesforce: per-connection token,
org id checked, raw event stored before the SOAP Ack, duplicates ignored,
bad SOAP / wrong org / wrong token refused with a clear reason and nothing
stored as an event; processing re-reads the opportunity and invoices it."""
import pytest
from lxml import etree

from integrations.connections.models import RejectedWebhook, WebhookEvent
from integrations.crm.salesforce import facts
from integrations.crm.salesforce.tasks import process_webhook_event
from integrations.crm.salesforce.webhooks import listener_url
from invoicing.models import Invoice

from .wiring import seeded_won, sf, sf_connection  # noqa: F401

pytestmark = pytest.mark.django_db


def _envelope(sf, opp_id) -> bytes:
    box = sf.app.sandbox
    box.configure_outbound(url="http://127.0.0.1:9/unused")
    box.update_opportunity(opp_id, StageName="Closed Won")
    sender = box.outbound
    with sender._wake:
        sender._batch_unsent()
        message = sender.messages[-1]
    return sender.envelope(message)


def _path(connection):
    return listener_url(connection, base_url="")


def _post(client, path, body):
    return client.post(path, data=body, content_type="text/xml; charset=utf-8", headers={"SOAPAction": '""'})


def test_message_is_stored_then_acked_and_processing_invoices(client, sf, sf_connection, seeded_won):
    opp = seeded_won["opportunities"][0]["Id"]
    body = _envelope(sf, opp)
    response = _post(client, _path(sf_connection), body)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/xml")
    ack = etree.fromstring(response.content)
    assert ack.find(f".//{{{facts.OUTBOUND_NS}}}Ack").text == "true"
    event = WebhookEvent.objects.get(vendor="salesforce")
    assert event.connection_id == sf_connection.pk and event.event_id.startswith("om:")
    assert bytes(event.raw_body) == body
    # Salesforce retries the same notification: acknowledged, not stored twice.
    assert _post(client, _path(sf_connection), body).status_code == 200
    assert WebhookEvent.objects.filter(vendor="salesforce").count() == 1
    assert process_webhook_event.apply(kwargs={"event_id": str(event.pk)}).get() == "processed"
    invoice = Invoice.objects.get(source_system="salesforce", source_id=opp)
    assert invoice.customer_tin == "12345678-0001"
    event.refresh_from_db()
    assert event.status == "processed"


def test_bad_soap_is_refused_with_the_reason_and_nothing_stored(client, sf, sf_connection):
    response = _post(client, _path(sf_connection), b"<not-soap/>")
    assert response.status_code == 400
    assert response.json()["code"] == "malformed" and "SOAP" in response.json()["message"]
    assert not WebhookEvent.objects.exists()
    assert RejectedWebhook.objects.get(vendor="salesforce").reason == "malformed"


def test_wrong_org_is_refused_401(client, sf, sf_connection, seeded_won):
    body = _envelope(sf, seeded_won["opportunities"][0]["Id"])
    org = sf.app.sandbox.store.org_id
    forged = body.replace(org.encode(), b"00D000000000001AAA").replace(org[:15].encode(), b"00D000000000001")
    response = _post(client, _path(sf_connection), forged)
    assert response.status_code == 401 and response.json()["code"] == "wrong_org"
    assert "00D000000000001" in response.json()["message"]
    assert not WebhookEvent.objects.exists()
    assert RejectedWebhook.objects.filter(reason="wrong_org").count() == 1


def test_wrong_token_is_refused_401(client, sf, sf_connection, seeded_won):
    body = _envelope(sf, seeded_won["opportunities"][0]["Id"])
    response = _post(client, f"/webhooks/crm/salesforce?c={sf_connection.pk}&token=guess", body)
    assert response.status_code == 401 and response.json()["code"] == "bad_token"
    response = _post(client, "/webhooks/crm/salesforce", body)
    assert response.status_code == 401
    response = _post(client, "/webhooks/crm/salesforce?c=not-a-uuid&token=x", body)
    assert response.status_code == 401 and response.json()["code"] == "bad_token"
    assert not WebhookEvent.objects.exists()


def test_change_events_are_stored_and_converge_on_the_same_upsert(sf, sf_connection, seeded_won):
    from integrations.crm.salesforce.webhooks import change_events_poll

    opp = seeded_won["opportunities"][0]["Id"]
    assert change_events_poll(connection=sf_connection) == []  # subscribes at the tip: history is not replayed
    sf_connection.refresh_from_db()
    sf.app.sandbox.update_opportunity(opp, StageName="Closed Won")
    stored = change_events_poll(connection=sf_connection)
    assert stored and {event.connection_id for event in stored} == {sf_connection.pk}
    sf_connection.refresh_from_db()
    assert change_events_poll(connection=sf_connection) == []  # replay id advanced
    for event in stored:
        process_webhook_event.apply(kwargs={"event_id": str(event.id)}).get()
    assert Invoice.objects.filter(source_system="salesforce", source_id=opp).count() == 1
