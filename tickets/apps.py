from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "tickets"

    def ready(self) -> None:
        from notifications import outbox
        from tickets import tasks

        # Ticket writes (tickets.services) ask the outbox for a prompt delivery; the
        # Celery tasks are what can give one.
        outbox.set_nudge(tasks.nudge)
