import uuid

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
