"""/api/v1/crm/…: connect + callback per vendor, deals, customers, manual invoice."""
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations.connections.oauth import connection_start_authorization, oauth_callback
from integrations.connections.registry import get_provider
from integrations.connections.selectors import user_can_manage
from taxpoynt.api.pagination import CursorPagination
from taxpoynt.errors import ApplicationError
from taxpoynt.tenancy.models import Organization
from taxpoynt.tenancy.selectors import current_organization, organization_get

from .models import Deal
from .selectors import customer_list, deal_get, deal_list
from .services import deal_generate_invoice


def _crm_provider(vendor):
    try:
        provider = get_provider(vendor)
    except ApplicationError:
        raise Http404 from None
    if provider.kind != "crm":
        raise Http404
    return provider


class ConnectInputSerializer(serializers.Serializer):
    organization = serializers.UUIDField(required=False)
    next = serializers.CharField(required=False, allow_blank=True)


class ConnectOutputSerializer(serializers.Serializer):
    authorize_url = serializers.URLField()
    vendor = serializers.CharField()
    organization = serializers.UUIDField()


class CrmConnectApi(APIView):
    """Start the OAuth flow: returns the vendor's authorize URL (state is
    stashed in this session; follow the URL in the same browser)."""

    @extend_schema(operation_id="crm_connect", request=ConnectInputSerializer, responses=ConnectOutputSerializer)
    def post(self, request, vendor):
        provider = _crm_provider(vendor)
        data = ConnectInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        org_id = data.validated_data.get("organization")
        try:
            org = organization_get(user=request.user, organization_id=org_id) if org_id \
                else current_organization(request=request)
        except Organization.DoesNotExist:
            org = None
        if org is None:
            raise Http404
        if not user_can_manage(user=request.user, organization_id=org.pk):
            raise PermissionDenied("Only an owner or accountant of the organization may connect systems.")
        url = connection_start_authorization(request=request, provider_key=provider.key, organization=org,
                                             next_url=data.validated_data.get("next", ""))
        return Response({"authorize_url": url, "vendor": provider.key, "organization": str(org.pk)})


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
                   responses=DealOutputSerializer(many=True))
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
                   responses=CustomerOutputSerializer(many=True))
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
                   responses={200: GenerateInvoiceOutputSerializer, 201: GenerateInvoiceOutputSerializer})
    def post(self, request, deal_id):
        deal = self.deal
        if not user_can_manage(user=request.user, organization_id=deal.organization_id):
            raise PermissionDenied("Only an owner or accountant of the organization may issue invoices.")
        invoice, created = deal_generate_invoice(deal=deal, actor=request.user)
        return Response({"deal_id": str(deal.pk), "invoice": {"id": str(invoice.pk), "number": invoice.number,
                                                               "irn": invoice.irn, "kind": invoice.kind}},
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


