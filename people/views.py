"""The teams API (everyone reads their own teams, staff read and write all of them) and
/api/me/ (your own profile)."""

from typing import cast

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, permissions, viewsets
from rest_framework.request import Request
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from people import services
from people.models import EscalationPolicy, Profile, Team
from people.serializers import EscalationPolicySerializer, MeSerializer, TeamSerializer
from watchdog.authentication import request_user
from watchdog.pagination.numbered import StrictPageNumberPagination


class TeamPagination(StrictPageNumberPagination):
    page_size = 100
    max_page_size = 1000


class ReadOrStaff(permissions.BasePermission):
    """Any signed-in user reads (their own teams); only staff write."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        return request.method in permissions.SAFE_METHODS or bool(request.user.is_staff)


_COMMON = {401: OpenApiResponse(description="Missing or invalid credentials.")}
_WRITE = {**_COMMON, 403: OpenApiResponse(description="Not a staff user.")}
_ONE = {404: OpenApiResponse(description="No such team among yours (staff: at all).")}


@extend_schema_view(
    list=extend_schema(
        responses={
            200: TeamSerializer(many=True),
            400: OpenApiResponse(description="A `page_size` that is not a number."),
            404: OpenApiResponse(description="Invalid page."),
            **_COMMON,
        }
    ),
    retrieve=extend_schema(responses={200: TeamSerializer, **_COMMON, **_ONE}),
    create=extend_schema(responses={201: TeamSerializer, 400: OpenApiResponse(), **_WRITE}),
    update=extend_schema(responses={200: TeamSerializer, 400: OpenApiResponse(), **_WRITE, **_ONE}),
    partial_update=extend_schema(
        responses={200: TeamSerializer, 400: OpenApiResponse(), **_WRITE, **_ONE}
    ),
    destroy=extend_schema(responses={204: None, **_WRITE, **_ONE}),
)
class TeamViewSet(viewsets.ModelViewSet[Team]):
    serializer_class = TeamSerializer
    permission_classes = [ReadOrStaff]
    pagination_class = TeamPagination
    filter_backends = []
    lookup_value_regex = r"[0-9]{1,18}"

    def get_queryset(self) -> QuerySet[Team]:
        teams = Team.objects.prefetch_related("members").order_by("name", "id")
        user = request_user(self.request)
        return teams if user.is_staff else teams.of(user.pk)

    def perform_create(self, serializer: BaseSerializer[Team]) -> None:
        serializer.instance = services.create_team(**serializer.validated_data)

    def perform_update(self, serializer: BaseSerializer[Team]) -> None:
        serializer.instance = services.update_team(
            team=cast(Team, serializer.instance), **serializer.validated_data
        )

    def perform_destroy(self, instance: Team) -> None:
        # Its tickets stay, in no team (SET_NULL): their owners and assignees still see them.
        instance.delete()


@extend_schema_view(
    get=extend_schema(responses={200: MeSerializer, **_COMMON}),
    patch=extend_schema(
        responses={
            200: MeSerializer,
            400: OpenApiResponse(description="A value not understood, naming its field."),
            **_COMMON,
        }
    ),
)
class MeView(generics.RetrieveUpdateAPIView[Profile]):
    """Your username, email and teams, and your profile: time zone, quiet hours, channels."""

    serializer_class = MeSerializer
    permission_classes = [permissions.IsAuthenticated]
    http_method_names = ["get", "patch", "head", "options"]

    def get_object(self) -> Profile:
        return services.profile_of(request_user(self.request))

    def perform_update(self, serializer: BaseSerializer[Profile]) -> None:
        serializer.instance = services.update_profile(
            user=request_user(self.request), **serializer.validated_data
        )


@extend_schema_view(
    list=extend_schema(
        responses={
            200: EscalationPolicySerializer(many=True),
            400: OpenApiResponse(description="A `page_size` that is not a number."),
            404: OpenApiResponse(description="Invalid page."),
            **_WRITE,
        }
    ),
    retrieve=extend_schema(
        responses={
            200: EscalationPolicySerializer,
            404: OpenApiResponse(description="No such escalation policy."),
            **_WRITE,
        }
    ),
)
class EscalationPolicyViewSet(viewsets.ReadOnlyModelViewSet[EscalationPolicy]):
    """Escalation policies with their levels, for staff (as the SLA policies' API is):
    read here to pick an SLA policy's `escalation_policy`; edited in the admin."""

    serializer_class = EscalationPolicySerializer
    permission_classes = [permissions.IsAdminUser]
    pagination_class = TeamPagination
    filter_backends = []
    lookup_value_regex = r"[0-9]{1,18}"

    def get_queryset(self) -> QuerySet[EscalationPolicy]:
        return EscalationPolicy.objects.prefetch_related("levels").order_by("name", "id")
