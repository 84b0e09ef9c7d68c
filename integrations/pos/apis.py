"""POS API: locations, transactions and analytics. Thin: parse filters, call a
selector, serialize."""
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from taxpoynt.api.pagination import CursorPagination

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
