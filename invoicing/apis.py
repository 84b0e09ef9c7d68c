"""Invoice API: list/detail, downloads (XML, JSON, PDF, QR), the submission
history, and the two actions (retry, credit note). Every route loads the
invoice through the user-scoped selector first: another tenant's invoice is a
404, whatever the method."""
import uuid

from django.http import Http404, HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from taxpoynt.api.pagination import CursorPagination
from taxpoynt.api.schema import ErrorSerializer, error_example
from taxpoynt.audit.models import AuditLog
from taxpoynt.errors import ApplicationError
from taxpoynt.tenancy.selectors import user_can_manage

from . import renditions, services
from .canonical import SourceRef
from .models import Invoice, Submission
from .selectors import firs_submission, invoice_get, invoice_list, invoice_list_ordering, invoice_submissions


class InvoiceLineOutputSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    description = serializers.CharField()
    item_code = serializers.CharField()
    classification_code = serializers.CharField()
    quantity = serializers.DecimalField(max_digits=18, decimal_places=4)
    unit_price = serializers.DecimalField(max_digits=20, decimal_places=6)
    line_extension_amount = serializers.DecimalField(max_digits=18, decimal_places=2)
    tax_category = serializers.CharField()
    tax_rate = serializers.DecimalField(max_digits=6, decimal_places=3)


class InvoiceOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    organization_id = serializers.UUIDField()
    kind = serializers.CharField()
    number = serializers.CharField()
    irn = serializers.CharField()
    issue_date = serializers.DateField()
    currency = serializers.CharField()
    customer_name = serializers.CharField()
    customer_tin = serializers.CharField()
    tax_exclusive_amount = serializers.DecimalField(max_digits=18, decimal_places=2)
    tax_amount = serializers.DecimalField(max_digits=18, decimal_places=2)
    payable_amount = serializers.DecimalField(max_digits=18, decimal_places=2)
    tax_mismatch = serializers.BooleanField()
    source_system = serializers.CharField()
    source_type = serializers.CharField()
    source_id = serializers.CharField()
    firs_status = serializers.CharField(source="firs_state", allow_blank=True,
                                        help_text="State of the FIRS submission; empty when there is none.")
    created_at = serializers.DateTimeField()


class InvoiceDetailOutputSerializer(InvoiceOutputSerializer):
    lines = InvoiceLineOutputSerializer(many=True)
    line_extension_amount = serializers.DecimalField(max_digits=18, decimal_places=2)
    allowance_total_amount = serializers.DecimalField(max_digits=18, decimal_places=2)
    charge_total_amount = serializers.DecimalField(max_digits=18, decimal_places=2)
    tax_inclusive_amount = serializers.DecimalField(max_digits=18, decimal_places=2)
    source_figures = serializers.JSONField()
    original_invoice_id = serializers.UUIDField(allow_null=True)
    credit_reason = serializers.CharField()
    frozen_at = serializers.DateTimeField(allow_null=True)
    signed_at = serializers.DateTimeField(allow_null=True)
    firs_status = serializers.SerializerMethodField()
    firs_error = serializers.SerializerMethodField()
    errors = serializers.SerializerMethodField()
    can_retry = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()

    def _submission(self, invoice) -> Submission | None:
        return firs_submission(invoice=invoice)

    def get_firs_status(self, invoice) -> str | None:
        submission = self._submission(invoice)
        return submission.state if submission else None

    def get_firs_error(self, invoice) -> str:
        submission = self._submission(invoice)
        return submission.error if submission else ""

    def get_errors(self, invoice) -> list[dict]:
        submission = self._submission(invoice)
        return submission.errors if submission else []

    def get_can_retry(self, invoice) -> bool:
        submission = self._submission(invoice)
        return bool(submission and services.submission_can_retry(submission))

    def get_links(self, invoice) -> dict:
        kw = {"invoice_id": invoice.pk}
        links = {"submissions": reverse("api-invoice-submissions", kwargs=kw)}
        if invoice.is_frozen:
            links.update({
                "qr": reverse("api-invoice-qr", kwargs=kw),
                "xml": reverse("api-invoice-xml", kwargs=kw),
                "json": reverse("api-invoice-json", kwargs=kw),
                "pdf": reverse("api-invoice-pdf", kwargs=kw),
            })
        return links


class SubmissionAttemptOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    created_at = serializers.DateTimeField()
    step = serializers.CharField()
    from_state = serializers.CharField()
    to_state = serializers.CharField()
    request_method = serializers.CharField()
    request_url = serializers.CharField()
    response_status = serializers.IntegerField(allow_null=True)
    response_body = serializers.CharField()
    latency_ms = serializers.IntegerField(allow_null=True)
    outcome = serializers.CharField()
    error = serializers.CharField()


class SubmissionOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    format = serializers.CharField()
    state = serializers.CharField()
    blocking_level = serializers.CharField()
    error = serializers.CharField()
    errors = serializers.JSONField()
    error_source = serializers.CharField()
    irn = serializers.CharField()
    payload_sha256 = serializers.CharField()
    attempt_count = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    last_exchange_at = serializers.DateTimeField(allow_null=True)
    queue = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    attempts = SubmissionAttemptOutputSerializer(many=True)


class InvoiceSubmissionsOutputSerializer(serializers.Serializer):
    """GET invoices/{id}/submissions: every submission of the invoice, oldest first (not paginated)."""

    results = SubmissionOutputSerializer(many=True)


class InvoiceFilterSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Invoice.Kind.choices, required=False)
    organization = serializers.UUIDField(required=False)
    connection = serializers.UUIDField(required=False)
    source_system = serializers.CharField(required=False)
    irn = serializers.CharField(required=False)
    tax_mismatch = serializers.BooleanField(required=False, allow_null=True, default=None)
    firs_status = serializers.ChoiceField(choices=Submission.State.choices, required=False)
    issue_date_from = serializers.DateField(required=False)
    issue_date_to = serializers.DateField(required=False)
    amount_min = serializers.DecimalField(max_digits=18, decimal_places=2, required=False)
    amount_max = serializers.DecimalField(max_digits=18, decimal_places=2, required=False)


# --- OpenAPI examples (docs/api.md): one Lagos seller, one Abuja buyer -------------------------
_INVOICE_ID = "3f6c1d2e-8a4b-4c1e-9d7a-5b2e0f1a9c33"
_ORG_ID = "8d0f4c5a-2b7e-4f1a-9c3d-6e5b4a3f2d10"
INVOICE_EXAMPLE = {
    "id": _INVOICE_ID,
    "organization_id": _ORG_ID,
    "kind": "invoice",
    "number": "INV000123",
    "irn": "INV000123-F3A3A0CF-20261102",
    "issue_date": "2026-11-02",
    "currency": "NGN",
    "customer_name": "Zuma Rock Logistics Ltd",
    "customer_tin": "23456789-0001",
    "tax_exclusive_amount": "250000.00",
    "tax_amount": "18750.00",
    "payable_amount": "268750.00",
    "tax_mismatch": False,
    "source_system": "hubspot",
    "source_type": "deal",
    "source_id": "18273645509",
    "firs_status": "confirmed",
    "created_at": "2026-11-02T09:14:27.512034+01:00",
}
_LINKS = {
    "submissions": f"/api/v1/invoices/{_INVOICE_ID}/submissions",
    "qr": f"/api/v1/invoices/{_INVOICE_ID}/qr.png",
    "xml": f"/api/v1/invoices/{_INVOICE_ID}.xml",
    "json": f"/api/v1/invoices/{_INVOICE_ID}.json",
    "pdf": f"/api/v1/invoices/{_INVOICE_ID}.pdf",
}
INVOICE_DETAIL_EXAMPLE = {
    **INVOICE_EXAMPLE,
    "lines": [
        {"position": 1, "description": "Haulage Lagos to Abuja, 20 ft container", "item_code": "HAUL-20FT",
         "classification_code": "4923", "quantity": "2.0000", "unit_price": "100000.000000",
         "line_extension_amount": "200000.00", "tax_category": "STANDARD_VAT", "tax_rate": "7.500"},
        {"position": 2, "description": "Loading and offloading", "item_code": "LOAD-01",
         "classification_code": "5224", "quantity": "1.0000", "unit_price": "50000.000000",
         "line_extension_amount": "50000.00", "tax_category": "STANDARD_VAT", "tax_rate": "7.500"},
    ],
    "line_extension_amount": "250000.00",
    "allowance_total_amount": "0.00",
    "charge_total_amount": "0.00",
    "tax_inclusive_amount": "268750.00",
    "source_figures": {"amount": "268750.00", "tax_amount": "18750.00"},
    "original_invoice_id": None,
    "credit_reason": "",
    "frozen_at": "2026-11-02T09:14:29.101200+01:00",
    "signed_at": "2026-11-02T09:14:31.884100+01:00",
    "firs_status": "confirmed",
    "firs_error": "",
    "errors": [],
    "can_retry": False,
    "links": _LINKS,
}
REJECTED_DETAIL_EXAMPLE = {
    **INVOICE_DETAIL_EXAMPLE,
    "number": "", "irn": "", "customer_tin": "", "frozen_at": None, "signed_at": None,
    "firs_status": "rejected",
    "firs_error": "Rejected locally: 1 invoice rule(s) failed; nothing was sent to FIRS.",
    "errors": [{"rule": "BR-NG-TIN", "message": "The buyer TIN is required for a business-to-business invoice.",
                "path": "customer.tin"}],
    "can_retry": True,
    "links": {"submissions": _LINKS["submissions"]},
}
_CREDIT_NOTE_ID = "c27a9e14-5d3b-4f08-a6c2-91e8b7d4f350"
CREDIT_NOTE_EXAMPLE = {
    **INVOICE_DETAIL_EXAMPLE,
    "id": _CREDIT_NOTE_ID, "kind": "credit_note", "number": "", "irn": "",
    "tax_exclusive_amount": "50000.00", "tax_amount": "3750.00", "payable_amount": "53750.00",
    "line_extension_amount": "50000.00", "tax_inclusive_amount": "53750.00",
    "lines": [INVOICE_DETAIL_EXAMPLE["lines"][1] | {"position": 1}],
    "source_system": "taxpoynt", "source_type": "credit_note", "source_id": f"{_INVOICE_ID}:7d1f0c2a",
    "source_figures": {}, "original_invoice_id": _INVOICE_ID, "credit_reason": "Offloading was not done",
    "frozen_at": None, "signed_at": None, "firs_status": "draft", "can_retry": False,
    "created_at": "2026-11-05T14:02:11.230551+01:00",
    "links": {"submissions": f"/api/v1/invoices/{_CREDIT_NOTE_ID}/submissions"},
}
SUBMISSION_EXAMPLE = {
    "id": "5a8e2f71-0c4d-4b39-8e16-d2a7f9c3b084",
    "format": "firs",
    "state": "confirmed",
    "blocking_level": "",
    "error": "",
    "errors": [],
    "error_source": "",
    "irn": "INV000123-F3A3A0CF-20261102",
    "payload_sha256": "9b2f4c61d8e0a7f35c1b6e9d2a48f07c3e5d1a9b6f2c8e04d7a3b5c9e1f60d28",
    "attempt_count": 0,
    "next_attempt_at": None,
    "last_exchange_at": "2026-11-02T09:14:33.420900+01:00",
    "queue": "crm",
    "created_at": "2026-11-02T09:14:27.530118+01:00",
    "updated_at": "2026-11-02T09:14:33.421377+01:00",
    "attempts": [
        {"id": "e1d0b3a7-6f2c-4e85-b9a1-3c7d5f0e2b46", "created_at": "2026-11-02T09:14:29.102734+01:00",
         "step": "sign", "from_state": "validated", "to_state": "signed", "request_method": "POST",
         "request_url": "https://eivc-k6z6d.ondigitalocean.app/api/v1/invoice/sign", "response_status": 201,
         "response_body": '{"code": 201, "data": {"ok": true}}', "latency_ms": 412, "outcome": "ok", "error": ""},
        {"id": "0f4a6c2e-9b1d-4d73-a8e5-7c3b2f1e6d98", "created_at": "2026-11-02T09:14:33.418062+01:00",
         "step": "confirm", "from_state": "transmitted", "to_state": "confirmed", "request_method": "GET",
         "request_url": "https://eivc-k6z6d.ondigitalocean.app/api/v1/invoice/confirm/INV000123-F3A3A0CF-20261102",
         "response_status": 200, "response_body": '{"code": 200, "data": {"ok": true}}', "latency_ms": 188,
         "outcome": "ok", "error": ""},
    ],
}
FIRS_JSON_EXAMPLE = {
    "business_id": "bb99420d-d6bb-422c-b371-b9f6d6009aae",
    "irn": "INV000123-F3A3A0CF-20261102",
    "issue_date": "2026-11-02",
    "invoice_type_code": "396",
    "document_currency_code": "NGN",
    "tax_currency_code": "NGN",
    "accounting_supplier_party": {"party_name": "Eko Freight Services Ltd", "tin": "12345678-0001",
                                  "email": "accounts@ekofreight.ng"},
    "accounting_customer_party": {"party_name": "Zuma Rock Logistics Ltd", "tin": "23456789-0001",
                                  "email": "payables@zumarock.ng"},
    "tax_total": [{"tax_amount": 18750.00, "tax_subtotal": [
        {"taxable_amount": 250000.00, "tax_amount": 18750.00, "tax_category": {"id": "STANDARD_VAT", "percent": 7.5}}]}],
    "legal_monetary_total": {"line_extension_amount": 250000.00, "tax_exclusive_amount": 250000.00,
                             "tax_inclusive_amount": 268750.00, "payable_amount": 268750.00},
}
_NOT_READY = error_example("not_ready", "The invoice is not signed yet: no documents to download.",
                           status=409, name="Not signed yet")


class InvoiceCursorPagination(CursorPagination):
    """The invoice list's cursor: ordering per request (`invoice_list_ordering`).
    Ordered by issue date, invoices of one day share the cursor position and
    are told apart by the offset, so the offset cap is one busy day's volume."""

    offset_cutoff = 20000


class InvoiceListApi(APIView):
    pagination_class = InvoiceCursorPagination

    @extend_schema(
        operation_id="invoices_list", tags=["invoices"], summary="List invoices",
        description="Newest first (by `created_at`); with `issue_date_from`/`issue_date_to` the list is "
                    "ordered by issue date, newest first. Cursor-paginated: follow `next`.",
        parameters=[InvoiceFilterSerializer],
        responses={200: InvoiceOutputSerializer(many=True), 400: ErrorSerializer},
        examples=[
            OpenApiExample("A confirmed invoice", value=INVOICE_EXAMPLE, response_only=True),
            error_example("invalid", "Invalid input.", errors={"firs_status": ['"lost" is not a valid choice.']},
                          name="Unknown FIRS status"),
        ],
    )
    def get(self, request):
        filters = InvoiceFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = self.pagination_class()
        paginator.ordering = invoice_list_ordering(filters=filters.validated_data)
        page = paginator.paginate_queryset(invoice_list(user=request.user, filters=filters.validated_data),
                                           request, view=self)
        return paginator.get_paginated_response(InvoiceOutputSerializer(page, many=True).data)


class InvoiceScopedApi(APIView):
    """Loads `self.invoice` (scoped to the user) before any method runs, so
    another tenant's invoice is a 404 even for a method the route lacks."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        try:
            self.invoice = invoice_get(user=request.user, invoice_id=kwargs["invoice_id"])
        except Invoice.DoesNotExist:
            raise Http404

    def require_write_role(self, request):
        if not user_can_manage(user=request.user, organization_id=self.invoice.organization_id):
            raise PermissionDenied("Only an owner or accountant of the organization may do this.")


class InvoiceDetailApi(InvoiceScopedApi):
    @extend_schema(
        operation_id="invoices_detail", tags=["invoices"], summary="Get one invoice",
        responses=InvoiceDetailOutputSerializer,
        examples=[
            OpenApiExample("Confirmed by FIRS", value=INVOICE_DETAIL_EXAMPLE, response_only=True),
            OpenApiExample("Rejected locally", value=REJECTED_DETAIL_EXAMPLE, response_only=True),
        ],
    )
    def get(self, request, invoice_id):
        return Response(InvoiceDetailOutputSerializer(self.invoice).data)


class _DownloadApi(InvoiceScopedApi):
    """Serves one rendition as a file; any Accept header is fine."""

    build = None

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)

    def get(self, request, invoice_id):
        try:
            rendition = type(self).build(self.invoice)
        except ApplicationError as exc:
            if exc.code == "not_ready":
                return Response({"code": "not_ready", "message": exc.message, "errors": {}},
                                status=status.HTTP_409_CONFLICT)
            raise
        response = HttpResponse(rendition.content, content_type=rendition.content_type)
        disposition = "inline" if rendition.content_type in ("image/png", "application/pdf") else "attachment"
        response["Content-Disposition"] = f'{disposition}; filename="{rendition.filename}"'
        return response


def _download_schema(summary, media_type, schema=OpenApiTypes.BINARY, examples=()):
    return extend_schema(tags=["invoices"], summary=summary, responses={(200, media_type): schema, 409: ErrorSerializer},
                         examples=[*examples, _NOT_READY])


class InvoiceXmlApi(_DownloadApi):
    build = staticmethod(renditions.invoice_xml)

    @_download_schema("Download the UBL 2.1 XML (signed invoices)", "application/xml")
    def get(self, request, invoice_id):
        return super().get(request, invoice_id)


class InvoiceJsonApi(_DownloadApi):
    build = staticmethod(renditions.invoice_json)

    @_download_schema("Download the FIRS JSON as sent (signed invoices)", "application/json", OpenApiTypes.OBJECT,
                      [OpenApiExample("FIRS payload (abridged)", value=FIRS_JSON_EXAMPLE, response_only=True,
                                      status_codes=["200"])])
    def get(self, request, invoice_id):
        return super().get(request, invoice_id)


class InvoicePdfApi(_DownloadApi):
    build = staticmethod(renditions.invoice_pdf)

    @_download_schema("Download the printable PDF with the FIRS QR code (signed invoices)", "application/pdf")
    def get(self, request, invoice_id):
        return super().get(request, invoice_id)


class InvoiceQrApi(_DownloadApi):
    build = staticmethod(renditions.invoice_qr_png)

    @_download_schema("Download the FIRS QR code as PNG (signed invoices)", "image/png")
    def get(self, request, invoice_id):
        return super().get(request, invoice_id)


class InvoiceSubmissionsApi(InvoiceScopedApi):
    @extend_schema(
        tags=["invoices"], summary="FIRS submission history",
        description="Every submission of the invoice with every exchange with FIRS (secrets masked), oldest first.",
        responses=InvoiceSubmissionsOutputSerializer,
        examples=[OpenApiExample("Signed, transmitted and confirmed", value={"results": [SUBMISSION_EXAMPLE]},
                                 response_only=True)],
    )
    def get(self, request, invoice_id):
        rows = invoice_submissions(invoice=self.invoice)
        return Response(InvoiceSubmissionsOutputSerializer({"results": rows}).data)


class InvoiceRetryApi(InvoiceScopedApi):
    @extend_schema(
        tags=["invoices"], summary="Retry the FIRS submission",
        description="For a rejected, dead-lettered or outcome-unknown submission; owner or accountant only. "
                    "Queues the submission again and answers the invoice.",
        request=None, responses={202: InvoiceDetailOutputSerializer, 409: ErrorSerializer},
        examples=[
            OpenApiExample("Queued again", status_codes=["202"], response_only=True,
                           value=REJECTED_DETAIL_EXAMPLE | {"firs_status": "draft", "firs_error": "", "errors": [],
                                                            "can_retry": False}),
            error_example("not_retryable", "This invoice is confirmed; there is nothing to retry.", status=409,
                          name="Nothing to retry"),
        ],
    )
    def post(self, request, invoice_id):
        self.require_write_role(request)
        submission = firs_submission(invoice=self.invoice)
        if submission is None:
            raise ApplicationError("this invoice has no FIRS submission", code="not_retryable")
        services.submission_retry(submission=submission, actor=request.user, audit_source=AuditLog.Source.API)
        invoice = invoice_get(user=request.user, invoice_id=invoice_id)
        return Response(InvoiceDetailOutputSerializer(invoice).data, status=status.HTTP_202_ACCEPTED)


class CreditNoteLineInputSerializer(serializers.Serializer):
    position = serializers.IntegerField(min_value=1)
    quantity = serializers.DecimalField(max_digits=18, decimal_places=4, required=False)


class CreditNoteInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)
    lines = CreditNoteLineInputSerializer(many=True, required=False)


class InvoiceCreditNoteApi(InvoiceScopedApi):
    @extend_schema(
        tags=["invoices"], summary="Issue a credit note",
        description="Credits the whole invoice, or the listed lines (optionally part of a line's quantity). "
                    "Send an `Idempotency-Key` header: a repeated POST with the same key answers the same "
                    "credit note. Owner or accountant only.",
        request=CreditNoteInputSerializer, responses={201: InvoiceDetailOutputSerializer, 400: ErrorSerializer},
        examples=[
            OpenApiExample("Credit one line", request_only=True,
                           value={"reason": "Offloading was not done", "lines": [{"position": 2, "quantity": "1"}]}),
            OpenApiExample("Credit the whole invoice", request_only=True,
                           value={"reason": "Consignment cancelled by the buyer"}),
            OpenApiExample("Credit note created", value=CREDIT_NOTE_EXAMPLE, response_only=True,
                           status_codes=["201"]),
            error_example("invalid", "Invalid input.", errors={"reason": ["This field is required."]},
                          name="No reason"),
        ],
    )
    def post(self, request, invoice_id):
        self.require_write_role(request)
        data = CreditNoteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # The Idempotency-Key header makes a repeated POST return the same credit note.
        key = (request.headers.get("Idempotency-Key") or "").strip()[:120] or uuid.uuid4().hex
        credit = services.credit_note_create(
            invoice=self.invoice, source=SourceRef(system="taxpoynt", type="credit_note", id=f"{invoice_id}:{key}"),
            reason=data.validated_data["reason"], lines=data.validated_data.get("lines") or None)
        credit = invoice_get(user=request.user, invoice_id=credit.pk)
        return Response(InvoiceDetailOutputSerializer(credit).data, status=status.HTTP_201_CREATED)
