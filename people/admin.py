from typing import Any

from django.contrib import admin
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from people.models import LEVEL_FIELDS, EscalationLevel, EscalationPolicy, Profile, Team
from people.services import follow_quiet_hours


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin[Team]):
    list_display = ["name", "lead", "escalation_contact"]
    list_select_related = ["lead", "escalation_contact"]
    search_fields = ["name", "members__username"]
    filter_horizontal = ["members"]
    raw_id_fields = ["lead", "escalation_contact"]


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin[Profile]):
    list_display = ["user", "time_zone", "quiet_hours_start", "quiet_hours_end", "email_enabled"]
    list_select_related = ["user"]
    search_fields = ["user__username"]
    raw_id_fields = ["user", "quiet_calendar"]

    def save_model(self, request: HttpRequest, obj: Profile, form: Any, change: bool) -> None:
        # As the API's update: what is held for the user follows the new quiet hours.
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            follow_quiet_hours(obj, now=timezone.now())


class EscalationLevelInline(admin.TabularInline[EscalationLevel, EscalationPolicy]):
    """The levels in order; each checked by EscalationLevel.clean (people.validation)."""

    model = EscalationLevel
    extra = 1
    ordering = ["position"]
    raw_id_fields = ["user", "endpoint"]
    fields = list(LEVEL_FIELDS)


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(admin.ModelAdmin[EscalationPolicy]):
    """Who else hears of a warning or a breach, and when (docs/escalation.md)."""

    list_display = ["name", "is_default"]
    search_fields = ["name"]
    inlines = [EscalationLevelInline]
