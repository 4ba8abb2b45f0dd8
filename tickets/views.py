"""The ticket API: thin shells around tickets.services, scoped to what the caller may see."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from notifications.models import Notification
from notifications.serializers import NotificationSerializer
from tickets import assignment, reports, services
from tickets.explain import explain_ticket
from tickets.filters import TicketFilter
from tickets.models import Ticket, visibility_branches
from tickets.serializers import (
    ComplianceReportSerializer,
    SlaExplanationSerializer,
    TicketSerializer,
)
from watchdog.authentication import request_user
from watchdog.ratelimits import enforce, user_key
from watchdog.zones import known_zones

_COMMON = {
    401: OpenApiResponse(description="Missing or invalid credentials."),
    404: OpenApiResponse(description="No such ticket among those you may see."),
}
_FORBIDDEN = {
    403: OpenApiResponse(
        description="You see the ticket but may not make this change (docs/api.md: "
        "assignees and teams; only its owner and staff delete it)."
    )
}
_LIMITED = {429: OpenApiResponse(description="Rate limit reached; see Retry-After.")}


class NothingToAcknowledgeConflict(APIException):
    """The API's 409 for services.NothingToAcknowledge."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "Neither of the ticket's deadlines is breached."
    default_code = "nothing_to_acknowledge"


class AlreadyRespondedConflict(APIException):
    """The API's 409 for services.AlreadyResponded (the domain's refusal)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The first response was already recorded."
    default_code = "already_responded"


@contextmanager
def _assignment_refusals() -> Iterator[None]:
    """tickets.assignment's refusals as the API's 403 and 400 (on the field concerned)."""
    try:
        yield
    except assignment.AssignmentForbidden as exc:
        raise PermissionDenied(str(exc)) from exc
    except assignment.AssignmentInvalid as exc:
        raise ValidationError({exc.field: [str(exc)]}) from exc


@extend_schema_view(
    list=extend_schema(
        responses={
            200: TicketSerializer(many=True),
            400: OpenApiResponse(description="A filter, `cursor` or `page_size` not understood."),
            **_COMMON,
            **_LIMITED,
        }
    ),
    create=extend_schema(
        responses={201: TicketSerializer, 400: OpenApiResponse(), **_COMMON, **_LIMITED}
    ),
    retrieve=extend_schema(responses={200: TicketSerializer, **_COMMON}),
    update=extend_schema(
        responses={200: TicketSerializer, 400: OpenApiResponse(), **_COMMON, **_FORBIDDEN}
    ),
    partial_update=extend_schema(
        responses={200: TicketSerializer, 400: OpenApiResponse(), **_COMMON, **_FORBIDDEN}
    ),
    destroy=extend_schema(responses={204: None, **_COMMON, **_FORBIDDEN}),
)
class TicketViewSet(viewsets.ModelViewSet[Ticket]):
    serializer_class = TicketSerializer
    filterset_class = TicketFilter
    # Ids are numbers: anything else is a 404 from the router, not a database error.
    lookup_value_regex = r"[0-9]{1,18}"

    def get_queryset(self) -> QuerySet[Ticket]:
        return (
            Ticket.objects.visible_to(self.request.user)
            .select_related("owner")
            .order_by("deadline", "id")
        )

    def visible_branches(self) -> list[QuerySet[Ticket]]:
        """The list once per visibility branch (tickets.models.visibility_branches), each
        with the request's filters and none of the other branches' conditions, so that
        each reads its own index (tickets.pagination). Staff: one branch, the list itself.

        Every branch is a condition visible_to ORs, so each holds only visible tickets.
        """
        branches = visibility_branches(self.request.user)
        if branches is None or len(branches) < 2:
            return []
        listed = self.filter_queryset(Ticket.objects.select_related("owner").order_by("deadline"))
        return [listed.filter(branch) for branch in branches]

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        enforce(request, group="tickets-list", key=user_key, rate=settings.RATELIMIT_TICKETS_LIST)
        return super().list(request, *args, **kwargs)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        enforce(
            request, group="tickets-create", key=user_key, rate=settings.RATELIMIT_TICKETS_CREATE
        )
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer: BaseSerializer[Ticket]) -> None:
        user = request_user(self.request)
        with _assignment_refusals():
            serializer.instance = services.create_ticket(
                owner=user, by=user, **serializer.validated_data
            )

    def perform_update(self, serializer: BaseSerializer[Ticket]) -> None:
        with _assignment_refusals():
            serializer.instance = services.update_ticket(
                ticket=cast(Ticket, serializer.instance),
                by=request_user(self.request),
                **serializer.validated_data,
            )

    def perform_destroy(self, instance: Ticket) -> None:
        user = request_user(self.request)
        # Its assignee and team work the ticket; whether it exists is its owner's call.
        if not (user.is_staff or instance.owner_id == user.pk):
            raise PermissionDenied("Only the ticket's owner and staff may delete it.")
        services.delete_ticket(ticket=instance)

    @extend_schema(responses={200: NotificationSerializer(many=True), **_COMMON})
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def notifications(self, request: Request, pk: str | None = None) -> Response:
        """The emails this ticket has caused, and whether each was delivered."""
        ticket = self.get_object()
        rows = Notification.objects.filter(ticket=ticket).order_by("created_at", "id")
        return Response(NotificationSerializer(rows, many=True).data, status=status.HTTP_200_OK)

    @extend_schema(
        request=None,
        responses={
            200: TicketSerializer,
            409: OpenApiResponse(description="The first response was already recorded."),
            **_COMMON,
        },
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def respond(self, request: Request, pk: str | None = None) -> Response:
        """Record the ticket's first response, now: it meets or misses that deadline. Once."""
        try:
            ticket = services.respond(ticket=self.get_object())
        except services.AlreadyResponded as exc:
            raise AlreadyRespondedConflict(str(exc)) from exc
        return Response(self.get_serializer(ticket).data, status=status.HTTP_200_OK)

    @extend_schema(
        request=None,
        responses={
            200: TicketSerializer,
            409: OpenApiResponse(description="Neither of the ticket's deadlines is breached."),
            **_COMMON,
        },
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def acknowledge(self, request: Request, pk: str | None = None) -> Response:
        """Acknowledge the ticket's breach: its escalation stops (no repeat, no later level)
        until a new deadline is set. Anyone who sees the ticket may; the SLA timeline says
        who did. Acknowledging again keeps the first acknowledgement."""
        try:
            ticket = services.acknowledge(ticket=self.get_object(), user=request_user(request))
        except services.NothingToAcknowledge as exc:
            raise NothingToAcknowledgeConflict(str(exc)) from exc
        return Response(self.get_serializer(ticket).data, status=status.HTTP_200_OK)

    @extend_schema(responses={200: SlaExplanationSerializer, **_COMMON})
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def sla(self, request: Request, pk: str | None = None) -> Response:
        """Both SLA metrics explained: targets, deadlines, business time elapsed and left,
        warning thresholds, pauses, and the timeline of what set or moved each deadline."""
        explanation = explain_ticket(self.get_object(), now=timezone.now())
        return Response(SlaExplanationSerializer(explanation).data, status=status.HTTP_200_OK)


_REPORT_PARAMETERS = [
    OpenApiParameter(
        "period",
        str,
        enum=list(reports.PERIODS),
        description="Of ticket creation, its days in tz; default this_month.",
    ),
    OpenApiParameter(
        "start", OpenApiTypes.DATE, description="With period=custom: the first day (YYYY-MM-DD)."
    ),
    OpenApiParameter(
        "end",
        OpenApiTypes.DATE,
        description="With period=custom: the day after the last (excluded), at most "
        f"{reports.MAX_PERIOD_DAYS} days after start.",
    ),
    OpenApiParameter(
        "group_by", str, enum=list(reports.GROUPINGS), description="Default priority."
    ),
    # The zones the server's zoneinfo knows, listed: any other name is a 400, so the
    # schema allows only these.
    OpenApiParameter(
        "tz",
        str,
        enum=sorted(known_zones()),
        description="The IANA time zone (Europe/Berlin) whose midnights begin the days; "
        "default the server's TIME_ZONE.",
    ),
]


class ComplianceReportView(APIView):
    """GET /api/reports/compliance/: how the tickets you may see, created in a period,
    fared against their SLAs (tickets.reports; the report page shows the same numbers)."""

    @extend_schema(
        operation_id="reports_compliance",
        parameters=_REPORT_PARAMETERS,
        responses={
            200: ComplianceReportSerializer,
            400: OpenApiResponse(description="A parameter not understood; its name is the key."),
            401: _COMMON[401],
            429: OpenApiResponse(
                description="More reports than RATELIMIT_REPORTS allows; see Retry-After."
            ),
        },
    )
    def get(self, request: Request) -> Response:
        enforce(
            request, group=reports.RATELIMIT_GROUP, key=user_key, rate=settings.RATELIMIT_REPORTS
        )
        # The page's form sends its blank fields; an API client that sends `start=` sent
        # no date, which the schema does not allow.
        blank = [name for name, value in request.query_params.items() if value == ""]
        if blank:
            raise ValidationError({name: ["May not be blank."] for name in blank})
        filters = reports.ComplianceFilters(request.query_params)
        if not filters.is_valid():
            raise ValidationError(
                {name: [str(error) for error in errors] for name, errors in filters.errors.items()}
            )
        report = reports.compliance_for(request.user, filters.cleaned_data, now=timezone.now())
        return Response(ComplianceReportSerializer(report).data, status=status.HTTP_200_OK)
