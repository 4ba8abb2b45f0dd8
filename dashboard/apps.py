from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """The pages people read in a browser: the at-risk board and a ticket's SLA story."""

    name = "dashboard"
    default_auto_field = "django.db.models.BigAutoField"
