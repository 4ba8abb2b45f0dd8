from django.apps import AppConfig


class WatchdogConfig(AppConfig):
    name = "watchdog"
    verbose_name = "SLA Watchdog"

    def ready(self) -> None:
        from watchdog import checks  # noqa: F401  (registers the system checks)
