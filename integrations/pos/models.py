from django.db import models

from integrations.connections.models import SourceRecord

MONEY = {"max_digits": 18, "decimal_places": 2}
# A sale not invoiced, with the reason why (Transaction.invoice_error): the
# one condition of its partial index and of every list of them ("Needs
# attention", the transactions filter, admin), so those lists use the index.
NOT_INVOICED = models.Q(invoice__isnull=True) & ~models.Q(invoice_error="")


class Location(SourceRecord):
    """A store / outlet / restaurant of a POS account. Only `active` ones invoice."""

    name = models.CharField(max_length=300, blank=True)
    address = models.JSONField(default=dict, blank=True)
    timezone = models.CharField(max_length=64, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "external_id"], name="uniq_location_conn_external")
        ]

    def __str__(self):
        return self.name or self.external_id


class Transaction(SourceRecord):
    """One POS sale (or refund). Completed sales become invoices, refunds credit notes.

    High volume: partition by month on `occurred_at` (docs/architecture.md)."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        COMPLETED = "completed", "Completed"
        REFUNDED = "refunded", "Refunded"
        PARTLY_REFUNDED = "partly_refunded", "Partly refunded"
        CANCELED = "canceled", "Canceled"

    # A sale's row is written twice; no index of its own on an FK another index
    # leads with (tests/taxpoynt/test_db.py): uniq_transaction_conn_external,
    # txn_org_occurred, txn_location_occurred.
    organization = models.ForeignKey("tenancy.Organization", on_delete=models.CASCADE, related_name="+",
                                     db_index=False)
    connection = models.ForeignKey("connections.Connection", on_delete=models.CASCADE, related_name="+",
                                   db_index=False)
    location = models.ForeignKey(Location, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="transactions", db_index=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    occurred_at = models.DateTimeField(help_text="When the sale closed (vendor time).")
    total_amount = models.DecimalField(**MONEY, default=0)
    tax_amount = models.DecimalField(**MONEY, default=0)
    tip_amount = models.DecimalField(**MONEY, default=0)
    # Why the sale was not invoiced (its order could not be mapped …), for the
    # dashboard, the API and admin; cleared when it is invoiced.
    invoice_error = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "external_id"], name="uniq_transaction_conn_external")
        ]
        indexes = [
            models.Index(fields=["organization", "-occurred_at"], name="txn_org_occurred"),
            models.Index(fields=["organization", "status", "-occurred_at"], name="txn_org_status_occ"),
            models.Index(fields=["location", "-occurred_at"], name="txn_location_occurred"),
            # The sales not invoiced, with their reason ("Needs attention"): few rows.
            models.Index(fields=["organization", "-occurred_at"], name="txn_org_not_invoiced",
                         condition=NOT_INVOICED),
        ]

    def __str__(self):
        return self.external_id
