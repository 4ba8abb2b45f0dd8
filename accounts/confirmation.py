"""Email confirmation: a signed, expiring link proves the address's owner asked for mail.

Open registration would otherwise let anyone make the service mail a stranger, with any
ticket title as the subject. A self-registered user gets one email, the link; until its
owner confirms it, their notifications are held (notifications.delivery), not mailed.

The link carries the user's id and the address, signed with SECRET_KEY and a salt of its
own and stamped with the time (django.core.signing): nothing is stored but the pending
EmailConfirmation row, a forged or altered link fails the signature, an old one fails
EMAIL_CONFIRMATION_MAX_AGE_SECONDS, and a link for an address since changed matches no row.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.core import signing
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q

from accounts.models import EmailConfirmation
from notifications.addresses import prepare
from notifications.outbox import release_held

log = logging.getLogger(__name__)

_SALT = "accounts.email-confirmation"


class InvalidLink(Exception):
    """The link is not one this service made for a pending confirmation."""


class ExpiredLink(InvalidLink):
    pass


def max_age() -> timedelta:
    return timedelta(seconds=settings.EMAIL_CONFIRMATION_MAX_AGE_SECONDS)


def email_taken(*, email: str, now: datetime, exclude_user_id: int | None = None) -> bool:
    """Whether an active account has this address, in any case.

    An unconfirmed registration keeps the address only while its link is valid, so that
    someone registering a stranger's address cannot keep its owner out for good.
    """
    holders = User.objects.filter(email__iexact=email, is_active=True).filter(
        Q(email_confirmation__isnull=True) | Q(email_confirmation__requested_at__gt=now - max_age())
    )
    if exclude_user_id is not None:
        holders = holders.exclude(pk=exclude_user_id)
    return holders.exists()


def make_token(*, user: User) -> str:
    return signing.dumps({"user": user.pk, "email": user.email}, salt=_SALT)


def pending(*, token: str) -> EmailConfirmation:
    """The pending confirmation a link is for; InvalidLink or ExpiredLink otherwise."""
    try:
        data = signing.loads(token, salt=_SALT, max_age=max_age())
    except signing.SignatureExpired:
        raise ExpiredLink("This confirmation link has expired.") from None
    except (signing.BadSignature, ValueError):
        raise InvalidLink("This confirmation link is not valid.") from None
    found = (
        EmailConfirmation.objects.select_related("user")
        .filter(user_id=data.get("user"), email=data.get("email"), user__email=data.get("email"))
        .first()
    )
    if found is None:
        raise InvalidLink("This confirmation link is not valid, or was used already.")
    return found


def confirm(*, token: str, now: datetime) -> User:
    """Confirm the address a link is for, and queue the emails held for it."""
    with transaction.atomic():
        confirmation = pending(token=token)
        if email_taken(email=confirmation.email, now=now, exclude_user_id=confirmation.user_id):
            # Possible once this registration's own link window had passed.
            raise InvalidLink("This email address belongs to another account by now.")
        mark_confirmed(user=confirmation.user, now=now)
    return confirmation.user


def mark_confirmed(*, user: User, now: datetime) -> None:
    """The user's address is theirs (a link confirmed, or staff set it): mail them."""
    with transaction.atomic():
        EmailConfirmation.objects.filter(user=user).delete()
        release_held(user_id=user.pk, now=now)


def request_confirmation(*, user: User, now: datetime) -> None:
    """Record that `user`'s address awaits its owner's word (inside registration).

    A row already there keeps its time: asking for the link again must not keep a
    stranger's address taken (email_taken) for longer than one link's life.
    """
    EmailConfirmation.objects.update_or_create(
        user=user,
        defaults={"email": user.email},
        create_defaults={"email": user.email, "requested_at": now},
    )


def send_link(*, user: User, confirm_url: str) -> bool:
    """Mail the link; False (and a log line) if the mail server would not take it.

    Sent at once, not through the outbox: the outbox holds SLA notifications of tickets.
    A failure does not undo the registration; the user can ask for a new link.
    """
    url = f"{confirm_url}?token={make_token(user=user)}"
    days = settings.EMAIL_CONFIRMATION_MAX_AGE_SECONDS / 86400
    message = EmailMessage(
        subject="[SLA Watchdog] Confirm your email address",
        body=(
            f"Someone registered the SLA Watchdog account {user.get_username()!r} with this "
            "email address. If it was you, confirm the address with a POST to this link "
            f"within {days:g} days:\n\n"
            f"  curl -X POST '{url}'\n\n"
            "(opening it in a browser shows whether it is still valid; it confirms "
            "nothing). If it was not you, ignore this email: you will get no other.\n"
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
    )
    try:
        prepare(message)
        message.send()
    except Exception:
        log.warning("could not send the confirmation link to user %s", user.pk, exc_info=True)
        return False
    return True
