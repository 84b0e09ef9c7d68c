"""/api/v1/crm/…: connect + callback per vendor, deals, customers, manual invoice."""
from django.http import Http404
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations.connections.oauth import oauth_callback
from integrations.connections.apis import (CONNECT_DESCRIPTION, CONNECT_ERROR_EXAMPLES, ConnectInputSerializer,
                                          ConnectOutputSerializer, VendorConnectApi, provider_of_kind)
from integrations.connections.selectors import user_can_manage
from taxpoynt.api.pagination import CursorPagination
from taxpoynt.api.schema import ErrorSerializer

from .models import Deal
from .selectors import customer_list, deal_get, deal_list
from .services import deal_generate_invoice


_ORG = "8f14e45f-ceea-467f-a8dc-2c1e8f3a9b10"
_CONN = "3c59dc04-8b4e-4f1a-9c2a-1f0e5d6b7a88"
_DEAL = "c4ca4238-a0b9-4382-8dcc-509a6f75849b"
_INV = "a87ff679-a2f3-471d-8181-a67b7542122c"
DEAL_EXAMPLE = {
    "id": _DEAL, "organization_id": _ORG, "connection_id": _CONN, "vendor": "hubspot",
    "external_id": "11000000001", "name": "Cold room install", "pipeline": "default", "stage": "closedwon",
    "status": "won", "amount": "250000.00", "currency": "NGN", "close_date": "2026-11-20",
    "customer": {"id": "e4da3b7f-bbce-4345-b777-2d2b4d1f0c11", "name": "Zenith Foods Ltd", "tin": "87654321-0001"},
    "invoice": {"id": _INV, "number": "INV-000042", "irn": "INV000042-59854B81-20261120"},
    "credit_note_id": None, "invoice_error": "", "source_updated_at": "2026-11-20T09:14:03.120000Z",
    "created_at": "2026-11-20T09:14:05.002000Z",
}
CUSTOMER_EXAMPLE = {
    "id": "e4da3b7f-bbce-4345-b777-2d2b4d1f0c11", "organization_id": _ORG, "connection_id": _CONN,
    "external_id": "company:21000000001", "name": "Zenith Foods Ltd", "tin": "87654321-0001",
    "email": "ngozi@zenith.example.ng", "telephone": "+2348098765432",
    "address": {"street_name": "5 Marina", "city_name": "Lagos", "postal_zone": "", "country": "NG"},
    "source_updated_at": "2026-11-20T09:10:00Z", "created_at": "2026-11-20T09:14:05Z",
}
GENERATED_EXAMPLE = {"deal_id": _DEAL, "invoice": {"id": _INV, "number": "", "irn": "", "kind": "invoice"}}


def _crm_provider(vendor):
    return provider_of_kind(vendor, "crm")


class CrmConnectApi(VendorConnectApi):
    """Start the OAuth flow: returns the vendor's authorize URL (state is
    stashed in this session; follow the URL in the same browser)."""
    kind = "crm"

    @extend_schema(operation_id="crm_connect", description=CONNECT_DESCRIPTION, request=ConnectInputSerializer,
                   responses={200: ConnectOutputSerializer, 400: ErrorSerializer},
                   examples=[*CONNECT_ERROR_EXAMPLES,
                       OpenApiExample("Connect an organization", request_only=True,
                                      value={"organization": _ORG, "next": ""}),
                       OpenApiExample("Authorize URL", response_only=True, value={
                           "authorize_url": "https://app.hubspot.com/oauth/authorize?client_id=…&redirect_uri="
                                            "https%3A%2F%2Ftaxpoynt.example%2Fapi%2Fv1%2Fcrm%2Fhubspot%2Fcallback"
                                            "&scope=oauth+crm.objects.deals.read&response_type=code&state=…",
                           "vendor": "hubspot", "organization": _ORG}),
                   ])
    def post(self, request, vendor):
        return super().post(request, vendor)


def crm_oauth_callback(request, vendor):
    """GET /api/v1/crm/<vendor>/callback: the OAuth redirect_uri (a plain
    Django view: allauth checks state, exchanges the code, we store the tokens)."""
    provider = _crm_provider(vendor)
    return oauth_callback(request, provider.key)


class CustomerOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    organization_id = serializers.UUIDField()
    connection_id = serializers.UUIDField()
    external_id = serializers.CharField()
    name = serializers.CharField()
    tin = serializers.CharField()
    email = serializers.CharField()
    telephone = serializers.CharField()
    address = serializers.JSONField()
    source_updated_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class DealCustomerSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    tin = serializers.CharField()


class DealInvoiceSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    number = serializers.CharField()
    irn = serializers.CharField()


class DealOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    organization_id = serializers.UUIDField()
    connection_id = serializers.UUIDField()
    vendor = serializers.CharField(source="connection.vendor")
    external_id = serializers.CharField()
    name = serializers.CharField()
    pipeline = serializers.CharField()
    stage = serializers.CharField()
    status = serializers.CharField()
    amount = serializers.DecimalField(max_digits=18, decimal_places=2, allow_null=True)
    currency = serializers.CharField()
    close_date = serializers.DateField(allow_null=True)
    customer = DealCustomerSerializer(allow_null=True)
    invoice = DealInvoiceSerializer(allow_null=True)
    credit_note_id = serializers.UUIDField(allow_null=True)
    invoice_error = serializers.CharField()
    source_updated_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class DealFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Deal.Status.choices, required=False)
    stage = serializers.CharField(required=False)
    pipeline = serializers.CharField(required=False)
    currency = serializers.CharField(required=False)
    organization = serializers.UUIDField(required=False)
    connection = serializers.UUIDField(required=False)
    vendor = serializers.CharField(required=False)
    invoiced = serializers.BooleanField(required=False, allow_null=True, default=None)
    q = serializers.CharField(required=False)
    close_date_from = serializers.DateField(required=False)
    close_date_to = serializers.DateField(required=False)


class CustomerFilterSerializer(serializers.Serializer):
    organization = serializers.UUIDField(required=False)
    connection = serializers.UUIDField(required=False)
    has_tin = serializers.BooleanField(required=False, allow_null=True, default=None)
    q = serializers.CharField(required=False)


class DealListApi(APIView):
    pagination_class = CursorPagination

    @extend_schema(operation_id="crm_deals_list", parameters=[DealFilterSerializer],
                   responses=DealOutputSerializer(many=True),
                   examples=[OpenApiExample("A won, invoiced deal", value=DEAL_EXAMPLE, response_only=True)])
    def get(self, request):
        filters = DealFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = CursorPagination()
        page = paginator.paginate_queryset(deal_list(user=request.user, filters=filters.validated_data),
                                           request, view=self)
        return paginator.get_paginated_response(DealOutputSerializer(page, many=True).data)


class CustomerListApi(APIView):
    pagination_class = CursorPagination

    @extend_schema(operation_id="crm_customers_list", parameters=[CustomerFilterSerializer],
                   responses=CustomerOutputSerializer(many=True),
                   examples=[OpenApiExample("A B2B customer", value=CUSTOMER_EXAMPLE, response_only=True)])
    def get(self, request):
        filters = CustomerFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = CursorPagination()
        page = paginator.paginate_queryset(customer_list(user=request.user, filters=filters.validated_data),
                                           request, view=self)
        return paginator.get_paginated_response(CustomerOutputSerializer(page, many=True).data)


class GeneratedInvoiceSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    number = serializers.CharField()
    irn = serializers.CharField()
    kind = serializers.CharField()


class GenerateInvoiceOutputSerializer(serializers.Serializer):
    deal_id = serializers.UUIDField()
    invoice = GeneratedInvoiceSerializer()


class DealGenerateInvoiceApi(APIView):
    """Invoice a deal now. Idempotent: 201 when created, 200 with the existing one."""

    def initial(self, request, *args, **kwargs):
        # Scope first: another tenant's deal is a 404 whatever the method.
        super().initial(request, *args, **kwargs)
        try:
            self.deal = deal_get(user=request.user, deal_id=kwargs["deal_id"])
        except Deal.DoesNotExist:
            raise Http404 from None

    @extend_schema(operation_id="crm_deal_generate_invoice", request=None,
                   responses={200: GenerateInvoiceOutputSerializer, 201: GenerateInvoiceOutputSerializer},
                   examples=[
                       OpenApiExample("Created (numbered once FIRS signs it)", value=GENERATED_EXAMPLE,
                                      response_only=True, status_codes=["201"]),
                       OpenApiExample("Already invoiced", response_only=True, status_codes=["200"], value={
                           "deal_id": _DEAL, "invoice": {"id": _INV, "number": "INV-000042",
                                                         "irn": "INV000042-59854B81-20261120", "kind": "invoice"}}),
                   ])
    def post(self, request, deal_id):
        deal = self.deal
        if not user_can_manage(user=request.user, organization_id=deal.organization_id):
            raise PermissionDenied("Only an owner or accountant of the organization may issue invoices.")
        invoice, created = deal_generate_invoice(deal=deal, actor=request.user)
        return Response({"deal_id": str(deal.pk), "invoice": {"id": str(invoice.pk), "number": invoice.number,
                                                               "irn": invoice.irn, "kind": invoice.kind}},
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


