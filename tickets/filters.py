import re
from datetime import datetime, timedelta
from typing import Any

import django_filters
from django import forms
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_datetime, parse_duration
from django_filters.fields import IsoDateTimeField
from drf_spectacular.utils import extend_schema_field

from sla.enums import Priority, SlaState, Status, choices
from tickets.models import Ticket

# PostgreSQL's timestamptz takes offsets up to 15:59 either way; Python's datetime goes to
# 23:59, and a query with +16:00 failed in the database (a 500). No zone is that far out.
MAX_UTC_OFFSET = timedelta(hours=15, minutes=59)
OFFSET_OUT_OF_RANGE = "The UTC offset must be between -15:59 and +15:59."
# The schema's statement of both rules: an offset, within that range.
UTC_OFFSET_PATTERN = r"(Z|z|[+-](0[0-9]|1[0-5]):[0-5][0-9])$"


def offset_in_range(value: datetime) -> bool:
    offset = value.utcoffset()
    return offset is not None and abs(offset) <= MAX_UTC_OFFSET


class AwareIsoDateTimeField(IsoDateTimeField):
    """As in request bodies, a time without a UTC offset is refused rather than guessed."""

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str):
            if "\x00" in value:  # CPython's fromisoformat stops reading at a NUL
                raise forms.ValidationError("Enter a valid date/time.")
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is None:
                raise forms.ValidationError("Include a UTC offset, e.g. 2026-11-27T17:00:00Z.")
            if parsed is not None and not offset_in_range(parsed):
                raise forms.ValidationError(OFFSET_OUT_OF_RANGE)
        return super().to_python(value)


# An empty value filters nothing, as django-filter has it: the schema says so too.
@extend_schema_field(
    {
        "anyOf": [
            {"type": "string", "format": "date-time", "pattern": UTC_OFFSET_PATTERN},
            {"type": "string", "maxLength": 0},
        ],
        # No "example": Swagger UI's "Try it out" fills one in, and would filter the list.
        "description": "ISO 8601 with a UTC offset from -15:59 to +15:59, such as "
        "2026-11-27T17:00:00Z; empty: no filter.",
    }
)
class AwareIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = AwareIsoDateTimeField


# A compact duration: days, hours, minutes, seconds, in that order, each at most once.
_COMPACT_DURATION = re.compile(r"(?:(\d{1,9})d)?(?:(\d{1,9})h)?(?:(\d{1,9})m)?(?:(\d{1,9})s)?")
MAX_WITHIN = timedelta(days=366)


class WithinField(forms.Field):
    """A positive duration: `90s`, `30m`, `2h`, `1d`, combined as `1h30m`, or ISO 8601 `PT2H`."""

    default_error_messages = {
        "invalid": "Give a duration such as 90s, 30m, 2h, 1d, 1h30m or PT2H.",
        "positive": "The duration must be more than zero.",
        "too_long": "The duration must be at most 366 days.",
    }

    def to_python(self, value: Any) -> timedelta | None:
        if value in self.empty_values:
            return None
        text = str(value).strip()
        if text.startswith("-"):
            raise forms.ValidationError(self.error_messages["positive"], code="positive")
        duration = None
        compact = _COMPACT_DURATION.fullmatch(text)
        if compact and text:
            days, hours, minutes, seconds = (int(part or 0) for part in compact.groups())
            try:
                duration = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
            except OverflowError:
                raise forms.ValidationError(
                    self.error_messages["too_long"], code="too_long"
                ) from None
        elif text.lstrip("+").startswith("P") and len(text) <= 64 and re.search(r"\d", text):
            try:
                duration = parse_duration(text)
            except (OverflowError, ValueError):
                duration = None
        if duration is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        if duration <= timedelta(0):
            raise forms.ValidationError(self.error_messages["positive"], code="positive")
        if duration > MAX_WITHIN:
            raise forms.ValidationError(self.error_messages["too_long"], code="too_long")
        return duration


_BREACHING_WITHIN = (
    "Tickets whose next deadline (first response or resolution, whichever is still running "
    "and comes first) is within this duration from now, or already passed: 90s, 30m, 2h, "
    "1d, 1h30m or ISO 8601 such as PT2H; more than zero, at most 366 days."
)


# The syntax WithinField reads (less ISO 8601's rarer forms: fractions, a sign); the range
# is in the description, beyond what a pattern can say. Empty: no filter.
BREACHING_WITHIN_PATTERN = (
    r"^$|^(?=.*[0-9])(([0-9]{1,9}d)?([0-9]{1,9}h)?([0-9]{1,9}m)?([0-9]{1,9}s)?"
    r"|P([0-9]{1,9}D)?(T([0-9]{1,9}H)?([0-9]{1,9}M)?([0-9]{1,9}S)?)?)$"
)


# django-filter has no duration-as-text field spectacular knows: described by hand.
@extend_schema_field(
    {
        "type": "string",
        "pattern": BREACHING_WITHIN_PATTERN,
        "maxLength": 64,
        # No "example": Swagger UI's "Try it out" would fill it in and hide most tickets.
        "description": _BREACHING_WITHIN,
    }
)
class BreachingWithinFilter(django_filters.Filter):
    """Tickets whose next deadline (of either metric) falls within the duration from now,
    or has already passed unnoticed; never those with nothing left to breach (NULL)."""

    field_class = WithinField

    def filter(self, qs: Any, value: timedelta | None) -> Any:
        if value is None:
            return qs
        return qs.filter(next_breach_at__isnull=False, next_breach_at__lte=timezone.now() + value)


class PersonField(forms.CharField):
    """`me`, `none` or a numeric id (up to a bigint's 18 digits, never a database error)."""

    default_error_messages = {"invalid": "Give me, none, or a numeric id."}

    def __init__(self, *, words: tuple[str, ...], **kwargs: Any) -> None:
        self.words = words
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Any:
        text = (super().to_python(value) or "").strip()
        if not text:
            return None
        if text in self.words:
            return text
        if text.isascii() and text.isdigit() and len(text) <= 18:
            return int(text)
        raise forms.ValidationError(self.error_messages["invalid"], code="invalid")


@extend_schema_field(
    {
        "type": "string",
        "pattern": r"^(|me|none|[0-9]{1,18})$",
        "description": "me: assigned to you; none: unassigned; or a user's id. Empty: no filter.",
    }
)
class AssigneeFilter(django_filters.Filter):
    field_class = PersonField

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(field_name="assignee", words=("me", "none"), **kwargs)

    def filter(self, qs: Any, value: str | int | None) -> Any:
        if value is None:
            return qs
        if value == "none":
            return qs.filter(assignee__isnull=True)
        if value == "me":
            return qs.filter(assignee_id=self.parent.request.user.pk)
        return qs.filter(assignee_id=value)


@extend_schema_field(
    {
        "type": "string",
        "pattern": r"^(|none|[0-9]{1,18})$",
        "description": "A team's id, or none: in no team. Empty: no filter.",
    }
)
class TeamFilter(django_filters.Filter):
    field_class = PersonField

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(field_name="team", words=("none",), **kwargs)

    def filter(self, qs: Any, value: str | int | None) -> Any:
        if value is None:
            return qs
        if value == "none":
            return qs.filter(team__isnull=True)
        return qs.filter(team_id=value)


# Nullable ordering keys, NULL counting as later than any value ("never"): last going up,
# first going down, exactly the reverse. PostgreSQL's own default, spelt out for SQLite.
NULLABLE_ORDERINGS = frozenset({"next_breach_at"})
# What breaks ties after the requested key: deadline and id, except where an index has the
# key and id only (ticket_owner_breach_idx), so that the index serves the whole ordering.
_TIE_BREAKERS = {"next_breach_at": ("id",)}


def ordering_term(name: str, *, descending: bool) -> Any:
    """`name` as an ORDER BY term, NULLs placed as NULLABLE_ORDERINGS says."""
    if name in NULLABLE_ORDERINGS:
        return F(name).desc(nulls_first=True) if descending else F(name).asc(nulls_last=True)
    return f"-{name}" if descending else name


class StableOrderingFilter(django_filters.OrderingFilter):
    """The requested ordering, then deadline and id: a total order, so that pages of a
    list ordered by priority (four values for many tickets) neither overlap nor skip."""

    def filter(self, qs: Any, value: Any) -> Any:
        # Blank entries ("?ordering=," or "deadline,") are skipped, not ordered by "".
        fields = [self.get_ordering_value(param) for param in value or [] if param]
        if not fields:
            return qs
        named = {field.lstrip("-") for field in fields}
        tie_breakers = _TIE_BREAKERS.get(fields[0].lstrip("-"), ("deadline", "id"))
        terms = [ordering_term(f.lstrip("-"), descending=f.startswith("-")) for f in fields]
        return qs.order_by(*terms, *(f for f in tie_breakers if f not in named))


class TicketFilter(django_filters.FilterSet):
    # Columns of the ticket itself: a ticket matches once, and django-filter's default
    # DISTINCT (for filters across a join) only made PostgreSQL sort every match.
    status = django_filters.MultipleChoiceFilter(choices=choices(Status), distinct=False)
    priority = django_filters.MultipleChoiceFilter(choices=choices(Priority), distinct=False)
    sla_state = django_filters.MultipleChoiceFilter(
        field_name="resolution_state", choices=choices(SlaState), distinct=False
    )
    deadline_after = AwareIsoDateTimeFilter(field_name="deadline", lookup_expr="gte")
    deadline_before = AwareIsoDateTimeFilter(field_name="deadline", lookup_expr="lt")
    breaching_within = BreachingWithinFilter()
    assignee = AssigneeFilter()
    team = TeamFilter()
    ordering = StableOrderingFilter(
        fields=(
            ("deadline", "deadline"),
            ("created_at", "created_at"),
            ("priority_rank", "priority"),
            ("next_breach_at", "next_breach_at"),
        ),
    )

    class Meta:
        model = Ticket
        fields = ["status", "priority", "sla_state"]
