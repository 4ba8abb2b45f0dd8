"""Escalation keeps its promises under any sequence of assignments, team changes,
acknowledgements, edits, quiet hours and clock moves.

A Hypothesis state machine over one world: agents alice, dave and erin are in two teams,
Support (lead bob, escalation contact max) and Billing (lead olga, no contact); dave is
quiet 22:00-07:00 UTC. The default escalation policy: level 1 at each warning tells the
assignee and the team lead; level 2 at the breach tells the lead and the assignee, and
repeats every 10 minutes up to 3 times; level 3, 30 minutes after the breach, tells the
escalation contact and breaks through quiet hours. Emails reach the real SMTP server.

After every checker pass, of what reached the server:
- no Message-ID twice, and no escalation email (ticket, deadline, level, repeat) twice to
  one person;
- a firing reaches at most as many people as its level has roles: reassigning a ticket
  or changing its team never re-sends to the newcomers what was sent;
- nothing about a resolved ticket or an old deadline; nothing of level 2 or 3 made after
  the breach was acknowledged;
- nothing of level 1 or 2 reaches dave in his quiet hours.
At the end: level 3 reached the contact at most once per breach, and exactly once for a
ticket that stayed in Support, open and unacknowledged, 30 minutes past its deadline.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

import pytest
from django.contrib.auth.models import User
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, invariant, rule, run_state_machine_as_test

from notifications.models import DeliveryStatus, Notification
from people.models import EscalationLevel, EscalationPolicy, Team
from people.services import update_profile
from sla.enums import ACTIVE_STATUSES, Status
from tests.conftest import T0
from tests.engine.machines import SlaMachine
from tests.factories import TeamFactory
from tests.smtp_server import smtp_settings_for
from tickets import services
from tickets.checker import run_check
from tickets.models import Ticket

pytestmark = pytest.mark.slow

MINUTE = timedelta(minutes=1)
ROLES_PER_LEVEL = {1: 2, 2: 2, 3: 1}
AGENTS = ["alice", "dave", "erin"]


@dataclass
class Expected:
    deadline: datetime
    active: bool = True
    team: str = "Support"
    stayed_in_support: bool = True
    # (deadline, when) of the acknowledgement of that deadline's breach.
    acknowledged: tuple[datetime, datetime] | None = None
    levels: Counter[tuple[datetime, int, int, str]] = field(default_factory=Counter)


def quiet_for_dave(at: datetime) -> bool:
    return not time(7) <= at.time() < time(22)


class Escalations(SlaMachine):
    start_at = T0
    tickets = Bundle("tickets")
    users: dict[str, User]
    teams: dict[str, Team]

    def __init__(self) -> None:
        super().__init__()
        self.expected: dict[int, Expected] = {}
        self.message_ids: set[str] = set()

    @rule(
        target=tickets,
        due_in=st.integers(min_value=-30, max_value=150),
        assignee=st.sampled_from(AGENTS),
    )
    def create(self, due_in: int, assignee: str) -> int:
        self.steps_passed = False
        deadline = self.now + timedelta(minutes=due_in)
        ticket = services.create_ticket(
            owner=self.owner,
            title="Printer on fire",
            deadline=deadline,
            team=self.teams["Support"],
            assignee=self.users[assignee],
            now=self.now,
        )
        self.expected[ticket.pk] = Expected(deadline=deadline)
        return ticket.pk

    @rule(ticket_id=tickets, agent=st.sampled_from(AGENTS))
    def assign(self, ticket_id: int, agent: str) -> None:
        self.steps_passed = False
        ticket = Ticket.objects.get(pk=ticket_id)
        services.update_ticket(ticket=ticket, assignee=self.users[agent], now=self.now)

    @rule(ticket_id=tickets, team=st.sampled_from(["Support", "Billing"]))
    def change_team(self, ticket_id: int, team: str) -> None:
        self.steps_passed = False
        ticket = Ticket.objects.get(pk=ticket_id)
        services.update_ticket(ticket=ticket, team=self.teams[team], now=self.now)
        expected = self.expected[ticket_id]
        if team != expected.team:
            expected.stayed_in_support = False
        expected.team = team

    @rule(ticket_id=tickets, by=st.sampled_from(["bob", "alice"]))
    def acknowledge(self, ticket_id: int, by: str) -> None:
        self.steps_passed = False
        ticket = Ticket.objects.get(pk=ticket_id)
        try:
            services.acknowledge(ticket=ticket, user=self.users[by], now=self.now)
        except services.NothingToAcknowledge:
            return
        expected = self.expected[ticket_id]
        if expected.acknowledged is None or expected.acknowledged[0] != expected.deadline:
            expected.acknowledged = (expected.deadline, self.now)

    @rule(ticket_id=tickets, minutes=st.integers(min_value=-90, max_value=120))
    def set_deadline(self, ticket_id: int, minutes: int) -> None:
        self.steps_passed = False
        deadline = self.now + timedelta(minutes=minutes)
        ticket = Ticket.objects.get(pk=ticket_id)
        services.update_ticket(ticket=ticket, deadline=deadline, now=self.now)
        self.expected[ticket_id].deadline = deadline

    @rule(ticket_id=tickets, status=st.sampled_from(list(Status)))
    def set_status(self, ticket_id: int, status: Status) -> None:
        self.steps_passed = False
        ticket = Ticket.objects.get(pk=ticket_id)
        services.update_ticket(ticket=ticket, status=status, now=self.now)
        self.expected[ticket_id].active = status in ACTIVE_STATUSES

    @rule(minutes=st.one_of(st.integers(1, 15), st.integers(25, 90), st.integers(300, 660)))
    def advance_the_clock(self, minutes: int) -> None:
        """Minutes (within the repeats), an hour, or hours: into or out of dave's night."""
        self.steps_passed = False
        self.clock.shift(timedelta(minutes=minutes))

    def inspect_new_deliveries(self) -> None:
        for message, row in self.new_deliveries():
            assert message.message_id not in self.message_ids, f"{message.message_id} twice"
            self.message_ids.add(message.message_id)
            if row.level == 0:
                continue
            expected = self.expected[row.ticket_id]
            person = message.rcpt_tos[0].split("@")[0]
            key = (row.deadline, row.level, row.repeat, person)
            expected.levels[key] += 1
            assert expected.levels[key] == 1, f"{key} twice for ticket {row.ticket_id}"
            reached = {k for k in expected.levels if k[:3] == key[:3]}
            assert len(reached) <= ROLES_PER_LEVEL[row.level], f"re-sent to newcomers: {reached}"
            assert expected.active, f"level {row.level} for resolved ticket {row.ticket_id}"
            assert row.deadline == expected.deadline, f"level {row.level} for an old deadline"
            if row.level > 1 and expected.acknowledged is not None:
                deadline, at = expected.acknowledged
                if deadline == row.deadline:
                    assert row.created_at <= at, f"level {row.level} after acknowledgement"
            if person == "dave" and row.level < 3:
                assert not quiet_for_dave(self.now), f"level {row.level} to dave at {self.now}"

    @invariant()
    def nothing_untrue_is_waiting(self) -> None:
        waiting = Notification.objects.filter(
            status__in=[DeliveryStatus.PENDING, DeliveryStatus.HELD], level__gt=0
        )
        for row in waiting:
            expected = self.expected[row.ticket_id]
            assert expected.active, f"level {row.level} waiting for resolved {row.ticket_id}"
            assert row.deadline == expected.deadline, f"level {row.level} for an old deadline"
        self.steps_passed = True

    def teardown(self) -> None:
        if not self.steps_passed:
            return
        last = max((t.deadline for t in self.expected.values()), default=self.now)
        self.clock.move_to(max(self.now, last) + 31 * MINUTE)
        for _ in range(4):  # through dave's night, if it is one, and the retries
            run_check(now=self.now)
            self.inspect_new_deliveries()
            self.clock.shift(timedelta(hours=4))
        for ticket_id, expected in self.expected.items():
            level_3 = [k for k in expected.levels if k[1] == 3 and k[0] == expected.deadline]
            assert len(level_3) <= 1
            unacknowledged = expected.acknowledged is None or (
                expected.acknowledged[0] != expected.deadline
            )
            if expected.active and expected.stayed_in_support and unacknowledged:
                assert [k[3] for k in level_3] == ["max"], f"ticket {ticket_id}: {level_3}"


def _world(make_user):
    users = {name: make_user(name) for name in [*AGENTS, "bob", "olga", "max"]}
    agents = [users[name] for name in AGENTS]
    teams = {
        "Support": TeamFactory.create(
            name="Support", members=agents, lead=users["bob"], escalation_contact=users["max"]
        ),
        "Billing": TeamFactory.create(name="Billing", members=agents, lead=users["olga"]),
    }
    update_profile(
        user=users["dave"], time_zone="UTC", quiet_hours_start=time(22), quiet_hours_end=time(7)
    )
    policy = EscalationPolicy.objects.create(name="Default", is_default=True)
    EscalationLevel.objects.create(
        policy=policy, position=1, trigger="warning", roles=["assignee", "team_lead"]
    )
    EscalationLevel.objects.create(
        policy=policy,
        position=2,
        trigger="breach",
        roles=["team_lead", "assignee"],
        repeat_every=10 * MINUTE,
        repeat_limit=3,
    )
    EscalationLevel.objects.create(
        policy=policy,
        position=3,
        trigger="breach",
        delay=30 * MINUTE,
        roles=["escalation_contact"],
        breaks_quiet_hours=True,
    )
    return users, teams


def test_escalation_keeps_its_promises_through_assignments_acks_and_quiet_hours(
    make_user, smtp_server, clock, settings
):
    settings.SLA_DELIVERY_MAX_ATTEMPTS = 1000
    users, teams = _world(make_user)
    traveller = clock

    class EscalationsHere(Escalations):
        owner, server, clock = make_user("owner"), smtp_server, traveller

    EscalationsHere.users = users
    EscalationsHere.teams = teams
    with smtp_settings_for(smtp_server.port):
        run_state_machine_as_test(
            EscalationsHere,
            settings=hypothesis_settings(max_examples=60, stateful_step_count=25, deadline=None),
        )
