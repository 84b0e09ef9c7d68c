"""The sandbox's Outbound Messaging sender: when an Opportunity enters a
triggering stage, a notification is queued and POSTed to the configured
listener as Salesforce's SOAP 1.1 `notifications` envelope (≤100 per message).

Delivery succeeds only on HTTP 200 whose body holds a `notificationsResponse`
with `<Ack>true</Ack>`; otherwise the message is retried with exponential
backoff capped at `max_interval`, and dropped once `window` has passed since
the first attempt (Salesforce: ≤2 h apart, for 24 h). Times are scaled down
by default so a test sees the whole retry life in seconds. `resend()` sends
already-acknowledged notifications again, as Salesforce may.
"""
from __future__ import annotations

import datetime
import itertools
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal

import httpx
from lxml import etree

from integrations.crm.salesforce import facts

from .store import format_datetime

DEFAULT_FIELDS = ("Id", "AccountId", "Amount", "CloseDate", "CurrencyIsoCode", "IsClosed", "IsWon",
                  "LastModifiedDate", "Name", "StageName", "SystemModstamp")

# Real Salesforce: 24 h window, ≤2 h between tries. Scaled by 1/3600 by default
# (24 h → 24 s, 2 h → 2 s); the first retry comes after `first_interval`.
DEFAULT_TIME_SCALE = 1 / 3600


@dataclass
class OutboundConfig:
    url: str | None = None
    fields: tuple[str, ...] = DEFAULT_FIELDS
    trigger_stages: tuple[str, ...] | None = None  # None: any stage with IsWon
    include_session_id: bool = False
    first_interval: float = 0.2
    max_interval: float = facts.OUTBOUND_MAX_RETRY_INTERVAL_SECONDS * DEFAULT_TIME_SCALE
    window: float = facts.OUTBOUND_RETRY_WINDOW_SECONDS * DEFAULT_TIME_SCALE
    timeout: float = facts.OUTBOUND_TIMEOUT_SECONDS


@dataclass
class Message:
    message_id: int
    notifications: list[dict]  # {"id": 04l…, "record": {...}}
    first_attempt_at: float | None = None
    next_attempt_at: float = 0.0
    attempts: int = 0
    status: str = "pending"  # pending, acked, dropped
    duplicate: bool = False


@dataclass
class OutboundSender:
    store: object
    config: OutboundConfig = field(default_factory=OutboundConfig)
    auto: bool = True

    def __post_init__(self):
        self.action_id = self.store.new_id("WorkflowOutboundMessage")
        self.messages: list[Message] = []
        self.unsent: list[dict] = []
        self.log: list[dict] = []
        self._ids = itertools.count(1)
        self._wake = threading.Condition()
        self._stopped = False
        self.store.listeners.append(self._on_event)
        self._thread = None
        if self.auto:
            self._thread = threading.Thread(target=self._run, name="salesforce-outbound", daemon=True)
            self._thread.start()

    # ------------------------------------------------------------- queueing
    def _triggers(self, record, before) -> bool:
        if self.config.trigger_stages is None:
            return bool(record["IsWon"]) and not before["IsWon"]
        return record["StageName"] in self.config.trigger_stages and before["StageName"] != record["StageName"]

    def _on_event(self, kind, payload):
        if kind != "stage_changed" or not self.config.url:
            return
        if self._triggers(payload["record"], payload["before"]):
            with self._wake:
                self.unsent.append({"id": self.store.new_id("Notification"), "record": payload["record"]})
                self._wake.notify_all()

    def resend(self, notification_ids=None) -> int:
        """Queue acknowledged notifications again (duplicates); returns how many."""
        with self._wake:
            again = [n for m in self.messages if m.status == "acked" for n in m.notifications
                     if notification_ids is None or n["id"] in notification_ids]
            seen = set()
            again = [n for n in again if not (n["id"] in seen or seen.add(n["id"]))]
            for start in range(0, len(again), facts.OUTBOUND_MAX_NOTIFICATIONS):
                self.messages.append(Message(next(self._ids), again[start:start + facts.OUTBOUND_MAX_NOTIFICATIONS], duplicate=True))
            self._wake.notify_all()
            return len(again)

    def reset(self):
        with self._wake:
            self.messages.clear()
            self.unsent.clear()
            self.log.clear()

    # ------------------------------------------------------------- delivery
    def _batch_unsent(self):
        while self.unsent:
            batch, self.unsent = self.unsent[:facts.OUTBOUND_MAX_NOTIFICATIONS], self.unsent[facts.OUTBOUND_MAX_NOTIFICATIONS:]
            self.messages.append(Message(next(self._ids), batch))

    def run_due(self) -> int:
        """Deliver every message that is due now; returns how many were tried."""
        with self._wake:
            self._batch_unsent()
            now = time.monotonic()
            due = [m for m in self.messages if m.status == "pending" and m.next_attempt_at <= now]
        for message in due:
            self._deliver(message)
        return len(due)

    def _deliver(self, message: Message):
        body = self.envelope(message)
        started = time.monotonic()
        if message.first_attempt_at is None:
            message.first_attempt_at = started
        message.attempts += 1
        entry = {"message_id": message.message_id, "attempt": message.attempts, "duplicate": message.duplicate,
                 "notification_ids": [n["id"] for n in message.notifications],
                 "record_ids": [n["record"]["Id"] for n in message.notifications],
                 "at": datetime.datetime.now(datetime.timezone.utc).isoformat(), "status_code": None, "acked": False,
                 "error": ""}
        try:
            response = httpx.post(self.config.url, content=body, timeout=self.config.timeout, headers={
                "Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""', "User-Agent": "Salesforce - OutboundMessage"})
            entry["status_code"] = response.status_code
            entry["acked"] = response.status_code == 200 and _acked(response.content)
            if not entry["acked"]:
                entry["error"] = f"no Ack (HTTP {response.status_code})"
        except httpx.HTTPError as exc:
            entry["error"] = f"{type(exc).__name__}: {exc}"
        with self._wake:
            self.log.append(entry)
            if entry["acked"]:
                message.status = "acked"
                return
            interval = min(self.config.first_interval * 2 ** (message.attempts - 1), self.config.max_interval)
            next_at = time.monotonic() + interval
            if next_at - message.first_attempt_at > self.config.window:
                message.status = "dropped"
                entry["dropped"] = True
            else:
                message.next_attempt_at = next_at

    def envelope(self, message: Message) -> bytes:
        """The SOAP 1.1 notifications envelope Salesforce posts."""
        nsmap = {"soapenv": facts.SOAP_ENV_NS, "xsd": "http://www.w3.org/2001/XMLSchema", "xsi": facts.XSI_NS}
        env = etree.Element(f"{{{facts.SOAP_ENV_NS}}}Envelope", nsmap=nsmap)
        body = etree.SubElement(env, f"{{{facts.SOAP_ENV_NS}}}Body")
        out = f"{{{facts.OUTBOUND_NS}}}"
        notifications = etree.SubElement(body, out + "notifications", nsmap={None: facts.OUTBOUND_NS})
        store = self.store
        org15 = store.org_id[:15]
        etree.SubElement(notifications, out + "OrganizationId").text = store.org_id
        etree.SubElement(notifications, out + "ActionId").text = self.action_id
        session = etree.SubElement(notifications, out + "SessionId")
        if self.config.include_session_id:
            session.text = store.issue_tokens(username=store.username, client_id="outbound", scope="api",
                                              with_refresh=False)["access_token"]
        else:
            session.set(f"{{{facts.XSI_NS}}}nil", "true")
        etree.SubElement(notifications, out + "EnterpriseUrl").text = f"{store.base_url}/services/Soap/c/{facts.API_VERSION}/{org15}"
        etree.SubElement(notifications, out + "PartnerUrl").text = f"{store.base_url}/services/Soap/u/{facts.API_VERSION}/{org15}"
        sf = f"{{{facts.SOBJECT_NS}}}"
        for item in message.notifications:
            note = etree.SubElement(notifications, out + "Notification")
            etree.SubElement(note, out + "Id").text = item["id"]
            sobject = etree.SubElement(note, out + "sObject", nsmap={"sf": facts.SOBJECT_NS})
            sobject.set(f"{{{facts.XSI_NS}}}type", "sf:Opportunity")
            record = item["record"]
            names = ["Id"] + sorted(f for f in self.config.fields if f != "Id")
            for name in names:
                value = record.get(name)
                if value is None:
                    continue  # null fields are left out
                etree.SubElement(sobject, sf + name).text = _soap_text(value)
        return etree.tostring(env, xml_declaration=True, encoding="UTF-8")

    # ---------------------------------------------------------------- thread
    def _run(self):
        while not self._stopped:
            self.run_due()
            with self._wake:
                pending = [m.next_attempt_at for m in self.messages if m.status == "pending"]
                if self.unsent:
                    continue
                timeout = max(0.0, min(pending) - time.monotonic()) if pending else 1.0
                self._wake.wait(timeout=min(timeout, 1.0))

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until nothing is pending (acked or dropped); True if reached."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._wake:
                if not self.unsent and all(m.status != "pending" for m in self.messages):
                    return True
            if not self.auto:
                self.run_due()
            time.sleep(0.02)
        return False

    def stop(self):
        self._stopped = True
        with self._wake:
            self._wake.notify_all()


def _soap_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.datetime):
        return format_datetime(value).replace(".000+0000", ".000Z")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


def _acked(content: bytes) -> bool:
    try:
        root = etree.fromstring(content, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return False
    ack = root.find(f".//{{{facts.OUTBOUND_NS}}}notificationsResponse/{{{facts.OUTBOUND_NS}}}Ack")
    return ack is not None and (ack.text or "").strip() == "true"
