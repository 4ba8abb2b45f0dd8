"""Account writes: registration."""

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.logins import start_token_login


class UsernameTaken(Exception):
    pass


def register_user(*, username: str, email: str, password: str) -> tuple[User, str]:
    """Create a user and sign them in, in one transaction; answers the user and token key."""
    try:
        with transaction.atomic():
            # Checked again inside the transaction: the serializer's check can race.
            if User.objects.filter(username__iexact=username).exists():
                raise UsernameTaken(username)
            user = User.objects.create_user(username=username, email=email, password=password)
            token = start_token_login(user=user, now=timezone.now())
    except IntegrityError:
        raise UsernameTaken(username) from None
    return user, token
