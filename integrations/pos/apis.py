"""POS API: connect (per vendor), locations and their selection, the
webhook configuration, transactions (list, detail, batch re-processing) and
analytics. Thin: parse input, call a selector/service, serialize. Vendor
behaviour comes from the provider registry, never a vendor name."""
from django.http import Http404
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations.connections.oauth import oauth_callback
from integrations.connections.apis import (CONNECT_DESCRIPTION, CONNECT_ERROR_EXAMPLES, ConnectInputSerializer,
                                          ConnectOutputSerializer, VendorConnectApi, provider_of_kind)
from integrations.connections.selectors import user_can_manage
from taxpoynt.api.pagination import CursorPagination
from taxpoynt.api.schema import ErrorSerializer

from . import selectors
from .models import Transaction


class PosFilterSerializer(serializers.Serializer):
    organization = serializers.UUIDField(required=False)
    connection = serializers.UUIDField(required=False)
    location = serializers.UUIDField(required=False)
    vendor = serializers.CharField(required=False, max_length=40)
    occurred_from = serializers.DateTimeField(required=False, help_text="Sales closed at or after this time.")
    occurred_to = serializers.DateTimeField(required=False, help_text="Sales closed before this time (exclusive).")

    def validate(self, attrs):
        if attrs.get("occurred_from") and attrs.get("occurred_to") and attrs["occurred_from"] >= attrs["occurred_to"]:
            raise serializers.ValidationError({"occurred_to": "must be after occurred_from"})
        return attrs


class TransactionFilterSerializer(PosFilterSerializer):
    status = serializers.ChoiceField(choices=Transaction.Status.choices, required=False)
    amount_min = serializers.DecimalField(max_digits=18, decimal_places=2, required=False)
    amount_max = serializers.DecimalField(max_digits=18, decimal_places=2, required=False)
    invoiced = serializers.BooleanField(required=False, allow_null=True, default=None)
    not_invoiced = serializers.BooleanField(
        required=False, default=False,
        help_text="Only the sales that could not be invoiced, each with its reason (invoice_error).")


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
    invoice_irn = serializers.CharField(source="invoice.irn", allow_null=True,
                                        help_text="The invoice's IRN (empty until it is numbered; null: no invoice).")
    invoice_firs_status = serializers.CharField(source="invoice.firs_state", allow_null=True,
                                                help_text="Where the invoice's FIRS submission stands (draft … "
                                                          "confirmed, rejected); null: no invoice.")
    invoice_error = serializers.CharField(help_text="Why the sale was not invoiced (empty when it was, or is not due).")
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


# --- OpenAPI examples (docs/api.md): a Lagos supermarket selling through Square -------------------
_ORG = "8d0f4c5a-2b7e-4f1a-9c3d-6e5b4a3f2d10"
_CONN = "41b7e0c9-3a2d-4f6e-8b15-c9d2a7e4f083"
_LOC = "a3c5e7f9-1b2d-4c6e-8a0b-2d4f6a8c0e13"
_TXN = "6e2b9d41-7c3a-4f58-9e0d-1a5b3c7f9d26"
LOCATION_EXAMPLE = {"id": _LOC, "organization_id": _ORG, "connection_id": _CONN, "vendor": "square",
                    "external_id": "L8XK3Q2V9TZ4M", "name": "Lekki Phase 1 store", "timezone": "Africa/Lagos",
                    "currency": "NGN", "active": True, "created_at": "2026-10-14T08:02:51.420317+01:00"}
TRANSACTION_EXAMPLE = {"id": _TXN, "organization_id": _ORG, "connection_id": _CONN, "location_id": _LOC,
                       "external_id": "pGf4xE7Rk2QwZ9bN1sT6vY3mL8aJ", "status": "completed",
                       "occurred_at": "2026-11-02T13:47:05+01:00", "currency": "NGN", "total_amount": "21500.00",
                       "tax_amount": "1500.00", "tip_amount": "0.00",
                       "invoice_id": "3f6c1d2e-8a4b-4c1e-9d7a-5b2e0f1a9c33", "invoice_error": "",
                       "created_at": "2026-11-02T13:47:09.118204+01:00"}


def _filters(serializer_class, request):
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class LocationListApi(APIView):
    pagination_class = CursorPagination

    @extend_schema(parameters=[LocationFilterSerializer], responses=LocationOutputSerializer(many=True),
                   examples=[OpenApiExample("A Square location", value=LOCATION_EXAMPLE, response_only=True)])
    def get(self, request):
        paginator = CursorPagination()
        qs = selectors.location_list(user=request.user, filters=_filters(LocationFilterSerializer, request))
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(LocationOutputSerializer(page, many=True).data)


class TransactionListApi(APIView):
    pagination_class = CursorPagination  # ordered by -occurred_at (set per request below)

    @extend_schema(parameters=[TransactionFilterSerializer], responses=TransactionOutputSerializer(many=True),
                   examples=[OpenApiExample("An invoiced sale", value=TRANSACTION_EXAMPLE, response_only=True)])
    def get(self, request):
        paginator = CursorPagination()
        paginator.ordering = "-occurred_at"
        qs = selectors.transaction_list(user=request.user, filters=_filters(TransactionFilterSerializer, request))
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(TransactionOutputSerializer(page, many=True).data)


class TransactionDetailApi(APIView):
    @extend_schema(responses=TransactionOutputSerializer,
                   examples=[OpenApiExample("An invoiced sale", value=TRANSACTION_EXAMPLE, response_only=True)])
    def get(self, request, transaction_id):
        txn = selectors.transaction_list(user=request.user).filter(pk=transaction_id).first()
        if txn is None:
            raise Http404
        return Response(TransactionOutputSerializer(txn).data)


class TransactionVolumeApi(APIView):
    @extend_schema(
        parameters=[VolumeQuerySerializer],
        responses=inline_serializer("TransactionVolume", fields={"results": VolumeRowSerializer(many=True)}),
        examples=[OpenApiExample("Three days", response_only=True, value={"results": [
            {"bucket": "2026-11-01T00:00:00+01:00", "currency": "NGN", "count": 184, "total": "2946300.00"},
            {"bucket": "2026-11-02T00:00:00+01:00", "currency": "NGN", "count": 211, "total": "3387150.00"},
            {"bucket": "2026-11-03T00:00:00+01:00", "currency": "NGN", "count": 97, "total": "1502775.00"},
        ]})])
    def get(self, request):
        filters = _filters(VolumeQuerySerializer, request)
        bucket = filters.pop("bucket")
        rows = selectors.transaction_volume(user=request.user, filters=filters, bucket=bucket)
        return Response({"results": VolumeRowSerializer(rows, many=True).data})


class PeakHoursApi(APIView):
    @extend_schema(parameters=[PosFilterSerializer], responses=PeakHoursSerializer,
                   examples=[OpenApiExample("Busiest on Saturday at 17:00", response_only=True, value={
                       "weekdays": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
                       # 7 rows (Mon..Sun) × 24 hours of sale counts; abridged to closed nights and shop hours
                       "matrix": [[0] * 8 + [12, 19, 23, 25, 31, 28, 22, 24, 30, 35, 27, 14, 6, 0, 0, 0]] * 5
                                 + [[0] * 8 + [15, 24, 33, 38, 41, 39, 36, 40, 47, 52, 38, 21, 9, 0, 0, 0]]
                                 + [[0] * 10 + [11, 17, 22, 26, 24, 21, 18, 12, 5, 0, 0, 0, 0, 0]],
                       "busiest": {"weekday": 6, "hour": 17, "count": 52}})])
    def get(self, request):
        return Response(PeakHoursSerializer(
            selectors.peak_hours(user=request.user, filters=_filters(PosFilterSerializer, request))).data)


class TopItemsApi(APIView):
    @extend_schema(
        parameters=[TopItemsQuerySerializer],
        responses=inline_serializer("TopItems", fields={"results": TopItemSerializer(many=True)}),
        examples=[OpenApiExample("Best sellers", response_only=True, value={"results": [
            {"item": "Golden Penny Semovita 1kg", "currency": "NGN", "quantity": "412.0000", "net_amount": "988800.00",
             "invoices": 296},
            {"item": "Peak Milk Powder 400g", "currency": "NGN", "quantity": "305.0000", "net_amount": "1067500.00",
             "invoices": 241},
        ]})])
    def get(self, request):
        filters = _filters(TopItemsQuerySerializer, request)
        limit = filters.pop("limit")
        rows = selectors.top_items(user=request.user, filters=filters, limit=limit)
        return Response({"results": TopItemSerializer(rows, many=True).data})


# --- connect ------------------------------------------------------------------------------
def _pos_provider(vendor):
    return provider_of_kind(vendor, "pos")


class PosConnectApi(VendorConnectApi):
    """POST /api/v1/pos/<vendor>/connect: the vendor's authorize URL (state and
    the PKCE verifier are stashed in this session; follow it in the same browser)."""
    kind = "pos"

    @extend_schema(
        operation_id="pos_connect", description=CONNECT_DESCRIPTION, request=ConnectInputSerializer,
        responses={200: ConnectOutputSerializer, 400: ErrorSerializer},
        examples=[*CONNECT_ERROR_EXAMPLES,
            OpenApiExample("Connect Square for one organization", request_only=True,
                           value={"organization": _ORG, "next": "/dashboard/connections/"}),
            OpenApiExample("Square authorize URL", response_only=True, value={
                "authorize_url": "https://connect.squareup.com/oauth2/authorize?client_id=sq0idp-4rNw8Xl2Qe9PbW1tZ7cVgA"
                                 "&scope=MERCHANT_PROFILE_READ+ORDERS_READ+PAYMENTS_READ&session=false"
                                 "&state=Yw3kP9sQ2mVt8LxB&code_challenge=h7Jk2Qw9PzXc4Vn1Bm6Lr8Ts0Ya3Ue5Io7Gd2Hf4Sk"
                                 "&code_challenge_method=S256",
                "vendor": "square", "organization": _ORG}),
        ])
    def post(self, request, vendor):
        return super().post(request, vendor)


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

    @extend_schema(
        operation_id="pos_webhook_config", request=WebhookConfigInputSerializer,
        responses=WebhookConfigOutputSerializer,
        examples=[
            OpenApiExample("Real time, one store", request_only=True,
                           value={"connection": _CONN, "realtime": True, "active_location_ids": [_LOC]}),
            OpenApiExample("Configuration", response_only=True, value={
                "connection": _CONN, "vendor": "square", "realtime": True,
                "notification_url": "https://app.taxpoynt.com/webhooks/pos/square",
                "event_types": ["order.updated", "payment.updated", "refund.updated"],
                "active_location_ids": [_LOC]}),
        ])
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

    @extend_schema(
        operation_id="pos_transactions_batch_process", request=BatchProcessInputSerializer,
        responses=inline_serializer("BatchProcessResult", fields={
            "invoiced": serializers.IntegerField(), "already_invoiced": serializers.IntegerField(),
            "not_invoiceable": serializers.IntegerField(), "failed": serializers.IntegerField(),
            "errors": serializers.ListField(child=serializers.DictField(child=serializers.CharField()))}),
        examples=[
            OpenApiExample("Three sales", request_only=True, value={"transaction_ids": [
                _TXN, "b8d1f3a5-c7e9-4b0d-a2f4-6c8e0a2b4d71", "0c2e4a6b-8d0f-4e1a-b3c5-7e9f1b3d5a82"]}),
            OpenApiExample("One invoiced, one already invoiced, one open", response_only=True, value={
                "invoiced": 1, "already_invoiced": 1, "not_invoiceable": 1, "failed": 0, "errors": []}),
        ])
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
