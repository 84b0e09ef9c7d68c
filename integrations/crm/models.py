"""CRM rows shared by every CRM vendor: Customer (company/contact) and Deal."""
from django.db import models

from integrations.connections.models import SourceRecord

MONEY = {"max_digits": 18, "decimal_places": 2}


class Customer(SourceRecord):
    """A CRM company or contact that deals are sold to (the invoice's buyer)."""

    name = models.CharField(max_length=300, blank=True)
    tin = models.CharField("TIN", max_length=20, blank=True)
    email = models.EmailField(blank=True)
    telephone = models.CharField(max_length=30, blank=True)
    address = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "external_id"], name="uniq_customer_conn_external")
        ]
        indexes = [models.Index(fields=["organization", "name"], name="customer_org_name")]

    def __str__(self):
        return self.name or self.external_id


class Deal(SourceRecord):
    """One CRM deal / opportunity. Won deals become invoices."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        WON = "won", "Won"
        LOST = "lost", "Lost"
        DELETED = "deleted", "Deleted"

    name = models.CharField(max_length=300, blank=True)
    pipeline = models.CharField(max_length=200, blank=True)
    stage = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    amount = models.DecimalField(**MONEY, null=True, blank=True)
    close_date = models.DateField(null=True, blank=True)
    won_at = models.DateTimeField(null=True, blank=True)
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="deals")
    # A won deal later lost: the credit note cancelling its invoice (at most one).
    credit_note = models.OneToOneField(
        "invoicing.Invoice", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lost_at = models.DateTimeField(null=True, blank=True)
    # Why the invoice (or credit note) could not be created yet, for the dashboard.
    invoice_error = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "external_id"], name="uniq_deal_conn_external")]
        indexes = [
            models.Index(fields=["organization", "status", "-source_updated_at"], name="deal_org_status_upd"),
            models.Index(fields=["organization", "stage"], name="deal_org_stage"),
            models.Index(fields=["organization", "close_date"], name="deal_org_close"),
        ]

    def __str__(self):
        return self.name or self.external_id
