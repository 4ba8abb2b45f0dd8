"""Staff-only API for webhook and Slack endpoints (/api/endpoints/)."""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import permissions, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from notifications.models import Endpoint
from notifications.serializers import EndpointCreatedSerializer, EndpointSerializer
from watchdog.pagination.numbered import StrictPageNumberPagination


class EndpointPagination(StrictPageNumberPagination):
    page_size = 100
    max_page_size = 1000


_DENIED = {
    401: OpenApiResponse(description="Missing or invalid credentials."),
    403: OpenApiResponse(description="Not a staff user."),
}
_BAD = {400: OpenApiResponse(description="A refused URL or bad value, naming its field.")}
_ONE = {404: OpenApiResponse(description="No such endpoint.")}


@extend_schema_view(
    list=extend_schema(
        responses={
            200: EndpointSerializer(many=True),
            400: OpenApiResponse(description="A `page_size` that is not a number."),
            404: OpenApiResponse(description="Invalid page."),
            **_DENIED,
        }
    ),
    retrieve=extend_schema(responses={200: EndpointSerializer, **_DENIED, **_ONE}),
    create=extend_schema(responses={201: EndpointCreatedSerializer, **_BAD, **_DENIED}),
    update=extend_schema(responses={200: EndpointSerializer, **_BAD, **_DENIED, **_ONE}),
    partial_update=extend_schema(responses={200: EndpointSerializer, **_BAD, **_DENIED, **_ONE}),
    destroy=extend_schema(responses={204: None, **_DENIED, **_ONE}),
)
class EndpointViewSet(viewsets.ModelViewSet[Endpoint]):
    """Endpoints hold secrets and reach out of the network: staff only, reading too."""

    serializer_class = EndpointSerializer
    permission_classes = [permissions.IsAdminUser]
    pagination_class = EndpointPagination
    filter_backends = []
    lookup_value_regex = r"[0-9]{1,18}"

    def get_queryset(self) -> QuerySet[Endpoint]:
        return Endpoint.objects.order_by("id")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = EndpointSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = serializer.save()
        # The one answer carrying the secret: it is never readable afterwards.
        return Response(EndpointCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED)
