"""Logins: starting one (an API token or a JWT pair), refreshing a JWT, ending them.

A login is the unit that logout ends (accounts.models.Login). Whether a credential's login
is still live is decided in accounts.authentication, on every request.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from knox.models import AuthToken
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import Login

# The JWT claim that names the login a refresh or access token belongs to. Access tokens
# copy it from their refresh token, and so does each rotated refresh token.
LOGIN_CLAIM = "sid"


class RefreshTokenUsed(Exception):
    """The refresh token was already exchanged for a newer one."""


@dataclass(frozen=True)
class JwtPair:
    access: str
    refresh: str


def password_fingerprint(user: User) -> str:
    """Changes whenever the user's password does (Django's session hash of it)."""
    return user.get_session_auth_hash()


def _prune(*, user: User, now: datetime) -> None:
    # Ended logins are refused anyway; deleting them when their user signs in again keeps
    # the table as small as the live logins, with no periodic job.
    ended = Login.objects.filter(user=user).filter(
        Q(expires_at__lte=now) | ~Q(password_fingerprint=password_fingerprint(user))
    )
    AuthToken.objects.filter(login__in=ended).delete()
    ended.delete()


def start_token_login(*, user: User, now: datetime) -> str:
    """A new API token for `user`, valid for API_TOKEN_LIFETIME; answers its key."""
    with transaction.atomic():
        _prune(user=user, now=now)
        expires_at = now + settings.API_TOKEN_LIFETIME
        token, key = AuthToken.objects.create(  # type: ignore[no-untyped-call]
            user=user, expiry=settings.API_TOKEN_LIFETIME
        )
        # knox computes its own expiry from its clock; the login's is the one that counts.
        AuthToken.objects.filter(pk=token.pk).update(expiry=expires_at)
        Login.objects.create(
            user=user,
            created_at=now,
            expires_at=expires_at,
            password_fingerprint=password_fingerprint(user),
            api_token=token,
        )
    return str(key)


def _refresh_token(*, login: Login, now: datetime) -> RefreshToken:
    token = RefreshToken.for_user(login.user)
    token[LOGIN_CLAIM] = str(login.pk)
    token.set_iat(at_time=now)
    # However often it is rotated, a refresh token ends when its login does.
    token.set_exp(from_time=login.expires_at, lifetime=timedelta(0))
    return token


def _pair(*, login: Login, refresh: RefreshToken, now: datetime) -> JwtPair:
    access = refresh.access_token
    access.set_iat(at_time=now)
    access.set_exp(
        from_time=min(now + settings.JWT_ACCESS_LIFETIME, login.expires_at),
        lifetime=timedelta(0),
    )
    return JwtPair(access=str(access), refresh=str(refresh))


def start_jwt_login(*, user: User, now: datetime) -> JwtPair:
    """A new JWT login: a refresh token valid for JWT_REFRESH_LIFETIME, and an access token."""
    with transaction.atomic():
        _prune(user=user, now=now)
        login = Login.objects.create(
            user=user,
            created_at=now,
            expires_at=now + settings.JWT_REFRESH_LIFETIME,
            password_fingerprint=password_fingerprint(user),
        )
        refresh = _refresh_token(login=login, now=now)
        login.refresh_jti = refresh[jwt_settings.JTI_CLAIM]
        login.save(update_fields=["refresh_jti"])
    return _pair(login=login, refresh=refresh, now=now)


def refresh_jwt_login(*, login: Login, refresh_jti: str, now: datetime) -> JwtPair:
    """Exchange the login's current refresh token for a new pair; the old one stops working.

    Raises RefreshTokenUsed when `refresh_jti` is not the current one: a refresh token
    that was already exchanged, or two exchanges of one token racing (one wins).
    """
    refresh = _refresh_token(login=login, now=now)
    swapped = Login.objects.filter(pk=login.pk, refresh_jti=refresh_jti).update(
        refresh_jti=refresh[jwt_settings.JTI_CLAIM]
    )
    if not swapped:
        raise RefreshTokenUsed()
    return _pair(login=login, refresh=refresh, now=now)


def end_login(*, login: Login) -> None:
    """Logout: the login's API token, refresh token and access tokens all stop working."""
    with transaction.atomic():
        if login.api_token_id is not None:
            AuthToken.objects.filter(pk=login.api_token_id).delete()  # deletes the login too
        Login.objects.filter(pk=login.pk).delete()
