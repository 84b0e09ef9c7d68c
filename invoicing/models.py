import uuid

from django.db import models

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
    organization = models.ForeignKey("tenancy.Organization", on_delete=models.PROTECT, related_name="invoices")
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
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="credit_notes"
    )
    canonical = models.JSONField(default=dict, help_text="The canonical invoice document (docs/canonical-invoice.md).")
    frozen_at = models.DateTimeField(null=True, blank=True, help_text="Set when numbered + signed; immutable after.")
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
            models.Index(fields=["organization", "issue_date"], name="inv_org_issue"),
            models.Index(fields=["organization", "connection", "-created_at"], name="inv_org_conn_created"),
            models.Index(fields=["organization", "payable_amount"], name="inv_org_payable"),
            models.Index(fields=["organization", "tax_mismatch"], name="inv_org_mismatch",
                         condition=models.Q(tax_mismatch=True)),
        ]

    def __str__(self):
        return self.number or f"draft {self.pk}"


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
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

    class BlockingLevel(models.TextChoices):
        NONE = "", "None"
        INFO = "info", "Info"
        WARNING = "warning", "Warning (retried)"
        ERROR = "error", "Error (stops retries)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="submissions")
    format = models.CharField(max_length=20, default="firs")
    state = models.CharField(max_length=12, choices=State.choices, default=State.DRAFT)
    blocking_level = models.CharField(max_length=8, choices=BlockingLevel.choices, blank=True, default="")
    error = models.TextField(blank=True)
    errors = models.JSONField(default=list, blank=True, help_text="Every failed rule: {rule, message, path}.")
    # The exact bytes sent to FIRS, stored before the first send; resends reuse them.
    signed_payload = models.BinaryField(null=True, blank=True)
    attempt_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    queue = models.CharField(max_length=20, default="crm", help_text="Celery queue its work runs on.")
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
    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="attempts")
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
