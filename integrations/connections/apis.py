"""/api/v1/connections…: list, detail, disconnect (DELETE), sync now."""
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import get_object_or_404
from rest_framework.views import APIView
from rest_framework.response import Response

from taxpoynt.api.pagination import CursorPagination

from taxpoynt.audit.models import AuditLog

from .selectors import connection_list, user_can_manage
from .services import connection_disconnect, connection_request_sync


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
    token_expires_at = serializers.DateTimeField(allow_null=True)
    import_started_at = serializers.DateTimeField(allow_null=True)
    import_finished_at = serializers.DateTimeField(allow_null=True)
    trigger_rule = serializers.JSONField()
    field_map = serializers.JSONField()
    created_at = serializers.DateTimeField()


class ConnectionFilterSerializer(serializers.Serializer):
    vendor = serializers.CharField(required=False)
    kind = serializers.ChoiceField(choices=["crm", "pos", "erp"], required=False)
    status = serializers.CharField(required=False)
    organization = serializers.UUIDField(required=False)


class ConnectionListApi(APIView):
    pagination_class = CursorPagination

    @extend_schema(operation_id="connections_list", parameters=[ConnectionFilterSerializer],
                   responses=ConnectionOutputSerializer(many=True))
    def get(self, request):
        filters = ConnectionFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = CursorPagination()
        page = paginator.paginate_queryset(connection_list(user=request.user, filters=filters.validated_data),
                                           request, view=self)
        return paginator.get_paginated_response(ConnectionOutputSerializer(page, many=True).data)


def _managed(request, connection_id):
    conn = get_object_or_404(connection_list(user=request.user), pk=connection_id)
    if not user_can_manage(user=request.user, organization_id=conn.organization_id):
        raise PermissionDenied("Only an owner or accountant of the organization may change connections.")
    return conn


class ConnectionDetailApi(APIView):
    @extend_schema(operation_id="connections_detail", responses=ConnectionOutputSerializer)
    def get(self, request, connection_id):
        conn = get_object_or_404(connection_list(user=request.user), pk=connection_id)
        return Response(ConnectionOutputSerializer(conn).data)

    @extend_schema(operation_id="connections_disconnect", responses={204: None})
    def delete(self, request, connection_id):
        """Disconnect: revoke upstream, wipe the secrets, stop syncing."""
        conn = _managed(request, connection_id)
        connection_disconnect(connection=conn, actor=request.user, source=AuditLog.Source.API)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SyncInputSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=["delta", "historical"], default="delta")


class ConnectionSyncApi(APIView):
    def initial(self, request, *args, **kwargs):
        # Scope first: another tenant's connection is a 404 whatever the method.
        super().initial(request, *args, **kwargs)
        get_object_or_404(connection_list(user=request.user), pk=kwargs["connection_id"])

    @extend_schema(operation_id="connections_sync", request=SyncInputSerializer,
                   responses={202: ConnectionOutputSerializer})
    def post(self, request, connection_id):
        conn = _managed(request, connection_id)
        data = SyncInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        conn = connection_request_sync(connection=conn, mode=data.validated_data["mode"], actor=request.user,
                                       source=AuditLog.Source.API)
        return Response(ConnectionOutputSerializer(conn).data, status=status.HTTP_202_ACCEPTED)
