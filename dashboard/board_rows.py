"""The board's rows as HTML, written in Python.

The board draws up to 100 rows of nine cells; through the template language that was
some 30 variable and tag nodes a row, two thirds of the request's time. Here each row is
one format_html (every value escaped, as the template's autoescape did) with the same
helpers the template used (the `duration` filter for times left; the dates as the
`date` filter writes them). bench/board_render.py measures the request.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import localtime

from dashboard.board import BoardRow
from dashboard.templatetags.sla_display import duration
from sla.enums import SlaState

_ROW = (
    '<tr class="state-{state}" data-ticket="{pk}">\n'
    '  <td><a href="{tickets_url}{pk}/">{title}</a></td>\n'
    '  <td><span class="badge state-{state}" data-state="{state}">{state_label}</span></td>\n'
    "  <td>{metric}</td>\n"
    "  <td>{priority}</td>\n"
    "{owner}"
    "  <td>{business}</td>\n"
    "  <td>{wall}</td>\n"
    '  <td><time datetime="{deadline_iso}">{deadline}</time></td>\n'
    "  <td>{respond}</td>\n"
    "</tr>\n"
)
# A button that POSTs to one of the ticket's actions and comes back to this board.
_ACTION = (
    '<form method="post" action="{tickets_url}{pk}/{action}/">'
    '<input type="hidden" name="csrfmiddlewaretoken" value="{csrf_token}">'
    '<input type="hidden" name="next" value="{next}">'
    '<button type="submit">{label}</button></form>'
)


def _left(seconds: int | None) -> str:
    if seconds is None:
        return "\u2013"
    return f"late by {duration(seconds)}" if seconds < 0 else f"{duration(seconds)} left"


def _business(row: BoardRow) -> str:
    text = _left(row.standing.business_seconds_left)
    return f"{text} (paused)" if row.standing.state == SlaState.PAUSED else text


def _wall(row: BoardRow) -> str:
    # A paused deadline moves when the clock resumes: no wall time is left to count.
    if row.standing.state == SlaState.PAUSED:
        return "paused"
    return _left(row.standing.wall_seconds_left)


# The pages are in English (base.html's lang): the names date:"D" and date:"M" write.
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _deadline(at: datetime) -> tuple[str, str]:
    """As the template's date:'c' and date:"D j M, H:i T", in the current time zone
    (dateformat itself cost a third of writing the rows)."""
    local = localtime(at)
    text = (
        f"{_DAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]}, "
        f"{local:%H:%M} {local.tzname()}"
    )
    return local.isoformat(), text


def rows_html(
    rows: Iterable[BoardRow],
    *,
    tickets_url: str,
    refresh_url: str,
    csrf_token: str,
    show_owner: bool,
) -> SafeString:
    """The <tr> of each row, escaped."""
    html = []
    for row in rows:
        ticket, standing = row.ticket, row.standing
        deadline_iso, deadline = _deadline(standing.deadline)
        actions = [
            format_html(
                _ACTION,
                tickets_url=tickets_url,
                pk=ticket.pk,
                action=action,
                csrf_token=csrf_token,
                next=refresh_url,
                label=label,
            )
            for action, label, offered in (
                ("respond", "Respond", row.can_respond),
                ("acknowledge", "Acknowledge", row.can_acknowledge),
            )
            if offered
        ]
        respond = mark_safe("".join(actions))  # noqa: S308 -- each part came out of format_html
        owner = format_html("  <td>{}</td>\n", ticket.owner.get_username()) if show_owner else ""
        html.append(
            format_html(
                _ROW,
                state=standing.state,
                pk=ticket.pk,
                tickets_url=tickets_url,
                title=ticket.title,
                state_label=standing.state_label,
                metric=standing.metric_label,
                priority=ticket.get_priority_display(),
                owner=owner,
                business=_business(row),
                wall=_wall(row),
                deadline_iso=deadline_iso,
                deadline=deadline,
                respond=respond,
            )
        )
    return mark_safe("".join(html))  # noqa: S308 -- each part came out of format_html
