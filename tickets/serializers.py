from datetime import datetime
from typing import Any

from django.utils.dateparse import parse_datetime
from rest_framework import serializers

from tickets.models import Ticket
from watchdog.fields import StrictCharField

# Deadlines outside this range are typos (year 20266) or test junk (year 1). The schema
# states the range for request bodies (watchdog.schema.state_request_rules).
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
            if "\x00" in value:  # CPython's fromisoformat stops reading at a NUL
                self.fail("invalid", format="ISO 8601 with a UTC offset")
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is None:
                self.fail("naive")
            # The year as written, which the schema's pattern can state, not after the
            # conversion to UTC (2100-12-31T23:00:00-05:00 is in 2101 in UTC).
            if parsed is not None and not EARLIEST_YEAR <= parsed.year <= LATEST_YEAR:
                self.fail("range")
        result = super().to_internal_value(value)
        if not isinstance(value, str) and not EARLIEST_YEAR <= result.year <= LATEST_YEAR:
            self.fail("range")
        return result


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
            "first_response_due",
            "first_responded_at",
            "first_response_state",
            "paused_at",
            "next_breach_at",
        ]
        read_only_fields = [
            "deadline_source",
            "policy",
            "first_response_due",
            "first_responded_at",
            "first_response_state",
            "paused_at",
            "next_breach_at",
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


# --- GET /api/tickets/<id>/sla/ (tickets.explain): output only, describes the shape ------


class SlaThresholdSerializer(serializers.Serializer[Any]):
    seconds_left = serializers.IntegerField(
        help_text="Business seconds left before the deadline when this warning threshold passes."
    )
    at = serializers.DateTimeField(help_text="When it passes (or passed) for the current deadline.")
    passed = serializers.BooleanField(help_text="Whether the metric's clock has reached it.")


class SlaMetricSerializer(serializers.Serializer[Any]):
    target = serializers.CharField(
        allow_null=True,
        help_text="The policy's target, ISO 8601 (PT4H); null for a manual deadline or no policy.",
    )
    target_seconds = serializers.IntegerField(allow_null=True)
    deadline = serializers.DateTimeField(allow_null=True)
    state = serializers.CharField(
        help_text="on_track, at_risk, paused, breached, achieved; empty when not tracked."
    )
    met_at = serializers.DateTimeField(
        allow_null=True, help_text="first_responded_at or resolved_at."
    )
    elapsed_seconds = serializers.IntegerField(
        allow_null=True,
        help_text="Business time counted since creation, pauses excluded; null without deadline.",
    )
    remaining_seconds = serializers.IntegerField(
        allow_null=True,
        help_text=(
            "Business time left to the deadline, read when met, when paused (frozen) or now; "
            "negative: that late."
        ),
    )
    thresholds = SlaThresholdSerializer(many=True)


class SlaPauseSerializer(serializers.Serializer[Any]):
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True, help_text="null while still pending.")
    business_seconds = serializers.IntegerField(help_text="Business time it lasted (so far).")


class SlaResolutionSerializer(SlaMetricSerializer):
    paused = serializers.BooleanField(help_text="The ticket is pending: its clock is stopped.")
    pauses = SlaPauseSerializer(many=True)


class SlaPolicyRefSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()


class SlaCalendarRefSerializer(SlaPolicyRefSerializer):
    time_zone = serializers.CharField()


class SlaEventSerializer(serializers.Serializer[Any]):
    at = serializers.DateTimeField()
    kind = serializers.CharField(
        help_text=(
            "policy_applied, manual_deadline, priority_changed, paused, resumed, "
            "policy_edited, calendar_edited, responded, resolved, reopened."
        )
    )
    metric = serializers.CharField(help_text="first_response, resolution, or empty: the ticket.")
    deadline = serializers.DateTimeField(allow_null=True, help_text="The metric's, after it.")
    previous_deadline = serializers.DateTimeField(
        allow_null=True, help_text="Before it, when it moved the deadline."
    )
    detail = serializers.CharField()


class SlaExplanationSerializer(serializers.Serializer[Any]):
    ticket = serializers.IntegerField()
    at = serializers.DateTimeField(help_text="The moment elapsed and remaining times are read.")
    policy = SlaPolicyRefSerializer(allow_null=True)
    calendar = SlaCalendarRefSerializer(
        allow_null=True, help_text="The policy's; null: wall-clock time (UTC, always open)."
    )
    deadline_source = serializers.CharField()
    next_breach_at = serializers.DateTimeField(allow_null=True)
    first_response = SlaMetricSerializer()
    resolution = SlaResolutionSerializer()
    timeline = SlaEventSerializer(many=True)
