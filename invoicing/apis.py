from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView
from django.http import Http404

from taxpoynt.api.pagination import CursorPagination

from .models import Invoice, Submission
from .selectors import invoice_get, invoice_list


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
    firs_status = serializers.SerializerMethodField()

    def get_firs_status(self, invoice) -> str | None:
        submission = next((s for s in invoice.submissions.all() if s.format == "firs"), None)
        return submission.state if submission else None


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
    def get(self, request):
        filters = InvoiceFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = CursorPagination()
        page = paginator.paginate_queryset(invoice_list(user=request.user, filters=filters.validated_data),
                                           request, view=self)
        return paginator.get_paginated_response(InvoiceOutputSerializer(page, many=True).data)


class InvoiceDetailApi(APIView):
    def get(self, request, invoice_id):
        try:
            invoice = invoice_get(user=request.user, invoice_id=invoice_id)
        except Invoice.DoesNotExist:
            raise Http404
        return Response(InvoiceDetailOutputSerializer(invoice).data)
