"""Rules for a profile's values, shared by the model (admin) and the API."""

from datetime import time, timedelta
from typing import Any

from django.core.exceptions import ValidationError

from sla.escalation import Role, Trigger


def validate_quiet_hours(start: time | None, end: time | None) -> None:
    """Both or neither, and not the same time (which would be quiet for no time or all)."""
    if (start is None) != (end is None):
        missing = "quiet_hours_end" if end is None else "quiet_hours_start"
        raise ValidationError(
            {missing: "Give both the start and the end of quiet hours, or neither."}
        )
    if start is not None and start == end:
        raise ValidationError(
            {"quiet_hours_end": "Quiet hours must end at another time than they start."}
        )


def validate_roles(value: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError("A list of role names.")
    unknown = sorted(set(value) - set(Role))
    if unknown:
        raise ValidationError(
            f"Unknown roles: {', '.join(unknown)}; known: {', '.join(r.value for r in Role)}."
        )


def validate_level(
    *,
    trigger: str,
    delay: timedelta | None,
    repeat_every: timedelta | None,
    repeat_limit: int,
    has_recipient: bool,
) -> None:
    """A level fires at a warning or some time after a breach, repeats only after a breach,
    and tells somebody."""
    errors: dict[str, str] = {}
    if not has_recipient:
        errors["roles"] = "Name at least one role, a user or an endpoint."
    if delay is not None and delay < timedelta(0):
        errors["delay"] = "A level cannot fire before the breach."
    if trigger == Trigger.WARNING:
        if delay:
            errors["delay"] = "A warning level fires with the warning: no delay."
        if repeat_every or repeat_limit:
            errors["repeat_every"] = "Only breach levels repeat."
    elif (repeat_every is None) != (not repeat_limit):
        errors["repeat_every"] = "Give both how often to repeat and how many times, or neither."
    elif repeat_every is not None and repeat_every < timedelta(minutes=1):
        errors["repeat_every"] = "Repeat at most once a minute."
    if errors:
        raise ValidationError(errors)
