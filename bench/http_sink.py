"""A real HTTP/1.1 receiver on 127.0.0.1 that answers 200, counts and checks, in its own process.

The webhook counterpart of bench/smtp_sink.py, for bench/fanout.py. Its own process, so
that it does not compete with the sender for the GIL; asyncio on one thread, keep-alive,
the request parsed just enough (request line, headers, Content-Length body): a receiver
that costs far less than the sender, so the sender is what is measured.

Per path it counts requests and distinct event ids (X-Watchdog-Event-Id: a repeat is a
duplicate delivery). For the signed path it verifies each signature the way a receiver
would (hmac over "timestamp.body"), independently of notifications.transports.webhook,
and counts those that fail.

With `record=<file>` (bench/stack_e2e.py --fanout) it also writes one line per request,
when its body has been read: the arrival time (epoch seconds), the path and the event id,
tab-separated, line-buffered so that every arrival is on disk as it happens; and counts
the requests in `received`, readable while it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import multiprocessing
import socket
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from multiprocessing.queues import Queue
    from multiprocessing.sharedctypes import Synchronized
    from multiprocessing.synchronize import Event
    from typing import TextIO

HOST = "127.0.0.1"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


class _Counts:
    def __init__(
        self,
        signed_path: str,
        secret: bytes,
        out: TextIO | None = None,
        received: Synchronized[int] | None = None,
    ) -> None:
        self.signed_path = signed_path.encode()
        self.secret = secret
        self.out = out
        self.received = received
        self.requests: dict[str, int] = {}
        self.events: dict[str, set[bytes]] = {}
        self.bad_signatures = 0
        self.connections = 0

    def record(self, path: bytes, headers: dict[bytes, bytes], body: bytes) -> None:
        name = path.decode()
        event_id = headers.get(b"x-watchdog-event-id", b"")
        if self.out is not None:
            self.out.write(f"{time.time():.6f}\t{name}\t{event_id.decode()}\n")
        if self.received is not None:
            with self.received.get_lock():
                self.received.value += 1
        self.requests[name] = self.requests.get(name, 0) + 1
        self.events.setdefault(name, set()).add(event_id)
        if path == self.signed_path:
            timestamp = headers.get(b"x-watchdog-timestamp", b"")
            digest = hmac.new(self.secret, timestamp + b"." + body, hashlib.sha256)
            expected = b"sha256=" + digest.hexdigest().encode()
            if not hmac.compare_digest(expected, headers.get(b"x-watchdog-signature", b"")):
                self.bad_signatures += 1

    def summary(self) -> dict[str, Any]:
        return {
            "requests": dict(self.requests),
            "distinct_events": {path: len(ids) for path, ids in self.events.items()},
            "bad_signatures": self.bad_signatures,
            "connections": self.connections,
        }


async def _serve_connection(
    counts: _Counts, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    counts.connections += 1
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            path = lines[0].split(b" ", 2)[1]
            headers: dict[bytes, bytes] = {}
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                if name:
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get(b"content-length", b"0")))
            counts.record(path, headers, body)
            writer.write(OK)
            if headers.get(b"connection", b"").lower() == b"close":
                break
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def _serve(
    port: int,
    signed_path: str,
    secret: str,
    ready: Event,
    stop: Event,
    out: Queue[Any],
    record: str | None = None,
    received: Synchronized[int] | None = None,
) -> None:
    # Line-buffered: every arrival on disk as it happens.
    with open(record, "a", buffering=1) if record else contextlib.nullcontext() as lines:
        counts = _Counts(signed_path, secret.encode(), lines, received if record else None)

        async def main() -> None:
            server = await asyncio.start_server(
                lambda r, w: _serve_connection(counts, r, w), HOST, port, backlog=128
            )
            ready.set()
            async with server:
                await asyncio.get_running_loop().run_in_executor(None, stop.wait)
            out.put(counts.summary())

        asyncio.run(main())


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


class HttpSink:
    """`with HttpSink(signed_path="/hook", secret=...) as sink:` ... `sink.summary()` at
    the end (it stops the server) says what was received."""

    def __init__(self, *, signed_path: str, secret: str, record: str | None = None) -> None:
        context = multiprocessing.get_context("spawn")
        self.received: Synchronized[int] = context.Value("q", 0)
        self.host = HOST
        self.port = _free_port()
        self._ready = context.Event()
        self._stop = context.Event()
        self._out: Queue[Any] = context.Queue()
        self._summary: dict[str, Any] | None = None
        self._process = context.Process(
            target=_serve,
            args=(
                self.port,
                signed_path,
                secret,
                self._ready,
                self._stop,
                self._out,
                record,
                self.received,
            ),
            name="bench-http-sink",
            daemon=True,
        )

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def start(self) -> None:
        self._process.start()
        if not self._ready.wait(30):
            self._process.terminate()
            raise RuntimeError("the benchmark HTTP receiver did not start within 30 s")

    def summary(self) -> dict[str, Any]:
        """Stop the receiver and return what it counted."""
        if self._summary is None:
            self._stop.set()
            self._summary = self._out.get(timeout=30)
            self._process.join(10)
        return self._summary

    def __enter__(self) -> HttpSink:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._summary is None:
            self._stop.set()
            self._process.join(10)
        if self._process.is_alive():
            self._process.terminate()
