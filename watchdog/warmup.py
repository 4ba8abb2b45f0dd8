"""Load what a request would load lazily, before a gunicorn worker takes its first one.

Django imports the URLconf (and with it every view, serializer and filter module), the
cache backend with its Redis client, the session and message storages, and opens the
database connection on the first request a process serves. In a worker that is about
200 ms of CPU, paid by whichever client reaches it first: with 4 workers on 2 cores all
starting at once, 0.5-2 s for the first requests, which was create's p99 (bench/README.md,
"Create's tail and one sender"). gunicorn.conf.py calls `warm_up()` in each worker after
it has loaded the application and before it accepts connections, so the cost is paid at
start-up (and when a worker is replaced after `max_requests`), not by a client.

Nothing here may stop a worker from starting: an unreachable database or Redis is logged
and left to the first request, which reports it as it would have anyway.
"""

import logging
import time

from django.conf import settings
from django.core.cache import caches
from django.db import DatabaseError, connections
from django.urls import get_resolver
from django.utils.module_loading import import_string

log = logging.getLogger(__name__)


def warm_up() -> float:
    """Import the lazily loaded modules and connect; returns the seconds it took."""
    started = time.perf_counter()
    get_resolver().url_patterns  # noqa: B018 (imports the URLconf: every view module)
    for path in (settings.SESSION_ENGINE + ".SessionStore", settings.SESSION_SERIALIZER):
        import_string(path)
    import_string(settings.MESSAGE_STORAGE)
    for alias in settings.CACHES:
        try:
            caches[alias].get("watchdog:warm-up")  # the client, its pool, one connection
        except Exception:
            log.warning("warm-up: cache %r unreachable", alias, exc_info=True)
    for connection in connections.all(initialized_only=False):
        try:
            connection.ensure_connection()
        except DatabaseError:
            log.warning("warm-up: database %r unreachable", connection.alias, exc_info=True)
    return time.perf_counter() - started
