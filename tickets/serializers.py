from datetime import datetime
from typing import Any

from django.utils.dateparse import parse_datetime
from rest_framework import serializers

from tickets.models import Ticket

# Deadlines outside this range are typos (year 20266) or test junk (year 1).
EARLIEST_YEAR = 2000
LATEST_YEAR = 2100
_LINE_BREAKS = ("\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


class AwareDateTimeField(serializers.DateTimeField):
    """ISO 8601 with an explicit UTC offset. A naive time would be a guess, so it is refused."""

    default_error_messages = {
        "naive": "Include a UTC offset, e.g. 2026-11-27T17:00:00Z or 2026-11-27T18:00:00+01:00.",
        "range": f"The year must be between {EARLIEST_YEAR} and {LATEST_YEAR}.",
    }

    def to_internal_value(self, value: Any) -> datetime:
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is None:
                self.fail("naive")
        result = super().to_internal_value(value)
        if not EARLIEST_YEAR <= result.year <= LATEST_YEAR:
            self.fail("range")
        return result


class StrictCharField(serializers.CharField):
    """Text, and only text: DRF's CharField would quietly store 42 as "42"."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class TicketSerializer(serializers.ModelSerializer[Ticket]):
    title = StrictCharField(min_length=1, max_length=255)
    description = StrictCharField(allow_blank=True, required=False)
    # Optional: without one, the ticket's SLA policy sets it (tickets.services).
    deadline = AwareDateTimeField(required=False)
    sla_warning_sent = serializers.BooleanField(read_only=True)
    sla_missed = serializers.BooleanField(read_only=True)
    owner = serializers.CharField(source="owner.username", read_only=True)

    class Meta:
        model = Ticket
        fields = [
            "id",
            "title",
            "description",
            "deadline",
            "status",
            "priority",
            "owner",
            "created_at",
            "updated_at",
            "resolved_at",
            "sla_state",
            "warning_sent_at",
            "breached_at",
            "sla_warning_sent",
            "sla_missed",
            "deadline_source",
            "policy",
        ]
        read_only_fields = [
            "deadline_source",
            "policy",
            "created_at",
            "updated_at",
            "resolved_at",
            "sla_state",
            "warning_sent_at",
            "breached_at",
        ]

    def validate_title(self, value: str) -> str:
        if any(mark in value for mark in _LINE_BREAKS):
            raise serializers.ValidationError("The title must be a single line.")
        return value
