"""A gunicorn worker loads what requests load lazily before it accepts one (watchdog/warmup.py)."""

import json
import socket

from tests.processes import run

# A fresh process: what the first request would import is not imported yet.
PROBE = """
import json, sys
import django
django.setup()
from django.db import connection
before = "tickets.views" in sys.modules
from watchdog.warmup import warm_up
seconds = warm_up()
print(json.dumps({
    "views_before": before,
    "views_after": "tickets.views" in sys.modules,
    "cache_backend_loaded": "django.core.cache.backends.redis" in sys.modules
    or "django.core.cache.backends.locmem" in sys.modules,
    "connected": connection.connection is not None,
    "seconds": seconds,
}))
"""


def test_warm_up_imports_the_views_and_connects_before_any_request(tmp_path):
    result = run(["-c", PROBE], tmp_path)

    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout)
    assert probe["views_before"] is False
    assert probe["views_after"] is True
    assert probe["cache_backend_loaded"] is True
    assert probe["connected"] is True


def test_an_unreachable_database_does_not_stop_the_worker_from_starting(tmp_path):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    result = run(
        ["-c", PROBE],
        tmp_path,
        DATABASE_URL=f"postgres://nobody@127.0.0.1:{port}/nothing",
        REDIS_URL=f"redis://127.0.0.1:{port}/0",
    )

    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout)
    assert probe["views_after"] is True
    assert probe["connected"] is False
    assert "warm-up: database 'default' unreachable" in result.stderr
    assert "warm-up: cache 'default' unreachable" in result.stderr
