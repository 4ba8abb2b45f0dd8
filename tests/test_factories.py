"""The shared factories make rows as the API does: through the services."""

import pytest

from tests.conftest import T0
from tests.durations import HOUR, MINUTE
from tests.factories import PASSWORD, PolicyFactory, TicketFactory, UserFactory
from tickets.models import DeadlineSource

pytestmark = pytest.mark.django_db


def test_a_user_signs_in_with_the_shared_password():
    user = UserFactory.create()

    assert user.check_password(PASSWORD)
    assert user.email == f"{user.username}@example.com"


def test_a_ticket_is_due_in_two_hours_and_assessed(clock):
    ticket = TicketFactory.create()

    assert ticket.deadline == T0 + 2 * HOUR
    assert ticket.deadline_source == DeadlineSource.MANUAL
    assert ticket.next_check_at is not None  # the engine has assessed it
    assert ticket.sla_events.count() == 1


def test_a_ticket_without_a_deadline_takes_the_default_policy(clock):
    PolicyFactory.create()

    ticket = TicketFactory.create(deadline=None)

    assert ticket.deadline == T0 + 4 * HOUR
    assert ticket.deadline_source == DeadlineSource.POLICY


def test_a_policy_for_a_priority_sets_both_deadlines_of_its_tickets(clock):
    PolicyFactory.create(
        priority="urgent", resolution_target=HOUR, first_response_target=30 * MINUTE
    )

    ticket = TicketFactory.create(priority="urgent", deadline=None)

    assert (ticket.deadline, ticket.first_response_due) == (T0 + HOUR, T0 + 30 * MINUTE)
