"""Outbound Messages from the sandbox to a local listener that parses them
with outbound.py (zeep + the shipped WSDL) and answers the Ack."""
import datetime
import time
from decimal import Decimal

import httpx
import pytest
from lxml import etree

from integrations.crm.salesforce import facts, outbound
from integrations.crm.salesforce.sandbox.outbound_sender import Message


def test_won_stage_is_delivered_parsed_and_acked(salesforce, seeded, listener):
    sandbox = salesforce.app.sandbox
    opp_id = seeded["opportunities"][0]["Id"]
    sandbox.update_opportunity(opp_id, StageName="Closed Won")
    assert sandbox.outbound.wait_idle(5)
    [(org_id, notifications)] = listener.received
    assert org_id == sandbox.store.org_id
    [note] = notifications
    assert note["id"].startswith("04l") and note["sobject_type"] == "Opportunity"
    fields = note["fields"]
    assert fields["Id"] == opp_id and fields["StageName"] == "Closed Won" and fields["IsWon"] is True
    assert fields["Amount"] == Decimal("4650000.00")
    assert fields["CloseDate"] == datetime.date(2026, 5, 2)
    assert fields["SystemModstamp"].tzinfo is not None
    [attempt] = sandbox.outbound.log
    assert attempt["acked"] and attempt["status_code"] == 200 and attempt["attempt"] == 1
    # not a won stage → nothing sent
    sandbox.update_opportunity(opp_id, Description="edited")
    assert sandbox.outbound.wait_idle(5) and len(listener.received) == 1


def test_no_ack_is_retried_until_acked(salesforce, seeded, listener):
    sandbox = salesforce.app.sandbox
    listener.mode = "nack"
    sandbox.update_opportunity(seeded["opportunities"][0]["Id"], StageName="Closed Won")
    sandbox.outbound.run_due()
    time.sleep(0.06)
    listener.mode = "error"
    sandbox.outbound.run_due()
    listener.mode = "ack"
    assert sandbox.outbound.wait_idle(5)
    attempts = [(e["attempt"], e["status_code"], e["acked"]) for e in sandbox.outbound.log]
    assert attempts == [(1, 200, False), (2, 500, False), (3, 200, True)]
    # the same notification each time: the listener de-duplicates on its id
    assert len({n["id"] for _, notes in listener.received for n in notes}) == 1


def test_unacked_message_is_dropped_after_the_window(salesforce, seeded, listener):
    sandbox = salesforce.app.sandbox
    listener.mode = "error"
    sandbox.configure_outbound(window=0.3)
    sandbox.update_opportunity(seeded["opportunities"][0]["Id"], StageName="Closed Won")
    assert sandbox.outbound.wait_idle(5)
    assert sandbox.outbound.log[-1].get("dropped") is True
    assert all(not e["acked"] for e in sandbox.outbound.log) and len(sandbox.outbound.log) >= 2


def test_resend_delivers_duplicates(salesforce, seeded, listener):
    sandbox = salesforce.app.sandbox
    sandbox.update_opportunity(seeded["opportunities"][0]["Id"], StageName="Closed Won")
    assert sandbox.outbound.wait_idle(5)
    response = httpx.post(f"{salesforce.url}/_sandbox/outbound/resend", json={})
    assert response.json() == {"queued": 1}
    assert sandbox.outbound.wait_idle(5)
    first, second = (notes[0]["id"] for _, notes in listener.received)
    assert first == second and sandbox.outbound.log[-1]["duplicate"] is True


def test_many_changes_are_batched_at_most_100_per_message(salesforce, listener):
    sandbox = salesforce.app.sandbox
    created = sandbox.seed(opportunities=[{"Name": f"Deal {n}"} for n in range(105)])
    for opp in created["opportunities"]:
        sandbox.update_opportunity(opp["Id"], StageName="Closed Won")
    assert sandbox.outbound.wait_idle(10)
    assert sorted(len(notes) for _, notes in listener.received) == [5, 100]


def test_wrong_org_and_bad_soap_are_rejected(salesforce, seeded):
    sandbox = salesforce.app.sandbox
    record = dict(sandbox.store.records_of("Opportunity")[0])
    body = sandbox.outbound.envelope(Message(1, [{"id": "04l8d0000000AAAAAA", "record": record}]))
    # the 15-character org id matches too
    assert outbound.parse(body, expected_org_id=sandbox.store.org_id[:15])[0] == sandbox.store.org_id
    with pytest.raises(outbound.OutboundMessageError, match="not the connected org"):
        outbound.parse(body, expected_org_id="00D000000000001AAA")
    for bad, reason in [
        (b"not xml", "not XML"),
        (b"<a/>", "not a SOAP 1.1 envelope"),
        (f'<e:Envelope xmlns:e="{facts.SOAP_ENV_NS}"><e:Body><x/></e:Body></e:Envelope>'.encode(), "no outbound-message"),
        (body.replace(b"<Notification>", b"<Other>").replace(b"</Notification>", b"</Other>"), "no Notification"),
        (body.replace(b"<OrganizationId>", b"<OrganizationId>x-"), "is not a Salesforce id"),
        (body.replace(b"<sf:Amount>4650000.00</sf:Amount>", b"<sf:Amount>lots</sf:Amount>"),
         "does not match the outbound message WSDL"),
    ]:
        with pytest.raises(outbound.OutboundMessageError, match=reason):
            outbound.parse(bad, expected_org_id=None)
    assert issubclass(outbound.OutboundMessageError, ValueError)
    entity = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + body.split(b"?>", 1)[1])
    with pytest.raises(outbound.OutboundMessageError, match="DTD"):
        outbound.parse(entity.replace(b"<ActionId>", b"<ActionId>&x;"), expected_org_id=None)


def test_listener_rejection_is_logged_as_no_ack(salesforce, seeded, listener):
    sandbox = salesforce.app.sandbox
    listener.expected_org_id = "00D000000000001AAA"
    sandbox.configure_outbound(window=0.2)
    sandbox.update_opportunity(seeded["opportunities"][0]["Id"], StageName="Closed Won")
    assert sandbox.outbound.wait_idle(5)
    assert listener.rejected and "not the connected org" in listener.rejected[0]
    assert sandbox.outbound.log[0]["status_code"] == 400 and not sandbox.outbound.log[0]["acked"]


def test_ack_response_is_the_documented_envelope():
    root = etree.fromstring(outbound.ack_response())
    assert root.tag == f"{{{facts.SOAP_ENV_NS}}}Envelope"
    ack = root.find(f".//{{{facts.OUTBOUND_NS}}}notificationsResponse/{{{facts.OUTBOUND_NS}}}Ack")
    assert ack.text == "true"
    assert etree.fromstring(outbound.ack_response(False)).findtext(f".//{{{facts.OUTBOUND_NS}}}Ack") == "false"
