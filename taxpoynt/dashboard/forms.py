"""Filter forms for the dashboard lists (validation errors are shown in the page)."""
from django import forms

from integrations.pos.models import Transaction
from invoicing.models import Invoice, Submission


class DateRangeForm(forms.Form):
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", "The end date must not be before the start date.")
        return data


class LocationRangeForm(DateRangeForm):
    location = forms.ChoiceField(required=False, choices=[("", "All locations")])

    def __init__(self, *args, locations=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["location"].choices = [("", "All locations")] + [(str(loc.pk), loc.name) for loc in locations]


class TransactionFilterForm(LocationRangeForm):
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *Transaction.Status.choices])
    not_invoiced = forms.BooleanField(required=False, label="Not invoiced (with the reason) only")

    field_order = ["date_from", "date_to", "status", "location", "not_invoiced"]


class AnalyticsFilterForm(LocationRangeForm):
    """The POS charts' period and store."""


class InvoiceFilterForm(DateRangeForm):
    firs_status = forms.ChoiceField(required=False, label="FIRS status",
                                    choices=[("", "Any FIRS status"), *Submission.State.choices])
    kind = forms.ChoiceField(required=False, choices=[("", "Invoices and credit notes"), *Invoice.Kind.choices])
    q = forms.CharField(required=False, label="Number, IRN or customer", max_length=100)
    tax_mismatch = forms.BooleanField(required=False, label="Tax mismatches only")


class CreditNoteForm(forms.Form):
    reason = forms.CharField(max_length=300, label="Reason for the credit note",
                             widget=forms.TextInput(attrs={"placeholder": "e.g. goods returned"}))
    request_key = forms.RegexField(regex=r"^[0-9a-f]{32}$", widget=forms.HiddenInput)
