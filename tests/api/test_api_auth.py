"""Getting in and out: API tokens, JWTs, logout, password changes and registration."""

import importlib
import io
from datetime import timedelta
from typing import Any
from unittest import mock

import jwt
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import timezone
from knox.crypto import hash_token
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.models import Login
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


# --- API token ------------------------------------------------------------------------------


def obtain_token(username: str = "alice", password: str = PASSWORD) -> str:
    response = APIClient().post(
        "/api-token-auth/", {"username": username, "password": password}, format="json"
    )
    assert response.status_code == 200, response.content
    key: str = response.json()["token"]
    return key


def test_it_answers_a_token_for_good_credentials(alice):
    response = APIClient().post(
        "/api-token-auth/", {"username": "alice", "password": PASSWORD}, format="json"
    )

    assert response.status_code == 200
    assert set(response.json()) == {"token"}
    assert with_token(response.json()["token"]).get("/api/tickets/").status_code == 200


def test_it_still_answers_a_form_encoded_login(alice):
    response = APIClient().post("/api-token-auth/", {"username": "alice", "password": PASSWORD})

    assert response.status_code == 200
    assert with_token(response.json()["token"]).get("/api/tickets/").status_code == 200


def test_the_token_it_answers_opens_the_ticket_api(alice):
    response = with_token(obtain_token()).get("/api/tickets/")

    assert response.status_code == 200


def test_the_database_keeps_only_a_hash_of_the_token(alice):
    key = obtain_token()

    stored = AuthToken.objects.get(user=alice)
    assert stored.digest == hash_token(key)
    assert key not in {stored.digest, stored.token_key}
    assert len(key) == 64


def test_each_sign_in_gets_a_token_of_its_own(alice):
    first, second = obtain_token(), obtain_token()

    assert first != second
    assert with_token(first).get("/api/tickets/").status_code == 200
    assert with_token(second).get("/api/tickets/").status_code == 200


def test_an_api_token_expires_after_its_lifetime(clock, alice):
    key = obtain_token()

    clock.shift(settings.API_TOKEN_LIFETIME - timedelta(seconds=1))
    assert with_token(key).get("/api/tickets/").status_code == 200
    clock.shift(timedelta(seconds=1))
    response = with_token(key).get("/api/tickets/")

    assert response.status_code == 401


def test_the_api_token_lifetime_is_ten_hours_unless_set():
    assert timedelta(hours=10) == settings.API_TOKEN_LIFETIME


@override_settings(API_TOKEN_LIFETIME=timedelta(minutes=30))
def test_the_api_token_lifetime_comes_from_settings(clock, alice):
    key = obtain_token()
    clock.shift(timedelta(minutes=30))

    assert with_token(key).get("/api/tickets/").status_code == 401


def test_logout_revokes_the_token_so_the_next_request_is_401(alice):
    client = client_for(alice)
    assert client.get("/api/tickets/").status_code == 200

    logout = client.post("/api/logout/")

    assert logout.status_code == 204
    after = client.get("/api/tickets/")
    assert after.status_code == 401
    assert after.json()["detail"] == "Invalid token."
    assert not AuthToken.objects.filter(user=alice).exists()
    assert not Login.objects.filter(user=alice).exists()


def test_logout_leaves_other_users_tokens_alone(alice, bob):
    bobs = client_for(bob)

    client_for(alice).post("/api/logout/")

    assert bobs.get("/api/tickets/").status_code == 200


def test_logout_leaves_the_users_other_sign_ins_alone(alice):
    laptop, phone = obtain_token(), obtain_token()

    with_token(laptop).post("/api/logout/")

    assert with_token(laptop).get("/api/tickets/").status_code == 401
    assert with_token(phone).get("/api/tickets/").status_code == 200


def test_logout_without_credentials_is_401(db):
    assert APIClient().post("/api/logout/").status_code == 401


@pytest.mark.parametrize(
    "key",
    [
        "not-hex-at-all",
        "0" * 63 + "\x00",
        "é" * 64,
        "\xff" * 64,
        "A" * 64,
    ],
)
def test_a_malformed_api_token_is_401(alice, key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    response = client.get("/api/tickets/")

    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid token."


def test_a_token_of_a_deactivated_user_is_401(alice):
    key = obtain_token()
    alice.is_active = False
    alice.save()

    assert with_token(key).get("/api/tickets/").status_code == 401


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
    assert second.json()["detail"] == "Token has already been used."


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


def refresh(token: str):
    return APIClient().post("/api/token/refresh/", {"refresh": token}, format="json")


def claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def test_a_jwt_refresh_answers_the_next_refresh_token_too(alice):
    pair = obtain_pair()

    response = refresh(pair["refresh"])

    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"}
    assert refresh(response.json()["refresh"]).status_code == 200


def test_logout_with_an_access_token_ends_its_refresh_token_too(alice):
    pair = obtain_pair()
    bearer = with_token(pair["access"], scheme="Bearer")

    logout = bearer.post("/api/logout/")

    assert logout.status_code == 204
    assert bearer.get("/api/tickets/").status_code == 401
    assert refresh(pair["refresh"]).status_code == 401


def test_logout_ends_every_access_and_refresh_token_of_that_login(clock, alice):
    pair = obtain_pair()
    clock.shift(timedelta(minutes=1))
    rotated = refresh(pair["refresh"]).json()
    older_access = with_token(pair["access"], scheme="Bearer")
    newer_access = with_token(rotated["access"], scheme="Bearer")

    assert newer_access.post("/api/logout/").status_code == 204

    assert older_access.get("/api/tickets/").status_code == 401
    assert newer_access.get("/api/tickets/").status_code == 401
    assert refresh(rotated["refresh"]).status_code == 401


def test_logout_of_one_jwt_login_leaves_the_others_alone(alice):
    laptop, phone = obtain_pair(), obtain_pair()

    with_token(laptop["access"], scheme="Bearer").post("/api/logout/")

    assert with_token(phone["access"], scheme="Bearer").get("/api/tickets/").status_code == 200
    assert refresh(phone["refresh"]).status_code == 200


def test_rotation_never_extends_a_refresh_token_past_its_login(clock, alice):
    pair = obtain_pair()
    login_ends = claims(pair["refresh"])["exp"]
    token = pair["refresh"]
    for _ in range(23):
        clock.shift(timedelta(hours=1))
        response = refresh(token)
        assert response.status_code == 200
        token = response.json()["refresh"]
        assert claims(token)["exp"] == login_ends
    clock.shift(timedelta(hours=1))

    response = refresh(token)

    assert response.status_code == 401
    assert login_ends - claims(pair["access"])["iat"] == 24 * 3600


def test_an_access_token_never_outlives_its_login(clock, alice):
    pair = obtain_pair()
    clock.shift(timedelta(hours=23, minutes=58))
    access = refresh(pair["refresh"]).json()["access"]

    assert claims(access)["exp"] == claims(pair["refresh"])["exp"]


@override_settings(JWT_REFRESH_LIFETIME=timedelta(hours=2))
def test_the_refresh_lifetime_comes_from_settings(clock, alice):
    pair = obtain_pair()
    clock.shift(timedelta(hours=2))

    assert refresh(pair["refresh"]).status_code == 401


@override_settings(JWT_ACCESS_LIFETIME=timedelta(minutes=1))
def test_the_access_lifetime_comes_from_settings(clock, alice):
    pair = obtain_pair()
    clock.shift(timedelta(minutes=1))

    assert with_token(pair["access"], scheme="Bearer").get("/api/tickets/").status_code == 401


def test_a_refresh_token_of_a_deleted_user_is_401(alice):
    pair = obtain_pair()
    alice.delete()

    response = refresh(pair["refresh"])

    assert response.status_code == 401


def test_a_refresh_token_of_a_deactivated_user_is_401(alice):
    pair = obtain_pair()
    alice.is_active = False
    alice.save()

    assert refresh(pair["refresh"]).status_code == 401


NOT_AN_ID = ["abc", ["1"], {"id": 1}, 10**30, -1, 1.5, None, True, ""]


def signed(payload: dict[str, Any]) -> str:
    """A JWT signed with this installation's key, as only the service itself could make."""
    now = timezone.now()
    return jwt.encode(
        {"jti": "a" * 32, "iat": int(now.timestamp()), "exp": int(now.timestamp()) + 300} | payload,
        settings.SECRET_KEY,
        algorithm="HS256",
    )


@pytest.mark.parametrize("user_id", NOT_AN_ID)
def test_an_access_token_whose_user_id_is_not_an_id_is_401(alice, user_id):
    sid = claims(obtain_pair()["access"])["sid"]
    token = signed({"token_type": "access", "user_id": user_id, "sid": sid})

    response = with_token(token, scheme="Bearer").get("/api/tickets/")

    assert response.status_code == 401


@pytest.mark.parametrize("user_id", NOT_AN_ID)
def test_a_refresh_token_whose_user_id_is_not_an_id_is_401(alice, user_id):
    sid = claims(obtain_pair()["refresh"])["sid"]
    token = signed({"token_type": "refresh", "user_id": user_id, "sid": sid})

    response = refresh(token)

    assert response.status_code == 401


@pytest.mark.parametrize("sid", [None, "abc", ["x"], 7, "00000000-0000-0000-0000-000000000000"])
def test_a_jwt_naming_no_login_is_401(alice, sid):
    payload = {"user_id": str(alice.pk)} | ({} if sid is None else {"sid": sid})

    access = with_token(signed(payload | {"token_type": "access"}), scheme="Bearer")

    assert access.get("/api/tickets/").status_code == 401
    assert refresh(signed(payload | {"token_type": "refresh"})).status_code == 401


# --- A password change ends every login -----------------------------------------------------


def set_password_and_save(user: User, password: str) -> None:
    user.set_password(password)
    user.save()


def changepassword_command(user: User, password: str) -> None:
    with mock.patch("getpass.getpass", side_effect=[password, password]):
        call_command("changepassword", user.username, stdout=io.StringIO())


def admin_form(user: User, password: str) -> None:
    root = User.objects.create_superuser("root", "root@example.com", PASSWORD)
    client = Client()
    client.force_login(root)
    response = client.post(
        f"/admin/auth/user/{user.pk}/password/",
        {"password1": password, "password2": password, "usable_password": "true"},
    )
    assert response.status_code == 302, response.content


@pytest.mark.parametrize("change", [set_password_and_save, changepassword_command, admin_form])
def test_a_password_change_ends_every_token_and_jwt_of_the_user(alice, change):
    token = obtain_token()
    pair = obtain_pair()
    registered = client_for(alice)

    change(User.objects.get(pk=alice.pk), "a brand new passphrase 42")

    assert with_token(token).get("/api/tickets/").status_code == 401
    assert registered.get("/api/tickets/").status_code == 401
    assert with_token(pair["access"], scheme="Bearer").get("/api/tickets/").status_code == 401
    assert refresh(pair["refresh"]).status_code == 401


def test_signing_in_with_the_new_password_works_and_prunes_the_ended_logins(alice):
    obtain_token()
    obtain_pair()
    set_password_and_save(alice, "a brand new passphrase 42")

    key = obtain_token(password="a brand new passphrase 42")

    assert with_token(key).get("/api/tickets/").status_code == 200
    assert Login.objects.filter(user=alice).count() == 1
    assert AuthToken.objects.filter(user=alice).count() == 1


def test_a_password_change_leaves_other_users_alone(alice, bob):
    bobs = client_for(bob)

    set_password_and_save(alice, "a brand new passphrase 42")

    assert bobs.get("/api/tickets/").status_code == 200


# --- Registration ---------------------------------------------------------------------------


@override_settings(REGISTRATION_OPEN=True)
def test_registration_answers_201_with_a_working_token_when_open(db):
    response = APIClient().post("/register/", NEW_USER, format="json")

    assert response.status_code == 201
    body = response.json()
    user = User.objects.get(username="dave")
    assert body == {"id": user.pk, "username": "dave", "token": body["token"]}
    assert AuthToken.objects.get(user=user).digest == hash_token(body["token"])
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


# --- Upgrading from plain-text tokens -------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_upgrade_drops_the_tables_that_held_tokens_in_plain_text():
    from django.db import connection

    upgrade = importlib.import_module("accounts.migrations.0002_drop_plaintext_token_tables")
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY)")
        cursor.execute(
            "INSERT INTO authtoken_token VALUES ('9944b09199c62bcf9418ad846dd0e4bbdfc6')"
        )
        cursor.execute(
            "INSERT INTO django_migrations (app, name, applied) VALUES "
            "('authtoken', '0001_initial', CURRENT_TIMESTAMP)"
        )

    with connection.schema_editor() as editor:
        upgrade.drop_plaintext_token_tables(None, editor)

    assert "authtoken_token" not in connection.introspection.table_names()
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM django_migrations WHERE app = 'authtoken'")
        assert cursor.fetchone() == (0,)


# --- The admin ------------------------------------------------------------------------------


def test_staff_see_logins_in_the_admin_and_deleting_one_signs_it_out(alice):
    key = obtain_token()
    login = Login.objects.get(user=alice)
    root = User.objects.create_superuser("root", "root@example.com", PASSWORD)
    admin = Client()
    admin.force_login(root)

    listing = admin.get("/admin/accounts/login/")
    deleted = admin.post(f"/admin/accounts/login/{login.pk}/delete/", {"post": "yes"})

    assert listing.status_code == 200
    assert "alice" in listing.content.decode()
    assert deleted.status_code == 302
    assert with_token(key).get("/api/tickets/").status_code == 401
    assert not AuthToken.objects.filter(user=alice).exists()
