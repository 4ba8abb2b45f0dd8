"""What a channel implements so that notifications.delivery can send through it.

Delivery owns the outbox rows: it claims them with a lease, decides retry, failure and
give-up, and records every outcome. A transport knows only its channel: who a
notification goes to, what the message looks like, and how to hand it over. It reports
trouble by raising TransportError, saying whether trying again could ever help.

One transport object serves one claimed batch: `open` lazily before the first send,
`send` once per row, `close` at the end. A channel with a connection to reuse (SMTP, an
HTTP client) keeps it between those calls; one without leaves `open` and `close` alone.

A new channel is one module beside email.py. A webhook, for example::

    class WebhookTransport(Transport[bytes]):
        def __init__(self) -> None:
            self.client = httpx.Client(timeout=5)

        def recipient(self, notification: Notification) -> str | SetAside:
            return endpoint_for(notification).url

        def prepare(self, notification: Notification, *, recipient: str) -> bytes:
            return json.dumps(payload(notification)).encode()

        def send(self, message: bytes, *, recipient: str) -> None:
            try:
                response = self.client.post(recipient, content=message)
            except httpx.TransportError as error:
                raise TransportError(str(error), permanent=False) from error
            if response.status_code >= 400:
                raise TransportError(
                    f"HTTP {response.status_code}", permanent=response.status_code == 410
                )

        def close(self) -> None:
            self.client.close()

tests/notifications/test_transports.py drives a transport like it through the real delivery loop.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Generic, TypeVar

from notifications.models import Notification

Message = TypeVar("Message")


class TransportError(Exception):
    """A notification could not be handed over.

    `permanent`: no later attempt can succeed (a refused address, a message that cannot be
    built), so delivery gives up on the row at once. Otherwise it is retried with backoff
    until SLA_DELIVERY_MAX_ATTEMPTS.
    `unreachable`: nobody answered at all; nothing is wrong with the notification itself,
    so the attempt does not count, and the rest of the batch waits for the next round.
    """

    def __init__(self, message: str, *, permanent: bool, unreachable: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.unreachable = unreachable


@dataclass(frozen=True)
class SetAside:
    """Not sent, and not a failure either: the reason is written on the row.

    `held`: wait until the recipient is confirmed (notifications.outbox.release_held);
    otherwise the row is skipped for good (nobody to send it to).
    """

    reason: str
    held: bool = False


class Transport(ABC, Generic[Message]):
    """One channel, for one batch. Subclasses implement recipient, prepare and send."""

    @abstractmethod
    def recipient(self, notification: Notification) -> str | SetAside:
        """Where the notification goes (recorded on the row once sent), or why not now."""

    @abstractmethod
    def prepare(self, notification: Notification, *, recipient: str) -> Message:
        """The message, ready to send; TransportError(permanent=True) if it cannot be.

        Called before the channel is opened, so a message that cannot be built costs no
        connection.
        """

    def open(self) -> None:
        """Connect, before the batch's first send; TransportError(unreachable=True) if no
        one answers: the whole rest of the batch then waits, without a timeout per row."""

    @abstractmethod
    def send(self, message: Message, *, recipient: str) -> None:
        """Hand the message over; returning means the other side accepted it.

        After a TransportError the channel is closed and opened again for the next row:
        its state is unknown.
        """

    def close(self) -> None:
        """Let go of the connection; never raises (a broken one is thrown away anyway)."""
