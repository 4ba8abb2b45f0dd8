from django.contrib import admin

from people.models import LEVEL_FIELDS, EscalationLevel, EscalationPolicy, Profile, Team


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
