from rest_framework import serializers
from rest_framework.generics import get_object_or_404
from rest_framework.views import APIView
from rest_framework.response import Response

from taxpoynt.api.pagination import CursorPagination

from .selectors import connection_list


class ConnectionOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    organization_id = serializers.UUIDField()
    vendor = serializers.CharField()
    kind = serializers.CharField()
    status = serializers.CharField()
    display_name = serializers.CharField()
    external_account_id = serializers.CharField()
    sync_progress_done = serializers.IntegerField()
    sync_progress_total = serializers.IntegerField(allow_null=True)
    last_synced_at = serializers.DateTimeField(allow_null=True)
    last_error = serializers.CharField()
    created_at = serializers.DateTimeField()


class ConnectionFilterSerializer(serializers.Serializer):
    vendor = serializers.CharField(required=False)
    kind = serializers.ChoiceField(choices=["crm", "pos", "erp"], required=False)
    status = serializers.CharField(required=False)
    organization = serializers.UUIDField(required=False)


class ConnectionListApi(APIView):
    def get(self, request):
        filters = ConnectionFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = CursorPagination()
        page = paginator.paginate_queryset(connection_list(user=request.user, filters=filters.validated_data),
                                           request, view=self)
        return paginator.get_paginated_response(ConnectionOutputSerializer(page, many=True).data)


class ConnectionDetailApi(APIView):
    def get(self, request, connection_id):
        conn = get_object_or_404(connection_list(user=request.user), pk=connection_id)
        return Response(ConnectionOutputSerializer(conn).data)
