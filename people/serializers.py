from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.validators import UniqueValidator

from people.models import LEVEL_FIELDS, EscalationLevel, EscalationPolicy, Profile, Team
from people.validation import validate_quiet_hours
from policies.models import BusinessCalendar
from policies.serializers import ClockTimeField
from policies.validation import validate_time_zone
from watchdog.serializer_fields import StrictCharField

_ACTIVE_USERS = User.objects.filter(is_active=True)


class TeamSerializer(serializers.ModelSerializer[Team]):
    name = StrictCharField(
        min_length=1,
        max_length=100,
        validators=[UniqueValidator(queryset=Team.objects.all(), message="A team has this name.")],
    )
    members = serializers.PrimaryKeyRelatedField(
        queryset=_ACTIVE_USERS, many=True, required=False, help_text="User ids."
    )
    lead = serializers.PrimaryKeyRelatedField(
        queryset=_ACTIVE_USERS, allow_null=True, required=False
    )
    escalation_contact = serializers.PrimaryKeyRelatedField(
        queryset=_ACTIVE_USERS,
        allow_null=True,
        required=False,
        help_text="Whom to tell beyond the lead (issue 13's escalation levels name it).",
    )

    class Meta:
        model = Team
        fields = ["id", "name", "members", "lead", "escalation_contact"]

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        # DRF's many-field takes any iterable, so {} or {"3": 1} read as a list of keys.
        members = data.get("members") if isinstance(data, dict) else None
        if members is not None and not isinstance(members, list):
            raise serializers.ValidationError({"members": ["Expected a list of user ids."]})
        validated: dict[str, Any] = super().to_internal_value(data)
        return validated

    def validate_members(self, value: list[Any]) -> list[Any]:
        if len({user.pk for user in value}) != len(value):
            raise serializers.ValidationError("A member is listed twice.")
        return value


class TeamRefSerializer(serializers.ModelSerializer[Team]):
    class Meta:
        model = Team
        fields = ["id", "name"]


class MeSerializer(serializers.ModelSerializer[Profile]):
    """GET/PATCH /api/me/: who you are (read-only) and how you want to be told (yours)."""

    username = serializers.CharField(source="user.username", read_only=True)
    email = serializers.CharField(
        source="user.email",
        read_only=True,
        help_text="Changed by staff or through registration's confirmation, not here.",
    )
    teams = TeamRefSerializer(source="user.teams.all", many=True, read_only=True)
    time_zone = StrictCharField(
        max_length=64,
        required=False,
        validators=[validate_time_zone],
        help_text="An IANA time zone such as Europe/Berlin; quiet hours are local times there.",
    )
    quiet_hours_start = ClockTimeField(allow_null=True, required=False)
    quiet_hours_end = ClockTimeField(
        allow_null=True,
        required=False,
        help_text="Before quiet_hours_start: quiet past midnight (22:00 to 07:00). "
        "Both or neither.",
    )
    quiet_calendar = serializers.PrimaryKeyRelatedField(
        queryset=BusinessCalendar.objects.all(),
        allow_null=True,
        required=False,
        help_text="A business calendar's id: quiet whenever it is closed.",
    )

    class Meta:
        model = Profile
        fields = [
            "username",
            "email",
            "teams",
            "time_zone",
            "quiet_hours_start",
            "quiet_hours_end",
            "quiet_calendar",
            "email_enabled",
        ]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        current = self.instance
        start = attrs.get("quiet_hours_start", getattr(current, "quiet_hours_start", None))
        end = attrs.get("quiet_hours_end", getattr(current, "quiet_hours_end", None))
        try:
            validate_quiet_hours(start, end)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from exc
        return attrs


class EscalationLevelSerializer(serializers.ModelSerializer[EscalationLevel]):
    class Meta:
        model = EscalationLevel
        fields = list(LEVEL_FIELDS)
        read_only_fields = fields


class EscalationPolicySerializer(serializers.ModelSerializer[EscalationPolicy]):
    """An escalation policy and its levels in order (docs/escalation.md); edited in the
    admin, read here, so that an SLA policy's `escalation_policy` can be chosen by id."""

    levels = EscalationLevelSerializer(many=True, read_only=True)

    class Meta:
        model = EscalationPolicy
        fields = ["id", "name", "is_default", "levels"]
        read_only_fields = fields
