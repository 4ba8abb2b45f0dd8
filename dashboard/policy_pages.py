"""The calendars and SLA policies pages: what every signed-in user may read of the rules
their tickets are measured by (opening hours, holidays, targets, thresholds). Staff edit
them in the admin; the pages link to its change page for them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET
from holidays import country_holidays

from dashboard.access import signed_in, strict_styles
from policies.models import BusinessCalendar, SlaPolicy, Weekday
from sla.enums import Priority

# The public holidays of a calendar's country listed ahead, from today.
HOLIDAYS_AHEAD = timedelta(days=366)


@dataclass(frozen=True)
class Day:
    name: str
    hours: list[tuple[time, time]]


def _admin_url(request: HttpRequest, name: str, pk: int) -> str | None:
    """The admin's change page, for staff allowed to change it there; None for anyone else."""
    user = request.user
    if not (user.is_staff and user.has_perm(f"policies.change_{name}")):
        return None
    return reverse(f"admin:policies_{name}_change", args=[pk])


def _week(calendar: BusinessCalendar) -> list[Day]:
    hours: dict[int, list[tuple[time, time]]] = {}
    for weekday, opens, closes in calendar.opening_hours_rows():
        hours.setdefault(weekday, []).append((opens, closes))
    return [Day(Weekday(day).label, sorted(hours.get(day, []))) for day in range(7)]


def _public_holidays(calendar: BusinessCalendar, today: date) -> list[tuple[date, str]]:
    if not calendar.holiday_country:
        return []
    found = country_holidays(
        calendar.holiday_country,
        subdiv=calendar.holiday_subdivision or None,
        years=[today.year, today.year + 1],
    )
    last = today + HOLIDAYS_AHEAD
    return sorted((day, str(name)) for day, name in found.items() if today <= day < last)


def _not_found(request: HttpRequest, what: str) -> HttpResponse:
    return render(request, "dashboard/not_found.html", {"what": what}, status=404)


@strict_styles
@require_GET
@signed_in
def calendar_list(request: HttpRequest) -> HttpResponse:
    calendars = BusinessCalendar.objects.prefetch_related("opening_hours", "policies").order_by(
        "name"
    )
    return render(request, "dashboard/calendar_list.html", {"calendars": calendars})


@strict_styles
@require_GET
@signed_in
def calendar_detail(request: HttpRequest, pk: str) -> HttpResponse:
    calendar = BusinessCalendar.objects.filter(pk=pk).first()
    if calendar is None:
        return _not_found(request, "calendar")
    today = timezone.now().date()
    return render(
        request,
        "dashboard/calendar_detail.html",
        {
            "calendar": calendar,
            "week": _week(calendar),
            "holidays": calendar.holidays.order_by("date"),
            "public_holidays": _public_holidays(calendar, today),
            "policies": calendar.policies.order_by("name"),
            "admin_url": _admin_url(request, "businesscalendar", calendar.pk),
        },
    )


@strict_styles
@require_GET
@signed_in
def policy_list(request: HttpRequest) -> HttpResponse:
    policies = list(SlaPolicy.objects.select_related("calendar").order_by("name"))
    by_priority = {policy.priority: policy for policy in policies}
    # Which policy measures each priority: its own, else the default (for_priority's rule).
    applies = [
        (priority.name.title(), by_priority.get(priority.value) or by_priority.get(None))
        for priority in reversed(Priority)
    ]
    return render(request, "dashboard/policy_list.html", {"policies": policies, "applies": applies})


@strict_styles
@require_GET
@signed_in
def policy_detail(request: HttpRequest, pk: str) -> HttpResponse:
    policy = SlaPolicy.objects.select_related("calendar").filter(pk=pk).first()
    if policy is None:
        return _not_found(request, "policy")
    return render(
        request,
        "dashboard/policy_detail.html",
        {
            "policy": policy,
            "priority": Priority(policy.priority).name.title() if policy.priority else None,
            "resolution_seconds": policy.resolution_target.total_seconds(),
            "first_response_seconds": (
                policy.first_response_target.total_seconds()
                if policy.first_response_target is not None
                else None
            ),
            "lead_times": sorted(policy.warning_lead_times, reverse=True),
            "percentages": sorted(policy.warning_percentages),
            "default_warning_minutes": settings.SLA_WARNING_MINUTES,
            "admin_url": _admin_url(request, "slapolicy", policy.pk),
        },
    )
