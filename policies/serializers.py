from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from policies.models import BusinessCalendar, Holiday, OpeningHours, SlaPolicy
from policies.services import POLICY_FIELD_ORDER
from policies.validation import (
    MAX_TARGET,
    MAX_THRESHOLDS,
    validate_lead_times,
    validate_percentages,
)
from sla.enums import Priority, choices
from watchdog.serializer_fields import StrictCharField


# OpenAPI's `format: time` is RFC 3339's full-time, which has a UTC offset; these are wall
# clock times in the calendar's zone, written and answered without one ("09:00:00").
@extend_schema_field(
    {
        "type": "string",
        "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$",
        "example": "09:00:00",
        "description": "Wall-clock time in the calendar's time zone, without a UTC offset.",
    }
)
class ClockTimeField(serializers.TimeField):
    pass


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "integer", "minimum": 1, "maximum": int(MAX_TARGET.total_seconds())},
        "maxItems": MAX_THRESHOLDS,
        "uniqueItems": True,
        "description": "Warnings this many seconds (of business time) before a deadline.",
    }
)
class LeadTimesField(serializers.JSONField):
    pass


@extend_schema_field(
    {
        "type": "array",
        "items": {
            "type": "number",
            "minimum": 0,
            "exclusiveMinimum": True,
            "maximum": 100,
            "exclusiveMaximum": True,
        },
        "maxItems": MAX_THRESHOLDS,
        "uniqueItems": True,
        "description": "Warnings when this percentage of a target has elapsed.",
    }
)
class PercentagesField(serializers.JSONField):
    pass


class OpeningHoursSerializer(serializers.ModelSerializer[OpeningHours]):
    opens = ClockTimeField()
    closes = ClockTimeField()

    class Meta:
        model = OpeningHours
        fields = ["weekday", "opens", "closes"]


class HolidaySerializer(serializers.ModelSerializer[Holiday]):
    name = StrictCharField(max_length=100, allow_blank=True, required=False, default="")

    class Meta:
        model = Holiday
        fields = ["date", "name"]
        # Duplicate dates are refused for the whole list (policies.services).
        validators: list[Any] = []


class CalendarSerializer(serializers.ModelSerializer[BusinessCalendar]):
    name = StrictCharField(min_length=1, max_length=100)
    time_zone = StrictCharField(max_length=64)
    # max_length bounds the list (DRF 3.14+; the stubs do not know it yet).
    opening_hours = OpeningHoursSerializer(many=True, required=False, max_length=7 * 24)  # type: ignore[call-arg]
    holidays = HolidaySerializer(many=True, required=False, max_length=10_000)  # type: ignore[call-arg]

    class Meta:
        model = BusinessCalendar
        fields = [
            "id",
            "name",
            "time_zone",
            "is_24x7",
            "holiday_country",
            "holiday_subdivision",
            "opening_hours",
            "holidays",
        ]


class PolicySerializer(serializers.ModelSerializer[SlaPolicy]):
    name = StrictCharField(min_length=1, max_length=100)
    # Declared, so that uniqueness is left to the model's constraints and their messages.
    priority = serializers.ChoiceField(
        choices=choices(Priority), allow_null=True, allow_blank=True, required=False
    )
    warning_lead_times = LeadTimesField(required=False, validators=[validate_lead_times])
    warning_percentages = PercentagesField(required=False, validators=[validate_percentages])

    class Meta:
        model = SlaPolicy
        fields = ["id", *POLICY_FIELD_ORDER]
        # Uniqueness is checked by policies.services with the whole policy in view.
        validators: list[Any] = []
