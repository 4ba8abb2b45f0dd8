from typing import Any

from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "tickets"

    def ready(self) -> None:
        from notifications import outbox
        from tickets import checker, tasks

        # Ticket writes (tickets.services) ask the outbox for a prompt delivery; the
        # Celery tasks are what can give one.
        outbox.set_nudge(tasks.nudge)
        self._check_ticket = checker.check_ticket

    def check_ticket(self, **kwargs: Any) -> None:
        """tickets.checker.check_ticket, for Ticket.check_and_notify_sla(): the model sits
        below the checker, so it reaches it through its app instead of importing it."""
        self._check_ticket(**kwargs)
