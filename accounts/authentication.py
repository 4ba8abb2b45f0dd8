"""Who a request is: an API token (knox) or a JWT, each accepted only while its login lives.

A login ends at logout, at its expiry, or when its user's password changes (any way: the
API, the admin, `changepassword`, `set_password()` and `save()`); a credential whose login
has ended answers 401. Malformed credentials are a 401 too, never a 500.
"""

import re
import uuid
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from knox.auth import TokenAuthentication
from knox.models import AuthToken
from knox.settings import knox_settings
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import Token

from accounts.logins import LOGIN_CLAIM, password_fingerprint
from accounts.models import Login

# knox's keys: lowercase hex. Anything else (non-UTF-8 bytes, NUL, which PostgreSQL refuses
# in a query) is refused before it reaches the database.
_API_TOKEN = re.compile(rb"[0-9a-f]{%d}" % knox_settings.AUTH_TOKEN_CHARACTER_LENGTH)


class LoginEnded(AuthenticationFailed):
    default_detail = "This login has ended (logout, expiry or a new password): sign in again."
    default_code = "login_ended"


def ensure_live(login: Login, *, user: User, now: datetime) -> None:
    """Raise LoginEnded unless `login` is unexpired and made with `user`'s current password."""
    if login.expires_at <= now:
        raise LoginEnded()
    if not constant_time_compare(login.password_fingerprint, password_fingerprint(user)):
        raise LoginEnded()
    if not user.is_active:
        raise AuthenticationFailed("User inactive or deleted.", code="user_inactive")


def live_login_of(claims: dict[str, Any], *, now: datetime) -> Login:
    """The live login a JWT's claims name, with its user; else AuthenticationFailed.

    The claims are signed by this service, so a bad value means a token made some other
    way (or before logins existed): each is a 401, and no claim reaches a query unparsed.
    """
    sid = claims.get(LOGIN_CLAIM)
    user_id = claims.get(jwt_settings.USER_ID_CLAIM)
    try:
        login_id = uuid.UUID(sid) if isinstance(sid, str) else None
    except ValueError:
        login_id = None
    if login_id is None or not isinstance(user_id, str):
        raise LoginEnded("Token belongs to no login.", code="no_login")
    login = Login.objects.select_related("user").filter(pk=login_id).first()
    # The user id is compared as text, as simplejwt writes it: "abc", a list or a huge
    # number simply match no login.
    if login is None or str(login.user_id) != user_id:
        raise LoginEnded()
    ensure_live(login, user=login.user, now=now)
    return login


class ApiTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>`: knox's hashed, expiring tokens, each of one login."""

    def authenticate_credentials(self, token: bytes) -> tuple[User, AuthToken]:
        if not _API_TOKEN.fullmatch(token):
            raise AuthenticationFailed("Invalid token.")
        user, auth_token = super().authenticate_credentials(token)  # type: ignore[no-untyped-call]
        return user, auth_token

    def validate_user(self, auth_token: AuthToken) -> tuple[User, AuthToken]:
        user, auth_token = super().validate_user(auth_token)  # type: ignore[no-untyped-call]
        login = Login.objects.filter(api_token=auth_token).first()
        if login is None:  # a token made outside a login (knox's own views): not ours
            raise AuthenticationFailed("Invalid token.")
        ensure_live(login, user=user, now=timezone.now())
        return user, auth_token


class LoginJWTAuthentication(JWTAuthentication):
    """`Authorization: Bearer <access JWT>`, accepted while the login it names is live."""

    # simplejwt types its users as a TypeVar of the user and its stateless TokenUser.
    def get_user(self, validated_token: Token) -> User:  # type: ignore[override]
        login = live_login_of(validated_token.payload, now=timezone.now())
        return login.user


def login_of_request(auth: object) -> Login | None:
    """The login behind a request's credential (its `request.auth`), if it has one."""
    if isinstance(auth, AuthToken):
        return Login.objects.filter(api_token=auth).first()
    if isinstance(auth, Token):
        return Login.objects.filter(pk=str(auth.payload.get(LOGIN_CLAIM))).first()
    return None
