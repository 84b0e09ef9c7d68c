from django.db import models

from integrations.connections.models import SourceRecord

MONEY = {"max_digits": 18, "decimal_places": 2}


class SourceInvoice(SourceRecord):
    """A customer invoice as posted in the merchant's ERP (Odoo account.move)."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        POSTED = "posted", "Posted"
        CANCELLED = "cancelled", "Cancelled"

    number = models.CharField(max_length=100, blank=True, help_text="The ERP's own invoice number.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    invoice_date = models.DateField(null=True, blank=True)
    partner = models.JSONField(default=dict, blank=True)
    total_amount = models.DecimalField(**MONEY, default=0)
    tax_amount = models.DecimalField(**MONEY, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "external_id"], name="uniq_erpinvoice_conn_external")
        ]
        indexes = [models.Index(fields=["organization", "status", "-invoice_date"], name="erpinv_org_status_date")]

    def __str__(self):
        return self.number or self.external_id
