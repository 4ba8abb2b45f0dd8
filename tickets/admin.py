from typing import Any

from django.contrib import admin
from django.forms import ModelForm
from django.http import HttpRequest

from tickets import services
from tickets.models import Ticket


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin[Ticket]):
    list_display = ["id", "title", "owner", "status", "priority", "deadline", "sla_state"]
    list_filter = ["status", "priority", "sla_state"]
    search_fields = ["title", "owner__username", "owner__email"]
    list_select_related = ["owner"]
    ordering = ["deadline", "id"]
    date_hierarchy = "deadline"
    raw_id_fields = ["owner"]
    readonly_fields = [
        "created_at",
        "updated_at",
        "resolved_at",
        "sla_state",
        "warning_sent_at",
        "breached_at",
        "next_check_at",
    ]

    def save_model(
        self, request: HttpRequest, obj: Ticket, form: ModelForm[Ticket], change: bool
    ) -> None:
        # Through the services, like the API, so admin edits re-arm SLA emails too.
        fields: dict[str, Any] = {
            name: form.cleaned_data[name]
            for name in services.EDITABLE_FIELDS
            if name in form.cleaned_data
        }
        if change:
            saved = services.update_ticket(ticket=obj, **fields)
        else:
            saved = services.create_ticket(owner=form.cleaned_data["owner"], **fields)
        obj.pk = saved.pk
