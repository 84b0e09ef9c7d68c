"""POS API: connect (per vendor), locations and their selection, the
webhook configuration, transactions (list, detail, batch re-processing) and
analytics. Thin: parse input, call a selector/service, serialize. Vendor
behaviour comes from the provider registry, never a vendor name."""
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
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

from . import selectors
from .models import Transaction


class PosFilterSerializer(serializers.Serializer):
    organization = serializers.UUIDField(required=False)
    connection = serializers.UUIDField(required=False)
    location = serializers.UUIDField(required=False)
    vendor = serializers.CharField(required=False, max_length=40)
    occurred_from = serializers.DateTimeField(required=False)
    occurred_to = serializers.DateTimeField(required=False)

    def validate(self, attrs):
        if attrs.get("occurred_from") and attrs.get("occurred_to") and attrs["occurred_from"] >= attrs["occurred_to"]:
            raise serializers.ValidationError({"occurred_to": "must be after occurred_from"})
        return attrs


class TransactionFilterSerializer(PosFilterSerializer):
    status = serializers.ChoiceField(choices=Transaction.Status.choices, required=False)
    amount_min = serializers.DecimalField(max_digits=18, decimal_places=2, required=False)
    amount_max = serializers.DecimalField(max_digits=18, decimal_places=2, required=False)
    invoiced = serializers.BooleanField(required=False, allow_null=True, default=None)


class LocationFilterSerializer(serializers.Serializer):
    organization = serializers.UUIDField(required=False)
    connection = serializers.UUIDField(required=False)
    active = serializers.BooleanField(required=False, allow_null=True, default=None)


class LocationOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    organization_id = serializers.UUIDField()
    connection_id = serializers.UUIDField()
    vendor = serializers.CharField(source="connection.vendor")
    external_id = serializers.CharField()
    name = serializers.CharField()
    timezone = serializers.CharField()
    currency = serializers.CharField()
    active = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class TransactionOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    organization_id = serializers.UUIDField()
    connection_id = serializers.UUIDField()
    location_id = serializers.UUIDField(allow_null=True)
    external_id = serializers.CharField()
    status = serializers.CharField()
    occurred_at = serializers.DateTimeField()
    currency = serializers.CharField()
    total_amount = serializers.DecimalField(max_digits=18, decimal_places=2)
    tax_amount = serializers.DecimalField(max_digits=18, decimal_places=2)
    tip_amount = serializers.DecimalField(max_digits=18, decimal_places=2)
    invoice_id = serializers.UUIDField(allow_null=True)
    created_at = serializers.DateTimeField()


class VolumeQuerySerializer(PosFilterSerializer):
    bucket = serializers.ChoiceField(choices=["day", "hour"], default="day")


class VolumeRowSerializer(serializers.Serializer):
    bucket = serializers.DateTimeField()
    currency = serializers.CharField()
    count = serializers.IntegerField()
    total = serializers.DecimalField(max_digits=18, decimal_places=2)


class PeakHoursSerializer(serializers.Serializer):
    weekdays = serializers.ListField(child=serializers.CharField())
    matrix = serializers.ListField(child=serializers.ListField(child=serializers.IntegerField()))
    busiest = serializers.DictField(child=serializers.IntegerField())


class TopItemsQuerySerializer(PosFilterSerializer):
    limit = serializers.IntegerField(min_value=1, max_value=100, default=10)


class TopItemSerializer(serializers.Serializer):
    item = serializers.CharField()
    currency = serializers.CharField()
    quantity = serializers.DecimalField(max_digits=18, decimal_places=4)
    net_amount = serializers.DecimalField(max_digits=18, decimal_places=2)
    invoices = serializers.IntegerField()


def _filters(serializer_class, request):
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class LocationListApi(APIView):
    @extend_schema(parameters=[LocationFilterSerializer], responses=LocationOutputSerializer(many=True))
    def get(self, request):
        paginator = CursorPagination()
        qs = selectors.location_list(user=request.user, filters=_filters(LocationFilterSerializer, request))
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(LocationOutputSerializer(page, many=True).data)


class TransactionListApi(APIView):
    @extend_schema(parameters=[TransactionFilterSerializer], responses=TransactionOutputSerializer(many=True))
    def get(self, request):
        paginator = CursorPagination()
        paginator.ordering = "-occurred_at"
        qs = selectors.transaction_list(user=request.user, filters=_filters(TransactionFilterSerializer, request))
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(TransactionOutputSerializer(page, many=True).data)


class TransactionDetailApi(APIView):
    @extend_schema(responses=TransactionOutputSerializer)
    def get(self, request, transaction_id):
        txn = selectors.transaction_list(user=request.user).filter(pk=transaction_id).first()
        if txn is None:
            raise Http404
        return Response(TransactionOutputSerializer(txn).data)


class TransactionVolumeApi(APIView):
    @extend_schema(parameters=[VolumeQuerySerializer], responses=VolumeRowSerializer(many=True))
    def get(self, request):
        filters = _filters(VolumeQuerySerializer, request)
        bucket = filters.pop("bucket")
        rows = selectors.transaction_volume(user=request.user, filters=filters, bucket=bucket)
        return Response({"results": VolumeRowSerializer(rows, many=True).data})


class PeakHoursApi(APIView):
    @extend_schema(parameters=[PosFilterSerializer], responses=PeakHoursSerializer)
    def get(self, request):
        return Response(PeakHoursSerializer(
            selectors.peak_hours(user=request.user, filters=_filters(PosFilterSerializer, request))).data)


class TopItemsApi(APIView):
    @extend_schema(parameters=[TopItemsQuerySerializer], responses=TopItemSerializer(many=True))
    def get(self, request):
        filters = _filters(TopItemsQuerySerializer, request)
        limit = filters.pop("limit")
        rows = selectors.top_items(user=request.user, filters=filters, limit=limit)
        return Response({"results": TopItemSerializer(rows, many=True).data})


# --- connect ------------------------------------------------------------------------------
def _pos_provider(vendor):
    try:
        provider = get_provider(vendor)
    except ApplicationError:
        raise Http404 from None
    if provider.kind != "pos":
        raise Http404
    return provider


class ConnectInputSerializer(serializers.Serializer):
    organization = serializers.UUIDField(required=False)
    next = serializers.CharField(required=False, allow_blank=True)


class ConnectOutputSerializer(serializers.Serializer):
    authorize_url = serializers.URLField()
    vendor = serializers.CharField()
    organization = serializers.UUIDField()


class PosConnectApi(APIView):
    """POST /api/v1/pos/<vendor>/connect: the vendor's authorize URL (state and
    the PKCE verifier are stashed in this session; follow it in the same browser)."""

    @extend_schema(operation_id="pos_connect", request=ConnectInputSerializer, responses=ConnectOutputSerializer)
    def post(self, request, vendor):
        provider = _pos_provider(vendor)
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


def pos_oauth_callback(request, vendor):
    """GET /api/v1/pos/<vendor>/callback: the OAuth redirect_uri."""
    return oauth_callback(request, _pos_provider(vendor).key)


# --- webhook configuration and location selection --------------------------------------------
class WebhookConfigInputSerializer(serializers.Serializer):
    connection = serializers.UUIDField()
    realtime = serializers.BooleanField(required=False, help_text="Invoice sales from webhooks as they happen.")
    active_location_ids = serializers.ListField(
        child=serializers.UUIDField(), required=False,
        help_text="The locations that invoice (ids from GET /api/v1/pos/locations); the others are ignored.")


class WebhookConfigOutputSerializer(serializers.Serializer):
    connection = serializers.UUIDField()
    vendor = serializers.CharField()
    realtime = serializers.BooleanField()
    notification_url = serializers.CharField()
    event_types = serializers.ListField(child=serializers.CharField())
    active_location_ids = serializers.ListField(child=serializers.UUIDField())


class WebhookConfigApi(APIView):
    """PUT /api/v1/pos/webhook-config: turn real-time invoicing on/off and
    choose the invoicing locations of a POS connection. Answers the
    notification URL to register with the vendor."""

    @extend_schema(operation_id="pos_webhook_config", request=WebhookConfigInputSerializer,
                   responses=WebhookConfigOutputSerializer)
    def put(self, request):
        from .services import pos_webhook_config_update

        data = WebhookConfigInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        connection = selectors.pos_connection_get(user=request.user, connection_id=data.validated_data["connection"])
        if connection is None:
            raise Http404
        if not user_can_manage(user=request.user, organization_id=connection.organization_id):
            raise PermissionDenied("Only an owner or accountant of the organization may change this.")
        config = pos_webhook_config_update(connection=connection, actor=request.user,
                                           realtime=data.validated_data.get("realtime"),
                                           active_location_ids=data.validated_data.get("active_location_ids"))
        return Response(WebhookConfigOutputSerializer(config).data)


# --- batch re-processing ------------------------------------------------------------------------
class BatchProcessInputSerializer(serializers.Serializer):
    transaction_ids = serializers.ListField(child=serializers.UUIDField(), min_length=1, max_length=500)


class BatchProcessApi(APIView):
    """POST /api/v1/pos/transactions/batch-process: invoice completed sales
    that have none yet (e.g. after fixing a tax mapping). Idempotent."""

    @extend_schema(operation_id="pos_transactions_batch_process", request=BatchProcessInputSerializer)
    def post(self, request):
        from .services import pos_transactions_batch_process

        data = BatchProcessInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ids = data.validated_data["transaction_ids"]
        txns = list(selectors.transaction_list(user=request.user).filter(pk__in=ids))
        if len(txns) != len(set(ids)):
            raise Http404  # an id that is not yours reads as not found
        for org_id in {t.organization_id for t in txns}:
            if not user_can_manage(user=request.user, organization_id=org_id):
                raise PermissionDenied("Only an owner or accountant of the organization may do this.")
        return Response(pos_transactions_batch_process(transactions=txns))
