from django.conf import settings
from django.db import models


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
