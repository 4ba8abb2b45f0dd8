"""A real HTTP receiver on loopback for the webhook tests: records, answers as told.

A ThreadingHTTPServer speaking HTTP/1.1 (so a client may keep its connection), recording
each request's path, headers, body and the client's port (one port: one connection
reused). `answers` maps a path to the status it answers; `hang` makes it wait for the
test to let go (so only the client's timeout ends the wait). With `accept_first`, it
answers that many POSTs, then holds the next one unanswered (read, kept as `held`) until
`release()`: a test then knows which webhook is in flight when it kills the sender, as
tests/checker_processes.py's StallingSmtpServer does for email.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

LOOPBACK = "127.0.0.1"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    client_port: int


@dataclass
class Receiver:
    port: int = 0
    received: list[Received] = field(default_factory=list)
    connections: int = 0
    answers: dict[str, int] = field(default_factory=dict)
    hang: threading.Event | None = None
    accept_first: int | None = None
    held: Received | None = None
    # Set when the held request has arrived; when it was released and answered.
    stalled: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    accepted: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hook") -> str:
        return f"http://{LOOPBACK}:{self.port}{path}"

    def release(self) -> None:
        self.released.set()

    def event_ids(self) -> list[str]:
        """The event id of every request answered so far, in order."""
        return [got.headers["X-Watchdog-Event-Id"] for got in self.received]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            receiver.connections += 1

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            got = Received(self.path, dict(self.headers.items()), body, self.client_address[1])
            with receiver.lock:
                hold = (
                    receiver.accept_first is not None
                    and receiver.held is None
                    and len(receiver.received) == receiver.accept_first
                )
                if hold:
                    receiver.held = got
                    receiver.stalled.set()
                else:
                    receiver.received.append(got)
            if hold:
                receiver.released.wait(120)
                receiver.received.append(got)
            if receiver.hang is not None:
                receiver.hang.wait(10)
            status = receiver.answers.get(self.path, 200)
            reply = b"ok"
            self.send_response(status)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)
            self.wfile.flush()
            if hold:
                receiver.accepted.set()

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()
    server = ThreadingHTTPServer((LOOPBACK, 0), _handler(state))
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    if state.hang is not None:
        state.hang.set()
    state.release()  # never leave a handler thread waiting on a stopped server
    server.shutdown()
    server.server_close()


@dataclass
class Endpoint:
    """What the webhook transport needs of an endpoint (until issue 13's model exists)."""

    url: str
    secret: str = "whsec-correct-horse"


def send(transport: Any, notification: Any) -> None:
    """One notification through a transport, as notifications.delivery drives it."""
    recipient = transport.recipient(notification)
    message = transport.prepare(notification, recipient=recipient)
    transport.open()
    try:
        transport.send(message, recipient=recipient)
    finally:
        transport.close()
