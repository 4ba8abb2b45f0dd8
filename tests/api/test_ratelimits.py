"""Rate limits: 429 with Retry-After past the limit, per user or per client, for one period.

django-ratelimit reads time.time(); the clock fixture stands it still, so nothing here
waits. Its windows are offset per key, so a window "resets" one period later, not at the
top of the next minute.
"""

from datetime import timedelta
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from tests.conftest import client_for
from tickets.models import Ticket

LIST = "/api/tickets/"
WINDOW = timedelta(seconds=61)
WRONG_PASSWORD = "wrong"


def create(client: APIClient, n: int = 0):
    body = {"title": f"Printer {n}", "deadline": "2026-03-11T12:00:00Z"}
    return client.post(LIST, body, format="json")


def login(
    username: str,
    password: str = WRONG_PASSWORD,
    *,
    path: str = "/api-token-auth/",
    ip: str = "",
    forwarded_for: str = "",
):
    extra: dict[str, Any] = {"REMOTE_ADDR": ip} if ip else {}
    if forwarded_for:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return APIClient().post(
        path, {"username": username, "password": password}, format="json", **extra
    )


def assert_limited(response) -> None:
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    assert "throttled" in response.json()["detail"].lower()
    assert 1 <= int(response["Retry-After"]) <= 60


# --- The ticket list and create -------------------------------------------------------------


def test_it_answers_the_first_10_list_requests(clock, api):
    responses = [api.get(LIST) for _ in range(10)]

    assert [r.status_code for r in responses] == [200] * 10


def test_it_answers_429_on_the_11th_list_request(clock, api):
    for _ in range(10):
        api.get(LIST)

    response = api.get(LIST)

    assert_limited(response)


def test_the_retry_after_header_counts_down_to_the_end_of_the_window(clock, api):
    for _ in range(11):
        api.get(LIST)
    first = int(api.get(LIST)["Retry-After"])
    clock.shift(timedelta(seconds=min(first - 1, 10)))

    later = int(api.get(LIST)["Retry-After"])

    assert later == first - min(first - 1, 10)


def test_the_list_limit_for_alice_leaves_bob_unaffected(clock, api, bob):
    for _ in range(11):
        api.get(LIST)

    response = client_for(bob).get(LIST)

    assert response.status_code == 200


def test_the_list_limit_resets_one_period_later(clock, api):
    for _ in range(11):
        api.get(LIST)
    clock.shift(WINDOW)

    responses = [api.get(LIST) for _ in range(11)]

    assert [r.status_code for r in responses] == [200] * 10 + [429]


def test_the_list_limit_still_holds_just_inside_the_window(clock, api):
    for _ in range(10):
        api.get(LIST)
    retry_after = int(api.get(LIST)["Retry-After"])
    clock.shift(timedelta(seconds=retry_after - 1))

    response = api.get(LIST)

    assert_limited(response)


@override_settings(RATELIMIT_TICKETS_LIST="3/m")
def test_the_list_limit_comes_from_settings(clock, api):
    responses = [api.get(LIST) for _ in range(4)]

    assert [r.status_code for r in responses] == [200, 200, 200, 429]


@override_settings(RATELIMIT_TICKETS_LIST="2/10s")
def test_a_limit_over_several_seconds_resets_after_that_many(clock, api):
    for _ in range(3):
        api.get(LIST)
    clock.shift(timedelta(seconds=10))

    response = api.get(LIST)

    assert response.status_code == 200


@override_settings(RATELIMIT_ENABLE=False)
def test_no_limit_applies_when_rate_limiting_is_off(clock, api):
    responses = [api.get(LIST) for _ in range(15)]

    assert {r.status_code for r in responses} == {200}


def test_the_list_limit_does_not_count_detail_requests(clock, api, make_ticket):
    ticket = make_ticket()
    for _ in range(12):
        api.get(f"/api/tickets/{ticket.pk}/")

    response = api.get(LIST)

    assert response.status_code == 200


def test_it_answers_429_on_the_6th_create_and_does_not_create_it(clock, api):
    responses = [create(api, n) for n in range(6)]

    assert [r.status_code for r in responses] == [201] * 5 + [429]
    assert_limited(responses[-1])
    assert Ticket.objects.count() == 5


def test_the_create_limit_for_alice_leaves_bob_unaffected(clock, api, bob):
    for n in range(6):
        create(api, n)

    response = create(client_for(bob))

    assert response.status_code == 201


def test_the_create_limit_resets_one_period_later(clock, api):
    for n in range(6):
        create(api, n)
    clock.shift(WINDOW)

    response = create(api, 7)

    assert response.status_code == 201


def test_creating_does_not_use_up_the_list_limit(clock, api):
    for n in range(5):
        create(api, n)

    responses = [api.get(LIST) for _ in range(10)]

    assert {r.status_code for r in responses} == {200}


@override_settings(RATELIMIT_TICKETS_CREATE="1/h")
def test_the_create_limit_comes_from_settings(clock, api):
    first, second = create(api, 1), create(api, 2)
    clock.shift(timedelta(minutes=61))
    later = create(api, 3)

    assert [r.status_code for r in (first, second, later)] == [201, 429, 201]


def test_a_client_that_waits_exactly_retry_after_seconds_is_served(clock, api):
    for _ in range(10):
        api.get(LIST)
    clock.shift(timedelta(seconds=int(api.get(LIST)["Retry-After"])))

    response = api.get(LIST)

    assert response.status_code == 200


def test_a_rejected_create_still_counts_against_the_limit(clock, api):
    for _ in range(5):
        api.post(LIST, {"title": ""}, format="json")

    response = create(api)

    assert_limited(response)


def test_an_unauthenticated_request_is_401_not_counted(clock, api):
    anonymous = APIClient()
    for _ in range(15):
        assert anonymous.get(LIST).status_code == 401

    response = api.get(LIST)

    assert response.status_code == 200


# --- Token endpoints: brute force -----------------------------------------------------------


@pytest.mark.parametrize("path", ["/api-token-auth/", "/api/token/"])
def test_it_answers_429_after_too_many_passwords_for_one_username(clock, alice, path):
    responses = [login("alice", path=path) for _ in range(6)]

    assert [r.status_code for r in responses[:5]] == [400 if "auth" in path else 401] * 5
    assert_limited(responses[5])


@pytest.mark.parametrize("path", ["/api-token-auth/", "/api/token/"])
def test_once_a_username_is_limited_even_the_right_password_is_refused(clock, alice, path):
    for _ in range(5):
        login("alice", path=path)

    response = login("alice", "correct horse battery staple", path=path)

    assert_limited(response)


def test_the_username_limit_ignores_case_and_surrounding_spaces(clock, alice):
    for name in ["alice", "ALICE", " Alice", "alice ", "aLiCe"]:
        login(name)

    response = login("alice")

    assert_limited(response)


@pytest.mark.parametrize("path", ["/api-token-auth/", "/api/token/"])
def test_bad_passwords_from_one_address_do_not_lock_the_owner_out_from_another(clock, alice, path):
    guesses = [login("alice", path=path, ip="198.51.100.1") for _ in range(6)]

    response = login("alice", "correct horse battery staple", path=path, ip="203.0.113.9")

    assert_limited(guesses[5])
    assert response.status_code == 200


def test_the_username_limit_leaves_other_usernames_alone(clock, alice, bob):
    for _ in range(6):
        login("alice")

    response = login("bob", "correct horse battery staple")

    assert response.status_code == 200


def test_the_username_limit_resets_one_period_later(clock, alice):
    for _ in range(6):
        login("alice")
    clock.shift(WINDOW)

    response = login("alice", "correct horse battery staple")

    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/api-token-auth/", "/api/token/"])
def test_it_answers_429_after_too_many_usernames_from_one_address(clock, db, path):
    responses = [login(f"guess{n}", path=path, ip="192.0.2.7") for n in range(31)]

    assert 429 not in {r.status_code for r in responses[:30]}
    assert_limited(responses[30])


def test_the_address_limit_leaves_other_addresses_alone(clock, alice):
    for n in range(31):
        login(f"guess{n}", ip="192.0.2.7")

    response = login("alice", "correct horse battery staple", ip="192.0.2.8")

    assert response.status_code == 200


@override_settings(RATELIMIT_LOGIN_PER_USERNAME="2/m", RATELIMIT_LOGIN_PER_IP="4/m")
def test_the_login_limits_come_from_settings(clock, db):
    by_username = [login("alice", ip="192.0.2.1") for _ in range(3)]
    by_address = [login(f"guess{n}", ip="192.0.2.2") for n in range(5)]

    assert [r.status_code for r in by_username] == [400, 400, 429]
    assert [r.status_code for r in by_address] == [400, 400, 400, 400, 429]


def test_the_jwt_refresh_endpoint_is_limited_per_address(clock, db):
    responses = [
        APIClient().post("/api/token/refresh/", {"refresh": "garbage"}, format="json")
        for _ in range(31)
    ]

    assert {r.status_code for r in responses[:30]} == {401}
    assert_limited(responses[30])


@override_settings(REGISTRATION_OPEN=True, RATELIMIT_REGISTER_PER_IP="2/h")
def test_registration_is_limited_per_address(clock, db):
    responses = [
        APIClient().post(
            "/register/",
            {"username": f"new{n}", "email": f"new{n}@example.com", "password": "a long phrase!"},
            format="json",
        )
        for n in range(3)
    ]

    assert [r.status_code for r in responses] == [201, 201, 429]


# --- Behind reverse proxies -------------------------------------------------------------------

PROXY = "10.0.0.2"


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_behind_a_trusted_proxy_each_client_has_its_own_address_limit(clock, alice):
    for n in range(31):
        login(f"guess{n}", ip=PROXY, forwarded_for="192.0.2.7")

    limited = login("guess99", ip=PROXY, forwarded_for="192.0.2.7")
    other = login("alice", "correct horse battery staple", ip=PROXY, forwarded_for="192.0.2.8")

    assert_limited(limited)
    assert other.status_code == 200


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_behind_a_proxy_one_client_cannot_lock_the_owner_out(clock, alice):
    for _ in range(6):
        login("alice", ip=PROXY, forwarded_for="192.0.2.7")

    response = login("alice", "correct horse battery staple", ip=PROXY, forwarded_for="192.0.2.8")

    assert response.status_code == 200


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_a_client_cannot_escape_its_limit_by_writing_x_forwarded_for_itself(clock, db):
    # The proxy appends the real peer: whatever the client wrote stays on the left.
    responses = [
        login(f"guess{n}", ip=PROXY, forwarded_for=f"198.51.100.{n}, 192.0.2.7") for n in range(31)
    ]

    assert_limited(responses[30])


@override_settings(TRUSTED_PROXY_COUNT=2)
def test_with_two_trusted_proxies_the_client_is_second_from_the_right(clock, db):
    responses = [
        login(f"guess{n}", ip=PROXY, forwarded_for=f"198.51.100.{n}, 192.0.2.7, 10.0.0.1")
        for n in range(31)
    ]

    assert_limited(responses[30])


def test_without_trusted_proxies_x_forwarded_for_is_ignored(clock, db):
    responses = [
        login(f"guess{n}", ip="192.0.2.7", forwarded_for=f"198.51.100.{n}") for n in range(31)
    ]

    assert_limited(responses[30])


@override_settings(TRUSTED_PROXY_COUNT=1)
@pytest.mark.parametrize("forwarded_for", ["", "not-an-address"])
def test_a_missing_or_garbled_forwarded_address_counts_as_the_peer(clock, db, forwarded_for):
    responses = [login(f"guess{n}", ip="192.0.2.9", forwarded_for=forwarded_for) for n in range(31)]

    assert_limited(responses[30])
