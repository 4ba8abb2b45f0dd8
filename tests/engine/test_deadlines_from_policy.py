"""Tickets created without a deadline get one from their SLA policy, in business time.

The worked example: a Monday-to-Friday 9-17 Berlin calendar closed on German public
holidays, and a policy of 4 business hours for urgent tickets. An urgent ticket created on
a Friday at 16:00 Berlin time has 1 hour that day and 3 on the next working day: its
deadline is Monday 12:00, or Tuesday 12:00 when Monday is a holiday.
"""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from notifications.models import DeliveryStatus, Notification
from policies import services as policy_services
from policies.models import BusinessCalendar, SlaPolicy
from sla.enums import Priority, SlaState
from tests.calendars import berlin_office
from tests.durations import HOUR
from tests.factories import urgent_policy
from tickets import policy_deadlines, services
from tickets.engine import run_transitions
from tickets.models import DeadlineSource, SlaEventKind, Ticket

BERLIN = ZoneInfo("Europe/Berlin")
LIST = "/api/tickets/"

FRIDAY_16_00 = datetime(2026, 3, 13, 16, tzinfo=BERLIN)
MONDAY_12_00 = datetime(2026, 3, 16, 12, tzinfo=BERLIN)
# Whit Monday 2026 is May 25th, a public holiday all over Germany.
FRIDAY_BEFORE_WHIT_MONDAY_16_00 = datetime(2026, 5, 22, 16, tzinfo=BERLIN)
TUESDAY_AFTER_WHIT_MONDAY_12_00 = datetime(2026, 5, 26, 12, tzinfo=BERLIN)


def detail(ticket: Ticket) -> str:
    return f"{LIST}{ticket.pk}/"


def fresh(ticket: Ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


def utc(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


@pytest.fixture
def office(db) -> BusinessCalendar:
    return berlin_office()


@pytest.fixture
def urgent(office) -> SlaPolicy:
    return urgent_policy(office)


@pytest.fixture
def default(office) -> SlaPolicy:
    """Two business days for every priority without a policy of its own."""
    return policy_services.create_policy(
        name="Default", calendar=office, resolution_target=16 * HOUR
    )


@pytest.fixture
def friday(clock):
    clock.move_to(FRIDAY_16_00)
    return clock


# --- Creation -------------------------------------------------------------------------------


def test_an_urgent_ticket_created_friday_at_16_is_due_monday_at_noon(friday, api, urgent):
    response = api.post(LIST, {"title": "Printer on fire", "priority": "urgent"}, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert utc(body["deadline"]) == MONDAY_12_00
    assert (body["deadline_source"], body["policy"]) == ("policy", urgent.pk)


def test_a_ticket_created_before_a_holiday_monday_is_due_on_tuesday(clock, api, urgent):
    clock.move_to(FRIDAY_BEFORE_WHIT_MONDAY_16_00)

    response = api.post(LIST, {"title": "Printer on fire", "priority": "urgent"}, format="json")

    assert response.status_code == 201, response.json()
    assert utc(response.json()["deadline"]) == TUESDAY_AFTER_WHIT_MONDAY_12_00


def test_a_ticket_created_while_closed_counts_from_the_next_opening(clock, alice, urgent):
    clock.move_to(datetime(2026, 3, 14, 10, tzinfo=BERLIN))  # a Saturday

    ticket = services.create_ticket(owner=alice, title="Weekend", priority=Priority.URGENT)

    assert ticket.deadline == datetime(2026, 3, 16, 13, tzinfo=BERLIN)


def test_a_priority_without_a_policy_of_its_own_gets_the_default(friday, alice, urgent, default):
    ticket = services.create_ticket(owner=alice, title="Slow printer", priority=Priority.LOW)

    assert (ticket.policy, ticket.deadline_source) == (default, DeadlineSource.POLICY)
    assert ticket.deadline == datetime(2026, 3, 17, 16, tzinfo=BERLIN)


def test_the_policy_deadline_is_stored_in_utc_and_read_back_as_the_same_moment(
    friday, alice, urgent
):
    ticket = services.create_ticket(owner=alice, title="Printer", priority=Priority.URGENT)

    assert fresh(ticket).deadline == MONDAY_12_00
    assert fresh(ticket).deadline.utcoffset() == timedelta(0)


def test_a_policy_deadline_is_assessed_and_announced_like_any_other(friday, alice, urgent):
    ticket = services.create_ticket(owner=alice, title="Printer", priority=Priority.URGENT)

    assert ticket.resolution_state == SlaState.ON_TRACK
    assert ticket.next_check_at == MONDAY_12_00 - HOUR
    assert list(Notification.objects.values_list("kind", flat=True)) == ["created"]


def test_an_explicit_deadline_wins_over_the_policy(friday, api, urgent):
    body = {"title": "Printer", "priority": "urgent", "deadline": "2026-03-20T10:00:00Z"}

    response = api.post(LIST, body, format="json")

    assert response.status_code == 201, response.json()
    assert utc(response.json()["deadline"]) == datetime(2026, 3, 20, 10, tzinfo=UTC)
    # The policy that applies is recorded; it did not set the deadline.
    assert (response.json()["deadline_source"], response.json()["policy"]) == ("manual", urgent.pk)


def test_the_timeline_records_a_manual_override_once_not_at_every_put(friday, alice, urgent):
    ticket = services.create_ticket(owner=alice, title="Printer", priority=Priority.URGENT)
    policy_deadline = ticket.deadline

    for _ in range(2):  # a PUT resends the deadline it read: the first one takes it over
        services.update_ticket(ticket=ticket, title="Printer", deadline=policy_deadline)
    services.update_ticket(ticket=ticket, deadline=policy_deadline + timedelta(hours=1))

    overrides = ticket.sla_events.filter(kind=SlaEventKind.MANUAL_DEADLINE).order_by("id")
    assert [(e.previous_deadline, e.deadline) for e in overrides] == [
        (None, policy_deadline),
        (policy_deadline, policy_deadline + timedelta(hours=1)),
    ]
    assert fresh(ticket).deadline_source == DeadlineSource.MANUAL


def test_without_any_policy_a_ticket_without_a_deadline_is_a_400(friday, api):
    response = api.post(LIST, {"title": "Printer", "priority": "urgent"}, format="json")

    assert response.status_code == 400
    assert response.json() == {"deadline": ["deadline is required when no SLA policy applies"]}
    assert not Ticket.objects.exists()
    assert not Notification.objects.exists()


def test_a_priority_without_a_policy_and_no_default_is_a_400(friday, api, urgent):
    response = api.post(LIST, {"title": "Printer", "priority": "low"}, format="json")

    assert response.status_code == 400
    assert "no SLA policy applies" in response.json()["deadline"][0]


def test_without_any_policy_a_ticket_with_a_deadline_is_created_as_before(friday, api):
    body = {"title": "Printer", "deadline": "2026-03-20T10:00:00Z"}

    response = api.post(LIST, body, format="json")

    assert response.status_code == 201
    assert (response.json()["deadline_source"], response.json()["policy"]) == ("manual", None)


def test_deadline_source_and_policy_are_read_only(friday, api, urgent, default):
    body = {"title": "P", "priority": "urgent", "deadline_source": "manual", "policy": default.pk}

    response = api.post(LIST, body, format="json")

    assert (response.json()["deadline_source"], response.json()["policy"]) == ("policy", urgent.pk)


# --- Priority changes -----------------------------------------------------------------------


@pytest.fixture
def low_ticket(friday, alice, urgent, default) -> Ticket:
    """Created Friday 16:00 under the default policy: due Tuesday 16:00."""
    return services.create_ticket(owner=alice, title="Printer", priority=Priority.LOW)


def test_raising_the_priority_re_applies_the_policy_from_creation(clock, api, low_ticket, urgent):
    clock.move_to(datetime(2026, 3, 16, 9, tzinfo=BERLIN))

    response = api.patch(detail(low_ticket), {"priority": "urgent"}, format="json")

    assert response.status_code == 200, response.json()
    assert utc(response.json()["deadline"]) == MONDAY_12_00
    assert (response.json()["deadline_source"], response.json()["policy"]) == ("policy", urgent.pk)


def test_lowering_the_priority_gives_back_the_default_policy_s_deadline(
    friday, alice, urgent, default
):
    ticket = services.create_ticket(owner=alice, title="Printer", priority=Priority.URGENT)

    changed = services.update_ticket(ticket=ticket, priority=Priority.NORMAL)

    assert (changed.deadline, changed.policy) == (datetime(2026, 3, 17, 16, tzinfo=BERLIN), default)


def test_a_priority_change_that_lands_past_the_new_deadline_breaches_at_once(clock, low_ticket):
    clock.move_to(datetime(2026, 3, 16, 15, tzinfo=BERLIN))  # after Monday 12:00

    changed = services.update_ticket(ticket=low_ticket, priority=Priority.URGENT)

    assert changed.resolution_state == SlaState.BREACHED
    kinds = Notification.objects.filter(ticket=low_ticket).values_list("kind", "deadline")
    assert list(kinds) == [("created", low_ticket.deadline), ("missed", MONDAY_12_00)]


def test_a_priority_change_re_arms_the_warning_for_the_new_deadline(
    clock, low_ticket, no_rate_limits
):
    # Warned before the default policy's deadline (Tuesday 16:00)...
    clock.move_to(datetime(2026, 3, 17, 15, 30, tzinfo=BERLIN))
    run_transitions()
    assert fresh(low_ticket).resolution_state == SlaState.AT_RISK
    Notification.objects.update(status=DeliveryStatus.SENT)

    # ...then a tweak of the policy later makes the urgent one's later than that.
    SlaPolicy.objects.filter(priority=Priority.URGENT).update(resolution_target=24 * HOUR)
    changed = services.update_ticket(ticket=low_ticket, priority=Priority.URGENT)

    assert changed.deadline == datetime(2026, 3, 18, 16, tzinfo=BERLIN)
    assert (changed.resolution_state, changed.resolution_warning_sent_at) == (
        SlaState.ON_TRACK,
        None,
    )
    clock.move_to(datetime(2026, 3, 18, 15, 30, tzinfo=BERLIN))
    run_transitions()
    warnings = Notification.objects.filter(ticket=low_ticket, kind="warning")
    assert sorted(warnings.values_list("deadline", flat=True)) == [
        datetime(2026, 3, 17, 16, tzinfo=BERLIN),
        datetime(2026, 3, 18, 16, tzinfo=BERLIN),
    ]


def test_an_edit_that_keeps_the_priority_keeps_the_deadline(clock, low_ticket, urgent):
    urgent.delete()  # would move the deadline if the policy were re-applied

    changed = services.update_ticket(ticket=low_ticket, title="Renamed", priority=Priority.LOW)

    assert changed.deadline == low_ticket.deadline


def test_a_priority_change_never_moves_a_manual_deadline(friday, alice, urgent, default):
    deadline = datetime(2026, 3, 20, 10, tzinfo=UTC)
    ticket = services.create_ticket(owner=alice, title="P", priority="low", deadline=deadline)

    changed = services.update_ticket(ticket=ticket, priority=Priority.URGENT)

    assert (changed.deadline, changed.deadline_source) == (deadline, DeadlineSource.MANUAL)
    assert changed.policy == urgent


def test_a_deadline_a_client_sends_makes_it_manual(clock, api, low_ticket):
    api.patch(detail(low_ticket), {"deadline": "2026-03-20T10:00:00Z"}, format="json")

    response = api.patch(detail(low_ticket), {"priority": "urgent"}, format="json")

    assert response.json()["deadline_source"] == "manual"
    assert utc(response.json()["deadline"]) == datetime(2026, 3, 20, 10, tzinfo=UTC)


def test_a_deadline_sent_with_a_new_priority_wins(clock, api, low_ticket):
    body = {"priority": "urgent", "deadline": "2026-03-20T10:00:00Z"}

    response = api.patch(detail(low_ticket), body, format="json")

    assert utc(response.json()["deadline"]) == datetime(2026, 3, 20, 10, tzinfo=UTC)
    assert response.json()["deadline_source"] == "manual"


def test_put_without_a_deadline_keeps_the_policy_s(clock, api, low_ticket):
    response = api.put(detail(low_ticket), {"title": "Replaced", "priority": "low"}, format="json")

    assert response.status_code == 200, response.json()
    assert utc(response.json()["deadline"]) == low_ticket.deadline
    assert response.json()["deadline_source"] == "policy"


def test_a_new_priority_with_no_policy_for_a_policy_deadline_is_a_400(friday, api, alice, urgent):
    ticket = services.create_ticket(owner=alice, title="P", priority=Priority.URGENT)

    response = api.patch(detail(ticket), {"priority": "low"}, format="json")

    assert response.status_code == 400
    assert "no SLA policy applies" in response.json()["deadline"][0]
    assert (fresh(ticket).priority, fresh(ticket).deadline) == ("urgent", MONDAY_12_00)


def test_a_new_priority_with_no_policy_keeps_a_manual_deadline(friday, alice, urgent):
    deadline = datetime(2026, 3, 20, 10, tzinfo=UTC)
    ticket = services.create_ticket(owner=alice, title="P", priority="urgent", deadline=deadline)

    changed = services.update_ticket(ticket=ticket, priority=Priority.LOW)

    assert (changed.deadline, changed.policy) == (deadline, None)


def test_the_service_refuses_with_a_validation_error_naming_the_deadline(friday, alice):
    with pytest.raises(ValidationError) as exc_info:
        services.create_ticket(owner=alice, title="P")

    assert exc_info.value.message_dict == {"deadline": [policy_deadlines.NO_POLICY]}


# --- The ticket admin -----------------------------------------------------------------------


@pytest.fixture
def admin_client(make_user) -> Client:
    client = Client()
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    return client


def admin_form(ticket: Ticket, **changes: str) -> dict[str, str]:
    local = ticket.deadline.astimezone(UTC)
    return {
        "owner": str(ticket.owner_id),
        "title": ticket.title,
        "description": ticket.description,
        "deadline_0": local.strftime("%Y-%m-%d"),
        "deadline_1": local.strftime("%H:%M:%S"),
        "status": ticket.status,
        "priority": ticket.priority,
        **changes,
    }


def test_an_admin_edit_that_does_not_touch_the_deadline_keeps_it_from_the_policy(
    clock, admin_client, low_ticket, urgent
):
    url = f"/admin/tickets/ticket/{low_ticket.pk}/change/"

    response = admin_client.post(url, admin_form(low_ticket, priority="urgent"))

    assert response.status_code == 302
    changed = fresh(low_ticket)
    assert (changed.deadline, changed.deadline_source) == (MONDAY_12_00, DeadlineSource.POLICY)


def test_an_admin_priority_change_with_no_policy_shows_the_error_in_the_form(
    friday, admin_client, alice, urgent
):
    ticket = services.create_ticket(owner=alice, title="P", priority=Priority.URGENT)
    url = f"/admin/tickets/ticket/{ticket.pk}/change/"

    response = admin_client.post(url, admin_form(ticket, priority="low"))

    assert response.status_code == 200
    assert "no SLA policy applies" in response.content.decode()
    assert fresh(ticket).priority == Priority.URGENT


def test_the_policy_admin_pages_load(admin_client, urgent):
    pages = [
        "/admin/policies/slapolicy/",
        f"/admin/policies/slapolicy/{urgent.pk}/change/",
        "/admin/policies/businesscalendar/",
        f"/admin/policies/businesscalendar/{urgent.calendar_id}/change/",
        "/admin/policies/businesscalendar/add/",
    ]

    assert {page: admin_client.get(page).status_code for page in pages} == dict.fromkeys(pages, 200)


def _calendar_form(hours: list[tuple[str, str, str]], **fields: str) -> dict[str, str]:
    data = {
        "name": "Admin calendar",
        "time_zone": "Europe/Berlin",
        "holiday_country": "",
        "holiday_subdivision": "",
        "opening_hours-TOTAL_FORMS": str(len(hours)),
        "opening_hours-INITIAL_FORMS": "0",
        "holidays-TOTAL_FORMS": "0",
        "holidays-INITIAL_FORMS": "0",
        **fields,
    }
    for n, (weekday, opens, closes) in enumerate(hours):
        data |= {
            f"opening_hours-{n}-weekday": weekday,
            f"opening_hours-{n}-opens": opens,
            f"opening_hours-{n}-closes": closes,
        }
    return data


def test_the_calendar_admin_saves_a_calendar_with_its_hours(admin_client, db):
    form = _calendar_form([("0", "09:00", "12:00"), ("0", "13:00", "17:00")])

    response = admin_client.post("/admin/policies/businesscalendar/add/", form)

    assert response.status_code == 302
    calendar = BusinessCalendar.objects.get(name="Admin calendar")
    assert calendar.opening_hours_rows() == [(0, time(9), time(12)), (0, time(13), time(17))]


@pytest.mark.parametrize(
    ("hours", "fields", "says"),
    [
        ([("0", "09:00", "13:00"), ("0", "12:00", "17:00")], {}, "overlap"),
        ([], {}, "at least one weekday"),
        ([("0", "09:00", "17:00")], {"time_zone": "Mars/Olympus"}, "IANA"),
        ([("0", "09:00", "17:00")], {"holiday_country": "XX"}, "No public holidays"),
    ],
)
def test_the_calendar_admin_refuses_a_calendar_it_cannot_use(admin_client, db, hours, fields, says):
    response = admin_client.post(
        "/admin/policies/businesscalendar/add/", _calendar_form(hours, **fields)
    )

    assert response.status_code == 200
    assert says in response.content.decode()
    assert not BusinessCalendar.objects.exists()


def test_the_admin_refuses_to_delete_a_calendar_in_use(admin_client, urgent):
    url = f"/admin/policies/businesscalendar/{urgent.calendar_id}/delete/"

    response = admin_client.post(url, {"post": "yes"})

    assert response.status_code == 200
    assert BusinessCalendar.objects.filter(pk=urgent.calendar_id).exists()


def test_the_calendar_admin_turns_24x7_off_and_adds_hours_in_one_save(admin_client, db):
    always = policy_services.create_calendar(name="Always", time_zone="UTC", is_24x7=True)
    form = _calendar_form([("0", "09:00", "17:00")], name="Always", time_zone="UTC")

    response = admin_client.post(f"/admin/policies/businesscalendar/{always.pk}/change/", form)

    assert response.status_code == 302
    always.refresh_from_db()
    assert (always.is_24x7, always.opening_hours_rows()) == (False, [(0, time(9), time(17))])
