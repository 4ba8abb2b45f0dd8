"""How the pages write durations: "2 h 05 min", "3 d 4 h", "under 1 min"."""

from django import template

from dashboard.board import STATE_LABELS
from sla.enums import SlaState

register = template.Library()


@register.filter
def duration(seconds: int | None) -> str:
    """The length of `seconds`, unsigned (the template says "left" or "late")."""
    if seconds is None:
        return "-"
    days, rest = divmod(abs(int(seconds)), 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min"
    return "under 1 min"


@register.filter
def duration_or_dash(seconds: float | None) -> str:
    """A report's duration, or an en dash where there is none to measure."""
    return "\u2013" if seconds is None else duration(int(seconds))


@register.filter
def state_label(state: str) -> str:
    """A metric's state in words: the pages never tell a state by its colour alone."""
    return _STATE_LABELS.get(state, state)


_STATE_LABELS: dict[str, str] = {
    **{state.value: label for state, label in STATE_LABELS.items()},
    SlaState.ACHIEVED.value: "Achieved",
}
