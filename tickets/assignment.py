"""Who may put a ticket in whose hands, and which hands may hold it.

The rules (docs/api.md, "Assignees and teams"):

- The owner and staff set `assignee` and `team`.
- A member of the ticket's team may take it (assignee: themselves), and an assignee may
  hand it back (assignee: null); nothing else, and never the team: 403.
- The ticket's assignee must be able to see it without the assignment being its only
  reason: with a team, a member of that team, or staff: else 400 on `assignee`.
- A user puts a ticket only in a team they belong to (staff: any team): else 400 on
  `team` (the API's team field already knows only the caller's teams, so another team's
  id is "does not exist", telling nothing of it).

Checked by tickets.services on the row it has locked, so that two edits cannot each pass
on what the other is about to change. `actor` None is a trusted caller (the admin, which
is staff only, and code).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from people.models import Team

FIELDS = frozenset({"assignee", "team"})


class AssignmentForbidden(Exception):
    """The caller may see the ticket but not make this change (the API's 403)."""


class AssignmentInvalid(Exception):
    """The change is one nobody may make: an assignee or a team that does not fit (400)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def check(
    *,
    actor: User | None,
    owner_id: int,
    old_assignee_id: int | None,
    old_team: Team | None,
    assignee: User | None,
    team: Team | None,
) -> None:
    """Refuse the change from (old_assignee_id, old_team) to (assignee, team) if `actor`
    may not make it (AssignmentForbidden) or if nobody may (AssignmentInvalid)."""
    assignee_id = assignee.pk if assignee is not None else None
    team_changed = (team.pk if team is not None else None) != (
        old_team.pk if old_team is not None else None
    )
    assignee_changed = assignee_id != old_assignee_id
    if not (team_changed or assignee_changed):
        return
    if actor is not None and not (actor.is_staff or actor.pk == owner_id):
        _check_helper(actor, old_assignee_id, old_team, assignee_id, team_changed=team_changed)
    if team_changed and team is not None and _outsider(actor, team):
        raise AssignmentInvalid("team", "You may only put a ticket in a team you belong to.")
    if assignee is not None:
        if not assignee.is_active:
            raise AssignmentInvalid("assignee", "This user's account is disabled.")
        if team is not None and not assignee.is_staff and not _is_member(assignee, team):
            raise AssignmentInvalid(
                "assignee", "The assignee must be a member of the ticket's team (or staff)."
            )


def _check_helper(
    actor: User,
    old_assignee_id: int | None,
    old_team: Team | None,
    assignee_id: int | None,
    *,
    team_changed: bool,
) -> None:
    """An assignee or team member (not the owner, not staff): take it, or hand it back."""
    if team_changed:
        raise AssignmentForbidden("Only the ticket's owner and staff may change its team.")
    takes_it = assignee_id == actor.pk and old_team is not None and _is_member(actor, old_team)
    hands_back = assignee_id is None and old_assignee_id == actor.pk
    if not (takes_it or hands_back):
        raise AssignmentForbidden(
            "Only the ticket's owner and staff may assign it to someone else; a member of "
            "its team may take it, and its assignee may hand it back."
        )


def _outsider(actor: User | None, team: Team) -> bool:
    """A caller who may not put tickets in `team`: neither trusted, staff, nor a member."""
    return actor is not None and not actor.is_staff and not _is_member(actor, team)


def _is_member(user: User, team: Team) -> bool:
    return team.members.filter(pk=user.pk).exists()
