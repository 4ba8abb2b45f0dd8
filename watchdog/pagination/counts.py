"""Counts that stop: a numbered page's total, counted up to a limit.

An exact COUNT(*) reads every matching row, and was most of what a first page cost at a
million tickets. A numbered page's `count` stops at API_COUNT_LIMIT + 1 rows (or one past
the page's end, if deeper), and `count_exact` says whether it is the total.
"""

from functools import cached_property
from typing import Any, cast

from django.core.paginator import Paginator
from django.db.models import QuerySet

# bigint: a limit past it is a database error, not a count.
BIGINT_MAX = 2**63 - 1


class CappedCountPaginator(Paginator[Any]):
    """Django's paginator, counting at most `limit` + 1 rows when `limit` is set.

    The +1 row tells "exactly `limit`" from "more": then `count` is `limit` + 1, which is
    enough for the page number checks and `has_next`, and `exact` is False.
    """

    limit: int | None = None

    @cached_property
    def count(self) -> int:
        if self.limit is None:
            return super().count
        # No ORDER BY: any limit + 1 rows will do, so the planner may read the smallest
        # index (an index-only scan of the owner's entries, stopped after limit + 1).
        queryset = cast(QuerySet[Any], self.object_list)
        return queryset.order_by()[: self.limit + 1].count()

    @property
    def exact(self) -> bool:
        return self.limit is None or self.count <= self.limit


def count_limit(page: str, page_size: int, *, limit: int) -> int | None:
    """How far numbered page `page` counts: `limit`, or to the end of a deeper page (whose
    OFFSET reads that far anyway). None: exactly, as `limit` 0 asks."""
    if limit == 0:
        return None
    try:
        number = int(page)
    except ValueError:
        number = 1  # the paginator answers 404 for it
    return min(max(limit, number * page_size), BIGINT_MAX - 1)


def reported_count(paginator: Paginator[Any]) -> tuple[int, bool]:
    """A numbered page's (`count`, `count_exact`): the limit, and False, past the limit."""
    if not isinstance(paginator, CappedCountPaginator) or paginator.exact:
        return paginator.count, True
    return cast(int, paginator.limit), False
