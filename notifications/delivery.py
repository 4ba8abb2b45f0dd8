"""Delivering the outbox: claim due rows with a lease, send them through a transport, record.

The channel itself (SMTP, or a row's webhook or Slack endpoint) is a
notifications.transports class; what is here is the
same for every channel: the claim, the batch loop and its time budget, and the outcome of
each row (sent, retrying, failed, skipped, held).

Guarantee: every notification is delivered at least once. A row is marked sent only
after the server accepted it: by default each as soon as it is accepted, so a duplicate
is possible only for the one in flight when the process dies (the next sender retries it
after the lease), or, on PostgreSQL, if the database server crashes before flushing the
mark (_asynchronous_commits). SLA_DELIVERY_MARK_EVERY > 1 marks that many accepted rows
in one statement, saving a commit each, and widens the possible repeat to them.

No query here filters by `status` alone where a primary key would do: the partial indexes
on pending rows (notifications.models) are planned from statistics that describe an idle
outbox until the table is analyzed again, and PostgreSQL then reads a whole backlog
through one of them to find a single row (bench/README.md, "A first pass over a big
backlog").
"""

import contextlib
import functools
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, cast, runtime_checkable

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db import connection as db_connection
from django.db.models import F, Field, QuerySet
from django.utils import timezone

from notifications import latency
from notifications.models import DeliveryStatus, Notification
from notifications.transports.base import SetAside, Transport, TransportError
from notifications.transports.email import EmailTransport
from notifications.transports.endpoints import TRANSPORTS
from watchdog import bulk

log = logging.getLogger(__name__)

# A channel for one batch (a class, or any factory of one).
TransportFactory = Callable[[], Transport[Any]]
# Told which rows a batch had accepted, once they are marked sent (tickets.engine stamps
# the tickets of delivered warnings this way).
OnSent = Callable[[Sequence[Notification]], None]
# The last_error of a row cancelled while its email was in flight, and sent.
CANCELLED_BUT_SENT = "sent after it was cancelled"
# The least part of every claimed batch kept for retries while new rows are waiting.
RETRY_SHARE = 0.1


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0
    held: int = 0  # the owner has not confirmed their address yet
    errors: list[str] = field(default_factory=list)
    # deliver_due stopped at its time budget or batch limit with a full last batch: more
    # emails may well be due.
    more_due: bool = False
    # A channel could not be reached: the rest waits for the next call.
    unreachable: bool = False
    # That channel was email: the webhook and chat copies do not depend on it.
    email_unreachable: bool = False

    def add(self, other: "DeliveryReport") -> None:
        self.sent += other.sent
        self.retrying += other.retrying
        self.failed += other.failed
        self.skipped += other.skipped
        self.held += other.held
        self.errors.extend(other.errors)
        self.unreachable = self.unreachable or other.unreachable
        self.email_unreachable = self.email_unreachable or other.email_unreachable


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff after the n-th failed attempt: base, 2*base, 4*base ... capped."""
    seconds = settings.SLA_RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1)
    return timedelta(seconds=min(seconds, settings.SLA_RETRY_MAX_SECONDS))


def deliver_due(
    *,
    now: datetime | None = None,
    batch_size: int | None = None,
    ticket_ids: list[int] | None = None,
    max_batches: int = 1000,
    time_budget: float | None = None,
    transport: TransportFactory = EmailTransport,
    on_sent: OnSent | None = None,
) -> DeliveryReport:
    """Send every pending notification due by `now`, batch after batch.

    With `time_budget` (seconds), no batch starts once that much time has passed: a caller
    that must return to other work (a Celery worker, so that the SLA check is not stuck
    behind a backlog) sends at most the budget plus one batch. Whenever it stops after a
    full batch, `more_due` says so, and the caller decides who sends the rest. When the
    mail server cannot be reached it sends no more emails (`unreachable`): trying the
    next batches would only wait for the same timeout again and again. The webhook and
    chat copies do not depend on it: it goes on with those alone, so that an SMTP outage
    does not hold them back too. Any other channel out of reach stops it after that batch.

    `on_sent` is called after every batch with the rows it delivered (see send_batch).
    """
    report = DeliveryReport()
    batch_size = batch_size or settings.SLA_DELIVERY_BATCH_SIZE
    started = time.monotonic()
    for batch in range(max_batches):
        if batch and time_budget is not None and time.monotonic() - started >= time_budget:
            report.more_due = True
            break
        claimed = claim(
            now=now or timezone.now(),
            limit=batch_size,
            ticket_ids=ticket_ids,
            endpoints_only=report.email_unreachable,
        )
        if not claimed:
            break
        sent = send_batch(claimed, transport=transport, on_sent=on_sent)
        report.add(sent)
        if len(claimed) < batch_size or (sent.unreachable and not sent.email_unreachable):
            break
    else:
        report.more_due = True
    return report


def claim(
    *,
    now: datetime,
    limit: int,
    ticket_ids: list[int] | None = None,
    endpoints_only: bool = False,
) -> list[Notification]:
    """Take up to `limit` due rows for one lease; other senders skip them until it ends.

    First attempts go before retries, oldest first within each: after an SMTP outage the
    thousands of emails it held back would otherwise push every new warning behind them,
    so one broken minute would make the next ten late too. The retries still get the
    capacity the new rows leave, and at least RETRY_SHARE of every batch (of ten or more),
    so a stream of new rows cannot hold them back for ever.

    `endpoints_only`: the webhook and chat copies alone (the mail server is out of reach).
    The same indexes, read past the emails due: only while SMTP is down.
    """
    lease_end = now + timedelta(seconds=settings.SLA_DELIVERY_LEASE_SECONDS)
    with transaction.atomic():
        due = Notification.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        if ticket_ids is not None:
            due = due.filter(ticket_id__in=ticket_ids)
        if endpoints_only:
            due = due.filter(endpoint__isnull=False)
        first = _lock_oldest(due.filter(attempts=0), limit)  # notification_first_attempt_idx
        reserved = int(limit * RETRY_SHARE)  # none in batches under 10
        retries = _lock_oldest(
            due.filter(attempts__gt=0), limit - min(len(first), limit - reserved)
        )  # notification_retry_idx: not past every first attempt due
        ids = first[: limit - len(retries)] + retries
        if not ids:
            return []
        Notification.objects.filter(pk__in=ids).update(
            attempts=F("attempts") + 1, next_attempt_at=lease_end
        )
    # By primary key only (see the module's docstring); a row cancelled since is dropped.
    rows = Notification.objects.filter(pk__in=ids)
    by_id = {
        row.pk: row
        for row in rows.select_related(
            "ticket__owner__email_confirmation", "recipient_user__email_confirmation", "endpoint"
        )
        if row.status == DeliveryStatus.PENDING
    }
    return [by_id[pk] for pk in ids if pk in by_id]  # in claim order: first attempts first


def _lock_oldest(due: QuerySet[Notification], limit: int) -> list[int]:
    if limit <= 0:
        return []
    return list(
        due.select_for_update(skip_locked=True)
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:limit]
    )


def send_batch(
    claimed: list[Notification],
    *,
    transport: TransportFactory = EmailTransport,
    on_sent: OnSent | None = None,
) -> DeliveryReport:
    """Send claimed notifications, each through its channel's transport, recording each
    outcome: the emails through `transport`, the webhook and Slack copies through theirs
    (transports/endpoints.py), one transport (one reused connection pool) per channel.
    `on_sent` hears of emails only (what tickets.engine stamps is the email's delivery).
    """
    report = DeliveryReport()
    emails = [row for row in claimed if row.endpoint_id is None]
    if emails:
        mailed = _send_channel(emails, transport=transport, on_sent=on_sent)
        mailed.email_unreachable = mailed.unreachable
        report.add(mailed)
    for kind, factory in TRANSPORTS.items():
        rows = [row for row in claimed if row.endpoint is not None and row.endpoint.kind == kind]
        if rows:
            report.add(_send_channel(rows, transport=factory))
    return report


def _send_channel(
    claimed: list[Notification],
    *,
    transport: TransportFactory,
    on_sent: OnSent | None = None,
) -> DeliveryReport:
    """Send claimed notifications through one transport, recording each outcome.

    A failure is recorded as it happens; the accepted emails SLA_DELIVERY_MARK_EVERY at a
    time (each at once by default), and the rest once the batch ends however it ends
    (_mark_sent). `on_sent` gets the rows the channel accepted,
    after they are marked sent and before the asynchronous commits end, even when the
    batch stops early: whatever it writes follows the rows, never precedes them.
    """
    report = DeliveryReport()
    waits: list[float] = []  # seconds each sent email spent in the outbox
    sent: list[Notification] = []  # accepted by the other side, rows marked sent
    channel = transport()
    try:
        with _asynchronous_commits():
            try:
                _send_all(claimed, channel, report, waits, sent)
            finally:
                if on_sent is not None and sent:
                    on_sent(sent)
    finally:
        channel.close()
    latency.record(waits)
    return report


def _send_all(
    claimed: list[Notification],
    channel: Transport[Any],
    report: DeliveryReport,
    waits: list[float],
    sent: list[Notification],
) -> None:
    accepted: list[tuple[Notification, str]] = []

    def record() -> None:
        """Mark what the server has accepted so far as sent (SLA_DELIVERY_MARK_EVERY)."""
        if not accepted:
            return
        sent_at = _mark_sent(accepted)
        for notification, _ in accepted:
            sent.append(notification)
            # From when it could go: queued, or the end of its recipient's quiet hours.
            since = max(notification.created_at, notification.held_until or notification.created_at)
            waits.append((sent_at - since).total_seconds())
            log.info(
                "notification %s for ticket %s sent",
                notification.pk,
                notification.ticket_id,
                extra=_ids(notification, wait_seconds=waits[-1]),
            )
        report.sent += len(accepted)
        accepted.clear()

    try:
        _send_each(claimed, channel, report, accepted, record)
    finally:
        # Whatever stopped the batch, the emails the server accepted are recorded first.
        record()


@runtime_checkable
class Overlapping(Protocol):
    """A transport whose send can be split at the other side's verdict (EmailTransport):
    `send_begin` hands the message over, `send_end` waits for the acceptance."""

    def send_begin(self, message: Any, *, recipient: str) -> None: ...

    def send_end(self) -> None: ...


def _send_each(
    claimed: list[Notification],
    channel: Transport[Any],
    report: DeliveryReport,
    accepted: list[tuple[Notification, str]],
    record: Callable[[], None],
) -> None:
    """Send the rows one after the other over one connection.

    With an Overlapping channel the next row's message is prepared while the server
    decides on the previous one: its verdict is read (and the row marked sent, or its
    failure recorded) only after that, and before the next message goes out. So one
    email at most is in flight, as with a plain send, and none is marked before it is
    accepted.
    """
    started = time.monotonic()
    record_every = settings.SLA_DELIVERY_MARK_EVERY
    # Stop well before the lease ends so no other sender can claim a row still in hand.
    budget = settings.SLA_DELIVERY_LEASE_SECONDS * 0.5
    overlapping = isinstance(channel, Overlapping)
    opened = False
    in_flight: tuple[Notification, str] | None = None  # handed over, verdict not read

    def confirm() -> None:
        """The server's verdict on the email in flight: accepted, or its failure recorded."""
        nonlocal in_flight, opened
        if in_flight is None:
            return
        notification, recipient = in_flight
        in_flight = None
        try:
            cast(Overlapping, channel).send_end()
        except TransportError as error:
            channel.close()  # its state is unknown; reopen for the next one
            opened = False
            _record_failure(notification, error, report)
            return
        accepted.append((notification, recipient))
        if len(accepted) >= record_every:
            record()

    for index, notification in enumerate(claimed):
        if time.monotonic() - started > budget:
            confirm()
            _release(claimed[index:])
            return
        recipient = _recipient(channel, notification, report)
        if recipient is None:
            continue
        try:
            message = channel.prepare(notification, recipient=recipient)
        except TransportError as error:
            _record_failure(notification, error, report)  # the channel was not touched
            continue
        confirm()
        if not opened:
            try:
                channel.open()
                opened = True
            except TransportError as error:
                # Unreachable: this attempt fails for the whole batch at once, rather than
                # waiting for a timeout once per message.
                _fail_unreachable(claimed[index:], channel, error, report)
                return
        try:
            if overlapping:
                cast(Overlapping, channel).send_begin(message, recipient=recipient)
            else:
                channel.send(message, recipient=recipient)
        except TransportError as error:
            channel.close()  # its state is unknown; reopen for the next one
            opened = False
            _record_failure(notification, error, report)
            continue
        if overlapping:
            in_flight = (notification, recipient)
            continue
        accepted.append((notification, recipient))
        if len(accepted) >= record_every:
            record()
    confirm()


def _fail_unreachable(
    unsent: list[Notification],
    channel: Transport[Any],
    failure: TransportError,
    report: DeliveryReport,
) -> None:
    report.unreachable = True
    for notification in unsent:
        # Nobody to send to is not a failure, whether or not the other side is up.
        if _recipient(channel, notification, report) is not None:
            _record_failure(notification, failure, report)


def _recipient(
    channel: Transport[Any], notification: Notification, report: DeliveryReport
) -> str | None:
    """Where the row goes; None once it is skipped or held instead."""
    recipient = channel.recipient(notification)
    if not isinstance(recipient, SetAside):
        return recipient
    if recipient.held:
        _hold(notification, recipient.reason)
        report.held += 1
    else:
        _mark_skipped(notification, recipient.reason)
        report.skipped += 1
    return None


def _ids(notification: Notification, **more: object) -> dict[str, object]:
    """Log fields (LOG_FORMAT=json) that tie an event to its ticket and notification."""
    return {
        "ticket_id": notification.ticket_id,
        "notification_id": notification.pk,
        "kind": notification.kind,
        "attempt": notification.attempts,
        **more,
    }


def _mark_sent(accepted: Sequence[tuple[Notification, str]]) -> datetime:
    """Record emails the server accepted: one read and one write for all of them.

    How many at a time is SLA_DELIVERY_MARK_EVERY: each one costs a round trip and a
    commit; a group widens the window for a duplicate after a crash from the one email
    in flight to the group. Both statements find their rows by primary key alone.
    """
    now = timezone.now()
    if len(accepted) == 1:
        _mark_one_sent(*accepted[0], now=now)
        return now
    recipients = {notification.pk: recipient for notification, recipient in accepted}
    with transaction.atomic():
        statuses = dict(
            Notification.objects.select_for_update()
            .filter(pk__in=list(recipients))
            .values_list("pk", "status")
        )
        rows: list[tuple[int, str, datetime, str, None, str]] = []
        for pk, recipient in recipients.items():
            status = statuses.get(pk)
            if status is None:
                continue  # deleted with its ticket meanwhile
            if status == DeliveryStatus.PENDING:
                rows.append((pk, DeliveryStatus.SENT, now, recipient, None, ""))
            else:
                # Cancelled while in flight: keep it cancelled but record the truth.
                rows.append((pk, status, now, recipient, None, CANCELLED_BUT_SENT))
        bulk.update_rows(
            Notification,
            ["status", "sent_at", "recipient", "next_attempt_at", "last_error"],
            rows,
        )
    return now


def _mark_one_sent(notification: Notification, recipient: str, *, now: datetime) -> None:
    """One email, one statement (SLA_DELIVERY_MARK_EVERY=1): found by primary key alone,
    its status decided in the row, so that no statistics can send it through an index
    of pending rows. Written out rather than built by the ORM each time: building the
    CASE expressions cost a sender more than the round trip (bench/README.md)."""
    pending, sent = DeliveryStatus.PENDING.value, DeliveryStatus.SENT.value
    with db_connection.cursor() as cursor:
        cursor.execute(
            _mark_one_sent_sql(),
            [
                pending,
                sent,
                pending,
                CANCELLED_BUT_SENT,
                db_connection.ops.adapt_datetimefield_value(now),
                recipient,
                notification.pk,
            ],
        )


@functools.cache
def _mark_one_sent_sql() -> str:
    quote = db_connection.ops.quote_name

    def column(name: str) -> str:
        field = Notification._meta.get_field(name)
        if not isinstance(field, Field):
            raise TypeError(f"Notification.{name} is not a column")
        return quote(field.column)

    status = column("status")
    return (
        f"UPDATE {quote(Notification._meta.db_table)} SET "  # noqa: S608 (names, not data)
        f"{status} = CASE WHEN {status} = %s THEN %s ELSE {status} END, "
        f"{column('last_error')} = CASE WHEN {status} = %s THEN '' ELSE %s END, "
        f"{column('sent_at')} = %s, {column('recipient')} = %s, "
        f"{column('next_attempt_at')} = NULL WHERE {column('id')} = %s"
    )


@contextlib.contextmanager
def _asynchronous_commits() -> Iterator[None]:
    """On PostgreSQL, let this batch's commits return before their WAL flush.

    Waiting for the disk once per email capped delivery at the flush rate under I/O load
    (bench/README.md). The cost: if the database server itself crashes within a fraction
    of a second of a mark, the mark is lost and the email is sent again after the lease.
    Set for the session and reset after the batch, so no other work on the connection is
    affected; inside an outer transaction (tests) it is left alone.
    """
    db = db_connection
    if db.vendor != "postgresql" or db.in_atomic_block:
        yield
        return
    with db.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    try:
        yield
    finally:
        with contextlib.suppress(DatabaseError), db.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


def _mark_skipped(notification: Notification, reason: str) -> None:
    log.info(
        "notification %s for ticket %s skipped: %s",
        notification.pk,
        notification.ticket_id,
        reason,
        extra=_ids(notification),
    )
    Notification.objects.filter(pk=notification.pk, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.SKIPPED, next_attempt_at=None, last_error=reason
    )


def _hold(notification: Notification, reason: str) -> None:
    """Set the row aside, not counting this as an attempt, until its owner confirms.

    Out of the pending rows, so it neither blocks a batch nor ages the backlog;
    accounts.confirmation queues it again (notifications.outbox.release_held), and a held
    warning that stops being true is cancelled like a pending one (outbox.cancel_stale).
    """
    log.info(
        "notification %s for ticket %s %s",
        notification.pk,
        notification.ticket_id,
        reason,
        extra=_ids(notification),
    )
    Notification.objects.filter(
        pk=notification.pk, status=DeliveryStatus.PENDING, attempts=notification.attempts
    ).update(
        status=DeliveryStatus.HELD,
        attempts=F("attempts") - 1,
        next_attempt_at=None,
        held_until=None,  # no longer quiet hours: the confirmation releases it
        last_error=reason,
    )


def _record_failure(
    notification: Notification, error: TransportError, report: DeliveryReport
) -> None:
    attempts = notification.attempts  # already counts this attempt (see claim)
    give_up = not error.unreachable and (
        error.permanent or attempts >= settings.SLA_DELIVERY_MAX_ATTEMPTS
    )
    log.warning(
        "notification %s for ticket %s: attempt %s failed: %s",
        notification.pk,
        notification.ticket_id,
        attempts,
        error,
        extra=_ids(notification, permanent=give_up),
    )
    # Matching attempts too: if our lease ran out and another sender claimed the row,
    # it is theirs now and this stale outcome must not reschedule it under them.
    ours = Notification.objects.filter(
        pk=notification.pk, status=DeliveryStatus.PENDING, attempts=attempts
    )
    if error.unreachable:
        # No server answered: nothing was learnt about this email, so the try does not
        # count against SLA_DELIVERY_MAX_ATTEMPTS (it stays at least 1, a retry for
        # claim), and it is tried again after the base delay, not a growing one: however
        # long the outage, the email follows within that delay of the server's return.
        ours.update(
            attempts=max(1, attempts - 1),
            next_attempt_at=timezone.now() + retry_delay(1),
            last_error=_error_text(error),
        )
        report.retrying += 1
    elif give_up:
        ours.update(
            status=DeliveryStatus.FAILED,
            next_attempt_at=None,
            failed_at=timezone.now(),
            last_error=_error_text(error),
        )
        report.failed += 1
    else:
        ours.update(
            next_attempt_at=timezone.now() + retry_delay(attempts), last_error=_error_text(error)
        )
        report.retrying += 1
    report.errors.append(str(error))


def _error_text(error: Exception) -> str:
    # PostgreSQL text cannot hold NUL, and an error may quote a row's data.
    return str(error).replace("\x00", "\\x00")[:2000]


def _release(unsent: list[Notification]) -> None:
    """Hand rows back without counting an attempt: the batch ran out of time."""
    Notification.objects.filter(
        pk__in=[n.pk for n in unsent], status=DeliveryStatus.PENDING
    ).update(attempts=F("attempts") - 1, next_attempt_at=timezone.now())


def retry_failed(*, notification_ids: list[int]) -> int:
    """Put failed notifications back in the queue with a fresh set of attempts (admin)."""
    return Notification.objects.filter(
        pk__in=notification_ids, status=DeliveryStatus.FAILED
    ).update(
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=timezone.now(),
        failed_at=None,
        last_error="",
    )
