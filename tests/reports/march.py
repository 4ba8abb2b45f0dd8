"""The compliance report's numbers against a small dataset computed by hand.

Alice's tickets in March 2026 (the clock at T0, Tuesday 10 March 12:00 UTC); the default
policy: 1 hour to first response, 4 hours to resolution, around the clock; urgent: 30
minutes and 2 hours. Wall-time durations, in seconds:

| # | priority | first response | resolution | paused | resolution state |
| 1 | normal   | 1800           | 7200       |        | achieved |
| 2 | normal   | 7200 (missed)  | 10800      |        | achieved |
| 3 | normal   | 600            | 25200      | 3600   | breached (due 14:00, done 16:00) |
| 4 | urgent   | 1200           | 3600       |        | achieved |
| 5 | urgent   | none (missed)  | open       |        | breached |
| 6 | normal   | 300            | open       | 7200 (still pending) | paused |

Plus a ticket of alice's from February and one of bob's in March, which never count for
alice. percentile_cont(p) of n sorted values is the value at position p*(n-1).

Teams and assignees: alice and dana are in Support, dana alone in Billing.

| # | team    | assignee |
| 1 | Support | alice    |
| 2 | Support | dana    |
| 3 |         | alice    |
| 4 | Support |          |
| 5 |         |          |
| 6 |         |          |

Dana owns one more ticket of March, in Billing and assigned to herself (created on the
5th at 9:00, never answered: first response and resolution breached at T0). Alice is no
member of Billing, so it never counts for her; bob's ticket has neither team nor assignee.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from sla.enums import Priority, Status
from tests.conftest import T0
from tests.durations import HOUR, MINUTE
from tests.factories import CalendarFactory, PolicyFactory, TeamFactory, UserFactory, urgent_policy
from tickets import services
from tickets.checker import run_check
from tickets.models import Ticket

MARCH = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def ticket(owner, created: datetime, *, priority=Priority.NORMAL, **fields: Any) -> Ticket:
    return services.create_ticket(owner=owner, now=created, title="t", priority=priority, **fields)


def respond(t: Ticket, after: timedelta) -> None:
    services.respond(ticket=t, now=t.created_at + after)


def set_status(t: Ticket, status: Status, when: datetime) -> None:
    services.update_ticket(ticket=t, now=when, status=status)


def build_march(alice, bob) -> dict[str, Any]:
    """The dataset of the table above, checked at T0."""
    dana = UserFactory.create(username="dana")
    support = TeamFactory.create(name="Support", members=[alice, dana])
    billing = TeamFactory.create(name="Billing", members=[dana])
    calendar = CalendarFactory.create()
    PolicyFactory.create(name="Default", calendar=calendar, first_response_target=HOUR)
    urgent_policy(calendar, first_response_target=30 * MINUTE, resolution_target=2 * HOUR)
    one = ticket(alice, at(2, 9), team=support, assignee=alice)
    respond(one, 30 * MINUTE)
    set_status(one, Status.RESOLVED, at(2, 11))
    two = ticket(alice, at(3, 9), team=support, assignee=dana)
    respond(two, 2 * HOUR)
    set_status(two, Status.RESOLVED, at(3, 12))
    three = ticket(alice, at(4, 9), assignee=alice)
    respond(three, 10 * MINUTE)
    set_status(three, Status.PENDING, at(4, 10))
    set_status(three, Status.OPEN, at(4, 11))
    set_status(three, Status.RESOLVED, at(4, 16))
    four = ticket(alice, at(5, 9), priority=Priority.URGENT, team=support)
    respond(four, 20 * MINUTE)
    set_status(four, Status.RESOLVED, at(5, 10))
    ticket(alice, at(6, 9), priority=Priority.URGENT)
    six = ticket(alice, at(9, 12))
    respond(six, 5 * MINUTE)
    set_status(six, Status.PENDING, at(10, 10))
    ticket(alice, datetime(2026, 2, 28, 9, tzinfo=UTC))
    bobs = ticket(bob, at(5, 9))
    respond(bobs, 3 * HOUR)
    set_status(bobs, Status.PENDING, at(5, 13))
    set_status(bobs, Status.RESOLVED, at(5, 18))
    danas = ticket(dana, at(5, 9), team=billing, assignee=dana)
    run_check(now=T0)
    return {
        "alice": [one, two, three, four],
        "pending": six,
        "bob": bobs,
        "dana": dana,
        "danas": danas,
        "support": support,
        "billing": billing,
    }
