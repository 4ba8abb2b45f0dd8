"""Email over SMTP: Django's mail backend, one connection reused for a whole batch."""

import contextlib
import re
import smtplib
from collections.abc import Iterator
from dataclasses import dataclass

from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.db import DatabaseError
from django.utils import timezone

from notifications.addresses import Envelope, UnsendableMessage, envelope
from notifications.emails import build_message
from notifications.models import Notification
from notifications.transports.base import SetAside, Transport, TransportError

NO_ADDRESS = "owner has no email address"
NO_PERSON_ADDRESS = "recipient has no email address"
HELD_REASON = "held until the owner confirms their email address"
PERSON_HELD_REASON = "held until the recipient confirms their email address"


@dataclass(frozen=True)
class Outgoing:
    """A message and its envelope, formatted once (EmailTransport.prepare)."""

    message: EmailMessage
    envelope: Envelope


class EmailTransport(Transport[Outgoing]):
    def __init__(self) -> None:
        self.connection = get_connection(fail_silently=False)
        # The connection of a message sent whose last reply is not read yet (send_end).
        self._awaiting: smtplib.SMTP | None = None

    def recipient(self, notification: Notification) -> str | SetAside:
        # An escalation level's email goes to its person; every other email to the owner.
        person = notification.recipient_user
        owner = person is None
        if person is None:
            person = notification.ticket.owner
        if not person.email:
            return SetAside(NO_ADDRESS if owner else NO_PERSON_ADDRESS)
        if hasattr(person, "email_confirmation"):  # accounts.EmailConfirmation: not confirmed
            return SetAside(HELD_REASON if owner else PERSON_HELD_REASON, held=True)
        return person.email

    def prepare(self, notification: Notification, *, recipient: str) -> Outgoing:
        """The message, formatted once as the backend will: any failure here is permanent.

        What cannot be built from this row's data today cannot be built tomorrow either, and
        whatever its exception class, it is this one row's failure: recorded on the row, and
        the rest of the batch goes on.
        """
        try:
            message = build_message(
                notification, recipient=recipient, now=timezone.now(), connection=self.connection
            )
            formatted = envelope(message)
        except DatabaseError:
            raise  # not the row's fault: the caller's retry or the loop deals with it
        except UnsendableMessage as error:
            raise TransportError(str(error), permanent=True) from error
        except Exception as error:
            raise TransportError(
                f"cannot build the message: {type(error).__name__}: {error}", permanent=True
            ) from error
        return Outgoing(message=message, envelope=formatted)

    def open(self) -> None:
        try:
            self.connection.open()
        except (smtplib.SMTPException, OSError) as error:
            raise TransportError(
                f"cannot connect: {error}", permanent=False, unreachable=True
            ) from error

    def send(self, message: Outgoing, *, recipient: str) -> None:
        self.send_begin(message, recipient=recipient)
        self.send_end()

    def send_begin(self, message: Outgoing, *, recipient: str) -> None:
        """The whole SMTP exchange but the server's last reply (read by `send_end`).

        Until then the message is not accepted. Meanwhile the sender prepares the next
        message (notifications.delivery), while the server checks and stores this one:
        one sender no longer waits for both in turn.
        """
        with _refusals():
            smtp = getattr(self.connection, "connection", None)
            if not isinstance(self.connection, SmtpBackend) or smtp is None:
                # Another backend (tests' locmem, a third party's): its own way, whole.
                self.connection.send_messages([message.message])
                return
            # What the backend's send_messages does once it is open, with the envelope and
            # bytes already made (formatting addresses again cost as much as the message),
            # and smtplib's sendmail up to the final reply.
            e = message.envelope
            smtp.ehlo_or_helo_if_needed()
            options = [f"size={len(e.data)}"] if smtp.does_esmtp and smtp.has_extn("size") else []
            code, reply = smtp.mail(e.from_email, options)
            if code != 250:
                _reset(smtp)
                raise smtplib.SMTPSenderRefused(code, reply, e.from_email)
            refused = {}
            for address in e.recipients:
                code, reply = smtp.rcpt(address)
                if code not in {250, 251}:
                    refused[address] = (code, reply)
            if len(refused) == len(e.recipients):
                _reset(smtp)
                raise smtplib.SMTPRecipientsRefused(refused)
            smtp.putcmd("data")
            code, reply = smtp.getreply()
            if code != 354:
                _reset(smtp)
                raise smtplib.SMTPDataError(code, reply)
            data = _LEADING_DOT.sub(b"..", e.data)
            if not data.endswith(b"\r\n"):
                data += b"\r\n"
            smtp.send(data + b".\r\n")
            self._awaiting = smtp

    def send_end(self) -> None:
        """Read the server's reply to the message `send_begin` sent: returning means accepted."""
        smtp, self._awaiting = self._awaiting, None
        if smtp is None:
            return
        with _refusals():
            code, reply = smtp.getreply()
            if code != 250:
                _reset(smtp)
                raise smtplib.SMTPDataError(code, reply)

    def close(self) -> None:
        # A broken connection is being thrown away anyway.
        self._awaiting = None
        with contextlib.suppress(Exception):
            self.connection.close()


# smtplib's own quoting of lines that start with a dot (RFC 5321, 4.5.2).
_LEADING_DOT = re.compile(rb"(?m)^\.")


def _reset(smtp: smtplib.SMTP) -> None:
    """RSET after a refusal, as smtplib's sendmail does; a failing RSET changes nothing."""
    with contextlib.suppress(smtplib.SMTPException, OSError):
        smtp.rset()


@contextlib.contextmanager
def _refusals() -> Iterator[None]:
    """What the server or the connection said, as a TransportError: permanent or not."""
    try:
        yield
    except smtplib.SMTPRecipientsRefused as error:
        codes = [code for code, _ in error.recipients.values()]
        permanent = bool(codes) and all(500 <= code < 600 for code in codes)
        raise TransportError(
            f"recipient refused: {error.recipients}", permanent=permanent
        ) from error
    except smtplib.SMTPDataError as error:
        raise TransportError(
            f"{error.smtp_code} {error.smtp_error!r}", permanent=500 <= error.smtp_code < 600
        ) from error
    except smtplib.SMTPResponseException as error:
        # Sender refused, authentication and the like: configuration, not this message.
        raise TransportError(f"{error.smtp_code} {error.smtp_error!r}", permanent=False) from error
    except (smtplib.SMTPException, OSError) as error:
        raise TransportError(f"{type(error).__name__}: {error}", permanent=False) from error
    except Exception as error:
        # Anything else the backend raises (a codec, a bug in a third-party backend) is
        # not understood, so it is retried with backoff like a refusal, and given up
        # after SLA_DELIVERY_MAX_ATTEMPTS: never left pending for ever.
        raise TransportError(
            f"unexpected {type(error).__name__}: {error}", permanent=False
        ) from error
