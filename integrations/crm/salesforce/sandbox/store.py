"""The Salesforce sandbox's state: one org with its connected app, users,
tokens, sObject records, API usage, change events (CDC) and the outbound
messages waiting for delivery. Thread-safe (one lock); the WSGI app and the
control API both go through the methods here.
"""
from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import itertools
import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal

from integrations.crm.salesforce import facts
from integrations.crm.salesforce.ids import to_18

from .soql import ObjectSchema, Resolver

_TS = "datetime"
_COMMON = {"Id": "id", "IsDeleted": "boolean", "CreatedDate": _TS, "LastModifiedDate": _TS, "SystemModstamp": _TS}

SCHEMAS = {
    "Account": ObjectSchema(
        name="Account",
        fields={**_COMMON, "Name": "string", "BillingStreet": "text", "BillingCity": "string",
                "BillingPostalCode": "string", "BillingCountry": "string", "Phone": "string",
                "Email__c": "string", "TIN__c": "string"},
        children={"Opportunities": ("Opportunity", "AccountId")},
        updateable=frozenset({"Name", "BillingStreet", "BillingCity", "BillingPostalCode", "BillingCountry",
                              "Phone", "Email__c", "TIN__c"}),
    ),
    "Product2": ObjectSchema(
        name="Product2",
        fields={**_COMMON, "Name": "string", "ProductCode": "string", "Description": "text",
                "Family": "picklist", "IsActive": "boolean", "HS_Code__c": "string"},
        updateable=frozenset({"Name", "ProductCode", "Description", "Family", "IsActive", "HS_Code__c"}),
    ),
    "PricebookEntry": ObjectSchema(
        name="PricebookEntry",
        fields={**_COMMON, "Name": "string", "Pricebook2Id": "id", "Product2Id": "id", "ProductCode": "string",
                "UnitPrice": "currency", "IsActive": "boolean", "CurrencyIsoCode": "picklist"},
        parents={"Product2": ("Product2", "Product2Id")},
        updateable=frozenset({"UnitPrice", "IsActive"}),
    ),
    "Opportunity": ObjectSchema(
        name="Opportunity",
        fields={**_COMMON, "Name": "string", "StageName": "picklist", "Amount": "currency", "CloseDate": "date",
                "IsWon": "boolean", "IsClosed": "boolean", "AccountId": "id", "CurrencyIsoCode": "picklist",
                "Description": "text", "Probability": "percent", "HasOpportunityLineItem": "boolean",
                "TaxPoynt_Invoice_Number__c": "string", "TaxPoynt_IRN__c": "string", "TaxPoynt_Status__c": "string"},
        parents={"Account": ("Account", "AccountId")},
        children={"OpportunityLineItems": ("OpportunityLineItem", "OpportunityId")},
        updateable=frozenset({"Name", "StageName", "Amount", "CloseDate", "AccountId", "CurrencyIsoCode",
                              "Description", "Probability", "TaxPoynt_Invoice_Number__c", "TaxPoynt_IRN__c",
                              "TaxPoynt_Status__c"}),
    ),
    # The org's stage picklist with its IsWon/IsClosed flags (queried to find the won stages).
    "OpportunityStage": ObjectSchema(
        name="OpportunityStage",
        fields={**_COMMON, "MasterLabel": "string", "ApiName": "string", "IsActive": "boolean",
                "IsClosed": "boolean", "IsWon": "boolean", "SortOrder": "int"},
        updateable=frozenset(),
    ),
    "OpportunityLineItem": ObjectSchema(
        name="OpportunityLineItem",
        fields={**_COMMON, "OpportunityId": "id", "PricebookEntryId": "id", "Product2Id": "id", "ProductCode": "string",
                "Name": "string", "Quantity": "double", "UnitPrice": "currency", "ListPrice": "currency",
                "Subtotal": "currency", "TotalPrice": "currency", "Discount": "percent", "Description": "text",
                "SortOrder": "int"},
        parents={"Opportunity": ("Opportunity", "OpportunityId"), "PricebookEntry": ("PricebookEntry", "PricebookEntryId"),
                 "Product2": ("Product2", "Product2Id")},
        updateable=frozenset({"Quantity", "UnitPrice", "Discount", "Description", "SortOrder"}),
    ),
}

KEY_PREFIXES = {"Account": "001", "Opportunity": "006", "OpportunityLineItem": "00k", "Product2": "01t",
                "PricebookEntry": "01u", "Pricebook2": "01s", "Organization": "00D", "User": "005",
                "QueryLocator": "01g", "WorkflowOutboundMessage": "04k", "Notification": "04l",
                "OpportunityStage": "01J"}

# Default Opportunity stages: name → (IsClosed, IsWon), as in a new org.
DEFAULT_STAGES = {
    "Prospecting": (False, False), "Qualification": (False, False), "Needs Analysis": (False, False),
    "Value Proposition": (False, False), "Id. Decision Makers": (False, False), "Perception Analysis": (False, False),
    "Proposal/Price Quote": (False, False), "Negotiation/Review": (False, False),
    facts.DEFAULT_WON_STAGE: (True, True), "Closed Lost": (True, False),
}

_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


def now() -> datetime.datetime:
    # Salesforce datetimes have one-second precision.
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def format_datetime(value: datetime.datetime) -> str:
    return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


class SandboxError(Exception):
    """A REST error: HTTP status and Salesforce's [{message, errorCode, fields}]."""

    def __init__(self, status: int, error_code: str, message: str, fields=None):
        super().__init__(message)
        self.status, self.error_code, self.message, self.fields = status, error_code, message, fields or []


class OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400):
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


@dataclass
class ConnectedApp:
    consumer_key: str = "demo-salesforce-client-id"
    consumer_secret: str = "demo-salesforce-client-secret"
    # None: any http(s) loopback callback is accepted (demo convenience);
    # a list: exact match, as Salesforce requires.
    redirect_uris: list[str] | None = None
    certificate_pem: str | None = None  # certificate or public key PEM for the JWT bearer flow
    preauthorized_usernames: set[str] = field(default_factory=set)
    refresh_mode: str = "static"  # "static" (Salesforce default) or "rotate" (new token, old one revoked)
    require_secret: bool = True
    extra_audiences: list[str] = field(default_factory=lambda: list(facts.STANDARD_AUDIENCES))
    scopes: tuple[str, ...] = ("api", "refresh_token", "offline_access", "id")


@dataclass
class AccessToken:
    username: str
    client_id: str
    scope: str
    expires_at: float
    refresh_token: str | None = None


@dataclass
class RefreshToken:
    username: str
    client_id: str
    scope: str


class Store(Resolver):
    def __init__(self, *, batch_size=200, daily_limit=15000, token_ttl=7200.0, username="admin@taxpoynt-sandbox.example",
                 won_stages=None, seed_demo=False):
        self.lock = threading.RLock()
        self.base_url = "http://127.0.0.1"
        self.defaults = dict(batch_size=batch_size, daily_limit=daily_limit, token_ttl=token_ttl, username=username,
                             won_stages=won_stages, seed_demo=seed_demo)
        self.listeners = []  # callables(event kind, payload) – the outbound sender subscribes
        self.reset()

    # ------------------------------------------------------------------ state
    def reset(self):
        with self.lock:
            d = self.defaults
            self._counter = itertools.count(1)
            self.org_id = self.new_id("Organization")
            self.user_id = self.new_id("User")
            self.username = d["username"]
            self.app = ConnectedApp(preauthorized_usernames={d["username"]})
            self.batch_size = d["batch_size"]
            self.daily_limit = d["daily_limit"]
            self.api_usage = 0
            self.token_ttl = d["token_ttl"]
            self.stages = dict(DEFAULT_STAGES)
            for stage in d["won_stages"] or ():
                self.stages[stage] = (True, True)
            self.data = {name: {} for name in SCHEMAS}
            for order, (stage, (closed, won)) in enumerate(self.stages.items()):
                self._insert("OpportunityStage", {"MasterLabel": stage, "ApiName": stage, "IsActive": True,
                                                  "IsClosed": closed, "IsWon": won, "SortOrder": order}, event=False)
            self.codes: dict[str, dict] = {}
            self.access_tokens: dict[str, AccessToken] = {}
            self.refresh_tokens: dict[str, RefreshToken] = {}
            self.locators: dict[str, dict] = {}
            self.cdc_events: list[dict] = []
            self._replay = itertools.count(1)
            self.standard_pricebook_id = self.new_id("Pricebook2")
            if d["seed_demo"]:
                self.seed_demo()

    def new_id(self, sobject: str) -> str:
        n = next(self._counter)
        body = ""
        # Mix the counter so ids look like Salesforce's (pod chars + base62 tail).
        value = n * 7919 + secrets.randbelow(62)
        while value:
            value, digit = divmod(value, 62)
            body = _BASE62[digit] + body
        return to_18((KEY_PREFIXES[sobject] + "8d" + body.rjust(10, "0"))[:15])

    @property
    def login_url(self) -> str:
        return self.base_url

    def identity_url(self, username: str) -> str:
        return f"{self.login_url}/id/{self.org_id}/{self.user_id}"

    # ------------------------------------------------------------ resolver
    def schema(self, sobject):
        lowered = sobject.lower()
        return next((s for name, s in SCHEMAS.items() if name.lower() == lowered), None)

    def records_of(self, sobject, *, include_deleted=False):
        return [r for r in self.data[sobject].values() if include_deleted or not r["IsDeleted"]]

    def records(self, sobject, *, include_deleted):  # Resolver interface
        return self.records_of(sobject, include_deleted=include_deleted)

    def get(self, sobject, record_id):
        if not record_id:
            return None
        record = self.data.get(sobject, {}).get(record_id)
        if record is None and len(record_id) == 15:
            record = self.data.get(sobject, {}).get(to_18(record_id))
        return record

    def record_url(self, sobject, record_id):
        return f"/services/data/v{facts.API_VERSION}/sobjects/{sobject}/{record_id}"

    # ------------------------------------------------------------- records
    def _insert(self, sobject: str, values: dict, *, event=True) -> dict:
        schema = SCHEMAS[sobject]
        unknown = [k for k in values if schema.field_name(k) is None]
        if unknown:
            raise SandboxError(400, "INVALID_FIELD", f"No such column '{unknown[0]}' on sobject of type {sobject}", unknown)
        stamp = now()
        record = {f: None for f in schema.fields}
        record.update({"IsDeleted": False, "CreatedDate": stamp, "LastModifiedDate": stamp, "SystemModstamp": stamp})
        for key, value in values.items():
            record[schema.field_name(key)] = _coerce(schema.fields[schema.field_name(key)], value)
        record["Id"] = values.get("Id") or self.new_id(sobject)
        self.data[sobject][record["Id"]] = record
        if event:
            self._change_event(sobject, [record["Id"]], "CREATE", [f for f in values if f != "Id"], record)
        return record

    def seed(self, *, accounts=(), products=(), opportunities=()) -> dict:
        """Create records. Opportunities may carry `line_items` (each with a
        `product` code or `Product2Id`, Quantity, UnitPrice, Discount) and an
        `account` index into `accounts` (or AccountId)."""
        with self.lock:
            created = {"accounts": [], "products": [], "opportunities": []}
            account_ids = []
            for values in accounts:
                record = self._insert("Account", dict(values))
                account_ids.append(record["Id"])
                created["accounts"].append(record["Id"])
            for values in products:
                created["products"].append(self._add_product(dict(values))["Id"])
            for values in opportunities:
                values = dict(values)
                lines = values.pop("line_items", [])
                if "account" in values:
                    values["AccountId"] = account_ids[values.pop("account")]
                values.setdefault("StageName", "Prospecting")
                values.setdefault("CloseDate", datetime.date.today().isoformat())
                values.setdefault("CurrencyIsoCode", "NGN")
                closed, won = self.stages.get(values["StageName"], (False, False))
                values.update(IsClosed=closed, IsWon=won)
                opp = self._insert("Opportunity", values)
                line_ids = [self._add_line(opp, dict(line))["Id"] for line in lines]
                self._roll_up(opp)
                created["opportunities"].append({"Id": opp["Id"], "line_items": line_ids})
            return created

    def _add_product(self, values):
        price = values.pop("UnitPrice", None)
        values.setdefault("IsActive", True)
        product = self._insert("Product2", values, event=False)
        self._insert("PricebookEntry", {
            "Name": product["Name"], "Product2Id": product["Id"], "Pricebook2Id": self.standard_pricebook_id,
            "ProductCode": product["ProductCode"], "UnitPrice": price if price is not None else "0", "IsActive": True,
            "CurrencyIsoCode": "NGN",
        }, event=False)
        return product

    def _entry_for(self, values):
        code = values.pop("product", None)
        product_id = values.pop("Product2Id", None)
        for entry in self.data["PricebookEntry"].values():
            product = self.data["Product2"][entry["Product2Id"]]
            if (code and product["ProductCode"] == code) or (product_id and product["Id"] == product_id):
                return entry, product
        if code or product_id:
            product = self._add_product({"Name": values.get("Name") or code or "Product", "ProductCode": code,
                                         "UnitPrice": values.get("UnitPrice")})
            return self._entry_for({"Product2Id": product["Id"]})
        raise SandboxError(400, "REQUIRED_FIELD_MISSING", "Required fields are missing: [PricebookEntryId]", ["PricebookEntryId"])

    def _add_line(self, opp, values):
        entry, product = self._entry_for(values)
        quantity = Decimal(str(values.pop("Quantity", "1")))
        unit_price = Decimal(str(values.pop("UnitPrice", entry["UnitPrice"])))
        discount = values.pop("Discount", None)
        discount = Decimal(str(discount)) if discount not in (None, "") else None
        subtotal = quantity * unit_price
        # TotalPrice is the line after its percentage discount (Salesforce's Subtotal is before).
        total = subtotal * (1 - (discount or Decimal("0")) / Decimal("100"))
        return self._insert("OpportunityLineItem", {
            "OpportunityId": opp["Id"], "PricebookEntryId": entry["Id"], "Product2Id": product["Id"],
            "ProductCode": product["ProductCode"], "Name": f"{opp['Name']} {product['Name']}",
            "Quantity": quantity, "UnitPrice": unit_price, "ListPrice": entry["UnitPrice"], "Subtotal": subtotal,
            "TotalPrice": total.quantize(Decimal("0.01")), "Discount": discount, **values,
        }, event=False)

    def _roll_up(self, opp):
        lines = [r for r in self.data["OpportunityLineItem"].values() if r["OpportunityId"] == opp["Id"] and not r["IsDeleted"]]
        opp["HasOpportunityLineItem"] = bool(lines)
        if lines:
            # With products, Amount is the sum of line TotalPrices (pre-tax).
            opp["Amount"] = sum((line["TotalPrice"] for line in lines), Decimal("0"))

    def update(self, sobject: str, record_id: str, values: dict, *, api=True) -> dict:
        """PATCH semantics: unknown field → INVALID_FIELD, read-only field →
        INVALID_FIELD_FOR_INSERT_UPDATE; a StageName change recomputes
        IsWon/IsClosed; every change stamps LastModifiedDate/SystemModstamp and
        emits a CDC event; entering a won stage notifies the outbound sender."""
        with self.lock:
            schema = SCHEMAS[sobject]
            record = self.get(sobject, record_id)
            if record is None or record["IsDeleted"]:
                raise SandboxError(404, "NOT_FOUND", "The requested resource does not exist")
            unknown = [k for k in values if schema.field_name(k) is None]
            if unknown:
                raise SandboxError(400, "INVALID_FIELD", f"No such column '{unknown[0]}' on sobject of type {sobject}", [])
            names = {k: schema.field_name(k) for k in values}
            readonly = [names[k] for k in values if names[k] not in schema.updateable] if api else []
            if readonly:
                raise SandboxError(
                    400, "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to create/update fields: {', '.join(readonly)}. Please check the security settings of "
                    "this field and verify that it is read/write for your profile or permission set.", readonly)
            before = dict(record)
            for key, value in values.items():
                try:
                    record[names[key]] = _coerce(schema.fields[names[key]], value)
                except (ValueError, ArithmeticError):
                    raise SandboxError(400, "JSON_PARSER_ERROR", f"Cannot deserialize instance of {schema.fields[names[key]]} from {value!r}") from None
            if sobject == "Opportunity" and "StageName" in names.values():
                if record["StageName"] not in self.stages:
                    record.update(before)
                    raise SandboxError(400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                                       f"Stage: bad value for restricted picklist field: {record['StageName']}", ["StageName"])
                record["IsClosed"], record["IsWon"] = self.stages[record["StageName"]]
            changed = [f for f in schema.fields if record[f] != before[f]]
            if changed:
                stamp = now()
                record["LastModifiedDate"] = record["SystemModstamp"] = stamp
                self._change_event(sobject, [record["Id"]], "UPDATE", changed, record)
                if sobject == "Opportunity" and "StageName" in changed:
                    for listener in self.listeners:
                        listener("stage_changed", {"record": dict(record), "before": before})
            return record

    def delete(self, sobject, record_id):
        with self.lock:
            record = self.get(sobject, record_id)
            if record is None or record["IsDeleted"]:
                raise SandboxError(404, "NOT_FOUND", "The requested resource does not exist")
            record["IsDeleted"] = True
            record["SystemModstamp"] = record["LastModifiedDate"] = now()
            self._change_event(sobject, [record["Id"]], "DELETE", [], record)

    # ---------------------------------------------------------------- CDC
    def _change_event(self, sobject, record_ids, change_type, changed_fields, record):
        stamp = record["SystemModstamp"]
        header = {
            "entityName": sobject, "recordIds": list(record_ids), "changeType": change_type,
            "changedFields": list(changed_fields) if change_type == "UPDATE" else [],
            "changeOrigin": "com/salesforce/api/rest/60.0", "transactionKey": secrets.token_hex(16),
            "sequenceNumber": 1, "commitTimestamp": int(stamp.timestamp() * 1000), "commitUser": self.user_id,
            "commitNumber": next(self._counter),
        }
        body = {"ChangeEventHeader": header}
        if change_type != "DELETE":
            fields = changed_fields if change_type == "UPDATE" else [f for f in record if record[f] is not None]
            body.update({f: _jsonable(record[f]) for f in fields if f not in ("Id", "IsDeleted")})
        self.cdc_events.append({"replayId": next(self._replay), "channel": f"/data/{sobject}ChangeEvent", "payload": body})

    def cdc_since(self, replay_id: int, channel: str | None):
        with self.lock:
            events = [e for e in self.cdc_events if channel in (None, "/data/ChangeEvents", e["channel"])]
            latest = self.cdc_events[-1]["replayId"] if self.cdc_events else 0
            if replay_id == -1:  # new events only
                return [], latest
            if replay_id == -2:  # everything retained
                return events, latest
            return [e for e in events if e["replayId"] > replay_id], latest

    # ---------------------------------------------------------- API usage
    def count_api_call(self):
        """Counts one call; over the daily allocation → 403 REQUEST_LIMIT_EXCEEDED."""
        with self.lock:
            if self.api_usage >= self.daily_limit:
                raise SandboxError(403, facts.REQUEST_LIMIT_EXCEEDED, "TotalRequests Limit exceeded.")
            self.api_usage += 1

    def limit_info(self) -> str:
        return f"api-usage={self.api_usage}/{self.daily_limit}"

    # --------------------------------------------------------------- OAuth
    def issue_tokens(self, *, username, client_id, scope, with_refresh, refresh_token=None) -> dict:
        access = f"{self.org_id[:15]}!AQ{secrets.token_urlsafe(60)}"
        scope_set = scope.split()
        if with_refresh and refresh_token is None:
            refresh_token = f"5Aep{secrets.token_urlsafe(60)}"
            self.refresh_tokens[refresh_token] = RefreshToken(username, client_id, scope)
        self.access_tokens[access] = AccessToken(username, client_id, scope, time.time() + self.token_ttl, refresh_token)
        issued_at = str(int(time.time() * 1000))
        identity = self.identity_url(username)
        # signature: base64 HMAC-SHA256 over id + issued_at keyed with the consumer secret.
        signature = base64.b64encode(hmac.new(self.app.consumer_secret.encode(), (identity + issued_at).encode(),
                                              hashlib.sha256).digest()).decode()
        body = {"access_token": access, "signature": signature, "scope": " ".join(scope_set),
                "instance_url": self.base_url, "id": identity, "token_type": "Bearer", "issued_at": issued_at}
        if with_refresh:
            body["refresh_token"] = refresh_token
        return body

    def authenticate(self, header: str | None) -> AccessToken:
        if not header or " " not in header:
            raise SandboxError(401, facts.INVALID_SESSION_ID, "Session expired or invalid")
        scheme, token = header.split(" ", 1)
        with self.lock:
            found = self.access_tokens.get(token.strip()) if scheme.lower() in ("bearer", "oauth") else None
            if found is None or found.expires_at < time.time():
                raise SandboxError(401, facts.INVALID_SESSION_ID, "Session expired or invalid")
            if found.refresh_token and found.refresh_token not in self.refresh_tokens:
                raise SandboxError(401, facts.INVALID_SESSION_ID, "Session expired or invalid")
            return found

    def revoke(self, token: str) -> bool:
        with self.lock:
            if token in self.refresh_tokens:
                del self.refresh_tokens[token]
                # Revoking a refresh token kills the access tokens issued from it.
                for key in [k for k, v in self.access_tokens.items() if v.refresh_token == token]:
                    del self.access_tokens[key]
                return True
            return self.access_tokens.pop(token, None) is not None

    def revoke_all_refresh_tokens(self):
        """An admin revoking the app's access (or the Refresh Token Policy
        expiring it): every refresh token and the sessions issued from them end."""
        with self.lock:
            for token in list(self.refresh_tokens):
                self.revoke(token)

    def expire_access_tokens(self):
        with self.lock:
            for token in self.access_tokens.values():
                token.expires_at = 0

    # ---------------------------------------------------------------- demo
    def seed_demo(self):
        self.seed(
            accounts=[
                {"Name": "Dangote Industries Ltd", "BillingStreet": "1 Alfred Rewane Road", "BillingCity": "Lagos",
                 "BillingPostalCode": "101233", "BillingCountry": "Nigeria", "Phone": "+2348010000001",
                 "TIN__c": "12345678-0001"},
                {"Name": "Zenith Retail Plc", "BillingStreet": "84 Ajose Adeogun", "BillingCity": "Lagos",
                 "BillingCountry": "Nigeria", "TIN__c": "23456789-0001"},
            ],
            products=[
                {"Name": "Consulting day", "ProductCode": "CONS-DAY", "UnitPrice": "250000.00"},
                {"Name": "Software licence", "ProductCode": "LIC-001", "UnitPrice": "1200000.00"},
            ],
            opportunities=[
                {"Name": "Dangote ERP rollout", "account": 0, "StageName": "Negotiation/Review",
                 "line_items": [{"product": "CONS-DAY", "Quantity": "10", "UnitPrice": "250000.00", "Discount": "10"},
                                {"product": "LIC-001", "Quantity": "2", "UnitPrice": "1200000.00"}]},
                {"Name": "Zenith licences", "account": 1, "StageName": facts.DEFAULT_WON_STAGE,
                 "line_items": [{"product": "LIC-001", "Quantity": "5", "UnitPrice": "1200000.00"}]},
            ],
        )


def _coerce(field_type: str, value):
    """A JSON/Python value as the sandbox stores it (Decimal, date, datetime, bool, str)."""
    if value is None or value == "" and field_type not in ("string", "text", "picklist", "id"):
        return None
    if field_type in ("currency", "double", "percent"):
        return Decimal(str(value))
    if field_type == "int":
        return int(value)
    if field_type == "boolean":
        if isinstance(value, str):
            return value.lower() == "true"
        return bool(value)
    if field_type == "date":
        return value if isinstance(value, datetime.date) else datetime.date.fromisoformat(str(value)[:10])
    if field_type == "datetime":
        if isinstance(value, datetime.datetime):
            return value
        from .soql import parse_datetime_literal
        return parse_datetime_literal(str(value).replace(".000", ""))
    return str(value)


def _jsonable(value):
    if isinstance(value, datetime.datetime):
        return format_datetime(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        # Salesforce numbers are doubles on the wire; readers parse them back as Decimal.
        return float(value)
    return value
