"""Exactly once with several thresholds and two metrics, under any sequence of operations.

The machine of tests/engine/test_state_machine.py, for tickets under an SLA policy on a business
calendar (Monday to Friday 9:00-17:00, Europe/Berlin): each ticket has a first-response
and a resolution deadline, each with several warning thresholds. Rules create tickets
(policy or manual deadline), respond, set them pending, reopen, resolve, move the clock
(minutes, or over nights and weekends), run the checker with a real SMTP server, and edit
the policy (targets and thresholds), which the next check recomputes.

After every checker pass, of what reached the server:
- no Message-ID and no (ticket, metric, kind, deadline, threshold) arrives twice;
- no threshold is announced twice for a metric while nothing reset it (a policy edit, or
  a reopened ticket): a pause moves the resolution deadline, never re-announces;
- a miss arrives at most once per metric between resets, and never for a metric met in
  time; no SLA email arrives for a resolved ticket or an answered first response;
- a breach stays a breach: no recompute or pause turns a breached metric back (only a
  reopened ticket starts its resolution afresh).
At the end, with every ticket open and the clock past every deadline, each open ticket
has had exactly one resolution miss since its last reset, and each unanswered one exactly
one first-response miss.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

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
from policies import services as policy_services
from policies.models import BusinessCalendar, SlaPolicy
from sla.enums import Announcement, Metric, Priority, SlaState, Status
from tests.calendars import berlin_office
from tests.durations import HOUR
from tests.engine.machines import SlaMachine
from tests.smtp_server import smtp_settings_for
from tickets import services
from tickets.checker import run_check
from tickets.models import Ticket

# Hypothesis runs hundreds of programs: tens of seconds, so not in `make test-fast`.
pytestmark = pytest.mark.slow

BERLIN = ZoneInfo("Europe/Berlin")
# Monday 2026-03-16, 8:30: half an hour before opening.
START = datetime(2026, 3, 16, 8, 30, tzinfo=BERLIN)

RES, FR = Metric.RESOLUTION, Metric.FIRST_RESPONSE
WARNING, MISSED = Announcement.WARNING, Announcement.MISSED

TARGETS = st.sampled_from([HOUR, 2 * HOUR, 3 * HOUR, 5 * HOUR, 10 * HOUR])
FIRST_RESPONSE_TARGETS = st.sampled_from([timedelta(minutes=30), HOUR, 2 * HOUR])
LEAD_TIMES = st.lists(st.sampled_from([600, 1800, 3600, 7200, 10_800]), max_size=3, unique=True)
PERCENTAGES = st.lists(st.sampled_from([25, 50, 75, 90]), max_size=2, unique=True)
# Minutes, or a night, or a weekend.
SECONDS = st.one_of(
    st.integers(1, 90),
    st.integers(5 * 60, 150 * 60),
    st.sampled_from([16 * 3600, 64 * 3600]),
)


@dataclass
class Expected:
    """What the test believes about a ticket, from the operations alone."""

    active: bool = True
    pending: bool = False
    responded_at: datetime | None = None
    # Thresholds (per metric) announced since the metric last got new deadlines or
    # thresholds (a policy edit, a reopened ticket).
    warned: dict[str, set[int]] = field(default_factory=lambda: {RES: set(), FR: set()})
    # Misses since the metric was last started afresh (resolution: reopened; first
    # response: never), and ever.
    missed: Counter[str] = field(default_factory=Counter)
    missed_ever: Counter[str] = field(default_factory=Counter)
    reopened: bool = False
    # Metrics seen breached since they were last started afresh: they must stay breached.
    breached: set[str] = field(default_factory=set)

    def reopen(self) -> None:
        self.reopened = True
        self.warned[RES] = set()
        self.missed[RES] = 0
        self.breached.discard(RES)


class PolicyEmails(SlaMachine):
    """Subclassed by the test with the world the machine acts on."""

    calendar: BusinessCalendar
    policy: SlaPolicy

    start_at = START
    tickets = Bundle("tickets")

    def __init__(self) -> None:
        super().__init__()
        policy_services.update_policy(
            policy=self.policy,
            resolution_target=3 * HOUR,
            first_response_target=HOUR,
            warning_lead_times=[3600, 1800],
            warning_percentages=[50],
        )
        SlaPolicy.objects.update(recompute_requested_at=None)
        self.expected: dict[int, Expected] = {}
        self.delivered: Counter[tuple[int, str, str, datetime, int]] = Counter()
        self.message_ids: set[str] = set()

    # --- Tickets ------------------------------------------------------------------------

    @rule(target=tickets, pending=st.booleans())
    def create_with_the_policy_deadline(self, pending: bool) -> int:
        return self.create(pending=pending)

    @rule(target=tickets, due_in=st.integers(-60, 6 * 60))
    def create_with_a_manual_deadline(self, due_in: int) -> int:
        return self.create(deadline=self.now + timedelta(minutes=due_in))

    def create(self, *, pending: bool = False, deadline: datetime | None = None) -> int:
        self.steps_passed = False
        fields: dict[str, Any] = {"deadline": deadline} if deadline is not None else {}
        ticket = services.create_ticket(
            owner=self.owner,
            title="Printer on fire",
            priority=Priority.URGENT,
            status=Status.PENDING if pending else Status.OPEN,
            now=self.now,
            **fields,
        )
        self.expected[ticket.pk] = Expected(pending=pending)
        return ticket.pk

    @rule(ticket_id=tickets)
    def respond(self, ticket_id: int) -> None:
        self.steps_passed = False
        ticket = Ticket.objects.get(pk=ticket_id)
        if ticket.first_responded_at is not None:
            return
        services.respond(ticket=ticket, now=self.now)
        self.expected[ticket_id].responded_at = self.now

    @rule(ticket_id=tickets, status=st.sampled_from(list(Status)))
    def set_status(self, ticket_id: int, status: Status) -> None:
        self.steps_passed = False
        ticket = Ticket.objects.get(pk=ticket_id)
        expected = self.expected[ticket_id]
        services.update_ticket(ticket=ticket, status=status, now=self.now)
        active = status in (Status.OPEN, Status.PENDING)
        if active and not expected.active:
            expected.reopen()  # the resolution deadline starts afresh
        if not active and expected.active and expected.responded_at is None:
            expected.responded_at = self.now  # resolving it answered the customer
        expected.active = active
        expected.pending = status == Status.PENDING

    # --- The policy ---------------------------------------------------------------------

    @rule(
        resolution=TARGETS,
        first_response=FIRST_RESPONSE_TARGETS,
        lead_times=LEAD_TIMES,
        percentages=PERCENTAGES,
    )
    def edit_the_policy(
        self,
        resolution: timedelta,
        first_response: timedelta,
        lead_times: list[int],
        percentages: list[int],
    ) -> None:
        self.steps_passed = False
        policy = SlaPolicy.objects.get(pk=self.policy.pk)
        policy_services.update_policy(
            policy=policy,
            resolution_target=resolution,
            first_response_target=first_response,
            warning_lead_times=lead_times,
            warning_percentages=percentages,
        )
        # New deadlines and thresholds: a threshold announced for the old ones may be
        # passed again for the new ones. A miss is not repeated: the breach is kept.
        for expected in self.expected.values():
            expected.warned = {RES: set(), FR: set()}

    # --- The world around them ----------------------------------------------------------

    @rule(seconds=SECONDS)
    def advance_the_clock(self, seconds: int) -> None:
        self.steps_passed = False
        self.clock.shift(timedelta(seconds=seconds))

    def inspect_new_deliveries(self) -> None:
        for message, row in self.new_deliveries():
            assert message.message_id not in self.message_ids, f"{message.message_id} twice"
            self.message_ids.add(message.message_id)
            key = (row.ticket_id, row.metric, row.kind, row.deadline, row.threshold)
            self.delivered[key] += 1
            assert self.delivered[key] == 1, f"{key} delivered twice"
            if row.kind == Announcement.CREATED:
                continue
            ticket = self.expected[row.ticket_id]
            assert ticket.active, f"{row.kind} for resolved ticket {row.ticket_id}"
            if row.metric == FR:
                answered = ticket.responded_at
                assert answered is None or (row.kind == MISSED and answered >= row.deadline), (
                    f"first-response {row.kind} for an answered ticket {row.ticket_id}"
                )
            if row.kind == WARNING:
                warned = ticket.warned[row.metric]
                assert row.threshold not in warned, (
                    f"ticket {row.ticket_id} {row.metric}: threshold {row.threshold} again"
                )
                warned.add(row.threshold)
            else:
                ticket.missed[row.metric] += 1
                ticket.missed_ever[row.metric] += 1
                assert ticket.missed[row.metric] == 1, f"{row.ticket_id} {row.metric} missed twice"

    @invariant()
    def breaches_stay_breaches(self) -> None:
        states = Ticket.objects.values_list("pk", "resolution_state", "first_response_state")
        for ticket_id, resolution, first_response in states:
            expected = self.expected[ticket_id]
            for metric, state in ((RES, resolution), (FR, first_response)):
                if metric in expected.breached:
                    assert state == SlaState.BREACHED, f"{ticket_id} {metric} un-breached: {state}"
                if state == SlaState.BREACHED:
                    expected.breached.add(metric)
        self.steps_passed = True

    @invariant()
    def nothing_untrue_is_waiting_to_be_sent(self) -> None:
        queued = Notification.objects.filter(status=DeliveryStatus.PENDING).exclude(
            kind=Announcement.CREATED
        )
        for row in queued:
            ticket = self.expected[row.ticket_id]
            assert ticket.active, f"{row.kind} queued for resolved ticket {row.ticket_id}"
            if row.metric == FR and row.kind == WARNING:
                assert ticket.responded_at is None, f"{row.ticket_id}: warning of answered"

    # --- The end: every ticket open, and the clock past every deadline -------------------

    def teardown(self) -> None:
        if not self.steps_passed:
            return
        for ticket in Ticket.objects.filter(status=Status.PENDING):
            services.update_ticket(ticket=ticket, status=Status.OPEN, now=self.now)
            self.expected[ticket.pk].pending = False
        for _ in range(6):
            self.clock.shift(64 * HOUR)  # over a weekend: several business days each
            run_check(now=self.now)
            self.inspect_new_deliveries()
        assert not Notification.objects.filter(status=DeliveryStatus.PENDING).exists()
        for ticket in Ticket.objects.all():
            expected = self.expected[ticket.pk]
            if not expected.active:
                continue
            assert ticket.resolution_state == SlaState.BREACHED
            # Missed once; a reopened ticket whose miss was delivered before it was
            # resolved is not told again about the same deadline.
            if expected.reopened:
                assert expected.missed_ever[RES] >= 1, ticket.pk
            else:
                assert expected.missed_ever[RES] == 1, ticket.pk
            if expected.responded_at is None:
                assert ticket.first_response_state == SlaState.BREACHED
                assert expected.missed_ever[FR] == 1, ticket.pk


def test_several_thresholds_and_two_metrics_are_announced_exactly_once(
    alice, smtp_server, clock, settings
):
    settings.SLA_DELIVERY_MAX_ATTEMPTS = 1000
    calendar = berlin_office()
    urgent = policy_services.create_policy(
        name="Urgent",
        calendar=calendar,
        priority=Priority.URGENT,
        resolution_target=3 * HOUR,
        first_response_target=HOUR,
        warning_lead_times=[3600, 1800],
        warning_percentages=[50],
    )
    traveller = clock

    class PolicyEmailsHere(PolicyEmails):
        owner, server, clock = alice, smtp_server, traveller
        policy = urgent

    with smtp_settings_for(smtp_server.port):
        run_state_machine_as_test(
            PolicyEmailsHere,
            settings=hypothesis_settings(max_examples=80, stateful_step_count=30, deadline=None),
        )
