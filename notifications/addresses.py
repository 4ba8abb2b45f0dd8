"""Whether an email can go out: the same formatting the SMTP backend does, done first.

Django's EmailValidator accepts quoted local parts holding control characters
(`"a\\x1cb"@example.com`). Formatting such an address for sending either raises a
header-parsing error, or silently breaks the To header in two (str.splitlines() counts
\\x0b, \\x0c and \\x1c-\\x1e as line ends) while the envelope carries the raw bytes, which
RFC 5321 does not allow in a quoted string. `prepare` runs exactly what
django.core.mail.backends.smtp.EmailBackend runs before it talks to the server
(sanitize_address on every address, message().as_bytes()) and refuses what SMTP cannot
carry. Delivery calls it on every message before sending, and `validate_deliverable`
calls it on a probe message when an address is saved, so an address is refused where it
is typed, not choked on later.
"""

import functools
import re
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.mail.message import sanitize_address

# RFC 5321 qtextSMTP and atext are printable ASCII: no C0 control character, no DEL.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class UnsendableMessage(ValueError):
    """The message cannot be formatted for SMTP: no attempt could ever succeed."""


@dataclass(frozen=True)
class Envelope:
    """What goes over SMTP: MAIL FROM, RCPT TO and DATA, as the SMTP backend makes them."""

    from_email: str
    recipients: list[str]
    data: bytes


# The same sender on every message and the same few owners on most: formatting an address
# (email.headerregistry's parser) cost more than a quarter of a sender's time per email.
_sanitize = functools.lru_cache(maxsize=4096)(sanitize_address)


def envelope(message: EmailMessage) -> Envelope:
    """The message as the SMTP backend will format it; UnsendableMessage if it cannot be.

    Any exception of the formatting is this message's own fault (its data), so it is
    turned into UnsendableMessage, whatever its class.
    """
    encoding = message.encoding or settings.DEFAULT_CHARSET
    try:
        sender = _sanitize(message.from_email, encoding)
        recipients = [_sanitize(address, encoding) for address in message.recipients()]
        formatted: bytes = message.message().as_bytes(linesep="\r\n")
    except Exception as error:
        raise UnsendableMessage(
            f"cannot format the message: {type(error).__name__}: {error}"
        ) from error
    for address in [sender, *recipients]:
        if _CONTROL.search(address):
            raise UnsendableMessage(f"address holds a control character: {address!r}")
    return Envelope(from_email=sender, recipients=recipients, data=formatted)


def prepare(message: EmailMessage) -> bytes:
    """The message's bytes as the SMTP backend will send them (see `envelope`)."""
    return envelope(message).data


def validate_deliverable(value: str) -> None:
    """Django validator: refuse an address that `prepare` would refuse in a message."""
    probe = EmailMessage(
        subject="probe", body="", from_email=settings.DEFAULT_FROM_EMAIL, to=[value]
    )
    try:
        prepare(probe)
    except UnsendableMessage:
        raise ValidationError(
            "This email address cannot be used to send mail.", code="undeliverable"
        ) from None
