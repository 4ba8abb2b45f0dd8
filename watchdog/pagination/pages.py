"""List pages by page number (with a capped total) or by an opaque keyset cursor.

`?page=N` is DRF's page-number pagination: an OFFSET, so page N reads and throws away
(N-1) x page_size rows. Fine near the front, ruinous at page 10,000 of a million rows.
Its `count` is capped (counts.py).

Every page's `next` (and a cursor page's `previous`) instead carries `?cursor=`: the
ordering key of the last (first) row shown, and the page is read as keyset.py says, at
the same cost whatever the depth. Cursor pages carry no total (`count` is null): counting
a million rows costs more than the page itself, and a client walking `next` does not
need it.
"""

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import F, Model, QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from watchdog.pagination import keyset
from watchdog.pagination.counts import CappedCountPaginator, count_limit, reported_count
from watchdog.pagination.cursors import INVALID, InvalidCursor, decode_cursor, encode_cursor
from watchdog.pagination.numbered import StrictPageNumberPagination
from watchdog.pagination.schema import cursor_parameter, describe_page


class KeysetPagination(StrictPageNumberPagination):
    """Numbered pages with a capped count; `next` and `previous` links by cursor.

    A subclass names what is particular to its list: `items` (for the schema),
    `split_keys`, and how it orders and which datetimes its database takes.
    """

    page_size: int
    django_paginator_class = CappedCountPaginator
    cursor_query_param = "cursor"
    items = "rows"
    # Leading ordering keys with a handful of values, each listed: read value by value.
    split_keys: ClassVar[Mapping[str, tuple[int, ...]]] = {}
    # The list as a union of branches, each read on its own (keyset.read); a subclass sets
    # them per request in paginate_queryset. Their union must be the queryset, which
    # numbered pages past the first and counts still read.
    branches: Sequence[QuerySet[Any]] = ()

    def ordering_term(self, name: str, *, descending: bool) -> Any:
        """`name` as an ORDER BY term: NULL after every value, as keyset.beyond counts it."""
        return F(name).desc(nulls_first=True) if descending else F(name).asc(nulls_last=True)

    def datetime_key_ok(self, value: datetime) -> bool:
        """Whether a cursor's datetime may go to the database: aware, by default."""
        return value.utcoffset() is not None

    def paginate_queryset(
        self, queryset: QuerySet[Any], request: Request, view: APIView | None = None
    ) -> list[Any] | None:
        self.request = self.the_request = request
        self.ordering, queryset = keyset.total_ordering(
            queryset, lambda name, desc: self.ordering_term(name, descending=desc)
        )
        self.fields = [keyset.key_field(queryset, name) for name, _ in self.ordering]
        excluded = keyset.nulls_excluded(queryset.query.where)
        self.nullable = [
            field.null and name not in excluded
            for field, (name, _) in zip(self.fields, self.ordering, strict=True)
        ]
        self.cursor_page = False
        raw = request.query_params.get(self.cursor_query_param)
        first_page = request.query_params.get(self.page_query_param, "1") == "1"
        by_parts = self.ordering[0][0] in self.split_keys or len(self.branches) > 1
        if raw is None and first_page and by_parts:
            return self._first_page_by_parts(queryset)
        if raw is None:
            rows = super().paginate_queryset(queryset, request, view)
            self.rows = list(rows or [])
            self.has_next = self.page is not None and self.page.has_next()
            return self.rows
        return self._paginate_by_cursor(queryset, raw)

    def _first_page_by_parts(self, queryset: QuerySet[Any]) -> list[Any]:
        """Page 1, with its count, but its rows read as keyset.parts says."""
        size = self.get_page_size(self.the_request) or self.page_size
        paginator = CappedCountPaginator(queryset, size)
        paginator.limit = count_limit("1", size, limit=settings.API_COUNT_LIMIT)
        self.page = paginator.page(1)  # counts; the rows below replace its OFFSET query
        parts = keyset.parts(
            self.ordering, None, backwards=False, nullable=[], split_keys=self.split_keys
        )
        rows = keyset.read(queryset, parts, size, branches=self.branches, ordering=self.ordering)
        self.has_next = len(rows) > size
        self.rows = rows[:size]
        return self.rows

    def _paginate_by_cursor(self, queryset: QuerySet[Any], raw: str) -> list[Any]:
        size = self.get_page_size(self.the_request) or self.page_size
        keys, backwards = self._decode(raw)
        reading = [(name, desc != backwards) for name, desc in self.ordering]
        if backwards:
            queryset = queryset.order_by(
                *(self.ordering_term(name, descending=desc) for name, desc in reading)
            )
        parts = keyset.parts(
            self.ordering,
            keys,
            backwards=backwards,
            nullable=self.nullable,
            split_keys=self.split_keys,
        )
        rows = keyset.read(queryset, parts, size, branches=self.branches, ordering=reading)
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
            paginator.limit = count_limit(raw, paginator.per_page, limit=settings.API_COUNT_LIMIT)
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
        keys = [getattr(row, name) for name, _ in self.ordering]
        cursor = encode_cursor(self.ordering, keys, backwards=backwards)
        return replace_query_param(url, self.cursor_query_param, cursor)

    def get_paginated_response(self, data: Any) -> Response:
        count: int | None = None
        exact: bool | None = None
        if not self.cursor_page and self.page is not None:
            count, exact = reported_count(self.page.paginator)
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

    def _decode(self, raw: str) -> tuple[list[Any], bool]:
        """The cursor's key values, typed; a 400 for anything this list did not make."""
        try:
            keys, backwards = decode_cursor(raw, self.ordering)
            typed = [
                keyset.typed_key(field, value, datetime_ok=self.datetime_key_ok)
                for field, value in zip(self.fields, keys, strict=True)
            ]
        except InvalidCursor as refusal:
            raise ValidationError({self.cursor_query_param: [str(refusal)]}) from None
        if any(key is None and not null for key, null in zip(typed, self.nullable, strict=True)):
            raise ValidationError({self.cursor_query_param: [INVALID]})  # NULL filtered out
        return typed, backwards

    # --- schema -------------------------------------------------------------------------

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        described = super().get_paginated_response_schema(schema)
        return describe_page(described, items=self.items)

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        return [
            *super().get_schema_operation_parameters(view),
            cursor_parameter(self.cursor_query_param),
        ]
