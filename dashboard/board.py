"""The at-risk board: the open tickets a user may see, soonest breach first, each with the
metric that stands worst and the time it has left, as GET /api/tickets/<id>/sla/ counts it.

A query per visibility branch for the tickets (each capped at BOARD_MAX_ROWS), one for
the policies they use: the page costs the same however many tickets there are behind it.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django import forms
from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Q

from policies.models import SlaPolicy
from sla.enums import Metric, Priority, SlaState, choices
from tickets.clocks import Clocks
from tickets.explain import explain
from tickets.facts import METRICS
from tickets.models import ACTIVE_STATUS_LIST, BOARD_ORDER, Ticket, visibility_branches

BOARD_MAX_ROWS = 100

# The states a metric shows on the board, worst first: a ticket shows its worst metric.
BOARD_STATES = (SlaState.BREACHED, SlaState.AT_RISK, SlaState.ON_TRACK, SlaState.PAUSED)
_SEVERITY = {state: len(BOARD_STATES) - rank for rank, state in enumerate(BOARD_STATES)}
STATE_LABELS = {
    SlaState.ON_TRACK: "On track",
    SlaState.AT_RISK: "At risk",
    SlaState.PAUSED: "Paused",
    SlaState.BREACHED: "Breached",
}
METRIC_LABELS = {Metric.FIRST_RESPONSE: "First response", Metric.RESOLUTION: "Resolution"}

# The ticket column holding each metric's state.
_STATE_COLUMNS = {columns.metric: columns.state for columns in METRICS}


class BoardFilters(forms.Form):
    priority = forms.ChoiceField(choices=[("", "Any"), *choices(Priority)], required=False)
    state = forms.ChoiceField(
        choices=[("", "Any"), *((state.value, STATE_LABELS[state]) for state in BOARD_STATES)],
        required=False,
    )
    mine = forms.BooleanField(required=False, label="Mine only")


@dataclass(frozen=True)
class Standing:
    """Where a ticket's worst metric stands at `now`."""

    metric: Metric
    state: SlaState
    deadline: datetime
    # Business time left on the ticket's calendar (frozen while paused); negative: late.
    business_seconds_left: int | None
    wall_seconds_left: int

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def metric_label(self) -> str:
        return METRIC_LABELS[self.metric]


@dataclass(frozen=True)
class BoardRow:
    ticket: Ticket
    standing: Standing

    @property
    def can_respond(self) -> bool:
        """POST /api/tickets/<id>/respond/ accepts it: no first response recorded yet."""
        return self.ticket.first_responded_at is None

    @property
    def can_acknowledge(self) -> bool:
        """POST /api/tickets/<id>/acknowledge/ would stop an escalation: a breach nobody has
        acknowledged since its deadline (tickets.services.acknowledge)."""
        if self.standing.state != SlaState.BREACHED:
            return False
        acknowledged = self.ticket.acknowledged_at
        return acknowledged is None or acknowledged < self.standing.deadline


@dataclass(frozen=True)
class Board:
    rows: list[BoardRow]
    # More tickets matched than BOARD_MAX_ROWS: the page says so.
    capped: bool


def _has(state: SlaState) -> Q:
    return Q(**{_STATE_COLUMNS[Metric.FIRST_RESPONSE]: state}) | Q(
        **{_STATE_COLUMNS[Metric.RESOLUTION]: state}
    )


def state_filter(state: SlaState) -> Q:
    """The tickets whose worst metric is `state`, as `headline` picks it, in SQL."""
    found = _has(state)
    for worse in BOARD_STATES[: BOARD_STATES.index(state)]:
        found &= ~_has(worse)
    return found


def board_tickets(user: User | AnonymousUser, filters: dict[str, Any]) -> list[Ticket]:
    """The user's open tickets (the API's visibility rule), soonest breach first, at most
    BOARD_MAX_ROWS + 1 of them.

    A breached ticket has no next breach: it sorts by its (past) deadline, so it comes
    before every ticket still running. Paused ones sort by their deadline as it stands.
    Read one visibility branch at a time (owned, assigned, each team), each the first
    rows of its own index, then merged: one OR over the branches lost the index order
    and sorted every open ticket the user can see.
    """
    tickets = Ticket.objects.filter(status__in=ACTIVE_STATUS_LIST)
    if filters.get("priority"):
        tickets = tickets.filter(priority=filters["priority"])
    if filters.get("state"):
        tickets = tickets.filter(state_filter(SlaState(filters["state"])))
    if filters.get("mine"):
        tickets = tickets.filter(owner_id=user.pk)
    # In the order of the board indexes (ticket_board_idx, ticket_owner_board_idx, and the
    # assignee's and team's): a branch reads at most 101 index entries, however many
    # tickets are open.
    limit = BOARD_MAX_ROWS + 1
    ordered = tickets.select_related("owner").order_by(BOARD_ORDER.asc(), "id")
    branches = visibility_branches(user)
    if branches is None:
        return list(ordered[:limit])
    # Keys first (order and id, from the index), the tickets of the merged first rows after:
    # building every branch's 101 tickets cost more than the queries.
    keyed = ordered.annotate(board_key=BOARD_ORDER).values_list("board_key", "id")
    merged = heapq.merge(*(keyed.filter(branch)[:limit] for branch in branches))
    ids: dict[int, None] = {}  # a ticket may be in two branches: owned and assigned
    for _key, pk in merged:
        ids.setdefault(pk)
        if len(ids) == limit:
            break
    found = Ticket.objects.select_related("owner").in_bulk(list(ids))
    return [found[pk] for pk in ids if pk in found]


def build_board(user: User | AnonymousUser, filters: dict[str, Any], *, now: datetime) -> Board:
    tickets = board_tickets(user, filters)
    capped = len(tickets) > BOARD_MAX_ROWS
    tickets = tickets[:BOARD_MAX_ROWS]
    clocks = Clocks()
    clocks.remember(
        SlaPolicy.objects.select_related("calendar").filter(
            pk__in={ticket.policy_id for ticket in tickets if ticket.policy_id is not None}
        )
    )
    rows = [BoardRow(ticket, standing_of(ticket, clocks=clocks, now=now)) for ticket in tickets]
    return Board(rows=rows, capped=capped)


def standing_of(ticket: Ticket, *, clocks: Clocks, now: datetime) -> Standing:
    """The ticket's worst metric, counted by tickets.explain as /sla/ counts it.

    Only the time left is read, which needs neither the pauses nor the timeline.
    """
    explained = explain(
        ticket, policy=None, pauses=(), events=(), clocks=clocks, now=now, escalation=False
    )
    return headline(explained, now=now)


def headline(explained: dict[str, Any], *, now: datetime) -> Standing:
    """The metric that stands worst (breached, at risk, on track, paused); of two alike, the
    one due first. A metric met or untracked is never the headline."""
    candidates: list[Standing] = []
    for metric in (Metric.FIRST_RESPONSE, Metric.RESOLUTION):
        found = explained[metric.value]
        if found["deadline"] is None or found["state"] not in _SEVERITY:
            continue
        candidates.append(
            Standing(
                metric=metric,
                state=SlaState(found["state"]),
                deadline=found["deadline"],
                business_seconds_left=found["remaining_seconds"],
                wall_seconds_left=int((found["deadline"] - now).total_seconds()),
            )
        )
    if not candidates:  # an open ticket's resolution always runs; kept for a safe page
        resolution = explained[Metric.RESOLUTION.value]
        return Standing(
            metric=Metric.RESOLUTION,
            state=SlaState.ON_TRACK,
            deadline=resolution["deadline"],
            business_seconds_left=resolution["remaining_seconds"],
            wall_seconds_left=int((resolution["deadline"] - now).total_seconds()),
        )
    return min(candidates, key=lambda s: (-_SEVERITY[s.state], s.deadline))
