"""Account writes: registration and token revocation."""

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from rest_framework.authtoken.models import Token


class UsernameTaken(Exception):
    pass


def register_user(*, username: str, email: str, password: str) -> tuple[User, Token]:
    """Create a user and their API token in one transaction."""
    try:
        with transaction.atomic():
            # Checked again inside the transaction: the serializer's check can race.
            if User.objects.filter(username__iexact=username).exists():
                raise UsernameTaken(username)
            user = User.objects.create_user(username=username, email=email, password=password)
            token = Token.objects.create(user=user)
    except IntegrityError:
        raise UsernameTaken(username) from None
    return user, token


def revoke_token(*, user: User) -> None:
    Token.objects.filter(user=user).delete()
