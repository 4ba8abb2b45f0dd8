"""The base of the two Hypothesis state machines that check the SLA emails end to end.

Both act on the same world: an owner, the real SMTP server, time-machine's clock and the
checker. This holds what they share: each example starts from nothing at `start_at` with
the server up, the checker rule, and reading what reached the server since the last look.
"""

from collections.abc import Iterator
from datetime import datetime
from uuid import UUID

import time_machine
from django.contrib.auth.models import User
from django.utils import timezone
from hypothesis.stateful import RuleBasedStateMachine, rule

from notifications.models import Notification
from tests.smtp_server import ReceivedMessage, SmtpServer
from tickets.checker import run_check
from tickets.models import Ticket


class SlaMachine(RuleBasedStateMachine):
    """Subclassed by each test with the world the machine acts on."""

    owner: User
    server: SmtpServer
    clock: time_machine.Traveller
    start_at: datetime

    def __init__(self) -> None:
        super().__init__()
        # Each example starts from nothing, at start_at, with the server up.
        Notification.objects.all().delete()
        Ticket.objects.all().delete()
        self.clock.move_to(self.start_at)
        if not self.server.running:
            self.server.start()
        self.seen = len(self.server.received())
        # False from the start of a step until its invariants passed: teardown's final
        # checks only make sense after a run that did not fail on the way.
        self.steps_passed = True

    @property
    def now(self) -> datetime:
        return timezone.now()

    @rule()
    def run_the_checker(self) -> None:
        self.steps_passed = False
        run_check(now=self.now)
        self.inspect_new_deliveries()

    def inspect_new_deliveries(self) -> None:
        raise NotImplementedError

    def new_deliveries(self) -> Iterator[tuple[ReceivedMessage, Notification]]:
        """What reached the server since the last look, each with its outbox row."""
        received = self.server.received()
        new, self.seen = received[self.seen :], len(received)
        for message in new:
            yield message, Notification.objects.get(message_key=UUID(message.message_id[1:37]))
