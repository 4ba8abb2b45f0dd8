"""Every page passes axe-core (4.12.1, bundled by axe-playwright-python) with no serious or
critical violation, colour contrast (WCAG AA) among its rules, with tickets in each state
on the board so that every badge colour is checked."""

from datetime import date, timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from policies import services as policy_services
from sla.enums import Priority, Status
from tests.calendars import berlin_office
from tests.durations import HOUR
from tests.factories import PASSWORD
from tickets import services

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SERIOUS = {"serious", "critical"}


def serious_violations(page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{violation['id']} ({violation['impact']}): {len(violation['nodes'])} nodes"
        for violation in results.response["violations"]
        if violation["impact"] in SERIOUS
    ]


def test_no_page_has_a_serious_accessibility_violation(watched, staff, make_ticket):
    policy_services.create_policy(
        name="urgent",
        calendar=berlin_office(),
        priority=Priority.URGENT,
        resolution_target=4 * HOUR,
    )
    story = make_ticket(owner=staff, title="on track", due_in=5 * HOUR)
    make_ticket(owner=staff, title="at risk", due_in=timedelta(minutes=20))
    make_ticket(owner=staff, title="breached", due_in=-HOUR)
    paused = make_ticket(
        owner=staff, title="paused", deadline=None, priority=Priority.URGENT, status=Status.PENDING
    )
    services.respond(ticket=paused)
    page = watched.page

    page.goto("/sign-in/")
    assert serious_violations(page) == []
    page.get_by_label("Username").fill(staff.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    for state in ["On track", "At risk", "Breached", "Paused"]:
        expect(page.locator(".badge", has_text=state)).to_have_count(1)
    assert serious_violations(page) == []
    page.goto(f"/tickets/{story.pk}/")
    assert serious_violations(page) == []
    assert watched.errors == []


def test_the_board_works_from_the_keyboard(watched, alice, make_ticket):
    ticket = make_ticket(title="Keyboard only")
    page = watched.page
    page.goto("/sign-in/")
    page.keyboard.type(alice.username)  # the username field has focus on arrival
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="At risk")).to_be_visible()

    # Tab through the header and the filters to the ticket, in document order.
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Keyboard only":
            break
    page.keyboard.press("Enter")

    expect(page.locator("h1")).to_have_text("Keyboard only")
    assert page.url.endswith(f"/tickets/{ticket.pk}/")


def test_the_policies_and_calendars_pages_pass_axe_and_work_from_the_keyboard(watched, alice):
    office = berlin_office()
    policy_services.update_calendar(
        calendar=office, holidays=[(date(2026, 12, 24), "<script>alert(1)</script>")]
    )
    policy = policy_services.create_policy(
        name="Urgent <img src=x onerror=alert(1)>",
        calendar=office,
        priority=Priority.URGENT,
        resolution_target=4 * HOUR,
        first_response_target=HOUR,
        warning_percentages=[75],
    )
    page = watched.page
    page.goto("/sign-in/")
    page.keyboard.type(alice.username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="At risk")).to_be_visible()

    # From the header's Policies link to the policy, then to its calendar: keys only.
    for name, heading in [
        ("Policies", "SLA policies"),
        (policy.name, policy.name),
        ("Berlin office", "Berlin office"),
    ]:
        for _ in range(30):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.textContent") == name:
                break
        assert page.evaluate("document.activeElement.textContent") == name
        page.keyboard.press("Enter")
        expect(page.locator("h1")).to_have_text(heading)
        assert serious_violations(page) == []

    expect(page.get_by_text("<script>alert(1)</script>")).to_be_visible()
    page.goto("/policies/")
    expect(page.get_by_role("link", name=policy.name).first).to_be_visible()
    page.goto("/calendars/")
    assert serious_violations(page) == []
    assert watched.dialogs == []
    assert watched.errors == []
