"""Keyset paging: "the rows after this key" as query conditions.

A page's `next` carries the ordering key of its last row; the next page is then the rows
after that key, `WHERE deadline >= %s AND (deadline > %s OR (deadline = %s AND id > %s))
ORDER BY deadline, id LIMIT n+1`: a range scan of an index on (deadline, id) starting at
the key, whatever the depth. The leading `>=` is what gives the planner its index bound
(an OR alone does not); the OR only discards the ties on the first column. Rows inserted
or deleted elsewhere in the list move no boundary, so following `next` never repeats or
skips a row, which OFFSET does whenever an earlier row appears or disappears.

A leading key with few values (a "split key", such as a priority's rank) is read one
value at a time (`parts`): the rest of the cursor's value from its position in the
following keys on, then each following value from its start, until the page is full; the
first page likewise, from the first value. Each part is a range of one index, (value,
following keys), read forwards or backwards, whichever way the list runs: so one index
serves both directions of a list ordered by that key then another ascending one, which
no single btree range can, and a cursor deep in one value starts at its position instead
of reading the value from its start. A page costs one query, or one more per value it
reaches into.

A list whose rows are "any of these" (a user's own tickets, those assigned to them, their
teams') is read branch by branch (`branches`, one queryset each, with the list's filters
but not the OR of the others): under an OR the planner either gathers every row of every
branch and sorts them, or walks the whole table's index in list order hoping to meet the
branches' rows early; each branch alone is a range of its own index, ordered and limited.
Each part then costs one query per branch, whose up to size + 1 rows are merged in list
order (a row found by two branches counted once): the first size + 1 rows of the union
are among them, since each of them is among the first size + 1 of its own branch.

A nullable key counts NULL as later than every value (the list must order it so: last
going up, first going down). Its cursor may hold null, and "after" it includes (or, going
down, excludes) the NULL rows. Those ORs cost the index its range bound, so a list
filtered to non-NULL values (`name__isnull=False`) drops them.
"""

import functools
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import F, Field, GeneratedField, OrderBy, Q, QuerySet
from django.db.models.lookups import IsNull
from django.db.models.sql.where import AND, WhereNode

from watchdog.pagination.counts import BIGINT_MAX
from watchdog.pagination.cursors import INVALID, InvalidCursor

# (field name, descending)
Ordering = list[tuple[str, bool]]
# Ordering keys with a handful of values, each listed: pages are read value by value.
SplitKeys = Mapping[str, tuple[int, ...]]
BIGINT_MIN = -(2**63)


def total_ordering(
    queryset: QuerySet[Any], term: Callable[[str, bool], Any]
) -> tuple[Ordering, QuerySet[Any]]:
    """The queryset's ordering as (name, descending) pairs, made total by `id` if need be
    (then ordered again, by `term(name, descending)` for each key)."""
    ordering: Ordering = []
    for order in queryset.query.order_by:
        if isinstance(order, OrderBy) and isinstance(order.expression, F):
            name, descending = order.expression.name, order.descending
        elif isinstance(order, str):
            name, descending = order.lstrip("-"), order.startswith("-")
        else:
            raise TypeError(f"keyset pagination needs named ordering fields, not {order!r}")
        ordering.append(("id" if name == "pk" else name, descending))
    if "id" not in {name for name, _ in ordering}:
        ordering.append(("id", False))
        queryset = queryset.order_by(*(term(n, d) for n, d in ordering))
    return ordering, queryset


def nulls_excluded(where: WhereNode) -> set[str]:
    """Columns the WHERE clause requires to be non-NULL (`name__isnull=False`, ANDed)."""
    if where.negated or where.connector != AND:
        return set()
    found: set[str] = set()
    for child in where.children:
        if isinstance(child, WhereNode):
            found |= nulls_excluded(child)
        elif isinstance(child, IsNull) and child.rhs is False:
            found.add(getattr(getattr(child.lhs, "target", None), "name", ""))
    return found


def key_field(queryset: QuerySet[Any], name: str) -> Field[Any, Any]:
    """The field typing ordering key `name`: a column, an annotation or a generated column."""
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


def typed_key(
    field: Field[Any, Any], value: Any, *, datetime_ok: Callable[[datetime], bool]
) -> Any:
    """A cursor's key value (as JSON has it) as the query takes it, or InvalidCursor.

    Only what the database can compare without an error: datetimes that `datetime_ok`
    accepts, bigints, strings, and None for a nullable field.
    """
    if value is None and field.null:
        return None
    if value is None or isinstance(value, bool | dict | list):
        raise InvalidCursor(INVALID)
    try:
        typed = field.to_python(value)
    except (DjangoValidationError, TypeError, ValueError, OverflowError):
        raise InvalidCursor(INVALID) from None
    if isinstance(typed, datetime) and not datetime_ok(typed):
        raise InvalidCursor(INVALID)
    if isinstance(typed, int) and not BIGINT_MIN <= typed <= BIGINT_MAX:
        raise InvalidCursor(INVALID)
    if not isinstance(typed, datetime | int | str):
        raise InvalidCursor(INVALID)
    return typed


def read(
    queryset: QuerySet[Any],
    parts: list[Q],
    size: int,
    *,
    branches: Sequence[QuerySet[Any]] = (),
    ordering: Ordering | None = None,
) -> list[Any]:
    """Up to size + 1 rows (one more tells whether there is a next page), part by part.

    With `branches` (whose union is `queryset`), each part is read branch by branch, in
    the queryset's order, and merged in `ordering` (that order as (name, descending)).
    """
    rows: list[Any] = []
    order = queryset.query.order_by
    for part in parts:
        wanted = size + 1 - len(rows)
        if not branches:
            rows += queryset.filter(part)[:wanted]
        else:
            found = {
                row.pk: row for b in branches for row in b.order_by(*order).filter(part)[:wanted]
            }
            rows += sorted(found.values(), key=sort_key(ordering or []))[:wanted]
        if len(rows) > size:
            break
    return rows


def sort_key(ordering: Ordering) -> Callable[[Any], Any]:
    """Rows in `ordering`, as the database orders them, NULL after every value going up
    (keyset.beyond's rule). For the keys lists order by: numbers and datetimes."""

    def compare(a: Any, b: Any) -> int:
        for name, desc in ordering:
            x, y = getattr(a, name), getattr(b, name)
            if x == y:
                continue
            # NULL is later than any value; otherwise the values' own order.
            later = 1 if (x is None or (y is not None and x > y)) else -1
            return -later if desc else later
        return 0

    return functools.cmp_to_key(compare)


def parts(
    ordering: Ordering,
    keys: list[Any] | None,
    *,
    backwards: bool,
    nullable: list[bool],
    split_keys: SplitKeys,
) -> list[Q]:
    """The rows after `keys` (every row when None), as disjoint parts in list order.

    One part, as a rule. For a leading key of `split_keys`, one part per value: the rest of
    the cursor's value, after its position in the following keys, then each value beyond
    it, whole. With that key fixed, each part is in the order of the following keys alone,
    which one index serves in either direction.
    """
    first, desc = ordering[0]
    values = split_keys.get(first)
    if values is None or len(ordering) == 1:
        return [
            Q() if keys is None else after(ordering, keys, backwards=backwards, nullable=nullable)
        ]
    up = desc == backwards  # the list runs up the values
    following = sorted(values, reverse=not up)
    found = []
    if keys is not None:
        key = keys[0]
        rest = after(ordering[1:], keys[1:], backwards=backwards, nullable=nullable[1:])
        found.append(Q(**{first: key}) & rest)
        following = [v for v in following if (v > key if up else v < key)]
    return found + [Q(**{first: v}) for v in following]


def after(ordering: Ordering, keys: list[Any], *, backwards: bool, nullable: list[bool]) -> Q:
    """Rows strictly after `keys` in `ordering` (before them when `backwards`).

    Lexicographic: a > k on the first column, or equal on it and after on the rest.
    Spelt out as ORs, which unlike PostgreSQL's row comparison `(a, b) > (x, y)` also
    works for mixed directions (`-priority, deadline, id`) and on SQLite.
    """
    condition = Q()
    for depth, ((name, desc), key) in enumerate(zip(ordering, keys, strict=True)):
        # Filtering on None is IS NULL, so ties on a NULL key need no special case.
        ties = Q(**{n: k for (n, _), k in zip(ordering[:depth], keys[:depth], strict=True)})
        condition |= ties & beyond(name, key, up=desc == backwards, nullable=nullable[depth])
    (first, desc), key = ordering[0], keys[0]
    return (
        beyond(first, key, up=desc == backwards, nullable=nullable[0], inclusive=True) & condition
    )


def beyond(name: str, key: Any, *, up: bool, nullable: bool, inclusive: bool = False) -> Q:
    """Rows whose `name` is above `key` (`up`) or below it, NULL being above every value."""
    op = ("gt" if up else "lt") + ("e" if inclusive else "")
    if not nullable:
        return Q(**{f"{name}__{op}": key})
    null = Q(**{f"{name}__isnull": True})
    if key is None:
        if up:
            return null if inclusive else Q(pk__in=[])  # nothing is above NULL
        return Q() if inclusive else ~null
    beyond_key = Q(**{f"{name}__{op}": key})
    return (beyond_key | null) if up else beyond_key
