"""What each notification says: subject, plain text and HTML, with a stable Message-ID."""

import re
import secrets
from datetime import UTC, datetime, timedelta
from email.header import Header
from email.policy import Compat32
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.base import BaseEmailBackend
from django.template.loader import render_to_string
from django.utils.timesince import timesince, timeuntil

from notifications.models import Notification
from sla.enums import Announcement, Metric

_HEADLINES = {
    (Metric.RESOLUTION, Announcement.CREATED): "Ticket created",
    (Metric.RESOLUTION, Announcement.WARNING): "SLA at risk",
    (Metric.RESOLUTION, Announcement.MISSED): "SLA missed",
    (Metric.FIRST_RESPONSE, Announcement.WARNING): "First response at risk",
    (Metric.FIRST_RESPONSE, Announcement.MISSED): "First response missed",
}
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def headline(notification: Notification) -> str:
    """What the notification announces, in a few words ("SLA at risk"), for every channel."""
    return _HEADLINES[Metric(notification.metric), Announcement(notification.kind)]


def escalation_note(notification: Notification) -> str:
    """ " (escalation level 2, reminder 1)" for an escalation level's notification; "" for
    the owner's own emails (level 0)."""
    if not notification.level:
        return ""
    reminder = f", reminder {notification.repeat}" if notification.repeat else ""
    return f" (escalation level {notification.level}{reminder})"


# Control characters and line breaks of any kind: a title must never start a new header.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")


# Bidirectional embeddings, overrides and isolates: "invoice\u202egnp.exe" would be shown
# as "invoiceexe.png". Shown as their code points instead, so the title reads as typed.
_BIDI_CONTROLS = re.compile(r"[\u202a-\u202e\u2066-\u2069]")


def one_line(text: str, *, limit: int = 120) -> str:
    visible = _BIDI_CONTROLS.sub(lambda match: f"<U+{ord(match[0]):04X}>", text)
    flat = " ".join(_UNSAFE.sub(" ", visible).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def literal_header(text: str) -> str:
    """A header value that mail readers show as typed, encoded words and all.

    Readers decode RFC 2047 encoded words (=?utf-8?b?...?=) wherever they find them in a
    header, and Django encodes a header only when it is not ASCII, so an ASCII title
    holding one would arrive as whatever it decodes to. Encoding the whole value makes the
    reader's decoding give back the text itself. Encoded words, space-separated (Django
    refuses line breaks in a header; the generator folds at the spaces).
    """
    if "=?" not in text:
        return text
    return " ".join(Header(text, "utf-8").encode().split())


def describe_deadline(deadline: datetime, now: datetime) -> str:
    if deadline > now:
        return f"due in {timeuntil(deadline, now)}"
    return f"missed {timesince(deadline, now)} ago"


def _time_left(seconds: int) -> str:
    """A warning threshold as people say it: "1 hour", "2 hours, 30 minutes"."""
    if seconds <= 0:
        return ""
    return timeuntil(_EPOCH + timedelta(seconds=seconds), _EPOCH, depth=2)


class _Compat32Fast(Compat32):
    """compat32, the policy Django's messages are generated with, minus its cost where it
    changes nothing: a header whose whole line is short plain ASCII without surrounding
    whitespace is written as it is, which is what compat32's folding returns for it (after
    building an email.header.Header and running its line splitter: about a fifth of a
    sender's time per email, bench/README.md). Anything else goes the usual way."""

    def _fold(self, name: str, value: Any, sanitize: bool) -> str:
        if (
            isinstance(value, str)
            and value.isascii()
            and value == value.strip()
            and _PRINTABLE.fullmatch(value)
            and len(name) + 2 + len(value) <= (self.max_line_length or 78)
        ):
            return f"{name}: {value}{self.linesep}"
        folded: str = super()._fold(name, value, sanitize)  # type: ignore[misc]
        return folded


_PRINTABLE = re.compile(r"[\x20-\x7e]*")
COMPAT32_FAST = _Compat32Fast()
# `Content-Type: multipart/alternative; boundary="==<26 hex digits>=="` is 78 characters.
BOUNDARY_BYTES = 13


class FormattedOnce(EmailMultiAlternatives):
    """A message whose MIME form, and its bytes, are built once and kept.

    Delivery formats every message before sending it (notifications.addresses.prepare),
    and the SMTP backend formats it again to send it (`message().as_bytes(linesep=...)`):
    building and serializing each twice cost a sender about 0.4 ms an email
    (bench/README.md). Nothing changes the message in between, so the second call gets
    the bytes the first made.
    """

    _formatted: Any = None

    def message(self) -> Any:
        if self._formatted is None:
            formatted = super().message()
            formatted.policy = COMPAT32_FAST  # the generator follows the top message's
            if formatted.is_multipart() and formatted.get_boundary() is None:
                # Chosen here rather than by the generator, which compiles a regular
                # expression per message to check its random boundary against the text
                # (and so evicts everyone else's from re's cache): a random boundary of
                # 104 bits does not occur in the text either. Short enough that its
                # Content-Type line fits in 78 characters: a longer one sent the header
                # through compat32's folding (email.header.Header) on every message.
                formatted.set_boundary(f"=={secrets.token_hex(BOUNDARY_BYTES)}==")
            serialize = formatted.as_bytes
            made: dict[tuple[bool, str], bytes] = {}

            def as_bytes(unixfrom: bool = False, linesep: str = "\n") -> bytes:
                key = (unixfrom, linesep)
                if key not in made:
                    made[key] = serialize(unixfrom=unixfrom, linesep=linesep)
                return made[key]

            formatted.as_bytes = as_bytes
            self._formatted = formatted
        return self._formatted


def build_message(
    notification: Notification,
    *,
    recipient: str,
    now: datetime,
    connection: BaseEmailBackend | None = None,
) -> EmailMultiAlternatives:
    ticket = notification.ticket
    announced = headline(notification) + escalation_note(notification)
    context = {
        "headline": announced,
        "kind": notification.kind,
        "metric": notification.metric,
        "time_left": _time_left(notification.threshold),
        "ticket": ticket,
        "title": one_line(ticket.title, limit=255),
        "deadline_iso": notification.deadline.isoformat(),
        "deadline_relative": describe_deadline(notification.deadline, now),
    }
    message = FormattedOnce(
        subject=literal_header(
            f"[SLA Watchdog] {announced}: #{ticket.pk} {one_line(ticket.title)}"
        ),
        body=render_to_string("notifications/email.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[recipient],
        headers={
            "Message-ID": notification.message_id,
            "X-SLA-Watchdog-Kind": notification.kind,
            "X-SLA-Watchdog-Metric": notification.metric,
            "X-SLA-Watchdog-Ticket": str(ticket.pk),
            "X-SLA-Watchdog-Level": str(notification.level),
        },
        connection=connection,
    )
    message.attach_alternative(render_to_string("notifications/email.html", context), "text/html")
    return message  # complete: formatted no earlier than here
