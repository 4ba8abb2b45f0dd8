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


class StableOrderingFilter(django_filters.OrderingFilter):
    """The requested ordering, then deadline and id: a total order, so that pages of a
    list ordered by priority (four values for many tickets) neither overlap nor skip."""

    def filter(self, qs: Any, value: Any) -> Any:
        # Blank entries ("?ordering=," or "deadline,") are skipped, not ordered by "".
        fields = [self.get_ordering_value(param) for param in value or [] if param]
        if not fields:
            return qs
        named = {field.lstrip("-") for field in fields}
        return qs.order_by(*fields, *(f for f in ("deadline", "id") if f not in named))


class TicketFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=Status.choices)
    priority = django_filters.MultipleChoiceFilter(choices=Priority.choices)
    sla_state = django_filters.MultipleChoiceFilter(choices=SlaState.choices)
    deadline_after = AwareIsoDateTimeFilter(field_name="deadline", lookup_expr="gte")
    deadline_before = AwareIsoDateTimeFilter(field_name="deadline", lookup_expr="lt")
    ordering = StableOrderingFilter(
        fields=(
            ("deadline", "deadline"),
            ("created_at", "created_at"),
            ("priority_rank", "priority"),
        ),
    )

    class Meta:
        model = Ticket
        fields = ["status", "priority", "sla_state"]
