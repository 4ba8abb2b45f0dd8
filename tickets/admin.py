from typing import Any

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms import ModelForm
from django.http import HttpRequest

from policies.models import SlaPolicy
from tickets import assignment, policy_deadlines, services
from tickets.models import DeadlineSource, Ticket


class TicketAdminForm(ModelForm[Ticket]):
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or self.cleaned_data
        # A new priority re-applies the policy to a policy deadline; say so here when no
        # policy applies, since the service's refusal would come too late for the form.
        ticket = self.instance
        priority = cleaned.get("priority")
        if (
            ticket.pk is not None
            and ticket.deadline_source == DeadlineSource.POLICY
            and priority
            and "priority" in self.changed_data
            and "deadline" not in self.changed_data
        ):
            try:
                policy_deadlines.resolution_deadline(
                    policy=SlaPolicy.objects.for_priority(priority), start=ticket.created_at
                )
            except ValidationError as exc:
                self.add_error(None, exc)
        owner = cleaned.get("owner") or getattr(ticket, "owner", None)
        if owner is not None and {"assignee", "team"} & set(self.changed_data):
            try:  # staff may assign anyone; an assignee must still be in the ticket's team
                assignment.check(
                    actor=None,
                    owner_id=owner.pk,
                    old_assignee_id=ticket.assignee_id,
                    old_team=ticket.team if ticket.team_id is not None else None,
                    assignee=cleaned.get("assignee"),
                    team=cleaned.get("team"),
                )
            except assignment.AssignmentInvalid as exc:
                self.add_error(exc.field, str(exc))
        return cleaned


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin[Ticket]):
    form = TicketAdminForm
    list_display = [
        "id",
        "title",
        "owner",
        "assignee",
        "team",
        "status",
        "priority",
        "deadline",
        "resolution_state",
    ]
    list_filter = ["status", "priority", "resolution_state"]
    search_fields = ["title", "owner__username", "owner__email"]
    list_select_related = ["owner", "assignee", "team"]
    ordering = ["deadline", "id"]
    date_hierarchy = "deadline"
    raw_id_fields = ["owner", "assignee", "team"]
    readonly_fields = [
        "created_at",
        "updated_at",
        "resolved_at",
        "resolution_state",
        "resolution_warning_sent_at",
        "resolution_breached_at",
        "paused_at",
        "first_response_due",
        "first_responded_at",
        "first_response_state",
        "first_response_breached_at",
        "next_breach_at",
        "next_check_at",
        "deadline_source",
        "policy",
    ]

    def save_model(
        self, request: HttpRequest, obj: Ticket, form: ModelForm[Ticket], change: bool
    ) -> None:
        # Through the services, like the API, so admin edits re-arm SLA emails too.
        # On a change, only what the user changed: the form always posts the deadline, and
        # a deadline sent is a manual one, which a policy's deadline must not become by
        # an unrelated edit.
        fields: dict[str, Any] = {
            name: form.cleaned_data[name]
            for name in services.EDITABLE_FIELDS
            if name in form.cleaned_data and (not change or name in form.changed_data)
        }
        if change:
            saved = services.update_ticket(ticket=obj, **fields)
        else:
            saved = services.create_ticket(owner=form.cleaned_data["owner"], **fields)
        obj.pk = saved.pk
