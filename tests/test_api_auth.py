"""Getting in and out: DRF tokens, JWTs, logout and self-service registration."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import override_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.services import UsernameTaken, register_user
from tests.conftest import client_for

PASSWORD = "correct horse battery staple"
NEW_USER = {
    "username": "dave",
    "email": "dave@example.com",
    "password": "a long and unusual phrase",
}


def with_token(key: str, scheme: str = "Token") -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{scheme} {key}")
    return client


# --- DRF token ------------------------------------------------------------------------------


def test_it_answers_a_token_for_good_credentials(alice):
    response = APIClient().post(
        "/api-token-auth/", {"username": "alice", "password": PASSWORD}, format="json"
    )

    assert response.status_code == 200
    assert response.json() == {"token": Token.objects.get(user=alice).key}


def test_the_token_it_answers_opens_the_ticket_api(alice):
    key = (
        APIClient()
        .post("/api-token-auth/", {"username": "alice", "password": PASSWORD}, format="json")
        .json()["token"]
    )

    response = with_token(key).get("/api/tickets/")

    assert response.status_code == 200


def test_logout_revokes_the_token_so_the_next_request_is_401(alice):
    client = client_for(alice)
    assert client.get("/api/tickets/").status_code == 200

    logout = client.post("/api/logout/")

    assert logout.status_code == 204
    after = client.get("/api/tickets/")
    assert after.status_code == 401
    assert after.json()["detail"] == "Invalid token."
    assert not Token.objects.filter(user=alice).exists()


def test_logout_leaves_other_users_tokens_alone(alice, bob):
    bobs = client_for(bob)

    client_for(alice).post("/api/logout/")

    assert bobs.get("/api/tickets/").status_code == 200


# --- JWT ------------------------------------------------------------------------------------


def obtain_pair(username: str = "alice", password: str = PASSWORD) -> dict[str, str]:
    response = APIClient().post(
        "/api/token/", {"username": username, "password": password}, format="json"
    )
    assert response.status_code == 200, response.content
    pair: dict[str, str] = response.json()
    return pair


def test_a_jwt_access_token_opens_the_ticket_api(alice):
    pair = obtain_pair()

    response = with_token(pair["access"], scheme="Bearer").get("/api/tickets/")

    assert response.status_code == 200


def test_a_jwt_refresh_answers_a_new_access_token_that_works(clock, alice):
    pair = obtain_pair()
    clock.shift(timedelta(seconds=1))

    response = APIClient().post("/api/token/refresh/", {"refresh": pair["refresh"]}, format="json")

    assert response.status_code == 200
    access = response.json()["access"]
    assert access != pair["access"]
    assert with_token(access, scheme="Bearer").get("/api/tickets/").status_code == 200


def test_a_rotated_jwt_refresh_token_cannot_be_used_twice(alice):
    pair = obtain_pair()
    first = APIClient().post("/api/token/refresh/", {"refresh": pair["refresh"]}, format="json")

    second = APIClient().post("/api/token/refresh/", {"refresh": pair["refresh"]}, format="json")

    assert first.status_code == 200
    assert second.status_code == 401
    assert "blacklisted" in second.json()["detail"].lower()


def test_an_expired_jwt_access_token_is_refused_with_401(clock, alice):
    pair = obtain_pair()
    clock.shift(timedelta(hours=1))

    response = with_token(pair["access"], scheme="Bearer").get("/api/tickets/")

    assert response.status_code == 401
    assert "detail" in response.json()


def test_a_jwt_for_a_user_who_no_longer_exists_is_refused_with_401(alice):
    pair = obtain_pair()
    alice.delete()

    response = with_token(pair["access"], scheme="Bearer").get("/api/tickets/")

    assert response.status_code == 401


# --- Registration ---------------------------------------------------------------------------


@override_settings(REGISTRATION_OPEN=True)
def test_registration_answers_201_with_a_working_token_when_open(db):
    response = APIClient().post("/register/", NEW_USER, format="json")

    assert response.status_code == 201
    body = response.json()
    user = User.objects.get(username="dave")
    assert body == {"id": user.pk, "username": "dave", "token": Token.objects.get(user=user).key}
    assert user.email == "dave@example.com"
    assert user.check_password(NEW_USER["password"])
    assert not user.is_staff
    assert with_token(body["token"]).get("/api/tickets/").status_code == 200


@override_settings(REGISTRATION_OPEN=False)
def test_registration_answers_404_when_closed(db):
    response = APIClient().post("/register/", NEW_USER, format="json")

    assert response.status_code == 404
    assert response.json()["detail"] == "Registration is closed."
    assert not User.objects.filter(username="dave").exists()


@override_settings(REGISTRATION_OPEN=True)
def test_registration_ignores_a_forged_staff_flag(db):
    response = APIClient().post(
        "/register/", {**NEW_USER, "is_staff": True, "is_superuser": True}, format="json"
    )

    assert response.status_code == 201
    user = User.objects.get(username="dave")
    assert not user.is_staff
    assert not user.is_superuser


@pytest.mark.parametrize("taken", ["alice", "ALICE", "Alice"])
@override_settings(REGISTRATION_OPEN=True)
def test_registration_refuses_a_username_taken_in_any_case(alice, taken):
    response = APIClient().post("/register/", {**NEW_USER, "username": taken}, format="json")

    assert response.status_code == 400
    assert response.json()["username"] == ["A user with that username already exists."]
    assert User.objects.filter(username__iexact="alice").count() == 1


def test_the_registration_service_refuses_a_username_taken_in_another_case(alice):
    with pytest.raises(UsernameTaken):
        register_user(username="aLiCe", email="x@example.com", password=NEW_USER["password"])

    assert User.objects.filter(username__iexact="alice").count() == 1
