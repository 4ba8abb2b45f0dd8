"""The pages in a real headless Chromium: sign-in, the board refreshing itself as a ticket
crosses its warning threshold, the story, responding, and hostile titles that must stay
text. Every test ends with no dialog opened and no console error (CSP violations are
console errors), so a script that ran, or a style the policy blocked, fails it."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from sla.enums import SlaState
from tests.factories import PASSWORD
from tickets.checker import run_check
from tickets.models import Ticket

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

XSS_TITLES = ["<img src=x onerror=alert(1)>", "</script><script>alert(1)</script>"]


def sign_in(watched, user) -> None:
    page = watched.page
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="At risk")).to_be_visible()


def row(page, ticket):
    return page.locator(f'tr[data-ticket="{ticket.pk}"]')


def assert_nothing_ran(watched) -> None:
    assert watched.dialogs == []
    assert watched.errors == []


def test_sign_in_shows_the_board_in_the_browsers_time_zone_and_sign_out_leaves(
    watched, alice, make_ticket
):
    make_ticket(title="Printer on fire")
    sign_in(watched, alice)
    page = watched.page

    expect(page.get_by_role("link", name="Printer on fire")).to_be_visible()
    # The sign-in page told the server the browser's zone (Europe/Paris, the context's).
    expect(page.locator(".updated")).to_contain_text("CET")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto("/board/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert_nothing_ran(watched)


def test_hostile_titles_show_as_text_and_run_nothing(watched, alice, make_ticket):
    tickets = [make_ticket(title=title) for title in XSS_TITLES]
    page = watched.page
    sign_in(watched, alice)
    response = page.reload()

    # The directives' order varies from process to process: read them one by one.
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in response.headers["content-security-policy"].split(";")
    )
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    for ticket in tickets:
        expect(row(page, ticket).get_by_role("link")).to_have_text(ticket.title)
    assert page.locator("#board-table img").count() == 0
    # htmx is loaded, and injected no <style> (the policy would have refused it).
    assert page.evaluate("typeof htmx") == "object"
    assert page.locator("style").count() == 0

    for ticket in tickets:
        page.goto(f"/tickets/{ticket.pk}/")
        expect(page.locator("h1")).to_have_text(ticket.title)
        assert page.locator("main img").count() == 0
    assert_nothing_ran(watched)


def test_a_user_never_sees_another_users_ticket(watched, alice, bob, make_ticket):
    theirs = make_ticket(owner=alice, title="alice's ticket")
    make_ticket(owner=bob, title="bob's ticket")
    page = watched.page
    sign_in(watched, bob)

    expect(page.get_by_role("link", name="bob's ticket")).to_be_visible()
    assert page.get_by_text("alice's ticket").count() == 0
    response = page.goto(f"/tickets/{theirs.pk}/")
    assert response.status == 404
    assert "alice's ticket" not in page.content()


def test_a_ticket_turns_at_risk_on_the_board_without_a_reload(
    watched, alice, make_ticket, settings
):
    settings.DASHBOARD_REFRESH_SECONDS = 1
    # Due in an hour and a bit: on track now, inside the hour's warning window soon.
    ticket = make_ticket(title="Server room flooding", due_in=timedelta(minutes=61))
    assert ticket.resolution_state == SlaState.ON_TRACK
    page = watched.page
    sign_in(watched, alice)
    badge = row(page, ticket).locator(".badge")
    expect(badge).to_have_text("On track")
    page.evaluate("window.loadedOnce = true")

    # The SLA check at a controlled moment, past the warning threshold: the engine marks
    # the ticket at risk, and the board shows it at its next refresh.
    run_check(now=ticket.deadline - timedelta(minutes=59))
    assert Ticket.objects.get(pk=ticket.pk).resolution_state == SlaState.AT_RISK

    expect(badge).to_have_text("At risk")
    expect(row(page, ticket)).to_have_class("state-at_risk")
    # The same document: the table was swapped in, the page never reloaded.
    assert page.evaluate("window.loadedOnce") is True
    assert_nothing_ran(watched)


def test_respond_from_the_board_then_read_the_story(watched, alice, make_ticket):
    ticket = make_ticket(title="Password reset")
    page = watched.page
    sign_in(watched, alice)

    row(page, ticket).get_by_role("button", name="Respond").click()
    expect(page.get_by_role("status")).to_contain_text("First response recorded")
    expect(row(page, ticket).get_by_role("button", name="Respond")).to_have_count(0)
    assert Ticket.objects.get(pk=ticket.pk).first_responded_at is not None

    row(page, ticket).get_by_role("link", name="Password reset").click()
    expect(page.locator("h1")).to_have_text("Password reset")
    timeline = page.locator("ol.timeline")
    expect(timeline).to_contain_text("Deadline set by hand")
    expect(timeline).to_contain_text("Warning threshold")
    expect(timeline.locator(".entry-now")).to_have_count(1)
    expect(page.locator("table.notifications")).to_contain_text("Created")
    assert timezone.now() > ticket.created_at
    assert_nothing_ran(watched)


def test_acknowledge_a_breach_from_the_board_and_see_it_in_the_story(watched, alice, make_ticket):
    ticket = make_ticket(title="Server down", due_in=timedelta(minutes=-1))
    run_check()
    page = watched.page
    sign_in(watched, alice)

    expect(row(page, ticket).locator(".badge")).to_have_text("Breached")
    row(page, ticket).get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_role("status")).to_contain_text("acknowledged: escalation stops")
    expect(row(page, ticket).get_by_role("button", name="Acknowledge")).to_have_count(0)
    assert Ticket.objects.get(pk=ticket.pk).acknowledged_by == alice

    row(page, ticket).get_by_role("link", name="Server down").click()
    expect(page.locator("ol.timeline")).to_contain_text("Breach acknowledged")
    expect(page.locator("ol.timeline")).to_contain_text("by alice")
    assert_nothing_ran(watched)
