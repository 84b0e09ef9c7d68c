"""Connection (one merchant's link to one vendor account), WebhookEvent (raw
inbound events), RejectedWebhook (deliveries refused at the door, for support),
VendorExchange (every request/response with a vendor, secrets masked) and the
SourceRecord base every vendor object row shares."""
import uuid

from django.conf import settings as django_settings
from django.db import models
from fernet_fields import EncryptedTextField

# One live connection per vendor account (Connection.Meta); connection_authorize names its violation.
LIVE_ACCOUNT_CONSTRAINT = "uniq_conn_live_vendor_account"


class Connection(models.Model):
    """One merchant's link to one vendor account (a HubSpot portal, a Square
    merchant …). Credentials are Fernet-encrypted JSON."""

    class Kind(models.TextChoices):
        CRM = "crm", "CRM"
        POS = "pos", "POS"
        ERP = "erp", "ERP"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending authorization"
        CONNECTED = "connected", "Connected"
        SYNCING = "syncing", "Syncing"
        NEEDS_REAUTH = "needs_reauth", "Needs re-authorization"
        ERROR = "error", "Error"
        DISCONNECTED = "disconnected", "Disconnected"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey("tenancy.Organization", on_delete=models.CASCADE, related_name="connections")
    vendor = models.CharField(max_length=40, help_text="Provider key, e.g. hubspot, square.")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    display_name = models.CharField(max_length=200, blank=True)
    # The vendor's account id (HubSpot portalId, Square merchant_id …): routes webhooks.
    external_account_id = models.CharField(max_length=200, blank=True, db_index=True)
    credentials = EncryptedTextField(blank=True, default="", help_text="Encrypted JSON: tokens, secrets.")
    token_expires_at = models.DateTimeField(null=True, blank=True)
    scopes = models.JSONField(default=list, blank=True)
    settings = models.JSONField(default=dict, blank=True, help_text="Chosen locations, pipelines, webhook config.")
    # Delta sync: the committed cursor (resume point) and the in-flight page checkpoint.
    sync_cursor = models.JSONField(default=dict, blank=True)
    sync_checkpoint = models.JSONField(default=dict, blank=True)
    sync_progress_done = models.PositiveIntegerField(default=0)
    sync_progress_total = models.PositiveIntegerField(null=True, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    trigger_rule = models.JSONField(default=dict, blank=True, help_text="Which stage/status creates an invoice.")
    field_map = models.JSONField(default=dict, blank=True, help_text="Vendor field → invoice field.")
    last_error = models.TextField(blank=True)
    # Historical import: running while set; progress in sync_progress_done/total.
    import_started_at = models.DateTimeField(null=True, blank=True)
    import_finished_at = models.DateTimeField(null=True, blank=True)
    # The beat entry running this connection's delta sync (editable in admin).
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    connected_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    disconnected_at = models.DateTimeField(null=True, blank=True)
    # A disconnect the vendor did not confirm: its revocation is asked again
    # until then (connections.services.connection_revoke_disconnected), and
    # `credentials` keeps only what asking needs meanwhile.
    revoke_pending_until = models.DateTimeField(
        null=True, blank=True, help_text="Set while the vendor has not confirmed the revocation of a disconnect: "
                                         "TaxPoynt asks it again until then, keeping (encrypted) only the token "
                                         "asking needs, erased once the vendor confirms or at this time.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # One live connection per vendor account, whichever organization holds it: webhooks
            # route by the account, and its sales must reach FIRS once, under one TIN.
            models.UniqueConstraint(fields=["vendor", "external_account_id"], name=LIVE_ACCOUNT_CONSTRAINT,
                                    condition=~models.Q(status="disconnected") & ~models.Q(external_account_id="")),
        ]
        indexes = [
            models.Index(fields=["organization", "kind", "status"], name="conn_org_kind_status"),
            models.Index(fields=["vendor", "external_account_id"], name="conn_vendor_account"),
        ]

    def __str__(self):
        return f"{self.vendor}:{self.display_name or self.external_account_id or self.pk}"


class WebhookEvent(models.Model):
    """A raw inbound webhook, stored before it is acknowledged so it can always be
    replayed. Unique on (vendor, vendor event id): a vendor's retry is a no-op.

    High volume: partition by month on `received_at` (docs/architecture.md)."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSING = "processing", "Processing"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    vendor = models.CharField(max_length=40)
    event_id = models.CharField(max_length=200, help_text="The vendor's own event id.")
    event_type = models.CharField(max_length=100, blank=True)
    organization = models.ForeignKey(
        "tenancy.Organization", null=True, blank=True, on_delete=models.CASCADE, related_name="webhook_events",
        db_index=False,
    )  # led by wh_org_received
    connection = models.ForeignKey(
        Connection, null=True, blank=True, on_delete=models.SET_NULL, related_name="webhook_events"
    )
    raw_body = models.BinaryField()
    headers = models.JSONField(default=dict)
    received_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RECEIVED)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # The claim's lease: a task processing the event holds it until then. A
    # task whose message finds the event claimed (a backlog taken several
    # events at a time, services.webhook_events_claim_backlog) skips it; a
    # claim whose worker died runs out and the beat sweep hands it over again.
    claimed_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["vendor", "event_id"], name="uniq_webhook_vendor_event")]
        indexes = [
            models.Index(fields=["organization", "-received_at"], name="wh_org_received"),
            models.Index(fields=["status", "received_at"], name="wh_status_received"),
            # A provider's backlog by connection, oldest first (the fair batch claim); only the
            # rows no task took yet.
            models.Index(fields=["vendor", "connection", "received_at"], name="wh_vendor_conn_fresh",
                         condition=models.Q(status="received", attempts=0)),
            # Where the fair claim's scan starts: the provider's oldest such row.
            models.Index(fields=["vendor", "received_at"], name="wh_vendor_fresh_oldest",
                         condition=models.Q(status="received", attempts=0)),
        ]

    def __str__(self):
        return f"{self.vendor}:{self.event_id}"


class RejectedWebhook(models.Model):
    """A delivery refused at the door (bad signature, stale timestamp, unparsable
    body). Kept apart from WebhookEvent so nothing unverified is ever processed;
    support reads it to debug a misconfigured secret or a replay attempt."""

    id = models.BigAutoField(primary_key=True)
    vendor = models.CharField(max_length=40)
    reason = models.CharField(max_length=40)
    message = models.CharField(max_length=300, blank=True)
    remote_addr = models.CharField(max_length=64, blank=True)
    headers = models.JSONField(default=dict)
    body_sha256 = models.CharField(max_length=64)
    body_size = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["vendor", "-received_at"], name="rejwh_vendor_received")]

    def __str__(self):
        return f"{self.vendor}:{self.reason}@{self.received_at:%Y-%m-%d %H:%M:%S}"


class VendorExchange(models.Model):
    """One HTTP request/response with a vendor API (the audit trail), secrets
    masked before they reach this table. High volume: prune or partition by month."""

    id = models.BigAutoField(primary_key=True)
    vendor = models.CharField(max_length=40)
    connection = models.ForeignKey(
        Connection, null=True, blank=True, on_delete=models.SET_NULL, related_name="exchanges"
    )
    organization = models.ForeignKey(
        "tenancy.Organization", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    method = models.CharField(max_length=8)
    url = models.CharField(max_length=1000)
    request_body = models.TextField(blank=True)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["connection", "-at"], name="vx_conn_at"),
            models.Index(fields=["organization", "-at"], name="vx_org_at"),
        ]

    def __str__(self):
        return f"{self.method} {self.url} → {self.status_code}"


class SourceRecord(models.Model):
    """Base of every row mirroring one external object (a deal, a sale, an ERP
    invoice): one row per (connection, external id), the raw payload kept, and
    at most one invoice per billable object."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey("tenancy.Organization", on_delete=models.CASCADE, related_name="+")
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="+")
    external_id = models.CharField(max_length=200)
    raw = models.JSONField(default=dict, help_text="The vendor's object as last received.")
    source_updated_at = models.DateTimeField(null=True, blank=True, help_text="The vendor's last-modified time.")
    currency = models.CharField(max_length=3, default="NGN")
    invoice = models.OneToOneField(
        "invoicing.Invoice", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
