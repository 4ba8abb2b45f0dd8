from typing import Any

from django.contrib.auth.models import User
from rest_framework import serializers
from rest_framework.validators import UniqueValidator

from people.models import Team
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

    def validate_members(self, value: list[Any]) -> list[Any]:
        if len({user.pk for user in value}) != len(value):
            raise serializers.ValidationError("A member is listed twice.")
        return value
