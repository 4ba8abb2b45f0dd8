from typing import Any

import django_filters
from django import forms
from django.utils.dateparse import parse_datetime
from django_filters.fields import IsoDateTimeField

from tickets.models import Ticket
from tickets.sla import Priority, SlaState, Status


class AwareIsoDateTimeField(IsoDateTimeField):
    """As in request bodies, a time without a UTC offset is refused rather than guessed."""

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is None:
                raise forms.ValidationError("Include a UTC offset, e.g. 2026-11-27T17:00:00Z.")
        return super().to_python(value)


class AwareIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = AwareIsoDateTimeField


class TicketFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=Status.choices)
    priority = django_filters.MultipleChoiceFilter(choices=Priority.choices)
    sla_state = django_filters.MultipleChoiceFilter(choices=SlaState.choices)
    deadline_after = AwareIsoDateTimeFilter(field_name="deadline", lookup_expr="gte")
    deadline_before = AwareIsoDateTimeFilter(field_name="deadline", lookup_expr="lt")
    ordering = django_filters.OrderingFilter(
        fields=(
            ("deadline", "deadline"),
            ("created_at", "created_at"),
            ("priority_rank", "priority"),
        ),
    )

    class Meta:
        model = Ticket
        fields = ["status", "priority", "sla_state"]
