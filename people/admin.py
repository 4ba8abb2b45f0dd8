from django.contrib import admin

from people.models import Profile, Team


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
