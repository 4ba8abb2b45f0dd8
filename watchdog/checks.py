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
