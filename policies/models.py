"""Business calendars and SLA policies as stored; sla.business_time does the arithmetic."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, time

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Coalesce

from policies.validation import (
    validate_holiday_region,
    validate_interval,
    validate_lead_times,
    validate_percentages,
    validate_target,
    validate_time_zone,
    validate_week,
)
from sla import business_time, deadlines
from sla.enums import Priority, choices


class Weekday(models.IntegerChoices):
    MONDAY = 0
    TUESDAY = 1
    WEDNESDAY = 2
    THURSDAY = 3
    FRIDAY = 4
    SATURDAY = 5
    SUNDAY = 6


class BusinessCalendar(models.Model):
    """When a business is open: weekly hours in one time zone, less holidays; or 24x7."""

    name = models.CharField(max_length=100, unique=True)
    time_zone = models.CharField(max_length=64, validators=[validate_time_zone])
    is_24x7 = models.BooleanField(default=False)
    # ISO 3166 code and subdivision as the `holidays` package knows them ("DE", "BY").
    holiday_country = models.CharField(max_length=8, blank=True, default="")
    holiday_subdivision = models.CharField(max_length=16, blank=True, default="")

    # The admin checks the opening hours in its inline formset, which sees the rows being
    # submitted; the rows in the database would be the ones the form is about to replace.
    check_saved_hours = True

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        validate_holiday_region(self.holiday_country, self.holiday_subdivision)
        if self.pk is not None and self.check_saved_hours:
            validate_week(is_24x7=self.is_24x7, hours=self.opening_hours_rows())

    def opening_hours_rows(self) -> list[tuple[int, time, time]]:
        return list(self.opening_hours.values_list("weekday", "opens", "closes"))

    def to_domain(self) -> business_time.Calendar:
        """This calendar as business-time arithmetic; ValueError if it has no open time."""
        dates = frozenset(self.holidays.values_list("date", flat=True))
        country = self.holiday_country or None
        subdivision = self.holiday_subdivision or None
        if self.is_24x7:
            return business_time.Calendar.always_open(
                self.time_zone,
                holidays=dates,
                holiday_country=country,
                holiday_subdivision=subdivision,
            )
        week: dict[int, list[business_time.OpenInterval]] = {}
        for weekday, opens, closes in self.opening_hours_rows():
            week.setdefault(weekday, []).append((opens, closes))
        return business_time.Calendar(
            time_zone=self.time_zone,
            weekly_hours=week,
            holidays=dates,
            holiday_country=country,
            holiday_subdivision=subdivision,
        )


class OpeningHours(models.Model):
    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="opening_hours", db_index=False
    )
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens = models.TimeField()
    # 00:00 means midnight at the end of the day.
    closes = models.TimeField()

    class Meta:
        verbose_name_plural = "opening hours"
        ordering = ["weekday", "opens"]
        indexes = [
            # A calendar's week, read whole by to_domain() and the admin inline.
            models.Index(fields=["calendar", "weekday", "opens"], name="openinghours_week_idx"),
        ]

    def __str__(self) -> str:
        return f"{Weekday(self.weekday).label} {self.opens:%H:%M}-{self.closes:%H:%M}"

    def clean(self) -> None:
        # Overlaps are a property of the whole week: BusinessCalendar.clean and the
        # services check them with every row in view.
        if self.opens is not None and self.closes is not None:
            validate_interval(self.opens, self.closes)


class Holiday(models.Model):
    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="holidays", db_index=False
    )
    date = models.DateField()
    name = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        ordering = ["date"]
        constraints = [
            # One row a day per calendar; its index also serves to_domain()'s read of a
            # calendar's dates.
            models.UniqueConstraint(fields=["calendar", "date"], name="holiday_one_per_day"),
        ]

    def __str__(self) -> str:
        return f"{self.date.isoformat()} {self.name}".strip()


class SlaPolicyQuerySet(models.QuerySet["SlaPolicy"]):
    def for_priority(self, priority: str) -> SlaPolicy | None:
        """The policy of this priority, else the default policy, else None."""
        found = {
            policy.priority: policy
            for policy in self.select_related("calendar").filter(
                Q(priority=priority) | Q(priority__isnull=True)
            )
        }
        return found.get(priority) or found.get(None)


class SlaPolicy(models.Model):
    """Targets in business time on a calendar, for one ticket priority or by default."""

    name = models.CharField(max_length=100, unique=True)
    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.PROTECT, related_name="policies", db_index=False
    )
    # NULL: the default policy, for priorities that have none of their own.
    priority = models.CharField(  # noqa: DJ001 -- NULL is "default", unlike any priority
        max_length=16, choices=choices(Priority), null=True, blank=True
    )
    resolution_target = models.DurationField(validators=[validate_target])
    # NULL: the policy does not track first response.
    first_response_target = models.DurationField(
        null=True, blank=True, validators=[validate_target]
    )
    # Both empty: one warning SLA_WARNING_MINUTES (of business time) before each deadline.
    warning_lead_times = models.JSONField(
        default=list, blank=True, validators=[validate_lead_times], help_text="Seconds."
    )
    warning_percentages = models.JSONField(
        default=list, blank=True, validators=[validate_percentages], help_text="Of the target."
    )
    # Who else hears of its tickets' warnings and breaches (people.EscalationPolicy);
    # NULL: the default escalation policy, if there is one. A string reference: policies
    # imports no people module (pyproject's app layers).
    escalation_policy = models.ForeignKey(
        "people.EscalationPolicy",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="sla_policies",
    )
    # Set in the transaction of an edit to this policy or its calendar, cleared by the
    # recompute of its open tickets (tickets.recompute), which the next SLA check runs.
    recompute_requested_at = models.DateTimeField(null=True, blank=True, editable=False)
    # What the timeline of a moved deadline will say: "policy_edited" or "calendar_edited".
    recompute_reason = models.CharField(max_length=24, blank=True, default="", editable=False)

    objects = SlaPolicyQuerySet.as_manager()

    class Meta:
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"
        ordering = ["name"]
        constraints = [
            # Also the index of for_priority(): WHERE priority = %s OR priority IS NULL.
            models.UniqueConstraint(
                fields=["priority"],
                name="slapolicy_one_per_priority",
                violation_error_message="There is already a policy for this priority.",
            ),
            # NULLs are distinct in a unique index, so the default gets its own: every row
            # it covers has the same value.
            models.UniqueConstraint(
                Coalesce("priority", Value("")),
                condition=Q(priority__isnull=True),
                name="slapolicy_one_default",
                violation_error_message="There is already a default policy.",
            ),
        ]
        indexes = [
            # Deleting a calendar: PROTECT looks for its policies.
            models.Index(fields=["calendar"], name="slapolicy_calendar_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    def resolution_deadline(self, start: datetime) -> datetime:
        """When the resolution target elapses in business time counted from `start`."""
        return deadlines.resolution_deadline(
            self.calendar.to_domain(), start=start, target=self.resolution_target
        )

    def clean(self) -> None:
        if self.priority == "":
            self.priority = None

    def validate_constraints(self, exclude: Collection[str] | None = None) -> None:
        """Both one-per-priority rules are about `priority`: say so, not non_field_errors."""
        try:
            super().validate_constraints(exclude=exclude)
        except ValidationError as error:
            errors = error.update_error_dict({})
            moved = errors.pop(NON_FIELD_ERRORS, [])
            if moved:
                errors.setdefault("priority", []).extend(moved)
            raise ValidationError(errors) from None
