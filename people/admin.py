from django.contrib import admin

from people.models import Team


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin[Team]):
    list_display = ["name", "lead", "escalation_contact"]
    list_select_related = ["lead", "escalation_contact"]
    search_fields = ["name", "members__username"]
    filter_horizontal = ["members"]
    raw_id_fields = ["lead", "escalation_contact"]
