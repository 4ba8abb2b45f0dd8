"""Team writes: the teams API and the admin call these (staff only, both)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from people.models import Team

TEAM_FIELDS = frozenset({"name", "lead", "escalation_contact"})


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
