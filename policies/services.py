"""Calendar and policy writes. The staff API and the admin call these; each checks the
whole result.

Editing a calendar or a policy marks the policies concerned for recompute, in the edit's
transaction; the next SLA check brings their open tickets in line (tickets.recompute).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, QuerySet
from django.utils import timezone

from policies.models import BusinessCalendar, Holiday, OpeningHours, SlaPolicy
from policies.validation import HoursRow, validate_week

HolidayRow = tuple[date, str]

CALENDAR_FIELDS = frozenset(
    {"name", "time_zone", "is_24x7", "holiday_country", "holiday_subdivision"}
)
# The fields of a policy a staff user sets, in the order the API shows them.
POLICY_FIELD_ORDER = (
    "name",
    "calendar",
    "priority",
    "resolution_target",
    "first_response_target",
    "warning_lead_times",
    "warning_percentages",
    "escalation_policy",
)
POLICY_FIELDS = frozenset(POLICY_FIELD_ORDER)


class CalendarInUse(Exception):
    """A calendar that SLA policies still use cannot be deleted."""

    def __init__(self, calendar: BusinessCalendar, policies: list[str]) -> None:
        self.policies = policies
        super().__init__(
            f"Calendar {calendar.name!r} is used by the SLA policies {', '.join(policies)}; "
            "move them to another calendar first."
        )


def create_calendar(
    *,
    opening_hours: Iterable[HoursRow] = (),
    holidays: Iterable[HolidayRow] = (),
    **fields: Any,
) -> BusinessCalendar:
    _refuse_unknown(fields, CALENDAR_FIELDS)
    return _save_calendar(BusinessCalendar(**fields), list(opening_hours), list(holidays))


def update_calendar(
    *,
    calendar: BusinessCalendar,
    opening_hours: Iterable[HoursRow] | None = None,
    holidays: Iterable[HolidayRow] | None = None,
    **changes: Any,
) -> BusinessCalendar:
    """Change a calendar; opening hours or holidays given replace the stored ones."""
    _refuse_unknown(changes, CALENDAR_FIELDS)
    for field, value in changes.items():
        setattr(calendar, field, value)
    return _save_calendar(
        calendar,
        calendar.opening_hours_rows() if opening_hours is None else list(opening_hours),
        None if holidays is None else list(holidays),
    )


def delete_calendar(*, calendar: BusinessCalendar) -> None:
    """Delete a calendar and its rows; refused (CalendarInUse) while a policy uses it."""
    using = list(calendar.policies.values_list("name", flat=True))
    if using:
        raise CalendarInUse(calendar, using)
    try:
        calendar.delete()
    except ProtectedError as exc:  # a policy took it up meanwhile
        names = [policy.name for policy in exc.protected_objects if isinstance(policy, SlaPolicy)]
        raise CalendarInUse(calendar, names) from exc


def create_policy(**fields: Any) -> SlaPolicy:
    _refuse_unknown(fields, POLICY_FIELDS)
    return _save_policy(SlaPolicy(**fields))


def update_policy(*, policy: SlaPolicy, **changes: Any) -> SlaPolicy:
    _refuse_unknown(changes, POLICY_FIELDS)
    for field, value in changes.items():
        setattr(policy, field, value)
    return _save_policy(policy)


def delete_policy(*, policy: SlaPolicy) -> None:
    """Delete a policy; its tickets keep their deadlines and lose the link (SET_NULL)."""
    policy.delete()


def _save_calendar(
    calendar: BusinessCalendar, hours: list[HoursRow], holidays: list[HolidayRow] | None
) -> BusinessCalendar:
    calendar.check_saved_hours = False  # checked below, with the rows about to be saved
    try:
        calendar.full_clean()
    finally:
        del calendar.check_saved_hours  # back to the class's default
    try:
        validate_week(is_24x7=calendar.is_24x7, hours=hours)
    except ValidationError as exc:
        raise ValidationError({"opening_hours": exc.messages}) from exc
    if holidays is not None:
        days = [day for day, _ in holidays]
        if len(set(days)) != len(days):
            raise ValidationError({"holidays": "Each date can be a holiday only once."})
    with transaction.atomic():
        try:
            with transaction.atomic():
                calendar.save()
        except IntegrityError as exc:  # the same name, saved meanwhile
            raise ValidationError({"name": "A calendar with this name exists."}) from exc
        calendar.opening_hours.all().delete()
        OpeningHours.objects.bulk_create(
            OpeningHours(calendar=calendar, weekday=weekday, opens=opens, closes=closes)
            for weekday, opens, closes in hours
        )
        if holidays is not None:
            calendar.holidays.all().delete()
            Holiday.objects.bulk_create(
                Holiday(calendar=calendar, date=day, name=name) for day, name in holidays
            )
        # Rules passed, but the arithmetic is the judge (hours entirely inside a DST
        # gap, say); refusing here rolls the whole change back.
        try:
            calendar.to_domain()
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc
        request_recompute(calendar.policies.all(), reason="calendar_edited")
    return calendar


def request_recompute(policies: QuerySet[SlaPolicy], *, reason: str) -> int:
    """Mark policies whose open tickets must follow an edit; the next SLA check does it."""
    return policies.update(recompute_requested_at=timezone.now(), recompute_reason=reason)


def _save_policy(policy: SlaPolicy) -> SlaPolicy:
    policy.full_clean()
    try:
        with transaction.atomic():
            policy.save()
            request_recompute(SlaPolicy.objects.filter(pk=policy.pk), reason="policy_edited")
    except IntegrityError as exc:  # another policy for this priority, saved meanwhile
        raise ValidationError(
            {"priority": "Another policy for this priority was saved at the same time."}
        ) from exc
    return policy


def _refuse_unknown(fields: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = set(fields) - allowed
    if unknown:
        raise TypeError(f"not client-editable: {', '.join(sorted(unknown))}")
