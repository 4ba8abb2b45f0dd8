"""Email over SMTP: Django's mail backend, one connection reused for a whole batch."""

import contextlib
import smtplib
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
        try:
            smtp = getattr(self.connection, "connection", None)
            if isinstance(self.connection, SmtpBackend) and smtp is not None:
                # What the backend's send_messages does once it is open, with the envelope
                # and bytes already made: formatting the addresses again cost as much as
                # building the message.
                e = message.envelope
                smtp.sendmail(e.from_email, e.recipients, e.data)
            else:
                self.connection.send_messages([message.message])
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
            raise TransportError(
                f"{error.smtp_code} {error.smtp_error!r}", permanent=False
            ) from error
        except (smtplib.SMTPException, OSError) as error:
            raise TransportError(f"{type(error).__name__}: {error}", permanent=False) from error
        except Exception as error:
            # Anything else the backend raises (a codec, a bug in a third-party backend) is
            # not understood, so it is retried with backoff like a refusal, and given up
            # after SLA_DELIVERY_MAX_ATTEMPTS: never left pending for ever.
            raise TransportError(
                f"unexpected {type(error).__name__}: {error}", permanent=False
            ) from error

    def close(self) -> None:
        # A broken connection is being thrown away anyway.
        with contextlib.suppress(Exception):
            self.connection.close()
