"""The Celery app: `celery -A watchdog worker` and `celery -A watchdog beat`.

Configured from Django's settings (the CELERY_* names in watchdog/settings.py), so a worker
reads the same environment as the web server. Used only when CELERY_BROKER_URL is set;
without it nothing here connects anywhere and the embedded default runs as before.
"""

import logging.config
import os
import warnings
from typing import Any

from celery import Celery, signals
from celery.exceptions import CPendingDeprecationWarning
from kombu import Connection

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "watchdog.settings")

app = Celery("watchdog")
app.config_from_object("django.conf:settings", namespace="CELERY")
# tickets/tasks.py: thin shells around tickets.checker, the functions `manage.py check_sla`
# calls.
app.autodiscover_tasks()


@signals.worker_ready.connect
def ignore_the_cancel_on_connection_loss_warning(**kwargs: Any) -> None:
    """No warning at every lost broker connection about Celery 6.0's default.

    This service sets worker_cancel_long_running_tasks_on_connection_loss to False on
    purpose (the reason is beside it in watchdog/settings.py). Installed once the worker
    is up: its logging setup turns every Celery deprecation warning to "always" first.
    """
    warnings.filterwarnings(
        "ignore", message=r"\s*In Celery 5\.1 we introduced", category=CPendingDeprecationWarning
    )


def broker_connection(*, timeout: int) -> Connection:
    """A connection of its own that gives up after `timeout` seconds, however the broker fails.

    For callers that someone waits on (an API request, a health probe): the pooled
    connections retry for CELERY_BROKER_CONNECTION_TIMEOUT, and a Redis that accepts the
    connection but never answers would block them for good.
    """
    return app.connection_for_write(
        connect_timeout=timeout,  # AMQP: connecting and its handshake
        transport_options={  # Redis: connecting, then every command
            **app.conf.broker_transport_options,
            "socket_connect_timeout": timeout,
            "socket_timeout": timeout,
        },
    )


@signals.setup_logging.connect
def use_django_logging(**kwargs: Any) -> None:
    """Workers and beat log as Django's LOGGING says (LOG_LEVEL, LOG_FORMAT), not Celery's way.

    Without a receiver here, Celery would set the root logger to its own --loglevel
    (WARNING by default) and drop the service's INFO events, ticket and notification ids
    included.
    """
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
