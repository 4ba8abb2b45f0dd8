"""Ticket list pages: by page number (with a total) or by an opaque keyset cursor.

`?page=N` is DRF's page-number pagination: an OFFSET, so page N reads and throws away
(N-1) x page_size rows, plus a COUNT(*) over every matching ticket. Fine near the front,
ruinous at page 10,000 of a million tickets.

Every page's `next` (and a cursor page's `previous`) instead carries `?cursor=`: the
ordering key of the last (first) row shown. The next page is then "rows after that key",
`WHERE deadline >= %s AND (deadline > %s OR (deadline = %s AND id > %s)) ORDER BY
deadline, id LIMIT n+1`: a range scan of ticket_owner_deadline_idx starting at the key,
whatever the depth. The leading `>=` is what gives the planner its index bound (an OR
alone does not); the OR only discards the ties on the first column. Rows inserted or
deleted elsewhere in the list move no boundary, so following `next` never repeats or
skips a ticket, which OFFSET does whenever an earlier row appears or disappears.

Cursor pages carry no total (`count` is null): counting a million rows costs more than
the page itself, and a client walking `next` does not need it.
"""

import base64
import binascii
import json
from collections import OrderedDict
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Field, Model, Q, QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

# (field name, descending)
Ordering = list[tuple[str, bool]]

_INT_RANGE = (-(2**63), 2**63 - 1)  # bigint: anything wider is a database error, not a 400
_INVALID = "Invalid cursor."
# Ours are under 200 characters; a long one is nothing we made (and "[[[[..." would
# otherwise reach json's recursion limit).
_MAX_CURSOR_LENGTH = 1000


class TicketPagination(PageNumberPagination):
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
        self.cursor_page = False
        raw = request.query_params.get(self.cursor_query_param)
        if raw is None:
            rows = super().paginate_queryset(queryset, request, view)
            self.rows = list(rows or [])
            self.has_next = self.page is not None and self.page.has_next()
            return self.rows
        return self._paginate_by_cursor(queryset, raw)

    def _paginate_by_cursor(self, queryset: QuerySet[Any], raw: str) -> list[Any]:
        size = self.get_page_size(self.the_request) or self.page_size
        keys, backwards = self._decode(raw)
        if backwards:
            queryset = queryset.order_by(
                *(f"{'' if desc else '-'}{name}" for name, desc in self.ordering)
            )
        rows = list(queryset.filter(_after(self.ordering, keys, backwards=backwards))[: size + 1])
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
        count = None if self.cursor_page or self.page is None else self.page.paginator.count
        return Response(
            OrderedDict(
                [
                    ("count", count),
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
        return [_typed(field, value) for field, value in zip(self.fields, keys, strict=True)], (
            backwards
        )

    # --- schema -------------------------------------------------------------------------

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        described = super().get_paginated_response_schema(schema)
        described["properties"]["count"] = {
            "type": "integer",
            "nullable": True,
            "example": 123,
            "description": (
                "Total matching tickets on page-numbered pages (the first page included); "
                "null on pages reached by `cursor`, which skip that count."
            ),
        }
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
                "schema": {"type": "string"},
            },
        ]


def _total_ordering(queryset: QuerySet[Any]) -> tuple[Ordering, QuerySet[Any]]:
    """The queryset's ordering as (name, descending) pairs, made total by `id` if need be."""
    ordering: Ordering = []
    for term in queryset.query.order_by:
        if not isinstance(term, str):
            raise TypeError(f"keyset pagination needs named ordering fields, not {term!r}")
        name = term.lstrip("-")
        ordering.append(("id" if name == "pk" else name, term.startswith("-")))
    if "id" not in {name for name, _ in ordering}:
        ordering.append(("id", False))
        queryset = queryset.order_by(*(f"{'-' if d else ''}{n}" for n, d in ordering))
    return ordering, queryset


def _field(queryset: QuerySet[Any], name: str) -> Field[Any, Any]:
    try:
        field: Field[Any, Any] = queryset.model._meta.get_field(name)
        return field
    except FieldDoesNotExist:
        output: Field[Any, Any] = queryset.query.annotations[name].output_field
        return output


def _typed(field: Field[Any, Any], value: Any) -> Any:
    if value is None or isinstance(value, bool | dict | list):
        raise ValidationError({"cursor": [_INVALID]})
    try:
        typed = field.to_python(value)
    except (DjangoValidationError, TypeError, ValueError, OverflowError):
        raise ValidationError({"cursor": [_INVALID]}) from None
    if isinstance(typed, datetime) and typed.tzinfo is None:
        raise ValidationError({"cursor": [_INVALID]})
    if isinstance(typed, int) and not _INT_RANGE[0] <= typed <= _INT_RANGE[1]:
        raise ValidationError({"cursor": [_INVALID]})
    if not isinstance(typed, datetime | int | str):
        raise ValidationError({"cursor": [_INVALID]})
    return typed


def _after(ordering: Ordering, keys: list[Any], *, backwards: bool) -> Q:
    """Rows strictly after `keys` in `ordering` (before them when `backwards`).

    Lexicographic: a > k on the first column, or equal on it and after on the rest.
    Spelt out as ORs, which unlike PostgreSQL's row comparison `(a, b) > (x, y)` also
    works for mixed directions (`-priority, deadline, id`) and on SQLite.
    """
    after = Q()
    for depth, ((name, desc), key) in enumerate(zip(ordering, keys, strict=True)):
        lookup = "lt" if desc != backwards else "gt"
        ties = {n: k for (n, _), k in zip(ordering[:depth], keys[:depth], strict=True)}
        after |= Q(**ties, **{f"{name}__{lookup}": key})
    first, desc = ordering[0]
    bound = Q(**{f"{first}__{'lte' if desc != backwards else 'gte'}": keys[0]})
    return bound & after
