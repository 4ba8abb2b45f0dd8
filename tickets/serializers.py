from typing import Any

from django.contrib.auth.models import User
from rest_framework import serializers

from people.models import Team
from sla.enums import SlaState, choices
from tickets.models import Ticket
from watchdog.serializer_fields import AwareDateTimeField, StrictCharField

_LINE_BREAKS = ("\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


class TicketSerializer(serializers.ModelSerializer[Ticket]):
    title = StrictCharField(min_length=1, max_length=255)
    description = StrictCharField(allow_blank=True, required=False)
    # Optional: without one, the ticket's SLA policy sets it (tickets.services).
    deadline = AwareDateTimeField(required=False)
    sla_warning_sent = serializers.BooleanField(read_only=True)
    sla_missed = serializers.BooleanField(read_only=True)
    owner = serializers.CharField(source="owner.username", read_only=True)
    # The resolution metric's SLA columns keep the names the API has always had.
    sla_state = serializers.ChoiceField(
        source="resolution_state", choices=choices(SlaState), read_only=True
    )
    warning_sent_at = serializers.DateTimeField(
        source="resolution_warning_sent_at", read_only=True, allow_null=True
    )
    breached_at = serializers.DateTimeField(
        source="resolution_breached_at", read_only=True, allow_null=True
    )

    # Ids, null for none. Who may set them, and to whom: tickets.assignment.
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True),
        allow_null=True,
        required=False,
        help_text="The user working the ticket (an id); null: nobody yet.",
    )
    team = serializers.PrimaryKeyRelatedField(
        queryset=Team.objects.all(),
        allow_null=True,
        required=False,
        help_text="The team the ticket belongs to (an id, one of yours unless you are staff).",
    )

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        team = fields["team"]
        request = self.context.get("request")
        if isinstance(team, serializers.PrimaryKeyRelatedField) and request is not None:
            # Only the caller's teams exist here: another team's id is "does not exist",
            # which tells a non-member nothing about it.
            user = request.user
            team.queryset = Team.objects.all() if user.is_staff else Team.objects.of(user.pk)
        return fields

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
            "assignee",
            "team",
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
            "acknowledged_at",
            "acknowledged_by",
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
            "acknowledged_at",
            "acknowledged_by",
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


class SlaFiringSerializer(serializers.Serializer[Any]):
    level = serializers.IntegerField()
    repeat = serializers.IntegerField(help_text="0: the level's first firing; 1, 2...: repeats.")
    at = serializers.DateTimeField(help_text="When it fires (fired) or will.")
    fired = serializers.BooleanField()


class SlaAcknowledgedSerializer(serializers.Serializer[Any]):
    at = serializers.DateTimeField()
    by = serializers.IntegerField(allow_null=True, help_text="A user id.")


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
    escalation = SlaFiringSerializer(
        many=True,
        help_text="The breach levels of the ticket's escalation policy for this deadline, in "
        "the order they fire (docs/escalation.md); empty without levels or deadline.",
    )


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
            "policy_edited, calendar_edited, responded, resolved, reopened, acknowledged."
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
    acknowledged = SlaAcknowledgedSerializer(
        allow_null=True, help_text="Who acknowledged the breach, and when; null: nobody."
    )
    timeline = SlaEventSerializer(many=True)


class ComplianceRowSerializer(serializers.Serializer[Any]):
    """One row of the compliance report (tickets.reports.ComplianceRow); durations in
    seconds from the ticket's creation, in wall time and in business time (on the ticket's
    policy calendar; the wall clock for a ticket without a policy)."""

    key = serializers.CharField(
        help_text="The priority, or the policy's, team's or assignee's id; '' for tickets "
        "without one; 'all' for the total."
    )
    name = serializers.CharField(
        help_text="The priority in words, the policy's or team's name, the assignee's "
        "username; 'No policy', 'No team', 'Unassigned'; 'All'."
    )
    tickets = serializers.IntegerField()
    achieved = serializers.IntegerField(help_text="Resolved within the resolution deadline.")
    breached = serializers.IntegerField(help_text="Resolution deadline missed.")
    achieved_percent = serializers.FloatField(
        allow_null=True, help_text="achieved / (achieved + breached); null when neither."
    )
    first_response_breached = serializers.IntegerField()
    first_response_median_seconds = serializers.FloatField(allow_null=True)
    first_response_p90_seconds = serializers.FloatField(allow_null=True)
    resolution_median_seconds = serializers.FloatField(allow_null=True)
    resolution_p90_seconds = serializers.FloatField(allow_null=True)
    paused_seconds = serializers.FloatField(help_text="Wall time spent pending, up to now.")
    first_response_business_median_seconds = serializers.FloatField(
        allow_null=True,
        help_text="Median business time to first response: the policy calendar's open time "
        "from creation to the first response.",
    )
    first_response_business_p90_seconds = serializers.FloatField(
        allow_null=True, help_text="90th percentile of the same."
    )
    resolution_business_median_seconds = serializers.FloatField(
        allow_null=True,
        help_text="Median business time to resolution: the policy calendar's open time from "
        "creation to resolution, less the open time paused (what the resolution clock "
        "counts against the target).",
    )
    resolution_business_p90_seconds = serializers.FloatField(
        allow_null=True, help_text="90th percentile of the same."
    )
    paused_business_seconds = serializers.FloatField(
        help_text="Business time spent pending (the policy calendar's open time), up to now."
    )


class CompliancePointSerializer(serializers.Serializer[Any]):
    starts_on = serializers.DateField()
    achieved_percent = serializers.FloatField(allow_null=True)


class ComplianceReportSerializer(serializers.Serializer[Any]):
    start = serializers.DateTimeField(help_text="Tickets created from this instant ...")
    end = serializers.DateTimeField(help_text="... up to this one, excluded.")
    group_by = serializers.CharField()
    bucket = serializers.ChoiceField(choices=["day", "week"], help_text="Of over_time.")
    time_zone = serializers.CharField(
        help_text="The IANA zone whose midnights begin the period's and over_time's days."
    )
    rows = ComplianceRowSerializer(many=True)
    total = ComplianceRowSerializer()
    over_time = CompliancePointSerializer(many=True)
    percentiles = serializers.ChoiceField(
        choices=["exact", "estimated"],
        help_text="How the medians and 90th percentiles were found: exact, or estimated "
        "within 1% (or 1 second) from the daily roll-up, for periods over a week read by "
        "staff (docs/reports.md). Counts and paused time are always exact.",
    )
