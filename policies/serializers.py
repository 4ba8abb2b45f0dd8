from typing import Any

from rest_framework import serializers

from policies.models import BusinessCalendar, Holiday, OpeningHours, SlaPolicy
from policies.services import POLICY_FIELD_ORDER
from tickets.serializers import StrictCharField
from tickets.sla import Priority


class OpeningHoursSerializer(serializers.ModelSerializer[OpeningHours]):
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
        choices=Priority.choices, allow_null=True, allow_blank=True, required=False
    )

    class Meta:
        model = SlaPolicy
        fields = ["id", *POLICY_FIELD_ORDER]
        # Uniqueness is checked by policies.services with the whole policy in view.
        validators: list[Any] = []
