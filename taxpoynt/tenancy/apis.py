from rest_framework import serializers
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response
from rest_framework.views import APIView

from .selectors import organization_list


class OrganizationOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    slug = serializers.CharField()
    tin = serializers.CharField()
    firs_business_id = serializers.UUIDField(allow_null=True)
    firs_service_id = serializers.CharField()
    default_currency = serializers.CharField()


class OrganizationListApi(APIView):
    def get(self, request):
        orgs = organization_list(user=request.user)
        return Response({"results": OrganizationOutputSerializer(orgs, many=True).data})


class OrganizationDetailApi(APIView):
    def get(self, request, organization_id):
        org = get_object_or_404(organization_list(user=request.user), pk=organization_id)
        return Response(OrganizationOutputSerializer(org).data)
