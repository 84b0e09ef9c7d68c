"""/api/v1/organizations: the organizations the caller is a member of."""
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response
from rest_framework.views import APIView

from taxpoynt.api.pagination import CursorPagination
from taxpoynt.api.schema import ErrorSerializer, error_example

from .selectors import organization_list

ORGANIZATION_EXAMPLE = {
    "id": "4f0c2a8e-5b7d-4a51-9a38-2f6c1d0e9b21",
    "name": "Adebayo Foods Ltd",
    "slug": "adebayo-foods-ltd",
    "tin": "12345678-0001",
    "firs_business_id": "9e6f3c1a-2b4d-4e8f-a1c3-5d7e9f0a2b4c",
    "firs_service_id": "94ND90NR",
    "default_currency": "NGN",
}


class OrganizationOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    slug = serializers.CharField()
    tin = serializers.CharField()
    firs_business_id = serializers.UUIDField(allow_null=True)
    firs_service_id = serializers.CharField()
    default_currency = serializers.CharField()


class OrganizationListApi(APIView):
    pagination_class = CursorPagination

    @extend_schema(
        tags=["organizations"],
        operation_id="organizations_list",
        summary="List your organizations",
        description="The organizations the caller is a member of (only the token's organization for an "
                    "organization-limited token).",
        responses=OrganizationOutputSerializer(many=True),
        examples=[OpenApiExample("One organization", value=ORGANIZATION_EXAMPLE, response_only=True)],
    )
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(organization_list(user=request.user), request, view=self)
        return paginator.get_paginated_response(OrganizationOutputSerializer(page, many=True).data)


class OrganizationDetailApi(APIView):
    @extend_schema(
        tags=["organizations"],
        operation_id="organizations_retrieve",
        summary="Get one organization",
        responses={200: OrganizationOutputSerializer, 404: ErrorSerializer},
        examples=[
            OpenApiExample("An organization", value=ORGANIZATION_EXAMPLE, response_only=True),
            error_example("not_found", "Not found.", status=404, name="Not one of yours"),
        ],
    )
    def get(self, request, organization_id):
        org = get_object_or_404(organization_list(user=request.user), pk=organization_id)
        return Response(OrganizationOutputSerializer(org).data)
