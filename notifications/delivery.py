"""Delivering the outbox: claim due rows with a lease, send over one connection, record.

Guarantee: every notification is delivered at least once. A row is marked sent right
after the mail server accepts it, so a duplicate is possible only if the process dies
between that acceptance and the database write (the next sender retries after the lease),
or, on PostgreSQL, if the database server crashes before flushing that write
(_asynchronous_commits).
"""

import contextlib
import logging
import smtplib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import DatabaseError, transaction
from django.db import connection as db_connection
from django.db.models import Exists, F, OuterRef, QuerySet, Subquery
from django.utils import timezone

from notifications import latency
from notifications.addresses import UnsendableMessage, prepare
from notifications.emails import build_message
from notifications.models import DeliveryStatus, Notification
from sla.enums import Announcement, Metric
from tickets.models import Ticket

log = logging.getLogger(__name__)

HELD_REASON = "held until the owner confirms their email address"
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
    # The mail server could not be reached: the rest waits for the next call.
    unreachable: bool = False

    def add(self, other: "DeliveryReport") -> None:
        self.sent += other.sent
        self.retrying += other.retrying
        self.failed += other.failed
        self.skipped += other.skipped
        self.held += other.held
        self.errors.extend(other.errors)
        self.unreachable = self.unreachable or other.unreachable


class DeliveryError(Exception):
    def __init__(self, message: str, *, permanent: bool, unreachable: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
        # No mail server answered: nothing is wrong with the email itself.
        self.unreachable = unreachable


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
) -> DeliveryReport:
    """Send every pending notification due by `now`, batch after batch.

    With `time_budget` (seconds), no batch starts once that much time has passed: a caller
    that must return to other work (a Celery worker, so that the SLA check is not stuck
    behind a backlog) sends at most the budget plus one batch. Whenever it stops after a
    full batch, `more_due` says so, and the caller decides who sends the rest. When the
    mail server cannot be reached it stops after that one batch (`unreachable`): trying
    the next batches would only wait for the same timeout again and again.
    """
    report = DeliveryReport()
    batch_size = batch_size or settings.SLA_DELIVERY_BATCH_SIZE
    started = time.monotonic()
    for batch in range(max_batches):
        if batch and time_budget is not None and time.monotonic() - started >= time_budget:
            report.more_due = True
            break
        claimed = claim(now=now or timezone.now(), limit=batch_size, ticket_ids=ticket_ids)
        if not claimed:
            break
        report.add(send_batch(claimed))
        if len(claimed) < batch_size or report.unreachable:
            break
    else:
        report.more_due = True
    return report


def claim(*, now: datetime, limit: int, ticket_ids: list[int] | None = None) -> list[Notification]:
    """Take up to `limit` due rows for one lease; other senders skip them until it ends.

    First attempts go before retries, oldest first within each: after an SMTP outage the
    thousands of emails it held back would otherwise push every new warning behind them,
    so one broken minute would make the next ten late too. The retries still get the
    capacity the new rows leave, and at least RETRY_SHARE of every batch (of ten or more),
    so a stream of new rows cannot hold them back for ever.
    """
    lease_end = now + timedelta(seconds=settings.SLA_DELIVERY_LEASE_SECONDS)
    with transaction.atomic():
        due = Notification.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        if ticket_ids is not None:
            due = due.filter(ticket_id__in=ticket_ids)
        first = _lock_oldest(due.filter(attempts=0), limit)  # notification_first_attempt_idx
        reserved = int(limit * RETRY_SHARE)  # none in batches under 10
        retries = _lock_oldest(
            due.filter(attempts__gt=0), limit - min(len(first), limit - reserved)
        )  # notification_claim_idx
        ids = first[: limit - len(retries)] + retries
        if not ids:
            return []
        Notification.objects.filter(pk__in=ids).update(
            attempts=F("attempts") + 1, next_attempt_at=lease_end
        )
    rows = Notification.objects.filter(pk__in=ids, status=DeliveryStatus.PENDING)
    by_id = {row.pk: row for row in rows.select_related("ticket__owner__email_confirmation")}
    return [by_id[pk] for pk in ids if pk in by_id]  # in claim order: first attempts first


def _lock_oldest(due: QuerySet[Notification], limit: int) -> list[int]:
    if limit <= 0:
        return []
    return list(
        due.select_for_update(skip_locked=True)
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:limit]
    )


def send_batch(claimed: list[Notification]) -> DeliveryReport:
    """Send claimed notifications over one connection, recording each outcome at once."""
    report = DeliveryReport()
    waits: list[float] = []  # seconds each sent email spent in the outbox
    warned: list[Notification] = []  # warnings accepted by the server, rows marked sent
    connection = get_connection(fail_silently=False)
    try:
        with _asynchronous_commits():
            try:
                _send_all(claimed, connection, report, waits, warned)
            finally:
                _stamp_warned_tickets(warned)
    finally:
        _close_quietly(connection)
    latency.record(waits)
    return report


def _send_all(
    claimed: list[Notification],
    connection: BaseEmailBackend,
    report: DeliveryReport,
    waits: list[float],
    warned: list[Notification],
) -> None:
    started = time.monotonic()
    # Stop well before the lease ends so no other sender can claim a row still in hand.
    budget = settings.SLA_DELIVERY_LEASE_SECONDS * 0.5
    opened = False
    for index, notification in enumerate(claimed):
        if time.monotonic() - started > budget:
            _release(claimed[index:])
            return
        if _set_aside(notification, report):
            continue
        recipient = notification.ticket.owner.email
        try:
            message = _build(connection, notification, recipient)
        except DeliveryError as error:
            _record_failure(notification, error, report)  # the connection was not touched
            continue
        if not opened:
            try:
                connection.open()
                opened = True
            except (smtplib.SMTPException, OSError) as error:
                # Unreachable: this attempt fails for the whole batch at once, rather than
                # waiting for a timeout once per message.
                _fail_unreachable(claimed[index:], error, report)
                return
        try:
            _send(connection, message)
        except DeliveryError as error:
            _close_quietly(connection)  # its state is unknown; reopen for the next one
            opened = False
            _record_failure(notification, error, report)
            continue
        sent_at = _mark_sent(notification, recipient)
        if notification.kind == Announcement.WARNING and notification.metric == Metric.RESOLUTION:
            warned.append(notification)  # warning_sent_at is about the resolution deadline
        report.sent += 1
        waits.append((sent_at - notification.created_at).total_seconds())
        log.info(
            "notification %s for ticket %s sent",
            notification.pk,
            notification.ticket_id,
            extra=_ids(notification, wait_seconds=waits[-1]),
        )


def _fail_unreachable(unsent: list[Notification], error: Exception, report: DeliveryReport) -> None:
    failure = DeliveryError(f"cannot connect: {error}", permanent=False, unreachable=True)
    report.unreachable = True
    for notification in unsent:
        # Nobody to send to is not a failure, whether or not the server is up.
        if not _set_aside(notification, report):
            _record_failure(notification, failure, report)


def _set_aside(notification: Notification, report: DeliveryReport) -> bool:
    """Skip a row with nobody to send to, hold one for an unconfirmed address: True if so."""
    owner = notification.ticket.owner
    if not owner.email:
        _mark_skipped(notification)
        report.skipped += 1
        return True
    if hasattr(owner, "email_confirmation"):  # accounts.EmailConfirmation: not confirmed
        _hold(notification)
        report.held += 1
        return True
    return False


def _ids(notification: Notification, **more: object) -> dict[str, object]:
    """Log fields (LOG_FORMAT=json) that tie an event to its ticket and notification."""
    return {
        "ticket_id": notification.ticket_id,
        "notification_id": notification.pk,
        "kind": notification.kind,
        "attempt": notification.attempts,
        **more,
    }


def _build(
    connection: BaseEmailBackend, notification: Notification, recipient: str
) -> EmailMessage:
    """The message, formatted once as the backend will: any failure here is permanent.

    What cannot be built from this row's data today cannot be built tomorrow either, and
    whatever its exception class, it is this one row's failure: recorded on the row, and
    the rest of the batch goes on.
    """
    try:
        message = build_message(
            notification, recipient=recipient, now=timezone.now(), connection=connection
        )
        prepare(message)
    except DatabaseError:
        raise  # not the row's fault: the caller's retry or the loop deals with it
    except UnsendableMessage as error:
        raise DeliveryError(str(error), permanent=True) from error
    except Exception as error:
        raise DeliveryError(
            f"cannot build the message: {type(error).__name__}: {error}", permanent=True
        ) from error
    return message


def _send(connection: BaseEmailBackend, message: EmailMessage) -> None:
    try:
        connection.send_messages([message])
    except smtplib.SMTPRecipientsRefused as error:
        codes = [code for code, _ in error.recipients.values()]
        permanent = bool(codes) and all(500 <= code < 600 for code in codes)
        raise DeliveryError(
            f"recipient refused: {error.recipients}", permanent=permanent
        ) from error
    except smtplib.SMTPDataError as error:
        raise DeliveryError(
            f"{error.smtp_code} {error.smtp_error!r}", permanent=500 <= error.smtp_code < 600
        ) from error
    except smtplib.SMTPResponseException as error:
        # Sender refused, authentication and the like: configuration, not this message.
        raise DeliveryError(f"{error.smtp_code} {error.smtp_error!r}", permanent=False) from error
    except (smtplib.SMTPException, OSError) as error:
        raise DeliveryError(f"{type(error).__name__}: {error}", permanent=False) from error
    except Exception as error:
        # Anything else the backend raises (a codec, a bug in a third-party backend) is
        # not understood, so it is retried with backoff like a refusal, and given up
        # after SLA_DELIVERY_MAX_ATTEMPTS: never left pending for ever.
        raise DeliveryError(
            f"unexpected {type(error).__name__}: {error}", permanent=False
        ) from error


def _close_quietly(connection: BaseEmailBackend) -> None:
    # A broken connection is being thrown away anyway.
    with contextlib.suppress(Exception):
        connection.close()


def _mark_sent(notification: Notification, recipient: str) -> datetime:
    now = timezone.now()
    # One statement, committed at once: the moment the server has accepted the email,
    # the row says so, which keeps the window for a duplicate as short as it can be.
    updated = Notification.objects.filter(pk=notification.pk, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.SENT,
        sent_at=now,
        recipient=recipient,
        next_attempt_at=None,
        last_error="",
    )
    if not updated:
        # Cancelled while in flight: keep it cancelled but record the truth.
        Notification.objects.filter(pk=notification.pk).update(
            sent_at=now, recipient=recipient, last_error="sent after it was cancelled"
        )
    return now


def _stamp_warned_tickets(warned: list[Notification]) -> None:
    """Set `warning_sent_at` on the tickets of the warnings this batch delivered, at once.

    One statement per batch instead of one per warning (a round trip saved per warning),
    each ticket getting its warning's `sent_at`, and only while the ticket still has the
    deadline that warning was about. After the rows, never before: a crash in between
    leaves a ticket saying "not warned" about a warning that went out, never the reverse.
    The row, not this stamp, decides whether an email is sent.
    """
    if not warned:
        return
    delivered = Notification.objects.filter(
        pk__in=[n.pk for n in warned],
        ticket_id=OuterRef("pk"),
        deadline=OuterRef("deadline"),
        sent_at__isnull=False,
    )
    Ticket.objects.filter(
        Exists(delivered),
        pk__in={n.ticket_id for n in warned},
        warning_sent_at__isnull=True,
    ).update(warning_sent_at=Subquery(delivered.order_by("sent_at").values("sent_at")[:1]))


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


def _mark_skipped(notification: Notification) -> None:
    log.info(
        "notification %s for ticket %s skipped: owner has no email address",
        notification.pk,
        notification.ticket_id,
        extra=_ids(notification),
    )
    Notification.objects.filter(pk=notification.pk, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.SKIPPED, next_attempt_at=None, last_error="owner has no email address"
    )


def _hold(notification: Notification) -> None:
    """Set the row aside, not counting this as an attempt, until its owner confirms.

    Out of the pending rows, so it neither blocks a batch nor ages the backlog;
    accounts.confirmation queues it again (notifications.outbox.release_held), and a held
    warning that stops being true is cancelled like a pending one (outbox.cancel_stale).
    """
    log.info(
        "notification %s for ticket %s held: owner has not confirmed their address",
        notification.pk,
        notification.ticket_id,
        extra=_ids(notification),
    )
    Notification.objects.filter(
        pk=notification.pk, status=DeliveryStatus.PENDING, attempts=notification.attempts
    ).update(
        status=DeliveryStatus.HELD,
        attempts=F("attempts") - 1,
        next_attempt_at=None,
        last_error=HELD_REASON,
    )


def _record_failure(
    notification: Notification, error: DeliveryError, report: DeliveryReport
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
