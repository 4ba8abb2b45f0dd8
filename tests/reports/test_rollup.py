"""The compliance report's daily roll-up (tickets.rollup): a long period read by staff
comes from the cells and agrees with the report counted from the tickets (counts and
paused time equal, percentiles within 1% or a second); whoever changes a ticket, a pause
or a calendar, even by hand, the day is marked and counted from the tickets until the
next check rolls it up again."""

import threading
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import DatabaseError, connection, connections

from policies.models import BusinessCalendar, Holiday
from sla import histograms
from sla.enums import Priority, SlaState, Status
from tests.factories import CalendarFactory, PolicyFactory, TeamFactory, UserFactory
from tests.reports.march import respond, set_status, ticket
from tickets import reports, rollup
from tickets.checker import run_check
from tickets.models import ReportCell, ReportStale, Ticket
from tickets.reports import compliance

pytestmark = pytest.mark.django_db

START = datetime(2025, 12, 1, tzinfo=UTC)
END = datetime(2026, 4, 1, tzinfo=UTC)
NOW = datetime(2026, 4, 20, tzinfo=UTC)


def build(owner):
    """Sixty tickets over four months across New Year and a DST change: an office
    calendar with Germany's holidays for normal tickets, around the clock for urgent ones,
    two teams, two assignees, pauses ended and running, some never answered."""
    agent = UserFactory.create(username="agent")
    teams = [TeamFactory.create(name="Support", members=[owner, agent]), None]
    office = CalendarFactory.create(
        name="Berlin office",
        time_zone="Europe/Berlin",
        is_24x7=False,
        holiday_country="DE",
        opening_hours=[(day, time(9), time(17)) for day in range(5)],
    )
    around = CalendarFactory.create(name="Berlin 24x7", time_zone="Europe/Berlin")
    PolicyFactory.create(name="Office", calendar=office)
    PolicyFactory.create(name="Around", calendar=around, priority=Priority.URGENT)
    for n in range(60):
        created = START + n * timedelta(days=2, hours=1, minutes=17)
        t = ticket(
            owner,
            created,
            priority=[Priority.URGENT, Priority.NORMAL, Priority.NORMAL][n % 3],
            team=teams[n % 2],
            assignee=[owner, agent, None][n % 3] if n % 2 == 0 else None,
        )
        if n % 5:
            respond(t, timedelta(minutes=n * 37 + 5))
        if n % 4 == 0:
            set_status(t, Status.PENDING, created + timedelta(hours=n % 7 + 1))
            if n % 8 == 0:
                set_status(t, Status.OPEN, created + timedelta(hours=n % 7 + 3))
        if n % 3 != 2:
            set_status(t, Status.RESOLVED, created + timedelta(hours=n % 11 + 4, minutes=n))
    run_check(now=NOW)
    rollup.refresh(now=NOW, max_days=1000)


@pytest.fixture
def desk(alice):
    build(alice)


def exact(user, group_by, monkeypatch, *, start=START, end=END, now=NOW, zone=None):
    with monkeypatch.context() as patch:
        patch.setattr(reports, "ROLLUP_AFTER_DAYS", 10_000)
        found = compliance(user, start=start, end=end, group_by=group_by, now=now, zone=zone)
    assert found.percentiles == "exact"
    return found


def assert_agree(rolled, counted):
    assert [row.key for row in rolled.rows] == [row.key for row in counted.rows]
    for mine, theirs in zip(
        [*rolled.rows, rolled.total], [*counted.rows, counted.total], strict=True
    ):
        assert mine.name == theirs.name
        for name in ("tickets", "achieved", "breached", "first_response_breached"):
            assert getattr(mine, name) == getattr(theirs, name), (mine.key, name)
        for name in ("paused_seconds", "paused_business_seconds"):
            assert getattr(mine, name) == pytest.approx(getattr(theirs, name), abs=0.2)
        for name in reports.ROW_FIELDS:
            if not name.endswith(("_median_seconds", "_p90_seconds")):
                continue
            estimate, value = getattr(mine, name), getattr(theirs, name)
            assert (estimate is None) == (value is None), (mine.key, name)
            if value is not None:
                bound = max(histograms.RELATIVE_ERROR * abs(value), 1.0) + 0.1
                assert abs(estimate - value) <= bound, (mine.key, name, estimate, value)
    assert rolled.over_time == counted.over_time


@pytest.mark.parametrize("group_by", ["priority", "policy", "team", "assignee"])
def test_a_long_period_for_staff_comes_from_the_rollup_and_agrees(
    staff, desk, group_by, monkeypatch
):
    rolled = compliance(staff, start=START, end=END, group_by=group_by, now=NOW)

    assert rolled.percentiles == "estimated"
    assert rolled.total.tickets == Ticket.objects.filter(created_at__lt=END).count() == 59
    assert_agree(rolled, exact(staff, group_by, monkeypatch))


def test_the_cells_hold_each_day_once_and_no_mark_is_left(staff, desk):
    days = {t.created_at.astimezone(UTC).date() for t in Ticket.objects.all()}

    alls = ReportCell.objects.filter(dimension="all", span="day")
    assert sorted(alls.values_list("day", flat=True)) == sorted(days)
    assert sum(alls.values_list("tickets", flat=True)) == 60
    assert not ReportStale.objects.exists()
    months = ReportCell.objects.filter(dimension="all", span="month")
    assert {cell.day.replace(day=1) for cell in alls} == set(months.values_list("day", flat=True))
    assert sum(months.values_list("tickets", flat=True)) == 60


def test_a_month_cell_is_its_days_again_after_a_change(desk):
    changed = Ticket.objects.filter(priority=Priority.URGENT).order_by("id")[0]
    month = changed.created_at.date().replace(day=1)
    Ticket.objects.filter(pk=changed.pk).update(priority=Priority.LOW)
    rollup.refresh(now=NOW)

    of_month = ReportCell.objects.filter(dimension="priority", key=Priority.LOW)
    assert of_month.get(span="month", day=month).tickets == 1
    days = ReportCell.objects.filter(span="day", dimension="priority", day__month=month.month)
    for key in ("urgent", "normal", "low"):
        in_days = sum(days.filter(key=key).values_list("tickets", flat=True))
        found = ReportCell.objects.filter(span="month", dimension="priority", day=month, key=key)
        assert (found.get().tickets if found else 0) == in_days


@pytest.mark.parametrize("name", ["Europe/Berlin", "America/New_York", "Asia/Kathmandu"])
def test_days_cut_by_a_readers_midnight_are_counted_from_their_tickets(
    staff, desk, monkeypatch, name
):
    # Berlin changes its offset within the period; Kathmandu is 5:45 ahead of UTC.
    zone = ZoneInfo(name)
    start = datetime(2025, 12, 10, tzinfo=zone)
    end = datetime(2026, 3, 17, tzinfo=zone)
    rolled = compliance(staff, start=start, end=end, group_by="priority", now=NOW, zone=zone)

    assert rolled.percentiles == "estimated"
    counted = exact(staff, "priority", monkeypatch, start=start, end=end, zone=zone)
    assert_agree(rolled, counted)
    assert any(point.achieved_percent is not None for point in rolled.over_time)


def test_a_change_by_hand_counts_before_the_next_check_and_after_it(staff, desk, monkeypatch):
    changed = Ticket.objects.filter(resolution_state=SlaState.ACHIEVED).order_by("id")[0]
    day = changed.created_at.astimezone(UTC).date()
    # As a script or a console would: no service, no signal, one UPDATE.
    Ticket.objects.filter(pk=changed.pk).update(
        resolution_state=SlaState.BREACHED, priority=Priority.HIGH
    )

    assert set(ReportStale.objects.values_list("day", flat=True)) == {day}
    before = compliance(staff, start=START, end=END, group_by="priority", now=NOW)
    assert before.percentiles == "estimated"
    assert {row.key for row in before.rows} >= {"high"}
    assert_agree(before, exact(staff, "priority", monkeypatch))

    assert rollup.refresh(now=NOW) == 1
    assert not ReportStale.objects.exists()
    after = compliance(staff, start=START, end=END, group_by="priority", now=NOW)
    assert (
        ReportCell.objects.get(span="day", day=day, dimension="priority", key="high").tickets == 1
    )
    assert_agree(after, exact(staff, "priority", monkeypatch))


def test_new_deleted_and_paused_tickets_mark_their_days(alice, staff, desk, monkeypatch):
    new = ticket(alice, datetime(2026, 1, 15, 10, tzinfo=UTC))
    gone = Ticket.objects.filter(created_at__lt=END).exclude(pk=new.pk).order_by("-id")[0]
    gone_day = gone.created_at.astimezone(UTC).date()
    gone.delete()
    paused = Ticket.objects.filter(status=Status.OPEN).exclude(pk=new.pk).order_by("id")[0]
    set_status(paused, Status.PENDING, NOW - timedelta(hours=1))

    marked = set(ReportStale.objects.values_list("day", flat=True))
    assert {new.created_at.date(), gone_day, paused.created_at.date()} <= marked
    rolled = compliance(staff, start=START, end=END, group_by="team", now=NOW)
    assert rolled.total.tickets == 59
    assert_agree(rolled, exact(staff, "team", monkeypatch))


def test_columns_the_report_does_not_count_mark_nothing(desk):
    Ticket.objects.update(next_check_at=NOW, title="renamed", deadline=NOW)

    assert not ReportStale.objects.exists()


def test_a_running_pause_grows_with_the_clock(staff, desk, monkeypatch):
    later = NOW + timedelta(hours=5)
    now_report = compliance(staff, start=START, end=END, group_by="priority", now=NOW)
    later_report = compliance(staff, start=START, end=END, group_by="priority", now=later)

    running = Ticket.objects.filter(status=Status.PENDING).count()
    assert running > 0
    grown = later_report.total.paused_seconds - now_report.total.paused_seconds
    assert grown == pytest.approx(running * 5 * 3600, abs=0.5)
    assert_agree(later_report, exact(staff, "priority", monkeypatch, now=later))


def test_a_calendar_change_sends_reports_back_to_the_tickets_until_rolled_up(
    staff, desk, monkeypatch
):
    office = BusinessCalendar.objects.get(name="Berlin office")
    Holiday.objects.create(calendar=office, date=date(2026, 1, 14), name="Closed")

    assert ReportStale.objects.filter(day__isnull=True).exists()
    assert compliance(staff, start=START, end=END, group_by="policy", now=NOW).percentiles == (
        "exact"
    )
    rollup.refresh(now=NOW, max_days=1000)
    rolled = compliance(staff, start=START, end=END, group_by="policy", now=NOW)
    assert rolled.percentiles == "estimated"
    assert_agree(rolled, exact(staff, "policy", monkeypatch))


def test_a_policy_moved_to_another_calendar_marks_every_day(desk):
    policy = PolicyFactory._meta.model.objects.get(name="Around")
    policy.calendar = CalendarFactory.create(name="Elsewhere")
    policy.save()

    assert ReportStale.objects.filter(day__isnull=True).exists()


def test_readers_who_do_not_see_every_ticket_and_weeks_are_counted_exactly(alice, staff, desk):
    assert compliance(alice, start=START, end=END, group_by="team", now=NOW).percentiles == (
        "exact"
    )
    week = (datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 12, tzinfo=UTC))
    assert compliance(staff, start=week[0], end=week[1], group_by="team", now=NOW).percentiles == (
        "exact"
    )


@pytest.mark.parametrize("group_by", ["priority", "assignee"])
def test_a_month_for_staff_comes_from_the_rollup_and_agrees(staff, desk, group_by, monkeypatch):
    month = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))
    rolled = compliance(staff, start=month[0], end=month[1], group_by=group_by, now=NOW)

    assert rolled.percentiles == "estimated"
    assert_agree(rolled, exact(staff, group_by, monkeypatch, start=month[0], end=month[1]))


def test_too_many_days_marked_send_the_report_back_to_the_tickets(staff, desk):
    first = START.date()
    for n in range(rollup.MAX_COUNTED_DAYS + 1):
        ReportStale.objects.create(day=first + timedelta(days=n))

    assert compliance(staff, start=START, end=END, group_by="priority", now=NOW).percentiles == (
        "exact"
    )


def test_one_refresh_counts_at_most_its_days(desk):
    for n in range(5):
        ReportStale.objects.create(day=date(2026, 1, 1 + n))

    assert rollup.refresh(now=NOW, max_days=2) == 2
    assert ReportStale.objects.count() == 3
    assert rollup.refresh(now=NOW) == 3
    assert not ReportStale.objects.exists()


def test_the_api_says_the_percentiles_are_estimated(staff, desk, clock):
    from tests.conftest import client_for

    clock.move_to(NOW)
    answer = client_for(staff).get(
        "/api/reports/compliance/?period=custom&start=2025-12-01&end=2026-04-01&tz=UTC"
    )

    assert answer.status_code == 200
    assert answer.json()["percentiles"] == "estimated"
    assert answer.json()["total"]["tickets"] == 59


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="one snapshot: PostgreSQL's")
def test_a_change_committed_while_a_day_is_rolled_up_keeps_its_mark(alice, monkeypatch):
    PolicyFactory.create(name="Default", calendar=CalendarFactory.create())
    created = ticket(alice, datetime(2026, 1, 5, 10, tzinfo=UTC))
    day = created.created_at.date()
    rollup.refresh(now=NOW, max_days=1000)
    ReportStale.objects.create(day=day)
    counted, go_on = threading.Event(), threading.Event()
    real_tally = rollup.tally

    def slow_tally(*args, **kwargs):
        found = real_tally(*args, **kwargs)
        counted.set()
        assert go_on.wait(30)
        return found

    monkeypatch.setattr(rollup, "tally", slow_tally)
    refreshed: list[int] = []

    def refresh() -> None:
        try:
            refreshed.append(rollup.refresh(now=NOW, max_days=1))
        finally:
            connections.close_all()

    worker = threading.Thread(target=refresh)
    worker.start()
    assert counted.wait(30)
    # Committed after the refresh's snapshot, before it deletes the marks it saw.
    Ticket.objects.filter(pk=created.pk).update(priority=Priority.URGENT)
    go_on.set()
    worker.join(30)

    assert refreshed == [1]
    assert list(ReportStale.objects.values_list("day", flat=True)) == [day]
    cell = ReportCell.objects.get(span="day", day=day, dimension="priority", key=Priority.NORMAL)
    assert cell.tickets == 1  # the refresh's snapshot: the change is still to count


def test_a_failed_roll_up_is_logged_and_never_fails_the_check(monkeypatch, caplog):
    def broken(**kwargs):
        raise DatabaseError("the database went away")

    monkeypatch.setattr(rollup, "refresh", broken)
    report = run_check(now=NOW)

    assert report.state_changes == 0
    assert "roll-up failed" in caplog.text
