"""The project's Celery app, configured for one test and put back afterwards.

Celery reads Django's CELERY_* settings once, when the app is first used, and builds its
routing and connection pools from them; overriding Django settings in a test does not
reach it. These helpers change both: Django's CELERY_BROKER_URL (which decides whether
the service uses Celery at all) and the app's own configuration.
"""

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.test import override_settings

from watchdog.celery import app

REDIS_HOST = "127.0.0.1"
REDIS_PORT = 6379


def _reset_connections() -> None:
    # Connection pools and routing tables are built from the configuration once. (The pools
    # themselves are kombu's, shared by URL: left open for the next user of that URL.)
    app._pool = None  # type: ignore[attr-defined]
    app.__dict__.pop("amqp", None)


@contextmanager
def celery_configured(*, broker_url: str, **conf: Any) -> Iterator[None]:
    """Celery on `broker_url` (as if CELERY_BROKER_URL were set), with `conf` on top."""
    changes = {"broker_url": broker_url, **conf}
    saved = {name: app.conf[name] for name in changes}
    app.conf.update(changes)
    _reset_connections()
    try:
        with override_settings(CELERY_BROKER_URL=broker_url):
            yield
    finally:
        app.conf.update(saved)
        _reset_connections()


@contextmanager
def celery_eager() -> Iterator[None]:
    """A broker is configured, but every task runs at once, in this process and thread."""
    with celery_configured(
        broker_url="memory://", task_always_eager=True, task_eager_propagates=True
    ):
        yield


def redis_reachable() -> bool:
    try:
        with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=1):
            return True
    except OSError:
        return False
