"""gunicorn's configuration: `gunicorn -c gunicorn.conf.py watchdog.wsgi`.

Server settings only (where to listen, how many workers); everything about the service
itself is in watchdog/settings.py. Read with the same strict readers and the same .env.
"""

import multiprocessing
import os
import sys
from pathlib import Path

from dotenv import load_dotenv

from watchdog.environment import env_bool, env_choice, env_int, env_str

load_dotenv(Path(__file__).resolve().parent / ".env", override=False)

# gunicorn is how the service is served for real (make stack, the Procfile, systemd,
# Docker), and development settings have no place there: DEBUG's error pages show code
# and settings to any client, and its signing key is a file made on one machine.
if env_bool("DEBUG", True):
    sys.exit(
        "gunicorn.conf.py: DEBUG is true (its default). gunicorn serves production: set "
        "DEBUG=false with SECRET_KEY and ALLOWED_HOSTS (docs/deployment.md), or use `make run`."
    )

# 127.0.0.1 unless told otherwise: the service belongs behind a TLS-terminating proxy.
bind = f"{env_str('HOST', '127.0.0.1')}:{env_int('PORT', 8000, minimum=1, maximum=65535)}"
# The usual 2 x cores + 1 sync workers, capped: each holds a database connection.
workers = env_int("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, 12), minimum=1)
# A request slower than this is killed and its worker replaced.
timeout = env_int("GUNICORN_TIMEOUT", 30, minimum=1)
graceful_timeout = 30
keepalive = 5
# Replace workers now and then, so a slow leak cannot grow without bound.
max_requests = 2000
max_requests_jitter = 200
# Each worker imports the app itself: no database or broker connection is shared by fork,
# and HUP starts workers with new code.
preload_app = False


def post_worker_init(worker: object) -> None:
    """Load what the first request would load lazily, before this worker accepts one.

    Without it the first request a worker served paid ~200 ms of imports and connections
    (0.5-2 s with 4 workers starting on 2 cores): create's p99 (watchdog/warmup.py).
    """
    from watchdog.warmup import warm_up  # the app is loaded: Django is set up

    warm_up()


# No control socket (gunicorn opens one in ~/.gunicorn by default): nothing here uses it,
# the service user's home may be read-only (systemd's ProtectHome), and two servers run by
# one user would fight over the same path.
control_socket_disable = True
# Heartbeat files on tmpfs where there is one (containers), not on a possibly slow disk.
_TMPFS = "/dev/shm"  # noqa: S108 (gunicorn's worker heartbeat files, not data)
if os.path.isdir(_TMPFS):
    worker_tmp_dir = _TMPFS
# Access and error logs to stdout/stderr, for systemd's journal or the container engine.
accesslog = "-"
errorlog = "-"
loglevel = env_str("LOG_LEVEL", "INFO").lower()

if env_choice("LOG_FORMAT", "plain", {"plain", "json"}) == "json":
    # gunicorn's own lines as JSON too, one object a line like the service's.
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "watchdog.jsonlog.JsonFormatter"}},
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stdout",
            },
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            },
        },
        # gunicorn merges this over its own defaults, whose root logger names a handler
        # this replaces; Django's LOGGING takes the root logger over once the app loads.
        "root": {"handlers": ["stderr"], "level": "INFO"},
        "loggers": {
            "gunicorn.error": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "gunicorn.access": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
        },
    }
