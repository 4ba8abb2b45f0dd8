"""Escalation as stored: a ticket's escalation levels, and whom a firing tells.

sla.escalation decides when a level fires; this module reads the levels of the ticket's
escalation policy (its SLA policy's, else the default one), turns a firing's roles into
people and endpoints on the ticket as it is now, holds a person's email for their quiet
hours unless the level breaks through, and queues one outbox row per recipient
(notifications.outbox.enqueue_escalations), in the engine's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from notifications import outbox
from notifications.models import DeliveryStatus, Endpoint, Notification
from people.models import EscalationLevel, EscalationPolicy, Profile
from policies.models import BusinessCalendar
from sla.business_time import Calendar
from sla.enums import Announcement
from sla.escalation import Level, Role, Trigger
from sla.quiet_hours import QuietHours
from tickets.models import Ticket


@dataclass(frozen=True)
class LevelSpec:
    """One level: when it fires (sla.escalation.Level) and whom it names."""

    level: Level
    roles: frozenset[str]
    user_id: int | None
    endpoint_id: int | None
    breaks_quiet_hours: bool


Levels = tuple[LevelSpec, ...]
NO_LEVELS: Levels = ()


def _spec(row: EscalationLevel) -> LevelSpec:
    return LevelSpec(
        level=Level(
            number=row.position,
            trigger=Trigger(row.trigger),
            delay=row.delay,
            business_time=row.business_time,
            repeat_every=row.repeat_every,
            repeat_limit=row.repeat_limit,
            metric=row.metric or None,
        ),
        roles=frozenset(row.roles),
        user_id=row.user_id,
        endpoint_id=row.endpoint_id,
        breaks_quiet_hours=row.breaks_quiet_hours,
    )


class Escalations:
    """The escalation policies one pass of the engine meets, each read once, lazily."""

    def __init__(self) -> None:
        self._levels: dict[int, Levels] = {}
        self._default: int | None = None
        self._default_read = False

    def levels(self, escalation_policy_id: int | None) -> Levels:
        """The levels of this escalation policy; None: the default policy's, if any."""
        if escalation_policy_id is None:
            if not self._default_read:
                found = EscalationPolicy.objects.filter(is_default=True).values_list(
                    "pk", flat=True
                )
                self._default = next(iter(found), None)
                self._default_read = True
            escalation_policy_id = self._default
            if escalation_policy_id is None:
                return NO_LEVELS
        levels = self._levels.get(escalation_policy_id)
        if levels is None:
            rows = EscalationLevel.objects.filter(policy_id=escalation_policy_id)
            levels = self._levels[escalation_policy_id] = tuple(
                _spec(row) for row in rows.order_by("position")
            )
        return levels


@dataclass(frozen=True)
class Firing:
    """A level to send now for one metric of one ticket (a warning's, or a breach's)."""

    ticket_id: int
    metric: str
    kind: Announcement
    deadline: datetime
    threshold: int
    spec: LevelSpec
    repeat: int

    @property
    def with_seed_email(self) -> bool:
        """Sent at the moment the owner gets the seed's own warning or miss email."""
        level = self.spec.level
        return self.repeat == 0 and (level.trigger == Trigger.WARNING or not level.delay)


@dataclass(frozen=True)
class _People:
    owner_id: int
    assignee_id: int | None
    team_id: int | None
    lead_id: int | None
    contact_id: int | None


def queue(firings: Sequence[Firing], *, now: datetime) -> int:
    """Queue one outbox row per recipient of each firing; returns how many rows were asked.

    The roles are resolved on the ticket as it is now: a reassigned ticket's later levels
    go to its new assignee. Three queries whatever the number of firings (the tickets'
    people, the teams' endpoints, the recipients' profiles), run only when something fires.
    """
    if not firings:
        return 0
    people = _people({f.ticket_id for f in firings})
    channels = _team_channels({p.team_id for p in people.values() if p.team_id is not None})
    wanted: list[tuple[Firing, int | None, int | None]] = []  # (firing, user, endpoint)
    for firing in firings:
        who = people.get(firing.ticket_id)
        if who is None:
            continue
        users, endpoints = _recipients(firing, who, channels)
        wanted += [(firing, user, None) for user in sorted(users)]
        wanted += [(firing, None, endpoint) for endpoint in sorted(endpoints)]
    quiet = _quiet_hours({user for _, user, _ in wanted if user is not None})
    waiting = _still_held([f for f in firings if f.repeat])
    rows: list[outbox.EscalationRow] = []
    for firing, user, endpoint in wanted:
        held_until = None
        if user is not None:
            if user not in quiet:  # does not want escalation emails
                continue
            if (
                firing.ticket_id,
                firing.metric,
                firing.deadline,
                firing.spec.level.number,
                user,
            ) in waiting:
                continue  # a repeat of what they will read when their quiet hours end
            hours = quiet[user]
            if hours is not None and not firing.spec.breaks_quiet_hours:
                held_until = hours.until(now)
        rows.append(
            outbox.EscalationRow(
                ticket_id=firing.ticket_id,
                metric=firing.metric,
                kind=firing.kind,
                deadline=firing.deadline,
                threshold=firing.threshold,
                level=firing.spec.level.number,
                repeat=firing.repeat,
                recipient_user_id=user,
                endpoint_id=endpoint,
                held_until=held_until,
            )
        )
    outbox.enqueue_escalations(rows, now=now)
    return len(rows)


def _still_held(repeats: Sequence[Firing]) -> set[tuple[int, str, datetime, int, int]]:
    """(ticket, metric, deadline, level, person) of the repeated levels' emails still held
    for quiet hours: a repeat is not queued behind one, so a night's repeats arrive as one
    email in the morning, not as a pile."""
    if not repeats:
        return set()
    rows = Notification.objects.filter(
        ticket_id__in=sorted({f.ticket_id for f in repeats}),
        status=DeliveryStatus.HELD,
        held_until__isnull=False,
        recipient_user__isnull=False,
        level__gt=0,
    ).values_list("ticket_id", "metric", "deadline", "level", "recipient_user_id")
    return {(t, m, d, lv, u) for t, m, d, lv, u in rows if u is not None}


def _recipients(
    firing: Firing, who: _People, channels: dict[int, list[int]]
) -> tuple[set[int], set[int]]:
    spec = firing.spec
    by_role = {
        Role.OWNER: who.owner_id,
        Role.ASSIGNEE: who.assignee_id,
        Role.TEAM_LEAD: who.lead_id,
        Role.ESCALATION_CONTACT: who.contact_id,
    }
    users = {by_role[Role(role)] for role in spec.roles if role in by_role}
    if spec.user_id is not None:
        users.add(spec.user_id)
    if firing.with_seed_email and Role.OWNER in spec.roles and spec.user_id != who.owner_id:
        users.discard(who.owner_id)  # the owner's own email says the same at the same time
    endpoints: set[int] = set()
    if Role.TEAM_CHANNELS in spec.roles and who.team_id is not None:
        endpoints.update(channels.get(who.team_id, ()))
    if spec.endpoint_id is not None:
        endpoints.add(spec.endpoint_id)
    return {u for u in users if u is not None}, endpoints


def _people(ticket_ids: Iterable[int]) -> dict[int, _People]:
    rows = Ticket.objects.filter(pk__in=sorted(ticket_ids)).values_list(
        "pk", "owner_id", "assignee_id", "team_id", "team__lead_id", "team__escalation_contact_id"
    )
    return {pk: _People(*rest) for pk, *rest in rows}


def _team_channels(team_ids: set[int]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    if not team_ids:
        return found
    for pk, team_id in Endpoint.objects.filter(
        team_id__in=sorted(team_ids), enabled=True
    ).values_list("pk", "team_id"):
        found.setdefault(team_id, []).append(pk)
    return found


def _quiet_hours(user_ids: set[int]) -> dict[int, QuietHours | None]:
    """Each user who wants escalation emails, with their quiet hours (None: never quiet).

    A user without a profile has the defaults: emails on, no quiet hours.
    """
    if not user_ids:
        return {}
    found: dict[int, QuietHours | None] = dict.fromkeys(user_ids)
    profiles = list(
        Profile.objects.filter(user_id__in=sorted(user_ids)).select_related("quiet_calendar")
    )
    calendars: dict[int, Calendar] = {}
    for profile in profiles:
        if not profile.email_enabled:
            del found[profile.user_id]
            continue
        calendar = None
        if profile.quiet_calendar is not None:
            known: BusinessCalendar = profile.quiet_calendar
            calendar = calendars.get(known.pk) or calendars.setdefault(known.pk, known.to_domain())
        found[profile.user_id] = profile.quiet_hours(calendar)
    return found
