"""Team and profile writes: the API and the admin call these."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from notifications import outbox
from people.models import Profile, Team
from people.validation import validate_quiet_hours

TEAM_FIELDS = frozenset({"name", "lead", "escalation_contact"})
PROFILE_FIELDS = frozenset(
    {"time_zone", "quiet_hours_start", "quiet_hours_end", "quiet_calendar", "email_enabled"}
)


def create_team(*, name: str, members: Iterable[User] = (), **fields: Any) -> Team:
    _refuse_unknown(fields)
    with transaction.atomic():
        team = Team.objects.create(name=name, **fields)
        team.members.set(members)
    return team


def update_team(*, team: Team, members: Iterable[User] | None = None, **changes: Any) -> Team:
    """Change a team's fields and, when given, replace its members.

    A member taken off keeps the tickets assigned to them (they still see those, as their
    assignee) but no longer sees the team's other tickets.
    """
    _refuse_unknown(changes)
    with transaction.atomic():
        for field, value in changes.items():
            setattr(team, field, value)
        team.save()
        if members is not None:
            team.members.set(members)
    return team


def _refuse_unknown(fields: dict[str, Any]) -> None:
    unknown = set(fields) - TEAM_FIELDS - {"name"}
    if unknown:
        raise TypeError(f"not team fields: {', '.join(sorted(unknown))}")


def profile_of(user: User) -> Profile:
    """The user's profile, made with the defaults (UTC, no quiet hours, email on) on first use.

    get_or_create: two first requests at once make one row (the loser reads the winner's).
    """
    profile, _ = Profile.objects.get_or_create(user=user)
    return profile


def update_profile(*, user: User, now: datetime | None = None, **changes: Any) -> Profile:
    """Change a user's profile; quiet hours are checked as they will be, both ends together.

    The escalation emails held for the user's quiet hours follow the new ones: they wait
    until those end (at once if `now` is not quiet any more), and are cancelled if the
    user turned escalation emails off."""
    unknown = set(changes) - PROFILE_FIELDS
    if unknown:
        raise TypeError(f"not profile fields: {', '.join(sorted(unknown))}")
    now = now or timezone.now()
    with transaction.atomic():
        profile_of(user)
        profile = Profile.objects.select_for_update().get(user=user)
        for field, value in changes.items():
            setattr(profile, field, value)
        validate_quiet_hours(profile.quiet_hours_start, profile.quiet_hours_end)
        profile.save()
        follow_quiet_hours(profile, now=now)
    return profile


def follow_quiet_hours(profile: Profile, *, now: datetime) -> None:
    """What is held for the profile's user waits for their quiet hours as they are now
    (sent at once if they are not quiet now), or is cancelled if they want no escalation
    email. The API's profile update and the admin's both call it."""
    if not profile.email_enabled:
        outbox.cancel_held_for(user_id=profile.user_id)
        return
    hours = profile.quiet_hours()
    outbox.hold_again(user_id=profile.user_id, until=hours.until(now) if hours else None, now=now)
