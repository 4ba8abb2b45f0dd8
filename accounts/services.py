"""Account writes: registration."""

from datetime import datetime

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import confirmation
from accounts.confirmation import email_taken
from accounts.logins import start_token_login


class UsernameTaken(Exception):
    pass


class EmailTaken(Exception):
    pass


def register_user(
    *, username: str, email: str, password: str, now: datetime | None = None
) -> tuple[User, str]:
    """Create a user, sign them in and ask them to confirm their address, in one
    transaction; answers the user and the token key.

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
            token = start_token_login(user=user, now=now)
    except IntegrityError:
        raise UsernameTaken(username) from None
    return user, token
