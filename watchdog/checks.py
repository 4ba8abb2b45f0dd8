"""System checks that say out loud which defaults the service is running on."""

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core import checks

_LOCMEM = "django.core.cache.backends.locmem.LocMemCache"


@checks.register(checks.Tags.caches)
def check_rate_limit_cache(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[checks.CheckMessage]:
    if settings.CACHES["default"]["BACKEND"] != _LOCMEM:
        return []
    return [
        checks.Warning(
            "Rate limits are counted per process: the cache is in-process memory.",
            hint="Set REDIS_URL so that every server process shares the same counts.",
            id="watchdog.W001",
        )
    ]


@checks.register()
def check_embedded_default(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[checks.CheckMessage]:
    messages: list[checks.CheckMessage] = []
    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        messages.append(
            checks.Info(
                f"Database: SQLite at {settings.DATABASES['default']['NAME']} (embedded default).",
                hint="Set DATABASE_URL=postgres://... to use PostgreSQL.",
                id="watchdog.I001",
            )
        )
    if not settings.CELERY_BROKER_URL:
        messages.append(
            checks.Info(
                "No Celery broker: SLA checks and deliveries run in-process "
                "(manage.py check_sla --loop, or cron).",
                hint="Set CELERY_BROKER_URL=redis://... to run them on Celery workers and beat.",
                id="watchdog.I003",
            )
        )
    if settings.EMAIL_BACKEND == "django.core.mail.backends.console.EmailBackend":
        messages.append(
            checks.Info(
                "Emails are printed to the console, not sent.",
                hint="Set EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend "
                "and EMAIL_HOST.",
                id="watchdog.I002",
            )
        )
    return messages


@checks.register()
def check_broker_apart_from_cache(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[checks.CheckMessage]:
    broker = settings.CELERY_BROKER_URL.rstrip("/")
    if not broker or broker != settings.REDIS_URL.rstrip("/"):
        return []
    return [
        checks.Warning(
            "CELERY_BROKER_URL is the cache's Redis database: clearing the cache would "
            "empty the task queue.",
            hint="Give the broker a database of its own, e.g. redis://host:6379/1.",
            id="watchdog.W003",
        )
    ]


@checks.register()
def check_delivery_lease(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[checks.CheckMessage]:
    # One send can wait on the SMTP server several times (connect, greeting, data), each up
    # to EMAIL_TIMEOUT. A lease shorter than a few of those can end while a message is
    # still in hand, and another sender would then send it again.
    if settings.SLA_DELIVERY_LEASE_SECONDS >= 6 * settings.EMAIL_TIMEOUT:
        return []
    return [
        checks.Warning(
            f"SLA_DELIVERY_LEASE_SECONDS={settings.SLA_DELIVERY_LEASE_SECONDS} is shorter than "
            f"6 x EMAIL_TIMEOUT ({settings.EMAIL_TIMEOUT:g} s): a slow mail server can outlast "
            "a sender's lease and cause duplicate emails.",
            hint="Raise SLA_DELIVERY_LEASE_SECONDS or lower EMAIL_TIMEOUT.",
            id="watchdog.W002",
        )
    ]
