"""The pages through Django's test client: who sees what, forms, filters, the refresh.

The browser tests (test_board_in_browser.py) prove the same pages in Chromium; these are
the fast ones, for the rules a page shares with the API.
"""

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone

from dashboard import board as board_module
from dashboard.board import BOARD_STATES, build_board, headline, state_filter
from dashboard.templatetags.sla_display import duration
from dashboard.timezones import display_zone
from notifications.models import DeliveryStatus, Notification
from people.services import create_team
from policies import services as policy_services
from sla.enums import Metric, Priority, SlaState, Status
from tests.calendars import berlin_office
from tests.durations import HOUR, MINUTE
from tests.factories import PASSWORD
from tickets import services
from tickets.checker import run_check
from tickets.models import Ticket

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def signed_in(client: Client, alice) -> Client:
    client.force_login(alice)
    return client


def without_csrf_token(response) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())


def board_titles(response) -> list[str]:
    return [row.ticket.title for row in response.context["board"].rows]


# --- sign-in, sign-out, the root ----------------------------------------------------------


def test_the_root_sends_a_visitor_to_sign_in_and_a_signed_in_user_to_the_board(client, alice):
    assert client.get("/")["Location"] == "/sign-in/"
    client.force_login(alice)
    assert client.get("/")["Location"] == "/board/"


def test_the_api_docs_stay_reachable(client, db):
    assert client.get("/api/docs/").status_code == 200


@pytest.mark.parametrize("path", ["/board/", "/tickets/1/"])
def test_nothing_is_visible_without_signing_in(client, db, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/sign-in/?next={path}"


def test_a_refresh_after_the_session_ended_reloads_onto_the_sign_in_page(client, db):
    response = client.get("/board/", HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert response["HX-Redirect"] == "/sign-in/"
    assert response.content == b""


def test_signing_in_needs_the_csrf_token_and_sets_a_session_cookie_scripts_cannot_read(alice):
    browser = Client(enforce_csrf_checks=True)
    assert browser.post("/sign-in/", {"username": "alice", "password": PASSWORD}).status_code == 403

    page = browser.get("/sign-in/")
    token = page.cookies["csrftoken"].value
    response = browser.post(
        "/sign-in/", {"username": "alice", "password": PASSWORD, "csrfmiddlewaretoken": token}
    )

    assert response.status_code == 302
    assert response["Location"] == "/board/"
    session = response.cookies["sessionid"]
    assert session["httponly"] is True
    assert session["samesite"] == "Lax"


def test_a_wrong_password_shows_the_form_again(client, alice):
    response = client.post("/sign-in/", {"username": "alice", "password": "wrong"})

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_sign_in_guesses_are_limited_with_the_api_logins_counters(client, alice, settings):
    settings.RATELIMIT_LOGIN_PER_USERNAME = "3/m"
    answers = [
        client.post("/sign-in/", {"username": "alice", "password": "wrong"}).status_code
        for _ in range(3)
    ]
    assert answers == [200, 200, 200]

    # Past the limit even the right password is refused, on the page and on the API.
    assert client.post("/sign-in/", {"username": "alice", "password": PASSWORD}).status_code == 429
    api = client.post(
        "/api-token-auth/",
        {"username": "alice", "password": PASSWORD},
        content_type="application/json",
    )
    assert api.status_code == 429


def test_signing_out_is_a_post_not_a_link(signed_in):
    assert signed_in.get("/sign-out/").status_code == 405
    assert "_auth_user_id" in signed_in.session

    response = signed_in.post("/sign-out/")

    assert response["Location"] == "/sign-in/"
    assert signed_in.get("/board/").status_code == 302


def test_the_pages_allow_only_their_own_scripts_and_styles(signed_in, make_ticket):
    ticket = make_ticket()
    for path in ["/board/", f"/tickets/{ticket.pk}/", "/sign-in/"]:
        policy = dict(
            directive.strip().split(" ", 1)
            for directive in signed_in.get(path)["Content-Security-Policy"].split(";")
        )
        assert policy["script-src"] == "'self'", path
        assert policy["style-src"] == "'self'", path
        assert policy["default-src"] == "'none'", path


def test_no_cache_keeps_a_signed_in_page(signed_in, make_ticket):
    ticket = make_ticket()

    for path in ["/board/", f"/tickets/{ticket.pk}/"]:
        assert "no-store" in signed_in.get(path)["Cache-Control"], path


# --- the board ------------------------------------------------------------------------------


def test_the_board_lists_the_open_tickets_by_next_breach(signed_in, make_ticket, clock):
    make_ticket(title="later", due_in=5 * HOUR)
    make_ticket(title="sooner", due_in=3 * HOUR)
    make_ticket(title="late", due_in=-HOUR)
    make_ticket(title="done", due_in=HOUR, status=Status.RESOLVED)

    response = signed_in.get("/board/")

    assert response.status_code == 200
    assert board_titles(response) == ["late", "sooner", "later"]


def test_a_user_sees_only_their_own_tickets_and_staff_see_every_ticket(
    client, alice, bob, staff, make_ticket
):
    make_ticket(owner=alice, title="alice's")
    make_ticket(owner=bob, title="bob's")

    client.force_login(alice)
    assert board_titles(client.get("/board/")) == ["alice's"]
    client.force_login(staff)
    assert sorted(board_titles(client.get("/board/"))) == ["alice's", "bob's"]
    assert board_titles(client.get("/board/?mine=on")) == []


def test_each_row_says_its_state_in_words_and_its_time_left(signed_in, make_ticket, clock):
    make_ticket(title="at risk", due_in=30 * MINUTE)
    make_ticket(title="on track", due_in=3 * HOUR)
    make_ticket(title="breached", due_in=-10 * MINUTE)

    rows = {
        row.ticket.title: row.standing for row in signed_in.get("/board/").context["board"].rows
    }
    html = signed_in.get("/board/").content.decode()

    assert rows["at risk"].state == SlaState.AT_RISK
    assert rows["at risk"].wall_seconds_left == 30 * 60
    assert rows["on track"].state == SlaState.ON_TRACK
    assert rows["breached"].state == SlaState.BREACHED
    assert rows["breached"].wall_seconds_left == -10 * 60
    assert ">At risk<" in html
    assert ">On track<" in html
    assert ">Breached<" in html
    assert "30 min left" in html
    assert "late by 10 min" in html


def test_titles_are_escaped(signed_in, make_ticket):
    make_ticket(title=XSS)

    html = signed_in.get("/board/").content.decode()

    assert XSS not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("priority=urgent", ["urgent"]),
        ("state=at_risk", ["at risk"]),
        ("state=breached", ["breached"]),
        ("state=on_track", ["urgent"]),
        ("", ["breached", "at risk", "urgent"]),
    ],
)
def test_the_filters(signed_in, make_ticket, clock, query, expected):
    make_ticket(title="urgent", due_in=3 * HOUR, priority=Priority.URGENT)
    make_ticket(title="at risk", due_in=30 * MINUTE)
    make_ticket(title="breached", due_in=-MINUTE)

    assert board_titles(signed_in.get(f"/board/?{query}")) == expected


def test_a_filter_not_understood_is_a_400_that_says_which(signed_in):
    response = signed_in.get("/board/?priority=whenever")

    assert response.status_code == 400
    assert "Priority: Select a valid choice" in response.content.decode()


def test_the_board_is_capped_and_says_so(signed_in, make_ticket, monkeypatch):
    monkeypatch.setattr(board_module, "BOARD_MAX_ROWS", 2)
    for hours in (1, 2, 3):
        make_ticket(title=f"in {hours} h", due_in=hours * HOUR)

    response = signed_in.get("/board/")

    assert board_titles(response) == ["in 1 h", "in 2 h"]
    assert "Showing the first 2 tickets" in response.content.decode()


def test_the_board_costs_the_same_queries_for_3_tickets_as_for_30(
    signed_in, make_ticket, django_assert_max_num_queries, alice
):
    office = berlin_office()
    for priority in (Priority.URGENT, Priority.HIGH):
        policy_services.create_policy(
            name=priority, calendar=office, priority=priority, resolution_target=4 * HOUR
        )
    for n in range(3):
        make_ticket(deadline=None, priority=[Priority.URGENT, Priority.HIGH][n % 2])
    # The session, the user, the user's profile (its time zone), the caller's teams, the
    # tickets' keys (one query per visibility branch: owned, assigned), the tickets, the
    # policies, and each policy's calendar (opening hours, holidays): a number of policies
    # and teams, not of tickets.
    with django_assert_max_num_queries(12) as few:
        signed_in.get("/board/")
    for n in range(27):
        make_ticket(deadline=None, priority=[Priority.URGENT, Priority.HIGH][n % 2])
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = signed_in.get("/board/")
    assert len(response.context["board"].rows) == 30


def test_the_board_merges_owned_assigned_and_team_tickets_in_order_once_each(
    signed_in, alice, bob, staff, make_ticket, monkeypatch
):
    team = create_team(name="Support", members=[alice, bob])
    other_team = create_team(name="Billing", members=[bob])
    make_ticket(title="owned, 4h", due_in=4 * HOUR)
    make_ticket(title="owned and assigned, 1h", due_in=HOUR, assignee=alice)
    make_ticket(owner=bob, title="assigned, 3h", due_in=3 * HOUR, assignee=alice)
    make_ticket(owner=bob, title="team, 2h", due_in=2 * HOUR, team=team)
    make_ticket(owner=bob, title="team, 5h", due_in=5 * HOUR, team=team)
    make_ticket(owner=bob, title="another team's", due_in=HOUR, team=other_team)
    make_ticket(owner=bob, title="bob's own", due_in=HOUR)

    mine = ["owned and assigned, 1h", "team, 2h", "assigned, 3h", "owned, 4h", "team, 5h"]
    assert board_titles(signed_in.get("/board/")) == mine
    # The cap applies to the merged rows, not to each branch.
    monkeypatch.setattr(board_module, "BOARD_MAX_ROWS", 3)
    response = signed_in.get("/board/")
    assert board_titles(response) == mine[:3]
    assert response.context["board"].capped


def test_the_refresh_gets_the_table_alone(signed_in, make_ticket):
    make_ticket(title="shown")

    response = signed_in.get("/board/?state=on_track", HTTP_HX_REQUEST="true")
    html = response.content.decode()

    assert html.lstrip().startswith('<div id="board-table"')
    assert "<html" not in html
    assert 'hx-get="/board/?state=on_track"' in html
    assert "HX-Request" in response["Vary"]
    assert "shown" in html


def test_the_refresh_interval_is_a_setting(signed_in, settings, db):
    settings.DASHBOARD_REFRESH_SECONDS = 7

    assert 'hx-trigger="every 7s"' in signed_in.get("/board/").content.decode()


def test_the_state_filter_picks_the_tickets_headline_picks(signed_in, make_ticket, clock, alice):
    office = berlin_office()
    policy_services.create_policy(
        name="urgent",
        calendar=office,
        priority=Priority.URGENT,
        resolution_target=4 * HOUR,
        first_response_target=HOUR,
    )
    make_ticket(title="a", due_in=30 * MINUTE)
    make_ticket(title="b", due_in=-MINUTE)
    make_ticket(title="c", due_in=9 * HOUR)
    make_ticket(title="d", deadline=None, priority=Priority.URGENT)
    make_ticket(title="e", deadline=None, priority=Priority.URGENT, status=Status.PENDING)
    paused = make_ticket(title="f", deadline=None, priority=Priority.URGENT, status=Status.PENDING)
    services.respond(ticket=paused)
    now = timezone.now()
    everything = build_board(alice, {}, now=now).rows

    for state in BOARD_STATES:
        by_filter = set(Ticket.objects.filter(state_filter(state)).values_list("title", flat=True))
        by_headline = {row.ticket.title for row in everything if row.standing.state == state}
        assert by_filter == by_headline, state
    assert {row.ticket.title for row in everything if row.standing.state == SlaState.PAUSED} == {
        "f"
    }


def test_the_headline_is_the_worst_metric_and_of_two_alike_the_first_due():
    now = datetime(2026, 3, 10, 12, tzinfo=UTC)

    def metric(state, minutes):
        return {
            "state": state,
            "deadline": now + timedelta(minutes=minutes),
            "remaining_seconds": 60 * minutes,
        }

    assert (
        headline(
            {"first_response": metric("on_track", 10), "resolution": metric("at_risk", 50)}, now=now
        ).metric
        == Metric.RESOLUTION
    )
    assert (
        headline(
            {"first_response": metric("on_track", 10), "resolution": metric("on_track", 50)},
            now=now,
        ).metric
        == Metric.FIRST_RESPONSE
    )
    achieved = {"state": "achieved", "deadline": now, "remaining_seconds": 0}
    found = headline({"first_response": achieved, "resolution": metric("paused", 90)}, now=now)
    assert (found.metric, found.state, found.wall_seconds_left) == (
        Metric.RESOLUTION,
        SlaState.PAUSED,
        90 * 60,
    )


def test_business_time_left_counts_the_calendar_and_wall_time_does_not(
    signed_in, clock, make_ticket
):
    # Friday 16:00 Berlin, a 9-17 office: 4 business hours run to Monday 12:00.
    clock.move_to(datetime(2026, 3, 13, 16, tzinfo=ZoneInfo("Europe/Berlin")))
    policy_services.create_policy(
        name="urgent",
        calendar=berlin_office(),
        priority=Priority.URGENT,
        resolution_target=4 * HOUR,
    )
    make_ticket(deadline=None, priority=Priority.URGENT)

    (row,) = signed_in.get("/board/").context["board"].rows

    assert row.standing.business_seconds_left == 4 * 3600
    assert row.standing.wall_seconds_left == (2 * 24 + 20) * 3600


# --- respond --------------------------------------------------------------------------------


def test_respond_records_the_first_response_once(signed_in, make_ticket):
    ticket = make_ticket()

    first = signed_in.post(f"/tickets/{ticket.pk}/respond/", {"next": "/board/?priority=high"})
    second = signed_in.post(f"/tickets/{ticket.pk}/respond/", follow=True)

    assert first["Location"] == "/board/?priority=high"
    ticket.refresh_from_db()
    assert ticket.first_responded_at is not None
    assert "First response recorded for" in second.content.decode()
    assert "The first response was recorded at" in second.content.decode()


def test_respond_goes_nowhere_but_this_site(signed_in, make_ticket):
    ticket = make_ticket()

    response = signed_in.post(f"/tickets/{ticket.pk}/respond/", {"next": "https://evil.example/"})

    assert response["Location"] == "/board/"


def test_respond_needs_a_post_with_the_csrf_token(alice, make_ticket):
    ticket = make_ticket()
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)

    assert browser.get(f"/tickets/{ticket.pk}/respond/").status_code == 405
    assert browser.post(f"/tickets/{ticket.pk}/respond/").status_code == 403
    ticket.refresh_from_db()
    assert ticket.first_responded_at is None


def test_nobody_responds_to_a_ticket_they_may_not_see(client, bob, make_ticket):
    ticket = make_ticket()
    client.force_login(bob)

    assert client.post(f"/tickets/{ticket.pk}/respond/").status_code == 404
    ticket.refresh_from_db()
    assert ticket.first_responded_at is None


# --- acknowledge ----------------------------------------------------------------------------


def _breached(clock, make_ticket, **fields):
    ticket = make_ticket(due_in=timedelta(minutes=5), **fields)
    clock.shift(timedelta(minutes=6))
    run_check()
    return ticket


def test_a_breach_is_acknowledged_from_the_board_once(clock, signed_in, make_ticket, alice):
    ticket = _breached(clock, make_ticket)
    board = signed_in.get("/board/").content.decode()
    assert f'action="/tickets/{ticket.pk}/acknowledge/"' in board

    first = signed_in.post(f"/tickets/{ticket.pk}/acknowledge/", {"next": "/board/?state=breached"})
    again = signed_in.post(f"/tickets/{ticket.pk}/acknowledge/", follow=True)

    assert first["Location"] == "/board/?state=breached"
    ticket.refresh_from_db()
    assert ticket.acknowledged_by == alice
    assert "acknowledged: escalation stops" in again.content.decode()
    assert (
        f'action="/tickets/{ticket.pk}/acknowledge/"'
        not in signed_in.get("/board/").content.decode()
    )


def test_a_ticket_on_track_offers_no_acknowledge(clock, signed_in, make_ticket):
    ticket = make_ticket()

    assert f"/tickets/{ticket.pk}/acknowledge/" not in signed_in.get("/board/").content.decode()
    answer = signed_in.post(f"/tickets/{ticket.pk}/acknowledge/", follow=True)
    assert "Neither of the ticket" in answer.content.decode()


def test_acknowledge_needs_a_post_with_the_csrf_token_and_sight_of_the_ticket(
    clock, alice, bob, client, make_ticket
):
    ticket = _breached(clock, make_ticket)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    assert browser.get(f"/tickets/{ticket.pk}/acknowledge/").status_code == 405
    assert browser.post(f"/tickets/{ticket.pk}/acknowledge/").status_code == 403
    client.force_login(bob)
    assert client.post(f"/tickets/{ticket.pk}/acknowledge/").status_code == 404
    ticket.refresh_from_db()
    assert ticket.acknowledged_at is None


# --- the story ------------------------------------------------------------------------------


def test_a_ticket_another_user_owns_is_a_404(client, bob, make_ticket):
    ticket = make_ticket(title="alice's secret")
    client.force_login(bob)

    response = client.get(f"/tickets/{ticket.pk}/")
    missing = client.get(f"/tickets/{ticket.pk + 1}/")

    assert response.status_code == 404
    assert "alice's secret" not in response.content.decode()
    # Someone else's ticket and no ticket at all read the same (but for the CSRF token,
    # masked afresh on every page).
    assert without_csrf_token(response) == without_csrf_token(missing)
    assert "No such ticket among those you may see" in response.content.decode()


def test_a_ticket_id_too_large_is_a_404_not_an_error(signed_in):
    assert signed_in.get(f"/tickets/{'9' * 19}/").status_code == 404
    assert signed_in.get(f"/tickets/{'9' * 18}/").status_code == 404


def test_the_story_shows_both_metrics_the_timeline_and_the_notifications(
    signed_in, clock, make_ticket, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    policy_services.create_policy(
        name="urgent",
        calendar=berlin_office(),
        priority=Priority.URGENT,
        resolution_target=4 * HOUR,
        first_response_target=HOUR,
        warning_lead_times=[1800],
    )
    clock.move_to(datetime(2026, 3, 10, 9, tzinfo=ZoneInfo("Europe/Berlin")))
    ticket = make_ticket(deadline=None, priority=Priority.URGENT, title=XSS)
    run_check()  # delivers the creation email (locmem)
    assert Notification.objects.get(ticket=ticket).status == DeliveryStatus.SENT
    signed_in.cookies["tz"] = "Europe/Berlin"

    response = signed_in.get(f"/tickets/{ticket.pk}/")
    html = response.content.decode()
    entries = response.context["entries"]

    assert response.status_code == 200
    assert XSS not in html
    kinds = [(entry.kind, entry.metric_label) for entry in entries]
    assert ("deadline", "First response") in kinds
    assert ("deadline", "Resolution") in kinds
    assert ("threshold", "Resolution") in kinds
    assert ("event", "Resolution") in kinds
    assert [entry.at for entry in entries] == sorted(entry.at for entry in entries)
    # Times in the reader's zone: the first response is due at 10:00 Berlin time.
    assert "Tue 10 Mar 2026, 10:00 CET" in html
    assert "Delivered" in html
    assert "Created" in html


# --- small parts ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cookie", "zone"),
    [("Europe/Paris", "Europe/Paris"), ("Mars/Olympus", "UTC"), ("", "UTC"), ("../etc", "UTC")],
)
def test_the_display_zone_is_the_browsers_when_it_is_a_real_zone(rf, cookie, zone):
    request = rf.get("/board/")
    request.COOKIES["tz"] = cookie

    assert display_zone(request) == ZoneInfo(zone)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "-"),
        (30, "under 1 min"),
        (-600, "10 min"),
        (3600 + 5 * 60, "1 h 05 min"),
        (3 * 86400 + 4 * 3600, "3 d 4 h"),
    ],
)
def test_durations_read_as_people_write_them(seconds, text):
    assert duration(seconds) == text


def test_the_story_chart_shades_closed_hours_and_pauses_and_marks_the_deadlines(
    signed_in, clock, make_ticket
):
    berlin = ZoneInfo("Europe/Berlin")
    policy_services.create_policy(
        name="urgent",
        calendar=berlin_office(),
        priority=Priority.URGENT,
        resolution_target=4 * HOUR,
        first_response_target=HOUR,
    )
    # Friday 16:00: first response due 17:00, resolution Monday 12:00; pending on Monday
    # from 10:00 to 11:00 moves it to 13:00.
    clock.move_to(datetime(2026, 3, 13, 16, tzinfo=berlin))
    ticket = make_ticket(deadline=None, priority=Priority.URGENT)
    clock.move_to(datetime(2026, 3, 16, 10, tzinfo=berlin))
    services.update_ticket(ticket=ticket, status=Status.PENDING)
    clock.move_to(datetime(2026, 3, 16, 11, tzinfo=berlin))
    services.update_ticket(ticket=ticket, status=Status.OPEN)
    clock.move_to(datetime(2026, 3, 16, 11, 30, tzinfo=berlin))

    response = signed_in.get(f"/tickets/{ticket.pk}/")
    found = response.context["chart"]
    html = response.content.decode()

    saturday_noon = datetime(2026, 3, 14, 12, tzinfo=berlin)
    assert any(span.start <= saturday_noon < span.end for span in found.closed)
    assert not any(
        span.start <= datetime(2026, 3, 16, 9, 30, tzinfo=berlin) < span.end
        for span in found.closed
    )
    first_response, resolution = found.lanes
    (pause,) = resolution.pauses
    assert (pause.start, pause.end) == (
        datetime(2026, 3, 16, 9, tzinfo=UTC),
        datetime(2026, 3, 16, 10, tzinfo=UTC),
    )
    deadlines = {
        lane.label: m.at for lane in found.lanes for m in lane.markers if m.kind == "deadline"
    }
    assert deadlines == {
        "First response": datetime(2026, 3, 13, 17, tzinfo=berlin),
        "Resolution": datetime(2026, 3, 16, 13, tzinfo=berlin),
    }
    xs = [m.x for m in first_response.markers + resolution.markers if m.kind == "deadline"]
    assert 0 < xs[0] < pause.x < xs[1] < found.width
    assert pause.x < found.now_x < xs[1]
    assert html.count('class="closed"') == len(found.closed)
    assert " style=" not in html
