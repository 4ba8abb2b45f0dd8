"""Ticket list pages: watchdog.pagination's keyset pages, with what is particular to tickets.

- The priority's rank has four values, so a list led by it is read one rank at a time
  (watchdog.pagination.keyset.parts): each part a range of ticket_owner_prio_idx
  (owner, rank, deadline, id), read forwards or backwards, so one index serves `priority`
  and `-priority` (urgency down, deadline up), and a cursor deep in one rank starts at its
  position.
- Ordering terms come from tickets.filters, which places a nullable key (`next_breach_at`)
  last going up and first going down; a list filtered to non-NULL values
  (`?breaching_within=`) pages by index ranges again.
- A cursor's datetime must have a UTC offset PostgreSQL's timestamptz takes.
- A user's list is the union of the tickets they own, are assigned and their teams' (one
  index each: ticket_owner_*, ticket_assignee_deadline_idx, ticket_team_deadline_idx),
  read branch by branch (tickets.models.visibility_branches); staff read one branch.
"""

from datetime import datetime
from typing import Any, ClassVar, Protocol, runtime_checkable

from django.conf import settings
from django.db.models import QuerySet
from rest_framework.request import Request
from rest_framework.views import APIView

from sla.enums import PRIORITY_RANK
from tickets.filters import offset_in_range, ordering_term
from watchdog.pagination.pages import KeysetPagination


@runtime_checkable
class BranchedView(Protocol):
    def visible_branches(self) -> list[QuerySet[Any]]:
        """The list's rows as one queryset per visibility branch, filtered as the list is;
        empty: read the list's queryset as it is."""


class TicketPagination(KeysetPagination):
    page_size = settings.API_PAGE_SIZE
    max_page_size = settings.API_MAX_PAGE_SIZE
    items = "tickets"
    split_keys: ClassVar[dict[str, tuple[int, ...]]] = {
        "priority_rank": tuple(sorted(PRIORITY_RANK.values()))
    }

    def paginate_queryset(
        self, queryset: QuerySet[Any], request: Request, view: APIView | None = None
    ) -> list[Any] | None:
        self.branches = view.visible_branches() if isinstance(view, BranchedView) else ()
        return super().paginate_queryset(queryset, request, view)

    def ordering_term(self, name: str, *, descending: bool) -> Any:
        return ordering_term(name, descending=descending)

    def datetime_key_ok(self, value: datetime) -> bool:
        return offset_in_range(value)
