"""Real mail servers on loopback for tests: a recording SMTP server and one that hangs.

`SmtpServer` is aiosmtpd's threaded Controller with a handler that records every
message it accepts (and every one it turns away at DATA), so a test can assert exactly
which emails arrived, how often and with which Message-ID. Switches make it misbehave
the way real relays do: refuse with 451 (try again later), refuse recipients with 550
(no such user), or go away altogether (stop / start on the same port).

`HangingSmtpServer` accepts TCP connections and never says a word, so only the client's
EMAIL_TIMEOUT can end the wait.

Both run on their own threads with real time: time-machine patches time.time() and
datetime, not time.monotonic(), so asyncio's loop and socket timeouts are unaffected by
a frozen test clock.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.test import override_settings

# aiosmtpd logs every SMTP command at INFO; keep test output to what went wrong.
logging.getLogger("mail.log").setLevel(logging.WARNING)

LOOPBACK = "127.0.0.1"
# Short enough to keep tests fast, long enough for a loaded CI machine to answer.
TEST_EMAIL_TIMEOUT = 1.0


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class ReceivedMessage:
    """One message as it reached the server: envelope and raw bytes."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes

    @property
    def parsed(self) -> EmailMessage:
        message = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        return message

    @property
    def message_id(self) -> str:
        return str(self.parsed["Message-ID"])

    @property
    def kind(self) -> str:
        return str(self.parsed["X-SLA-Watchdog-Kind"])

    @property
    def metric(self) -> str:
        return str(self.parsed["X-SLA-Watchdog-Metric"])

    @property
    def ticket_id(self) -> int:
        return int(str(self.parsed["X-SLA-Watchdog-Ticket"]))

    @property
    def subject(self) -> str:
        # An encoded subject may be folded onto the next line ("Subject:\r\n =?utf-8?..."),
        # which unfolds to a leading space that mail clients do not show.
        return str(self.parsed["Subject"]).strip()

    def body(self, subtype: str) -> str:
        """The decoded text of the text/<subtype> part ("plain" or "html")."""
        part = self.parsed.get_body(preferencelist=(subtype,))
        assert part is not None, f"no text/{subtype} part"
        assert part.get_content_type() == f"text/{subtype}"
        content: str = part.get_content()
        return content


class _RecordingHandler:
    """aiosmtpd handler hooks; runs on the server's event loop thread."""

    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address.lower() in self.server.refused_recipients:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.server.delay_seconds:
            await asyncio.sleep(self.server.delay_seconds)  # other sessions go on meanwhile
        received = ReceivedMessage(
            mail_from=str(envelope.mail_from),
            rcpt_tos=tuple(envelope.rcpt_tos),
            raw=bytes(envelope.original_content),
        )
        with self.server.lock:
            if self.server.refusing_temporarily:
                self.server.refused.append(received)
                return "451 4.3.0 Mail server busy, try again later"
            self.server.messages.append(received)
        return "250 2.0.0 Message accepted for delivery"


class SmtpServer:
    """A real SMTP server on 127.0.0.1 that records what it receives.

    Switches, all effective immediately and safe to flip from the test thread:
    - `refusing_temporarily = True`: every message is refused at DATA with 451 (after its
      content was read, so the attempt is recorded in `refused` with its Message-ID);
    - `refused_recipients.add("a@b")`: that recipient is refused with 550 at RCPT;
    - `stop()` / `start()`: connections are refused while stopped; same port after;
    - `delay_seconds = 0.05`: every message is answered that much later (a slow relay).
    """

    def __init__(self, *, host: str = LOOPBACK, port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port()
        self.lock = threading.Lock()
        self.messages: list[ReceivedMessage] = []
        self.refused: list[ReceivedMessage] = []
        self.refusing_temporarily = False
        self.refused_recipients: set[str] = set()
        self.delay_seconds = 0.0
        self._handler = _RecordingHandler(self)
        self._controller: Controller | None = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        assert self._controller is None, "already running"
        # A Controller's event loop is closed when it stops, so each start needs a new one.
        controller = Controller(self._handler, hostname=self.host, port=self.port)
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def received(self) -> list[ReceivedMessage]:
        """A snapshot of the accepted messages, in arrival order."""
        with self.lock:
            return list(self.messages)

    def kinds(self) -> list[str]:
        return [m.kind for m in self.received()]

    def message_ids(self) -> list[str]:
        return [m.message_id for m in self.received()]

    def __enter__(self) -> SmtpServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class HangingSmtpServer:
    """Accepts connections on 127.0.0.1 and never answers: not even the SMTP greeting."""

    def __init__(self, *, host: str = LOOPBACK, give_up_after: float = 10.0) -> None:
        self.host = host
        # A client without a timeout would otherwise wait forever: hang up eventually, so
        # such a regression fails the test's timing assertion instead of hanging the run.
        self.give_up_after = give_up_after
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind((host, 0))
        self.port: int = self._listener.getsockname()[1]
        self.connections = 0
        self._held: list[tuple[float, socket.socket]] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def start(self) -> None:
        self._listener.listen(16)
        # Wake up now and then to notice stop(); accept() itself never answers anyone.
        self._listener.settimeout(0.05)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            self._hang_up(older_than=self.give_up_after)
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            # Keep it open and silent, so the client waits for a greeting that never comes.
            self._held.append((time.monotonic(), connection))
            self.connections += 1

    def _hang_up(self, *, older_than: float) -> None:
        now = time.monotonic()
        for held in [h for h in self._held if now - h[0] >= older_than]:
            held[1].close()
            self._held.remove(held)

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self._hang_up(older_than=0)
        self._listener.close()

    def __enter__(self) -> HangingSmtpServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def smtp_settings_for(port: int, *, timeout: float = TEST_EMAIL_TIMEOUT) -> override_settings:
    """Settings that make Django send through the real SMTP backend to 127.0.0.1:port."""
    return override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST=LOOPBACK,
        EMAIL_PORT=port,
        EMAIL_TIMEOUT=timeout,
        EMAIL_USE_TLS=False,
        EMAIL_USE_SSL=False,
        EMAIL_HOST_USER="",
        EMAIL_HOST_PASSWORD="",
    )


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A running recording SMTP server (settings untouched: see smtp_settings)."""
    with SmtpServer() as server:
        yield server


@pytest.fixture
def smtp_settings(smtp_server: SmtpServer) -> Iterator[SmtpServer]:
    """Django sends every email to `smtp_server` over real SMTP; yields that server."""
    with smtp_settings_for(smtp_server.port):
        yield smtp_server


@pytest.fixture
def hanging_smtp_server() -> Iterator[HangingSmtpServer]:
    """A server that accepts connections and never answers (use with smtp_settings_for)."""
    with HangingSmtpServer() as server:
        yield server
