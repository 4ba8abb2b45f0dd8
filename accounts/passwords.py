"""Password rules beyond Django's own (AUTH_PASSWORD_VALIDATORS)."""

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError


class NotOnlyWhitespaceValidator:
    """Refuse a password of spaces alone: eight of them pass the length rule."""

    def validate(self, password: str, user: AbstractBaseUser | None = None) -> None:
        if not password.strip():
            raise ValidationError(
                "This password is only whitespace.", code="password_only_whitespace"
            )

    def get_help_text(self) -> str:
        return "Your password can't be only whitespace."
