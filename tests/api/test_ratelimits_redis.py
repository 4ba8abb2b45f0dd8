"""Two real server processes on one Redis share their rate-limit counters.

Nothing here runs inside the pytest-django test database: a setup process migrates a
SQLite file of its own and creates a user, then two WSGI servers serve it on loopback.
"""

import json
import os
import select
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from django_ratelimit.core import _get_window

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("WATCHDOG_TEST_SHARED_REDIS_URL", "redis://127.0.0.1:6379/15")
# No step of the test waits longer than this for a process or an answer.
DEADLINE_SECONDS = 60

SETUP = """
import django
django.setup()
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone
from accounts.logins import start_token_login
call_command("migrate", verbosity=0)
user = User.objects.create_user("alice", "alice@example.com", "correct horse battery staple")
print(user.pk, start_token_login(user=user, now=timezone.now()))
"""

SERVE = """
import django
django.setup()
from wsgiref.simple_server import WSGIRequestHandler, make_server
from django.core.wsgi import get_wsgi_application

class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass

server = make_server("127.0.0.1", 0, get_wsgi_application(), handler_class=Quiet)
print(server.server_port, flush=True)
server.serve_forever()
"""


def redis_or_skip() -> redis.Redis:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis is unreachable at {REDIS_URL}: {error}")
    return client


def rate_whose_window_outlasts_the_test(count: int, user_pk: int) -> str:
    """A rate of `count` per N hours whose current window for this user ends after the test.

    django-ratelimit counts in fixed windows offset per key; a window ending mid-test would
    reset the count on the real clock. Trying periods until one ends late enough avoids it.
    """
    for hours in range(1, 25):
        period = hours * 3600
        if _get_window(str(user_pk), period) - time.time() > 2 * DEADLINE_SECONDS:
            return f"{count}/{hours}h"
    raise AssertionError("no period leaves enough time")  # pragma: no cover


def get(url: str, token: str) -> tuple[int, dict[str, str], dict[str, object]]:
    headers = {"Authorization": f"Token {token}"}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 (http on loopback)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


@pytest.fixture
def environment(tmp_path: Path) -> Iterator[dict[str, str]]:
    """What the setup process and both servers run with: the same database and Redis."""
    shared_redis = redis_or_skip()
    prefix = f"sla-watchdog-test-{uuid.uuid4().hex}"
    yield {
        "PATH": os.environ.get("PATH", ""),
        "PYTHON_DOTENV_DISABLED": "1",
        "DJANGO_SETTINGS_MODULE": "watchdog.settings",
        "DEBUG": "true",
        # One installation: the servers check the tokens the setup process made.
        "SECRET_KEY_FILE": str(tmp_path / "secret_key"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'shared.sqlite3'}",
        "REDIS_URL": REDIS_URL,
        "CACHE_KEY_PREFIX": prefix,
        "RATELIMIT_ENABLE": "true",
        "LOG_LEVEL": "ERROR",
    }
    for key in shared_redis.scan_iter(match=f"{prefix}:*"):
        shared_redis.delete(key)


@pytest.fixture
def start_servers(tmp_path: Path) -> Iterator[Callable[[dict[str, str], int], list[str]]]:
    """Start WSGI server processes on free loopback ports; answers their base URLs."""
    started: list[subprocess.Popen[str]] = []

    def start(environment: dict[str, str], count: int) -> list[str]:
        logs = [tmp_path / f"server-{n}.log" for n in range(count)]
        for log in logs:
            with log.open("w") as stderr:
                started.append(
                    subprocess.Popen(  # noqa: S603
                        [sys.executable, "-c", SERVE],
                        cwd=REPO,
                        env=environment,
                        stdout=subprocess.PIPE,
                        stderr=stderr,
                        text=True,
                    )
                )
        urls = []
        for process, log in zip(started, logs, strict=True):
            assert process.stdout is not None
            ready, _, _ = select.select([process.stdout], [], [], DEADLINE_SECONDS)
            port = process.stdout.readline().strip() if ready else ""
            assert port, f"a server did not start: {log.read_text()}"
            urls.append(f"http://127.0.0.1:{port}")
        return urls

    yield start
    for process in started:
        process.terminate()
    for process in started:
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_two_server_processes_share_the_list_limit_through_redis(environment, start_servers):
    setup = subprocess.run(  # noqa: S603
        [sys.executable, "-c", SETUP],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=DEADLINE_SECONDS,
        check=False,
    )
    assert setup.returncode == 0, setup.stderr
    user_pk, token = setup.stdout.split()
    environment["RATELIMIT_TICKETS_LIST"] = rate_whose_window_outlasts_the_test(10, int(user_pk))
    urls = [f"{base}/api/tickets/" for base in start_servers(environment, 2)]

    answers = [get(urls[n % 2], token) for n in range(11)]

    assert [status for status, _, _ in answers] == [200] * 10 + [429]
    _, headers, body = answers[-1]
    assert int(headers["Retry-After"]) >= 1
    assert "throttled" in str(body["detail"]).lower()
    assert [status for status, _, _ in (get(url, token) for url in urls)] == [429, 429]
