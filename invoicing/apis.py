"""Invoice API: list/detail, downloads (XML, JSON, PDF, QR), the submission
history, and the two actions (retry, credit note). Every route loads the
invoice through the user-scoped selector first: another tenant's invoice is a
404, whatever the method."""
import uuid

from django.http import Http404, HttpResponse
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from taxpoynt.api.pagination import CursorPagination
from taxpoynt.audit.models import AuditLog
from taxpoynt.errors import ApplicationError
from taxpoynt.tenancy.models import Membership

from . import renditions, services
from .canonical import SourceRef
from .models import Invoice, Submission
from .selectors import firs_submission, invoice_get, invoice_list, invoice_submissions


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


class InvoiceListApi(APIView):
    @extend_schema(operation_id="invoices_list", parameters=[InvoiceFilterSerializer],
                   responses=InvoiceOutputSerializer(many=True))
    def get(self, request):
        filters = InvoiceFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = CursorPagination()
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
        role = Membership.objects.filter(user=request.user, organization_id=self.invoice.organization_id) \
            .values_list("role", flat=True).first()
        if role not in (Membership.Role.OWNER, Membership.Role.ACCOUNTANT):
            raise PermissionDenied("Only an owner or accountant of the organization may do this.")


class InvoiceDetailApi(InvoiceScopedApi):
    @extend_schema(operation_id="invoices_detail", responses=InvoiceDetailOutputSerializer)
    def get(self, request, invoice_id):
        return Response(InvoiceDetailOutputSerializer(self.invoice).data)


class _DownloadApi(InvoiceScopedApi):
    """Serves one rendition as a file; any Accept header is fine."""

    build = None

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
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


class InvoiceXmlApi(_DownloadApi):
    build = staticmethod(renditions.invoice_xml)


class InvoiceJsonApi(_DownloadApi):
    build = staticmethod(renditions.invoice_json)


class InvoicePdfApi(_DownloadApi):
    build = staticmethod(renditions.invoice_pdf)


class InvoiceQrApi(_DownloadApi):
    build = staticmethod(renditions.invoice_qr_png)


class InvoiceSubmissionsApi(InvoiceScopedApi):
    @extend_schema(responses=SubmissionOutputSerializer(many=True))
    def get(self, request, invoice_id):
        rows = invoice_submissions(invoice=self.invoice)
        return Response({"results": SubmissionOutputSerializer(rows, many=True).data})


class InvoiceRetryApi(InvoiceScopedApi):
    @extend_schema(request=None, responses=InvoiceDetailOutputSerializer)
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
    @extend_schema(request=CreditNoteInputSerializer, responses=InvoiceDetailOutputSerializer)
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
