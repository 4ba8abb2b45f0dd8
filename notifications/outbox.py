"""Writing to the outbox: called inside the transaction that changes a ticket's state."""

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from notifications.models import DeliveryStatus, Endpoint, Notification
from sla.enums import Announcement, SlaState
from watchdog import bulk

# (ticket id, metric, kind, deadline, threshold): what makes a notification unique.
Row = tuple[int, str, Announcement, datetime, int]

log = logging.getLogger(__name__)

SLA_KINDS = (Announcement.WARNING, Announcement.MISSED)
# Not sent yet, and still to be: a held email is released when its owner confirms, so it
# must go stale like a pending one.
UNDELIVERED = (DeliveryStatus.PENDING, DeliveryStatus.HELD)


# What enqueue writes on PostgreSQL (bulk.insert_rows): every column with a Python default.
QUEUED_FIELDS = (
    "ticket_id",
    "metric",
    "kind",
    "deadline",
    "threshold",
    "next_attempt_at",
    "message_key",
    "status",
    "recipient",
    "attempts",
    "last_error",
    "created_at",
    "endpoint_id",
    "level",
    "repeat",
    "recipient_user_id",
    "held_until",
)

# Emails queued by this process since it last analyzed the outbox (refresh_statistics),
# and how many make a backlog worth analyzing for.
_queued_since_analyze = 0
ANALYZE_AFTER_ROWS = 1000


def enqueue(rows: Iterable[Row], *, now: datetime, team_endpoints: bool = True) -> None:
    """Create one pending notification per row, unless it exists: the seed's announcements
    to the ticket's owner (level 0), and with `team_endpoints` a copy of each warning and
    miss for every enabled endpoint of the ticket's team. The engine passes False for the
    tickets whose escalation policy says who else hears (enqueue_escalations).

    The unique constraint decides: a second checker, or a second call, inserts nothing.
    On PostgreSQL one INSERT of arrays per 2,000 rows (watchdog.bulk), elsewhere
    bulk_create: the same rows, without building a model instance per row.
    """
    emails = [EscalationRow(*row) for row in rows]
    copies = _endpoint_copies(emails) if team_endpoints else []
    _insert(emails + copies, now=now)


class EscalationRow(NamedTuple):
    """One notification to queue: an announcement (Row's five) and whom it goes to.

    A NamedTuple: the check makes one per email it queues, thousands a batch."""

    ticket_id: int
    metric: str
    kind: Announcement
    deadline: datetime
    threshold: int
    level: int = 0
    repeat: int = 0
    recipient_user_id: int | None = None  # None: the owner, or the endpoint's copy
    endpoint_id: int | None = None
    # Held for the recipient's quiet hours until then (release_quiet queues it).
    held_until: datetime | None = None


def enqueue_escalations(rows: Sequence[EscalationRow], *, now: datetime) -> None:
    """Queue escalation levels' notifications (tickets.escalation), unless they exist."""
    _insert(list(rows), now=now)


def _insert(rows: list[EscalationRow], *, now: datetime) -> None:
    global _queued_since_analyze
    if not rows:
        return
    _queued_since_analyze += len(rows)
    if connection.vendor == "postgresql":
        created = timezone.now()  # auto_now_add
        bulk.insert_rows(
            Notification,
            QUEUED_FIELDS,
            [
                (
                    ticket_id,
                    metric,
                    kind,
                    deadline,
                    threshold,
                    held_until or now,
                    uuid.uuid4(),
                    DeliveryStatus.PENDING if held_until is None else DeliveryStatus.HELD,
                    "",
                    0,
                    "",
                    created,
                    endpoint_id,
                    level,
                    repeat,
                    recipient_user_id,
                    held_until,
                )
                for (
                    ticket_id,
                    metric,
                    kind,
                    deadline,
                    threshold,
                    level,
                    repeat,
                    recipient_user_id,
                    endpoint_id,
                    held_until,
                ) in rows
            ],
            ignore_conflicts=True,
        )
        return
    Notification.objects.bulk_create(
        [
            Notification(
                ticket_id=r.ticket_id,
                metric=r.metric,
                kind=r.kind,
                deadline=r.deadline,
                threshold=r.threshold,
                next_attempt_at=r.held_until or now,
                status=_status(r),
                endpoint_id=r.endpoint_id,
                level=r.level,
                repeat=r.repeat,
                recipient_user_id=r.recipient_user_id,
                held_until=r.held_until,
            )
            for r in rows
        ],
        ignore_conflicts=True,
        batch_size=500,
    )


def _status(row: EscalationRow) -> DeliveryStatus:
    return DeliveryStatus.HELD if row.held_until is not None else DeliveryStatus.PENDING


def _endpoint_copies(rows: list[EscalationRow]) -> list[EscalationRow]:
    """The same warnings and misses once more per enabled endpoint of the ticket's team.

    Creation announcements stay email only: a channel is for what needs action. A ticket
    in no team has no endpoints. One query for the whole call, whatever its size.
    """
    sla_rows = [row for row in rows if row.kind in SLA_KINDS]
    if not sla_rows:
        return []
    by_ticket: dict[int, list[int]] = {}
    for endpoint_id, ticket_id in bulk.fetch(
        Endpoint.objects.filter(
            enabled=True,
            team__tickets__id__in=bulk.ids_in(sorted({row.ticket_id for row in sla_rows})),
        ).values_list("id", "team__tickets__id")
    ):
        by_ticket.setdefault(ticket_id, []).append(endpoint_id)
    return [
        row._replace(endpoint_id=endpoint)
        for row in sla_rows
        for endpoint in by_ticket.get(row.ticket_id, ())
    ]


def refresh_statistics() -> bool:
    """ANALYZE the outbox once this process has queued a backlog since it last did.

    PostgreSQL plans the claim from the table's statistics. Gathered while little was
    pending, as an idle outbox is most of the time, they count the pending rows as none,
    and a plan for none reads every pending row through the smallest of their partial
    indexes and sorts them all, in every batch: each email then costs in proportion to
    the backlog (bench/README.md, "A first pass over a big backlog"). Autovacuum would
    analyze the table once a tenth of it changed, up to a minute later, and never where
    it is off. Called by the SLA check after its state changes, before delivery; one
    ANALYZE samples at most 30,000 rows whatever the table's size (a fraction of a
    second). Returns whether it analyzed.
    """
    global _queued_since_analyze
    if _queued_since_analyze < ANALYZE_AFTER_ROWS or connection.vendor != "postgresql":
        return False
    _queued_since_analyze = 0
    table = connection.ops.quote_name(Notification._meta.db_table)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {table}")
    except DatabaseError as error:  # not the table's owner, say: plans stay as they are
        log.warning("could not analyze %s: %s", table, error)
        return False
    return True


@dataclass(frozen=True)
class MetricStanding:
    """One metric of a ticket as just assessed: what its undelivered emails must agree with."""

    active: bool  # the ticket is open or pending
    state: str
    warned_threshold: int | None
    deadline: datetime | None
    # The deadline was set anew (client, priority change, reopening): emails about any
    # other deadline are void. Otherwise a moved deadline (a pause, a recompute) keeps the
    # warnings that still hold.
    fresh: bool


# Per metric name.
Standing = Mapping[str, MetricStanding]


def still_holds(kind: str, threshold: int, deadline: datetime, standing: MetricStanding) -> bool:
    """Whether an undelivered warning or miss is still true of the metric as it stands."""
    if not standing.active:
        return False  # resolved or closed: nothing left to warn about
    if standing.fresh and deadline != standing.deadline:
        return False
    if kind == Announcement.MISSED:
        return standing.state == SlaState.BREACHED
    if standing.state == SlaState.PAUSED:
        return True  # true when it was queued; the clock merely stopped
    if standing.state != SlaState.AT_RISK or standing.warned_threshold is None:
        return False  # on track again, met, breached (the miss supersedes it), untracked
    return threshold >= standing.warned_threshold  # a threshold it is still past


def cancel_stale(standings: Mapping[int, Standing]) -> int:
    """Cancel the undelivered SLA emails of these tickets that no longer hold."""
    if not standings:
        return 0
    pending = bulk.fetch(
        Notification.objects.filter(
            ticket_id__in=bulk.ids_in(list(standings)),
            kind__in=SLA_KINDS,
            status__in=UNDELIVERED,
        ).values_list("id", "ticket_id", "metric", "kind", "threshold", "deadline")
    )
    stale = [
        pk
        for pk, ticket_id, metric, kind, threshold, deadline in pending
        if not still_holds(kind, threshold, deadline, standings[ticket_id][metric])
    ]
    if not stale:
        return 0
    return Notification.objects.filter(pk__in=stale, status__in=UNDELIVERED).update(
        status=DeliveryStatus.CANCELLED, next_attempt_at=None
    )


def release_held(*, user_id: int, now: datetime) -> int:
    """Queue the emails held for a user who has now confirmed their address (those held
    for quiet hours wait for them to end)."""
    theirs = Q(ticket__owner_id=user_id, recipient_user__isnull=True, endpoint__isnull=True)
    return Notification.objects.filter(
        theirs | Q(recipient_user_id=user_id),
        status=DeliveryStatus.HELD,
        held_until__isnull=True,
    ).update(status=DeliveryStatus.PENDING, next_attempt_at=now, last_error="")


def release_quiet(*, now: datetime) -> int:
    """Queue the notifications held for quiet hours that have ended by `now`.

    Called by every SLA check before it delivers (served by notification_quiet_idx: only
    the rows held for quiet hours are in it). They keep `held_until`, which the API shows
    and from which delivery measures their wait.
    """
    return Notification.objects.filter(
        status=DeliveryStatus.HELD, held_until__isnull=False, held_until__lte=now
    ).update(status=DeliveryStatus.PENDING)


def hold_again(*, user_id: int, until: datetime | None, now: datetime) -> int:
    """The notifications held for `user_id`'s quiet hours now wait `until` (their quiet
    hours as just changed end), or are queued at once (None: not quiet now)."""
    held = Notification.objects.filter(
        recipient_user_id=user_id, status=DeliveryStatus.HELD, held_until__isnull=False
    )
    if until is None:
        return held.update(status=DeliveryStatus.PENDING, held_until=now, next_attempt_at=now)
    return held.update(held_until=until, next_attempt_at=until)


def cancel_held_for(*, user_id: int) -> int:
    """Cancel the notifications held for `user_id`'s quiet hours: they turned escalation
    emails off."""
    return Notification.objects.filter(
        recipient_user_id=user_id, status=DeliveryStatus.HELD, held_until__isnull=False
    ).update(status=DeliveryStatus.CANCELLED, next_attempt_at=None)


def cancel_escalations(*, ticket_id: int, metrics: Mapping[str, datetime]) -> int:
    """Cancel the undelivered escalation notifications of these metrics' deadlines: an
    acknowledged breach stops its repeats and any later level."""
    cancelled = 0
    for metric, deadline in metrics.items():
        cancelled += Notification.objects.filter(
            ticket_id=ticket_id,
            metric=metric,
            deadline=deadline,
            kind=Announcement.MISSED,
            level__gt=0,
            status__in=UNDELIVERED,
        ).update(status=DeliveryStatus.CANCELLED, next_attempt_at=None)
    return cancelled


def due(now: datetime) -> QuerySet[Notification]:
    """Pending rows whose next attempt is due by `now`."""
    # Served by notification_claim_idx.
    return Notification.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)


# What deliver_soon calls once a transaction has queued emails: set at start-up by the
# module that can reach the workers (tickets.apps wires in tickets.tasks.nudge), so the
# services calling deliver_soon import no Celery. Unset, the checker delivers, as always.
Nudge = Callable[[], None]
_nudge: Nudge | None = None


def set_nudge(nudge: Nudge | None) -> None:
    global _nudge
    _nudge = nudge


def deliver_soon(*, ticket_id: int, now: datetime) -> None:
    """Once the current transaction commits, have a worker send this ticket's due emails.

    Only with a broker: without one, the check_sla loop delivers them, as always. This is
    a nudge so a creation email does not wait for beat; the row in the outbox is what
    counts, so when the broker cannot take the nudge the request still succeeds and beat's
    next check delivers the email.
    """
    nudge = _nudge
    if not settings.CELERY_BROKER_URL or nudge is None:
        return
    if due(now).filter(ticket_id=ticket_id).exists():
        transaction.on_commit(nudge)
