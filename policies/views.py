"""The staff-only API for business calendars and SLA policies: thin shells around services.

Everyone else gets 403 on every verb: these are settings, not secrets (a ticket shows
its policy's id), so there is nothing to hide by answering 404.
"""

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar, cast

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import permissions, status, viewsets
from rest_framework.exceptions import APIException
from rest_framework.serializers import BaseSerializer

from policies import services
from policies.models import BusinessCalendar, SlaPolicy
from policies.serializers import CalendarSerializer, PolicySerializer
from policies.services import HolidayRow
from policies.validation import HoursRow
from watchdog.pagination.numbered import StrictPageNumberPagination


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The resource is in use."
    default_code = "conflict"


class SettingsPagination(StrictPageNumberPagination):
    page_size = 100
    max_page_size = 1000


_COMMON = {
    401: OpenApiResponse(description="Missing or invalid credentials."),
    403: OpenApiResponse(description="Not a staff user."),
}
_ONE = {**_COMMON, 404: OpenApiResponse(description="No such object.")}


def _schema(serializer: type[BaseSerializer[Any]], *, delete_conflict: bool = False) -> Any:
    deleted: dict[int, Any] = {204: None, **_ONE}
    if delete_conflict:
        deleted[409] = OpenApiResponse(description="Still used by an SLA policy.")
    return extend_schema_view(
        list=extend_schema(
            responses={
                200: serializer(many=True),
                400: OpenApiResponse(description="A `page_size` that is not a number."),
                404: OpenApiResponse(description="Invalid page."),
                **_COMMON,
            }
        ),
        create=extend_schema(responses={201: serializer, 400: OpenApiResponse(), **_COMMON}),
        retrieve=extend_schema(responses={200: serializer, **_ONE}),
        update=extend_schema(responses={200: serializer, 400: OpenApiResponse(), **_ONE}),
        partial_update=extend_schema(responses={200: serializer, 400: OpenApiResponse(), **_ONE}),
        destroy=extend_schema(responses=deleted),
    )


_Setting = TypeVar("_Setting", BusinessCalendar, SlaPolicy)


class StaffSettingsViewSet(viewsets.ModelViewSet[_Setting]):
    """Calendars and policies: staff only, paged, looked up by numeric id."""

    permission_classes = [permissions.IsAdminUser]
    pagination_class = SettingsPagination
    filter_backends = []  # nothing to filter by yet
    lookup_value_regex = r"[0-9]{1,18}"


@_schema(CalendarSerializer, delete_conflict=True)
class CalendarViewSet(StaffSettingsViewSet[BusinessCalendar]):
    serializer_class = CalendarSerializer

    def get_queryset(self) -> QuerySet[BusinessCalendar]:
        return BusinessCalendar.objects.prefetch_related("opening_hours", "holidays").order_by(
            "name", "id"
        )

    def perform_create(self, serializer: BaseSerializer[BusinessCalendar]) -> None:
        serializer.instance = services.create_calendar(**_calendar_args(serializer))

    def perform_update(self, serializer: BaseSerializer[BusinessCalendar]) -> None:
        serializer.instance = services.update_calendar(
            calendar=cast(BusinessCalendar, serializer.instance), **_calendar_args(serializer)
        )

    def perform_destroy(self, instance: BusinessCalendar) -> None:
        try:
            services.delete_calendar(calendar=instance)
        except services.CalendarInUse as exc:
            raise Conflict(str(exc)) from exc


@_schema(PolicySerializer)
class PolicyViewSet(StaffSettingsViewSet[SlaPolicy]):
    serializer_class = PolicySerializer

    def get_queryset(self) -> QuerySet[SlaPolicy]:
        return SlaPolicy.objects.order_by("name", "id")

    def perform_create(self, serializer: BaseSerializer[SlaPolicy]) -> None:
        serializer.instance = services.create_policy(**serializer.validated_data)

    def perform_update(self, serializer: BaseSerializer[SlaPolicy]) -> None:
        serializer.instance = services.update_policy(
            policy=cast(SlaPolicy, serializer.instance), **serializer.validated_data
        )

    def perform_destroy(self, instance: SlaPolicy) -> None:
        services.delete_policy(policy=instance)


def _calendar_args(serializer: BaseSerializer[BusinessCalendar]) -> dict[str, Any]:
    """The serializer's nested rows as the tuples the service takes."""
    data = dict(serializer.validated_data)
    hours: Sequence[Mapping[str, Any]] | None = data.pop("opening_hours", None)
    holidays: Sequence[Mapping[str, Any]] | None = data.pop("holidays", None)
    if hours is not None:
        data["opening_hours"] = [
            cast(HoursRow, (row["weekday"], row["opens"], row["closes"])) for row in hours
        ]
    if holidays is not None:
        data["holidays"] = [
            cast(HolidayRow, (row["date"], row.get("name", ""))) for row in holidays
        ]
    return data
