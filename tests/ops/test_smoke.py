from datetime import timedelta

from sla.enums import SlaState
from tickets.checker import run_check


def test_a_ticket_due_in_30_minutes_is_created_at_risk(clock, make_ticket):
    ticket = make_ticket(due_in=timedelta(minutes=30))

    assert ticket.resolution_state == SlaState.AT_RISK


def test_the_checker_breaches_a_ticket_once_its_deadline_passes(clock, make_ticket, mailoutbox):
    ticket = make_ticket(due_in=timedelta(minutes=30))
    clock.shift(timedelta(minutes=31))

    report = run_check()

    ticket.refresh_from_db()
    assert ticket.resolution_state == SlaState.BREACHED
    assert report.state_changes == 1
    assert sorted(m.extra_headers["X-SLA-Watchdog-Kind"] for m in mailoutbox) == [
        "created",
        "missed",
    ]
