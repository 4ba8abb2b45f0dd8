"""No cache may keep an answer given to an authenticated caller."""

from django.test import Client
from rest_framework.test import APIClient


def test_an_authenticated_list_is_no_store(api, clock):
    response = api.get("/api/tickets/")

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


def test_an_authenticated_error_is_no_store_too(api):
    response = api.get("/api/tickets/12345/")

    assert response.status_code == 404
    assert "no-store" in response["Cache-Control"]


def test_a_token_answer_is_no_store(alice):
    response = APIClient().post(
        "/api-token-auth/",
        {"username": "alice", "password": "correct horse battery staple"},
        format="json",
    )

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


def test_a_session_s_answers_are_no_store(alice, clock):
    client = Client()
    client.force_login(alice)

    assert "no-store" in client.get("/api/tickets/")["Cache-Control"]


def test_the_public_schema_may_be_cached(db):
    response = APIClient().get("/api/schema/")

    assert "no-store" not in response.get("Cache-Control", "")
