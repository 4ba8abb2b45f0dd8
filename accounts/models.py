import uuid

from django.conf import settings
from django.contrib.auth.models import User
from django.db import models


class Login(models.Model):
    """One sign-in: every credential it issued lives and dies with this row.

    A token login (`/api-token-auth/`, registration) holds one API token; a JWT login
    (`/api/token/`) is named by the `sid` claim of its refresh and access tokens. Logout
    deletes the row, and every credential of that login is refused from then on. A login
    also remembers the password it was made with (a fingerprint, as Django's sessions do),
    so a password change, however it is made, ends every login made before it.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="logins")
    created_at = models.DateTimeField()
    # Absolute: nothing (a refresh, a rotation) moves it later.
    expires_at = models.DateTimeField()
    password_fingerprint = models.CharField(max_length=128)
    # Deleting the token (logout, or knox removing it once expired) deletes the login too.
    api_token = models.OneToOneField(
        "knox.AuthToken",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="login",
    )
    # The only refresh token of a JWT login that may still be used: each refresh swaps it
    # for the next one's (compare-and-set), so a refresh token works once.
    refresh_jti = models.CharField(max_length=64, blank=True)

    class Meta:
        indexes = [
            # Pruning a user's ended logins when they sign in again.
            models.Index(fields=["user", "expires_at"], name="login_user_expires_idx"),
        ]

    def __str__(self) -> str:
        kind = "token" if self.api_token_id else "JWT"
        return f"{kind} login of {self.user} until {self.expires_at:%Y-%m-%d %H:%M}"


class EmailConfirmation(models.Model):
    """A self-registered user's address that its owner has not confirmed yet.

    Its presence is the exception: a user without one (made by staff in the admin, by
    createsuperuser, by create_user in code) counts as confirmed, so only registration
    creates a row, and confirming the link (or staff setting the address) deletes it.
    Until then no notification is mailed to that user (notifications.delivery holds them).
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="email_confirmation",
    )
    # The address the link was sent to: a link for an address since changed is void.
    email = models.EmailField(max_length=254)
    requested_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.email} (unconfirmed)"
