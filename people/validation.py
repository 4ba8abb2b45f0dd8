"""Rules for a profile's values, shared by the model (admin) and the API."""

from datetime import time

from django.core.exceptions import ValidationError


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
