"""Invoices, their lines, the gap-free number sequences, and the FIRS
submission rows (state + every exchange). Invoices are immutable once frozen:
`Invoice.save`/`InvoiceLine.save` refuse content changes here, and a
PostgreSQL trigger (migration 0002) refuses them for raw UPDATEs too."""
import uuid

from django.db import models

from taxpoynt.errors import ApplicationError

MONEY = {"max_digits": 18, "decimal_places": 2}
QUANTITY = {"max_digits": 18, "decimal_places": 4}
PRICE = {"max_digits": 20, "decimal_places": 6}


class Invoice(models.Model):
    """One e-invoice or credit note. Built from a canonical invoice; frozen
    (immutable) from the moment it is numbered and signed.

    One per billable source object: unique on (organization, source_system,
    source_type, source_id). High volume: partition by month on `created_at`
    (docs/architecture.md)."""

    class Kind(models.TextChoices):
        INVOICE = "invoice", "Invoice"
        CREDIT_NOTE = "credit_note", "Credit note"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No index of its own on an FK that leads a composite index (inv_org_created here): a
    # row version costs an entry in every index (tests/taxpoynt/test_db.py).
    organization = models.ForeignKey("tenancy.Organization", on_delete=models.PROTECT, related_name="invoices",
                                     db_index=False)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.INVOICE)
    number = models.CharField(max_length=40, blank=True, help_text="Gap-free per organization and kind.")
    irn = models.CharField("IRN", max_length=80, blank=True)
    issue_date = models.DateField()
    due_date = models.DateField(null=True, blank=True)
    currency = models.CharField(max_length=3, default="NGN")
    # The buyer, denormalized for lists and search; the full party is in `canonical`.
    customer_name = models.CharField(max_length=300, blank=True)
    customer_tin = models.CharField(max_length=20, blank=True)
    # Totals (EN 16931 BT-106..BT-115), Decimal, from rounded parts.
    line_extension_amount = models.DecimalField(**MONEY, default=0)
    allowance_total_amount = models.DecimalField(**MONEY, default=0)
    charge_total_amount = models.DecimalField(**MONEY, default=0)
    tax_exclusive_amount = models.DecimalField(**MONEY, default=0)
    tax_amount = models.DecimalField(**MONEY, default=0)
    tax_inclusive_amount = models.DecimalField(**MONEY, default=0)
    payable_amount = models.DecimalField(**MONEY, default=0)
    # The source's own figures beside ours; a difference beyond rounding flags it.
    source_figures = models.JSONField(default=dict, blank=True)
    tax_mismatch = models.BooleanField(default=False)
    # Where it came from (generic: the invoicing core knows no vendor).
    source_system = models.CharField(max_length=40, help_text="e.g. hubspot, square.")
    source_type = models.CharField(max_length=40, help_text="e.g. deal, order, refund.")
    source_id = models.CharField(max_length=200)
    connection = models.ForeignKey(
        "connections.Connection", null=True, blank=True, on_delete=models.SET_NULL, related_name="invoices"
    )
    original_invoice = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="credit_notes", db_index=False
    )  # indexed where set only (inv_original): sales, most rows, have none
    canonical = models.JSONField(default=dict, help_text="The canonical invoice document (docs/canonical-invoice.md).")
    # Built once at freeze time and kept verbatim: the documents FIRS and the buyer see.
    ubl_xml = models.TextField(blank=True)
    # The FIRS payload as the exact JSON text sent (amounts as exact numbers, never floats).
    firs_json = models.TextField("FIRS JSON", blank=True)
    stamp = models.TextField(blank=True, help_text="The FIRS cryptographic stamp (base64); the QR encodes it.")
    credit_reason = models.TextField(blank=True, help_text="Why a credit note was issued.")
    frozen_at = models.DateTimeField(null=True, blank=True, help_text="Set when numbered + signed; immutable after.")
    signed_at = models.DateTimeField(null=True, blank=True, help_text="When FIRS accepted the signed invoice.")
    # The state of the invoice's FIRS submission, copied here so the list's FIRS
    # status filter is one index range instead of a join probing every invoice
    # (docs/performance.md). Written in the transaction that changes the
    # submission: `submissions.transition` (and creation in `services`); on
    # PostgreSQL a trigger (migration 0005) also covers raw UPDATEs of the state.
    firs_state = models.CharField("FIRS state", max_length=12, blank=True, default="",
                                  help_text="Copy of Submission(format=firs).state; empty without one.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "source_system", "source_type", "source_id"], name="uniq_invoice_source"
            ),
            models.UniqueConstraint(
                fields=["organization", "kind", "number"], condition=~models.Q(number=""), name="uniq_invoice_number"
            ),
            models.UniqueConstraint(fields=["irn"], condition=~models.Q(irn=""), name="uniq_invoice_irn"),
        ]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="inv_org_created"),
            # Users in several organizations: organization_id = ANY(...) walks this in page order.
            models.Index(fields=["-created_at", "organization"], name="inv_created_org"),
            # Issue-date ranges, listed in (-issue_date, -created_at) order (selectors.invoice_list_ordering).
            models.Index(fields=["organization", "-issue_date", "-created_at"], name="inv_org_issue_created"),
            models.Index(fields=["organization", "firs_state", "-created_at"], name="inv_org_firs_created"),
            models.Index(fields=["organization", "connection", "-created_at"], name="inv_org_conn_created"),
            models.Index(fields=["organization", "payable_amount"], name="inv_org_payable"),
            models.Index(fields=["organization", "tax_mismatch"], name="inv_org_mismatch",
                         condition=models.Q(tax_mismatch=True)),
            models.Index(fields=["original_invoice"], name="inv_original",
                         condition=models.Q(original_invoice__isnull=False)),
        ]

    # Frozen content: refused by save() below and by the trigger in migration 0002.
    CONTENT_FIELDS = (
        "organization_id", "kind", "number", "irn", "issue_date", "due_date", "currency", "customer_name",
        "customer_tin", "line_extension_amount", "allowance_total_amount", "charge_total_amount",
        "tax_exclusive_amount", "tax_amount", "tax_inclusive_amount", "payable_amount", "source_figures",
        "tax_mismatch", "source_system", "source_type", "source_id", "original_invoice_id", "canonical",
        "ubl_xml", "firs_json", "stamp", "credit_reason", "frozen_at",
    )

    def __str__(self):
        return self.number or f"draft {self.pk}"

    @property
    def firs_state_label(self) -> str:
        """The FIRS state's display label, read from the copy (no query)."""
        return Submission.State(self.firs_state).label if self.firs_state else ""

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._loaded_content = {name: getattr(instance, name) for name in cls.CONTENT_FIELDS
                                    if name in instance.__dict__}
        return instance

    @property
    def is_frozen(self) -> bool:
        return self.frozen_at is not None

    def write_frozen(self, **content) -> bool:
        """Freeze this draft: its number, IRN, documents, stamp and `frozen_at`
        in one conditional UPDATE (no read, no full-row rewrite). False, and
        nothing written, when the row is already frozen. The instance then
        holds the frozen content, guarded by save() like a loaded one."""
        if self.pk not in Invoice.write_frozen_many({self: content}):
            return False
        self.hold_frozen(content)
        return True

    @staticmethod
    def write_frozen_many(contents: dict) -> set:
        """`write_frozen` for several drafts (invoice → its content, the same
        fields each) in one statement: the pks frozen by it. The instances
        are left as they were; once the transaction commits, `hold_frozen`
        gives each its content."""
        from taxpoynt.db import update_rows

        return update_rows(Invoice, {invoice.pk: Invoice._frozen_columns(content)
                                     for invoice, content in contents.items()},
                           where_sql="o.frozen_at IS NULL")

    @staticmethod
    def _frozen_columns(content: dict) -> dict:
        # The freeze is the row's last change.
        return {**content, "updated_at": content["frozen_at"]}

    def hold_frozen(self, content: dict):
        for name, value in Invoice._frozen_columns(content).items():
            setattr(self, name, value)
        self._remember_content()

    def _remember_content(self):
        self._loaded_content = {name: getattr(self, name) for name in self.CONTENT_FIELDS}

    def save(self, *args, **kwargs):
        loaded = getattr(self, "_loaded_content", None)
        if loaded and loaded.get("frozen_at") is not None:
            changed = [name for name, value in loaded.items() if getattr(self, name) != value]
            if changed:
                raise FrozenInvoiceError(f"invoice {self.number} is frozen; cannot change {', '.join(changed)}")
        if not self._state.adding and not args and kwargs.get("update_fields") is None \
                and not kwargs.get("force_insert"):
            # firs_state is written by the submission state machine; saving an
            # instance loaded before a transition must not put the old state back.
            kwargs["update_fields"] = [f.name for f in self._meta.concrete_fields
                                       if not f.primary_key and f.name != "firs_state"]
        super().save(*args, **kwargs)
        self._remember_content()


class FrozenInvoiceError(ApplicationError):
    """A change to an invoice (or its lines) after it was numbered and stamped."""

    def __init__(self, message):
        super().__init__(message, code="invoice_frozen")


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines",
                                db_index=False)  # led by uniq_invoice_line_position
    position = models.PositiveIntegerField()
    description = models.CharField(max_length=500)
    item_code = models.CharField(max_length=100, blank=True, help_text="Seller's item id / SKU.")
    classification_code = models.CharField(max_length=20, blank=True, help_text="HS code or ISIC service code.")
    quantity = models.DecimalField(**QUANTITY)
    unit_price = models.DecimalField(**PRICE)
    allowance_amount = models.DecimalField(**MONEY, default=0)
    charge_amount = models.DecimalField(**MONEY, default=0)
    line_extension_amount = models.DecimalField(**MONEY)
    tax_category = models.CharField(max_length=30, help_text="FIRS tax category id, e.g. STANDARD_VAT.")
    tax_rate = models.DecimalField(max_digits=6, decimal_places=3)
    exemption_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["invoice", "position"]
        constraints = [models.UniqueConstraint(fields=["invoice", "position"], name="uniq_invoice_line_position")]

    def _refuse_if_frozen(self):
        if Invoice.objects.filter(pk=self.invoice_id, frozen_at__isnull=False).exists():
            raise FrozenInvoiceError("the invoice is frozen; its lines cannot change")

    def save(self, *args, **kwargs):
        self._refuse_if_frozen()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        self._refuse_if_frozen()
        return super().delete(*args, **kwargs)


class InvoiceSequence(models.Model):
    """Per-organization, per-kind gap-free counter, taken under a row lock in the
    transaction that freezes the invoice."""

    organization = models.ForeignKey("tenancy.Organization", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=12, choices=Invoice.Kind.choices)
    last_number = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "kind"], name="uniq_sequence_org_kind")]


class Submission(models.Model):
    """The FIRS submission state machine of one document (Odoo account_edi's
    document row): one per (invoice, format). Transitions only through
    `invoicing.services` (issue 4)."""

    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        VALIDATED = "validated", "Validated"
        SIGNED = "signed", "Signed"
        TRANSMITTED = "transmitted", "Transmitted"
        CONFIRMED = "confirmed", "Confirmed"
        REJECTED = "rejected", "Rejected"
        UNKNOWN = "unknown", "Outcome unknown"
        CANCELLED = "cancelled", "Cancelled"
        DEAD = "dead", "Dead-lettered"

    class ErrorSource(models.TextChoices):
        NONE = "", "None"
        LOCAL = "local", "Rejected locally (invoice rules)"
        FIRS = "firs", "Rejected by FIRS"
        AUTH = "auth", "FIRS credentials or configuration"
        NETWORK = "network", "Network / FIRS unavailable"

    class BlockingLevel(models.TextChoices):
        NONE = "", "None"
        INFO = "info", "Info"
        WARNING = "warning", "Warning (retried)"
        ERROR = "error", "Error (stops retries)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="submissions",
                                db_index=False)  # led by sub_invoice_state
    format = models.CharField(max_length=20, default="firs")
    state = models.CharField(max_length=12, choices=State.choices, default=State.DRAFT)
    blocking_level = models.CharField(max_length=8, choices=BlockingLevel.choices, blank=True, default="")
    error = models.TextField(blank=True)
    errors = models.JSONField(default=list, blank=True, help_text="Every failed rule: {rule, message, path}.")
    error_source = models.CharField(max_length=8, choices=ErrorSource.choices, blank=True, default="")
    # The exact bytes sent to FIRS, stored before the first send; resends reuse them.
    signed_payload = models.BinaryField(null=True, blank=True)
    payload_sha256 = models.CharField(max_length=64, blank=True)
    irn = models.CharField("IRN", max_length=80, blank=True)
    attempt_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Where processing resumes after dead / unknown / a retryable rejection.
    resume_state = models.CharField(max_length=12, choices=State.choices, blank=True, default="")
    last_exchange_at = models.DateTimeField(null=True, blank=True)
    # The worker's lease: a claimed row is skipped by other workers until it expires.
    locked_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.UUIDField(null=True, blank=True)
    queue = models.CharField(max_length=20, default="crm", help_text="Celery queue its work runs on.")
    # When TaxPoynt received the live event (a POS sale's webhook) this invoice
    # came from: its confirmation is timed from here, by whichever worker
    # confirms it (pos_sale_to_confirmed_seconds). Empty for other sources.
    source_received_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["invoice", "format"], name="uniq_submission_invoice_format")]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="sub_state_due"),
            models.Index(fields=["invoice", "state"], name="sub_invoice_state"),
        ]

    def __str__(self):
        return f"{self.invoice} [{self.format}] {self.state}"


class SubmissionAttempt(models.Model):
    """One request/response exchanged with FIRS for a submission, secrets masked."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="attempts",
                                   db_index=False)  # led by attempt_sub_created
    step = models.CharField(max_length=20, help_text="validate, sign, transmit, confirm, lookup …")
    from_state = models.CharField(max_length=12)
    to_state = models.CharField(max_length=12)
    request_method = models.CharField(max_length=8, blank=True)
    request_url = models.CharField(max_length=500, blank=True)
    request_body = models.TextField(blank=True)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=20, help_text="ok, rejected, retry, unknown, error")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["submission", "created_at"], name="attempt_sub_created")]
