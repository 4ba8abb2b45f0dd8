"""The SLA emails keep their promises under any sequence of edits, clock moves and outages.

A Hypothesis state machine creates tickets (through the API's service, and inserted
through the ORM as an import would), moves their deadlines (earlier, later, into
the past), resolves and reopens them, moves the clock, takes the real SMTP server down
(stopped: connections refused) and brings it back, and runs the checker. Time is
time-machine's frozen clock, moved by the machine and passed on as `now`; nothing sleeps.

After every checker pass, of what reached the server:
- no Message-ID arrives twice;
- no SLA email arrives for a resolved ticket, or about a deadline it no longer has;
- a warning arrives only before its deadline, a miss only after it.
At the end, with the server up and the clock past every deadline and retry delay:
- each ticket's creation email has arrived exactly once (none for an ORM insert);
- each ticket left open has had exactly one missed email for its deadline.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    invariant,
    rule,
    run_state_machine_as_test,
)

from notifications.models import DeliveryStatus, Notification
from sla.enums import ACTIVE_STATUSES, Announcement, Status
from tests.conftest import T0
from tests.engine.machines import SlaMachine
from tests.smtp_server import smtp_settings_for
from tickets import services
from tickets.checker import run_check
from tickets.clocks import warning_window
from tickets.models import Ticket

# Around the 60-minute warning window, so deadlines and windows are crossed often.
# Hypothesis runs hundreds of programs: tens of seconds, so not in `make test-fast`.
pytestmark = pytest.mark.slow

MINUTES = st.integers(min_value=1, max_value=150)
# A few seconds (within the retry delays: 15 s, 30 s ...) or a good part of an hour.
SECONDS = st.one_of(st.integers(1, 90), st.integers(5 * 60, 90 * 60))


@dataclass
class Expected:
    """What the test believes about a ticket, from the operations alone."""

    deadline: datetime
    active: bool = True
    # Inserted through the ORM rather than tickets.services: watched, but not announced.
    announced: bool = True


@dataclass(frozen=True)
class Delivered:
    ticket_id: int
    kind: str
    deadline: datetime


class SlaEmails(SlaMachine):
    """Subclassed by the test with the world the machine acts on."""

    start_at = T0
    tickets = Bundle("tickets")

    def __init__(self) -> None:
        super().__init__()
        self.expected: dict[int, Expected] = {}
        self.delivered: dict[str, Delivered] = {}

    # --- Tickets ------------------------------------------------------------------------

    @rule(target=tickets, due_in=st.integers(min_value=-90, max_value=180))
    def create(self, due_in: int) -> int:
        self.steps_passed = False
        deadline = self.now + timedelta(minutes=due_in)
        ticket = services.create_ticket(
            owner=self.owner, title="Printer on fire", deadline=deadline, now=self.now
        )
        self.expected[ticket.pk] = Expected(deadline=deadline)
        return ticket.pk

    @rule(target=tickets, due_in=st.integers(min_value=-90, max_value=180))
    def insert_through_the_orm(self, due_in: int) -> int:
        self.steps_passed = False
        deadline = self.now + timedelta(minutes=due_in)
        ticket = Ticket.objects.create(owner=self.owner, title="Imported", deadline=deadline)
        self.expected[ticket.pk] = Expected(deadline=deadline, announced=False)
        return ticket.pk

    @rule(ticket_id=tickets, minutes=MINUTES)
    def move_deadline_earlier(self, ticket_id: int, minutes: int) -> None:
        self.move_deadline(
            ticket_id, self.expected[ticket_id].deadline - timedelta(minutes=minutes)
        )

    @rule(ticket_id=tickets, minutes=MINUTES)
    def move_deadline_later(self, ticket_id: int, minutes: int) -> None:
        self.move_deadline(
            ticket_id, self.expected[ticket_id].deadline + timedelta(minutes=minutes)
        )

    @rule(ticket_id=tickets, minutes=MINUTES)
    def move_deadline_into_the_past(self, ticket_id: int, minutes: int) -> None:
        self.move_deadline(ticket_id, self.now - timedelta(minutes=minutes))

    def move_deadline(self, ticket_id: int, deadline: datetime) -> None:
        self.steps_passed = False
        ticket = Ticket.objects.get(pk=ticket_id)
        services.update_ticket(ticket=ticket, deadline=deadline, now=self.now)
        self.expected[ticket_id].deadline = deadline

    @rule(ticket_id=tickets, status=st.sampled_from([Status.RESOLVED, Status.CLOSED]))
    def resolve(self, ticket_id: int, status: Status) -> None:
        self.set_status(ticket_id, status)

    @rule(ticket_id=tickets, status=st.sampled_from([Status.OPEN, Status.PENDING]))
    def reopen(self, ticket_id: int, status: Status) -> None:
        self.set_status(ticket_id, status)

    def set_status(self, ticket_id: int, status: Status) -> None:
        self.steps_passed = False
        ticket = Ticket.objects.get(pk=ticket_id)
        services.update_ticket(ticket=ticket, status=status, now=self.now)
        self.expected[ticket_id].active = status in ACTIVE_STATUSES

    # --- The world around them ----------------------------------------------------------

    @rule(seconds=SECONDS)
    def advance_the_clock(self, seconds: int) -> None:
        self.steps_passed = False
        self.clock.shift(timedelta(seconds=seconds))

    @rule()
    def take_the_mail_server_down(self) -> None:
        self.steps_passed = False
        self.server.stop()

    @rule()
    def bring_the_mail_server_up(self) -> None:
        self.steps_passed = False
        if not self.server.running:
            self.server.start()

    def inspect_new_deliveries(self) -> None:
        window = warning_window()
        for message, row in self.new_deliveries():
            assert message.message_id not in self.delivered, f"{message.message_id} twice"
            self.delivered[message.message_id] = Delivered(row.ticket_id, row.kind, row.deadline)
            if row.kind == Announcement.CREATED:
                continue
            ticket = self.expected[row.ticket_id]
            assert ticket.active, f"{row.kind} email for resolved ticket {row.ticket_id}"
            assert row.deadline == ticket.deadline, f"{row.kind} about an old deadline"
            if row.kind == Announcement.WARNING:
                assert row.deadline - window <= self.now < row.deadline
            else:
                assert self.now >= row.deadline

    @invariant()
    def nothing_untrue_is_waiting_to_be_sent(self) -> None:
        """Even with the server down: no queued SLA email for a resolved ticket or about
        a deadline it no longer has (it would go out as soon as the server is back).
        """
        queued = Notification.objects.filter(status=DeliveryStatus.PENDING).exclude(
            kind=Announcement.CREATED
        )
        for row in queued:
            ticket = self.expected[row.ticket_id]
            assert ticket.active, f"{row.kind} queued for resolved ticket {row.ticket_id}"
            assert row.deadline == ticket.deadline, f"{row.kind} queued for an old deadline"
        self.steps_passed = True

    # --- The end: mail flows again and time passes ----------------------------------------

    def teardown(self) -> None:
        if not self.steps_passed:
            return  # a step failed; its error is the report, not what would follow
        if not self.server.running:
            self.server.start()
        last_deadline = max((t.deadline for t in self.expected.values()), default=self.now)
        self.clock.move_to(max(self.now, last_deadline))
        for _ in range(5):
            # Past the longest retry delay, so every pending email is due again.
            self.clock.shift(timedelta(hours=1, seconds=1))
            run_check(now=self.now)
            self.inspect_new_deliveries()
            if not Notification.objects.filter(status=DeliveryStatus.PENDING).exists():
                break
        assert not Notification.objects.filter(status=DeliveryStatus.PENDING).exists()

        delivered = Counter(self.delivered.values())
        for ticket_id, ticket in self.expected.items():
            created = [d for d in delivered if d.ticket_id == ticket_id and d.kind == "created"]
            expected_created = [1] if ticket.announced else []
            assert [delivered[d] for d in created] == expected_created, f"ticket {ticket_id}"
            if ticket.active:
                missed = Delivered(ticket_id, Announcement.MISSED, ticket.deadline)
                assert delivered[missed] == 1, f"ticket {ticket_id}: missed email for deadline"


def test_sla_emails_keep_their_promises_through_edits_clock_moves_and_outages(
    alice, smtp_server, clock, settings
):
    # The invariants speak of emails that eventually arrive: no giving up in between.
    settings.SLA_DELIVERY_MAX_ATTEMPTS = 1000
    traveller = clock

    class SlaEmailsHere(SlaEmails):
        owner, server, clock = alice, smtp_server, traveller

    with smtp_settings_for(smtp_server.port):
        run_state_machine_as_test(
            SlaEmailsHere,
            settings=hypothesis_settings(max_examples=100, stateful_step_count=25, deadline=None),
        )
