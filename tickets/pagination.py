"""Ticket list pages: by page number (with a total) or by an opaque keyset cursor.

`?page=N` is DRF's page-number pagination: an OFFSET, so page N reads and throws away
(N-1) x page_size rows. Fine near the front, ruinous at page 10,000 of a million tickets.
Its `count` stops at API_COUNT_LIMIT + 1 rows (or one past the page's end, if deeper) and
`count_exact` says whether it is the total: an exact COUNT(*) reads every matching ticket,
and was most of what a first page cost at a million.

Every page's `next` (and a cursor page's `previous`) instead carries `?cursor=`: the
ordering key of the last (first) row shown. The next page is then "rows after that key",
`WHERE deadline >= %s AND (deadline > %s OR (deadline = %s AND id > %s)) ORDER BY
deadline, id LIMIT n+1`: a range scan of ticket_owner_deadline_idx starting at the key,
whatever the depth. The leading `>=` is what gives the planner its index bound (an OR
alone does not); the OR only discards the ties on the first column. Rows inserted or
deleted elsewhere in the list move no boundary, so following `next` never repeats or
skips a ticket, which OFFSET does whenever an earlier row appears or disappears.

A leading key with few values (the priority's rank: four) is read one value at a time
(`_parts`): the rest of the cursor's rank from its (deadline, id) on, then each following
rank from its start, until the page is full; the first page likewise, from the first
rank. Each part is a range of one index, (owner, rank, deadline, id), read forwards or
backwards, whichever way the list runs: so one index serves `priority` and `-priority`
(urgency down, deadline up), which no single btree range can, and a cursor deep in one
rank starts at its position instead of reading the rank from its start. A page costs one
query, or one more per rank it reaches into.

A nullable key (`next_breach_at`) counts NULL as later than every value, as
tickets.filters orders it: last going up, first going down. Its cursor may hold null, and
"after" it includes (or, going down, excludes) the NULL rows. Those ORs cost the index its
range bound, so a list filtered to non-NULL values (`?breaching_within=`) drops them: its
cursor pages are again index ranges that start at the cursor.

Cursor pages carry no total (`count` is null): counting a million rows costs more than
the page itself, and a client walking `next` does not need it.
"""

import base64
import binascii
import json
from collections import OrderedDict
from datetime import datetime
from functools import cached_property
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.paginator import Paginator
from django.db.models import F, Field, GeneratedField, Model, OrderBy, Q, QuerySet
from django.db.models.lookups import IsNull
from django.db.models.sql.where import AND, WhereNode
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from sla.enums import PRIORITY_RANK
from tickets.filters import offset_in_range, ordering_term
from watchdog.pagination import StrictPageNumberPagination

# (field name, descending)
Ordering = list[tuple[str, bool]]

# Ordering keys with a handful of values, each listed: pages are read value by value
# (see _parts).
SPLIT_KEYS: dict[str, tuple[int, ...]] = {"priority_rank": tuple(sorted(PRIORITY_RANK.values()))}
_INT_RANGE = (-(2**63), 2**63 - 1)  # bigint: anything wider is a database error, not a 400
_INVALID = "Invalid cursor."
# Ours are under 200 characters; a long one is nothing we made (and "[[[[..." would
# otherwise reach json's recursion limit).
_MAX_CURSOR_LENGTH = 1000


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


def count_limit(page: str, page_size: int) -> int | None:
    """How far a numbered page counts: API_COUNT_LIMIT, or to the end of a deeper page
    (whose OFFSET reads that far anyway). None: exactly."""
    if settings.API_COUNT_LIMIT == 0:
        return None
    try:
        number = int(page)
    except ValueError:
        number = 1  # page() answers 404 for it
    return min(max(settings.API_COUNT_LIMIT, number * page_size), _INT_RANGE[1] - 1)


class TicketPagination(StrictPageNumberPagination):
    django_paginator_class = CappedCountPaginator
    page_size = settings.API_PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = settings.API_MAX_PAGE_SIZE
    cursor_query_param = "cursor"

    def paginate_queryset(
        self, queryset: QuerySet[Any], request: Request, view: APIView | None = None
    ) -> list[Any] | None:
        self.request = self.the_request = request
        self.ordering, queryset = _total_ordering(queryset)
        self.fields = [_field(queryset, name) for name, _ in self.ordering]
        excluded = _nulls_excluded(queryset.query.where)
        self.nullable = [
            field.null and name not in excluded
            for field, (name, _) in zip(self.fields, self.ordering, strict=True)
        ]
        self.cursor_page = False
        raw = request.query_params.get(self.cursor_query_param)
        first_page = request.query_params.get(self.page_query_param, "1") == "1"
        if raw is None and first_page and self.ordering[0][0] in SPLIT_KEYS:
            return self._first_page_by_parts(queryset)
        if raw is None:
            rows = super().paginate_queryset(queryset, request, view)
            self.rows = list(rows or [])
            self.has_next = self.page is not None and self.page.has_next()
            return self.rows
        return self._paginate_by_cursor(queryset, raw)

    def _first_page_by_parts(self, queryset: QuerySet[Any]) -> list[Any]:
        """Page 1, with its count, but its rows read as _parts says."""
        size = self.get_page_size(self.the_request) or self.page_size
        paginator = CappedCountPaginator(queryset, size)
        paginator.limit = count_limit("1", size)
        self.page = paginator.page(1)  # counts; the rows below replace its OFFSET query
        rows = _read(queryset, _parts(self.ordering, None, backwards=False, nullable=[]), size)
        self.has_next = len(rows) > size
        self.rows = rows[:size]
        return self.rows

    def _paginate_by_cursor(self, queryset: QuerySet[Any], raw: str) -> list[Any]:
        size = self.get_page_size(self.the_request) or self.page_size
        keys, backwards = self._decode(raw)
        if backwards:
            queryset = queryset.order_by(
                *(ordering_term(name, descending=not desc) for name, desc in self.ordering)
            )
        parts = _parts(self.ordering, keys, backwards=backwards, nullable=self.nullable)
        rows = _read(queryset, parts, size)
        more = len(rows) > size
        rows = rows[:size]
        if backwards:
            rows.reverse()
        self.cursor_page = True
        self.rows = rows
        # Going forwards, the cursor's own row lies behind us; going backwards, ahead.
        self.has_next = more if not backwards else bool(rows)
        self.has_previous = bool(rows) if not backwards else more
        return rows

    def get_page_number(self, request: Request, paginator: Paginator[Any]) -> Any:
        raw = request.query_params.get(self.page_query_param) or "1"
        if isinstance(paginator, CappedCountPaginator) and raw not in self.last_page_strings:
            paginator.limit = count_limit(raw, paginator.per_page)
        return super().get_page_number(request, paginator)

    # --- links --------------------------------------------------------------------------

    def get_next_link(self) -> str | None:
        if not self.has_next or not self.rows:
            return None
        return self._link(self.rows[-1], backwards=False)

    def get_previous_link(self) -> str | None:
        if not self.cursor_page:
            return super().get_previous_link()  # page N-1, as before
        if not self.has_previous or not self.rows:
            return None
        return self._link(self.rows[0], backwards=True)

    def _link(self, row: Model, *, backwards: bool) -> str:
        url = remove_query_param(self.the_request.build_absolute_uri(), self.page_query_param)
        return replace_query_param(url, self.cursor_query_param, self._encode(row, backwards))

    def get_paginated_response(self, data: Any) -> Response:
        count, exact = None, None
        if not self.cursor_page and self.page is not None:
            paginator = self.page.paginator
            exact = not isinstance(paginator, CappedCountPaginator) or paginator.exact
            count = paginator.count if exact else cast(CappedCountPaginator, paginator).limit
        return Response(
            OrderedDict(
                [
                    ("count", count),
                    ("count_exact", exact),
                    ("next", self.get_next_link()),
                    ("previous", self.get_previous_link()),
                    ("results", data),
                ]
            )
        )

    # --- the cursor ---------------------------------------------------------------------

    def _signature(self) -> list[str]:
        return [f"{'-' if desc else ''}{name}" for name, desc in self.ordering]

    def _encode(self, row: Model, backwards: bool) -> str:
        keys = [getattr(row, name) for name, _ in self.ordering]
        payload = {
            "o": self._signature(),
            "k": [k.isoformat() if isinstance(k, datetime) else k for k in keys],
            "r": backwards,
        }
        text = json.dumps(payload, separators=(",", ":"))
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    def _decode(self, raw: str) -> tuple[list[Any], bool]:
        """The cursor's key values, typed; a 400 for anything this list did not make."""
        if len(raw) > _MAX_CURSOR_LENGTH:
            raise ValidationError({self.cursor_query_param: [_INVALID]})
        try:
            text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
            payload = json.loads(text)
        except (binascii.Error, ValueError, RecursionError):
            raise ValidationError({self.cursor_query_param: [_INVALID]}) from None
        if not isinstance(payload, dict) or payload.get("o") != self._signature():
            # Also a cursor from another ordering: its key would mean nothing here.
            raise ValidationError(
                {self.cursor_query_param: [_INVALID + " It must come from a link of this list."]}
            )
        keys, backwards = payload.get("k"), payload.get("r", False)
        if not isinstance(keys, list) or len(keys) != len(self.fields):
            raise ValidationError({self.cursor_query_param: [_INVALID]})
        if not isinstance(backwards, bool):
            raise ValidationError({self.cursor_query_param: [_INVALID]})
        typed = [_typed(field, value) for field, value in zip(self.fields, keys, strict=True)]
        if any(key is None and not null for key, null in zip(typed, self.nullable, strict=True)):
            raise ValidationError({self.cursor_query_param: [_INVALID]})  # NULL filtered out
        return typed, backwards

    # --- schema -------------------------------------------------------------------------

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        described = super().get_paginated_response_schema(schema)
        described["properties"]["count"] = {
            "type": "integer",
            "nullable": True,
            "example": 123,
            "description": (
                "Matching tickets, on page-numbered pages (the first page included), counted "
                "up to API_COUNT_LIMIT (10,000 by default) or to the end of the page asked "
                "for if deeper: when `count_exact` is false there are more than `count`. "
                "Null on pages reached by `cursor`, which skip the count."
            ),
        }
        described["properties"]["count_exact"] = {
            "type": "boolean",
            "nullable": True,
            "example": True,
            "description": (
                "True when `count` is the number of matching tickets; false when there are "
                "more (the count stopped at its limit); null on `cursor` pages."
            ),
        }
        described["required"] = [*described.get("required", []), "count_exact"]
        described["properties"]["next"]["description"] = (
            "The following page, by `cursor`: cheap at any depth."
        )
        described["properties"]["previous"]["description"] = (
            "The page before: by `cursor` on cursor pages, by `page` on numbered ones."
        )
        return described

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        return [
            *super().get_schema_operation_parameters(view),
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": (
                    "Opaque position from a `next` or `previous` link; takes precedence over "
                    "`page`. Keep the same `ordering` as the link it came from. Such pages "
                    "have `count` null."
                ),
                # Unpadded base64url, as _encode writes it.
                "schema": {
                    "type": "string",
                    "pattern": "^[A-Za-z0-9_-]+$",
                    "minLength": 1,
                    "maxLength": _MAX_CURSOR_LENGTH,
                },
            },
        ]


def _total_ordering(queryset: QuerySet[Any]) -> tuple[Ordering, QuerySet[Any]]:
    """The queryset's ordering as (name, descending) pairs, made total by `id` if need be."""
    ordering: Ordering = []
    for term in queryset.query.order_by:
        if isinstance(term, OrderBy) and isinstance(term.expression, F):
            name, descending = term.expression.name, term.descending
        elif isinstance(term, str):
            name, descending = term.lstrip("-"), term.startswith("-")
        else:
            raise TypeError(f"keyset pagination needs named ordering fields, not {term!r}")
        ordering.append(("id" if name == "pk" else name, descending))
    if "id" not in {name for name, _ in ordering}:
        ordering.append(("id", False))
        queryset = queryset.order_by(*(ordering_term(n, descending=d) for n, d in ordering))
    return ordering, queryset


def _nulls_excluded(where: WhereNode) -> set[str]:
    """Columns the WHERE clause requires to be non-NULL (`name__isnull=False`, ANDed)."""
    if where.negated or where.connector != AND:
        return set()
    found: set[str] = set()
    for child in where.children:
        if isinstance(child, WhereNode):
            found |= _nulls_excluded(child)
        elif isinstance(child, IsNull) and child.rhs is False:
            found.add(getattr(getattr(child.lhs, "target", None), "name", ""))
    return found


def _field(queryset: QuerySet[Any], name: str) -> Field[Any, Any]:
    try:
        field: Field[Any, Any] = queryset.model._meta.get_field(name)
    except FieldDoesNotExist:
        output: Field[Any, Any] = queryset.query.annotations[name].output_field
        return output
    # A stored generated column (priority_rank) types its values by its output field.
    if isinstance(field, GeneratedField) and field.output_field is not None:
        generated: Field[Any, Any] = field.output_field
        return generated
    return field


def _typed(field: Field[Any, Any], value: Any) -> Any:
    if value is None and field.null:
        return None
    if value is None or isinstance(value, bool | dict | list):
        raise ValidationError({"cursor": [_INVALID]})
    try:
        typed = field.to_python(value)
    except (DjangoValidationError, TypeError, ValueError, OverflowError):
        raise ValidationError({"cursor": [_INVALID]}) from None
    if isinstance(typed, datetime) and not offset_in_range(typed):
        raise ValidationError({"cursor": [_INVALID]})  # naive, or beyond PostgreSQL's range
    if isinstance(typed, int) and not _INT_RANGE[0] <= typed <= _INT_RANGE[1]:
        raise ValidationError({"cursor": [_INVALID]})
    if not isinstance(typed, datetime | int | str):
        raise ValidationError({"cursor": [_INVALID]})
    return typed


def _read(queryset: QuerySet[Any], parts: list[Q], size: int) -> list[Any]:
    """Up to size + 1 rows (one more tells whether there is a next page), part by part."""
    rows: list[Any] = []
    for part in parts:
        rows += queryset.filter(part)[: size + 1 - len(rows)]
        if len(rows) > size:
            break
    return rows


def _parts(
    ordering: Ordering, keys: list[Any] | None, *, backwards: bool, nullable: list[bool]
) -> list[Q]:
    """The rows after `keys` (every row when None), as disjoint parts in list order.

    One part, as a rule. For a leading key of SPLIT_KEYS, one part per value: the rest of
    the cursor's value, after its position in the following keys, then each value beyond
    it, whole. With that key fixed, each part is in the order of the following keys alone,
    which one index serves in either direction.
    """
    first, desc = ordering[0]
    values = SPLIT_KEYS.get(first)
    if values is None or len(ordering) == 1:
        return [
            Q() if keys is None else _after(ordering, keys, backwards=backwards, nullable=nullable)
        ]
    up = desc == backwards  # the list runs up the values
    beyond = sorted(values, reverse=not up)
    parts = []
    if keys is not None:
        key = keys[0]
        rest = _after(ordering[1:], keys[1:], backwards=backwards, nullable=nullable[1:])
        parts.append(Q(**{first: key}) & rest)
        beyond = [v for v in beyond if (v > key if up else v < key)]
    return parts + [Q(**{first: v}) for v in beyond]


def _after(ordering: Ordering, keys: list[Any], *, backwards: bool, nullable: list[bool]) -> Q:
    """Rows strictly after `keys` in `ordering` (before them when `backwards`).

    Lexicographic: a > k on the first column, or equal on it and after on the rest.
    Spelt out as ORs, which unlike PostgreSQL's row comparison `(a, b) > (x, y)` also
    works for mixed directions (`-priority, deadline, id`) and on SQLite.
    """
    after = Q()
    for depth, ((name, desc), key) in enumerate(zip(ordering, keys, strict=True)):
        # Filtering on None is IS NULL, so ties on a NULL key need no special case.
        ties = Q(**{n: k for (n, _), k in zip(ordering[:depth], keys[:depth], strict=True)})
        after |= ties & _beyond(name, key, up=desc == backwards, nullable=nullable[depth])
    (first, desc), key = ordering[0], keys[0]
    return _beyond(first, key, up=desc == backwards, nullable=nullable[0], inclusive=True) & after


def _beyond(name: str, key: Any, *, up: bool, nullable: bool, inclusive: bool = False) -> Q:
    """Rows whose `name` is above `key` (`up`) or below it, NULL being above every value."""
    op = ("gt" if up else "lt") + ("e" if inclusive else "")
    if not nullable:
        return Q(**{f"{name}__{op}": key})
    null = Q(**{f"{name}__isnull": True})
    if key is None:
        if up:
            return null if inclusive else Q(pk__in=[])  # nothing is above NULL
        return Q() if inclusive else ~null
    beyond = Q(**{f"{name}__{op}": key})
    return (beyond | null) if up else beyond
