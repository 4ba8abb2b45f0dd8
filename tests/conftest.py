"""Shared fixtures: users, authenticated API clients, tickets, a controlled clock."""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.cache import cache
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.logins import start_token_login
from accounts.models import Login
from tests.factories import TicketFactory, UserFactory
from tickets.models import Ticket

# A fixed, ordinary moment: no DST change, not a month end.
T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_rate_limit_counters() -> Iterator[None]:
    """Counters live in the cache, which outlives a test's database transaction."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    """Time stands still at T0 until the test moves it (clock.move_to / clock.shift)."""
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def make_user(db: None) -> Callable[..., User]:
    counter = iter(range(1, 1_000_000))

    def make(username: str | None = None, *, email: str | None = None, **extra: Any) -> User:
        name = username or f"user{next(counter)}"
        return UserFactory.create(
            username=name, email=f"{name}@example.com" if email is None else email, **extra
        )

    return make


@pytest.fixture
def alice(make_user: Callable[..., User]) -> User:
    return make_user("alice")


@pytest.fixture
def bob(make_user: Callable[..., User]) -> User:
    return make_user("bob")


@pytest.fixture
def staff(make_user: Callable[..., User]) -> User:
    return make_user("carol", is_staff=True)


def client_for(user: User) -> APIClient:
    """A client signed in as `user` with an API token, as `POST /api-token-auth/` gives.

    Its login lasts ten years: tests about other things move the clock by days.
    """
    client = APIClient()
    key = start_token_login(user=user, now=timezone.now())
    token = AuthToken.objects.get(token_key=key[:15])
    far = timezone.now() + timedelta(days=3650)
    AuthToken.objects.filter(pk=token.pk).update(expiry=far)
    Login.objects.filter(api_token=token).update(expires_at=far)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def api(alice: User) -> APIClient:
    """An API client authenticated as alice."""
    return client_for(alice)


@pytest.fixture
def make_ticket(alice: User) -> Callable[..., Ticket]:
    """Create a ticket through the service (as the API does), due in 2 hours by default."""

    def make(
        *, owner: User | None = None, due_in: timedelta = timedelta(hours=2), **fields: Any
    ) -> Ticket:
        fields.setdefault("deadline", timezone.now() + due_in)
        return TicketFactory.create(owner=owner or alice, **fields)

    return make


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """PBKDF2 costs ~0.4 s a password here; tests that hash many would crawl."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def no_rate_limits(settings: Any) -> None:
    """For tests about something else that need more requests than a limit allows."""
    settings.RATELIMIT_ENABLE = False


# Real mail servers on loopback (tests/smtp_server.py), shared by every test module.
from tests.smtp_server import hanging_smtp_server, smtp_server, smtp_settings  # noqa: E402, F401
from tests.webhook_receiver import receiver  # noqa: E402, F401
