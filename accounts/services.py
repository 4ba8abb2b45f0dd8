"""Account writes: registration and token revocation."""

from datetime import datetime

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from accounts import confirmation
from accounts.confirmation import email_taken


class UsernameTaken(Exception):
    pass


class EmailTaken(Exception):
    pass


def register_user(
    *, username: str, email: str, password: str, now: datetime | None = None
) -> tuple[User, Token]:
    """Create a user, their API token and their pending email confirmation at once.

    The address is not mailed anything but the confirmation link until its owner
    confirms it (accounts.confirmation).
    """
    now = now or timezone.now()
    try:
        with transaction.atomic():
            # Checked again inside the transaction: the serializer's check can race.
            if User.objects.filter(username__iexact=username).exists():
                raise UsernameTaken(username)
            if email_taken(email=email, now=now):
                raise EmailTaken(email)
            user = User.objects.create_user(username=username, email=email, password=password)
            confirmation.request_confirmation(user=user, now=now)
            token = Token.objects.create(user=user)
    except IntegrityError:
        raise UsernameTaken(username) from None
    return user, token


def revoke_token(*, user: User) -> None:
    Token.objects.filter(user=user).delete()
