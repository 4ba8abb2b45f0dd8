"""A real SMTP server on 127.0.0.1 that accepts and counts messages, in its own process.

Its own process, not a thread of the benchmark: a server thread would compete with the
sender for the GIL and make delivery look slower than it is against a separate server.
"""

from __future__ import annotations

import multiprocessing
import socket
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from multiprocessing.synchronize import Event

HOST = "127.0.0.1"


class CountingHandler:
    def __init__(self, received: Any) -> None:
        self.received = received

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.received.get_lock():
            self.received.value += 1
        return "250 Message accepted for delivery"


def _serve(port: int, received: Any, ready: Event, stop: Event) -> None:
    from aiosmtpd.controller import Controller

    controller = Controller(CountingHandler(received), hostname=HOST, port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


class SmtpSink:
    """`with SmtpSink() as sink:` ... `sink.received` is the number of messages accepted."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.host = HOST
        self.port = _free_port()
        self._received = context.Value("q", 0)
        self._ready = context.Event()
        self._stop = context.Event()
        self._process = context.Process(
            target=_serve,
            args=(self.port, self._received, self._ready, self._stop),
            name="bench-smtp-sink",
            daemon=True,
        )

    @property
    def pid(self) -> int | None:
        return self._process.pid

    @property
    def received(self) -> int:
        value: int = self._received.value
        return value

    def start(self) -> None:
        self._process.start()
        if not self._ready.wait(30):
            self._process.terminate()
            raise RuntimeError("the benchmark SMTP server did not start within 30 s")

    def stop(self) -> None:
        self._stop.set()
        self._process.join(10)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(5)

    def __enter__(self) -> SmtpSink:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
