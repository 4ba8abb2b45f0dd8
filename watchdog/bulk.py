"""One statement for many rows, each with its own values: the engine's batch writes.

Django's bulk_update builds a CASE per column with a branch per row, which PostgreSQL
plans slowly for thousands of rows. Here PostgreSQL gets one array per column, unnested
into rows: `UPDATE ... FROM unnest(%b::type[], ...)` and `INSERT ... SELECT FROM
unnest(...)`. The statement's text is the same whatever the number of rows, so neither
psycopg nor PostgreSQL parses thousands of placeholders (a `VALUES` list of 2,000 rows of
a dozen columns cost more to send and parse than to execute), and the arrays travel as
binary parameters (server-side binding, on a cursor of its own: Django's cursors bind
client-side, which turns every array into quoted text, element by element, in Python).
Prepared statements stay off, as Django configures the connection (connection poolers).
SQLite, which runs in-process, gets one prepared UPDATE executed per row, and
bulk_create for inserts.
"""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection, models
from django.db.backends.utils import CursorWrapper
from django.db.models.expressions import RawSQL

# Rows per statement on PostgreSQL: bounds the size of one statement's arrays.
CHUNK = 2000


def _columns(
    model: type[models.Model], fields: Sequence[str]
) -> tuple[models.Field[Any, Any], list[models.Field[Any, Any]]]:
    meta = model._meta
    pk = meta.pk
    columns = [meta.get_field(name) for name in fields]
    if pk is None or not all(isinstance(c, models.Field) for c in columns):
        raise TypeError(f"{model.__name__}: only concrete fields can be written")
    return pk, columns  # type: ignore[return-value]


# Fields whose get_db_prep_value returns a value of this type unchanged on PostgreSQL.
_AS_IS: tuple[tuple[type[models.Field[Any, Any]], type], ...] = (
    (models.CharField, str),  # str subclasses too: to_python keeps any str (TextChoices)
    (models.IntegerField, int),
    (models.PositiveIntegerField, int),
    (models.SmallIntegerField, int),
    (models.PositiveSmallIntegerField, int),
    (models.BigIntegerField, int),
    (models.PositiveBigIntegerField, int),
    (models.AutoField, int),
    (models.BigAutoField, int),
)


def _preparer(field: models.Field[Any, Any]) -> Any:
    """The field's get_db_prep_value, short-cut where it would return the value unchanged.

    On PostgreSQL, None, an aware datetime for a DateTimeField, an int for an integer
    field and a str for a CharField go to the driver as they are, as Django would send
    them; anything else (naive datetimes, expressions, other types) goes through Django.
    """
    prepare = field.get_db_prep_value
    target = field.target_field if isinstance(field, models.ForeignKey) else field
    kind = next((kind for cls, kind in _AS_IS if type(target) is cls), None)
    if connection.vendor != "postgresql":
        return lambda value: prepare(value, connection)
    if type(target) is models.DateTimeField:

        def prepare_datetime(value: Any) -> Any:
            if value is None or (type(value) is datetime and value.tzinfo is not None):
                return value
            return prepare(value, connection)

        return prepare_datetime
    if kind is str:
        return lambda value: (
            value if value is None or isinstance(value, str) else prepare(value, connection)
        )
    if kind is int:
        return lambda value: (
            value if value is None or type(value) is int else prepare(value, connection)
        )
    return lambda value: prepare(value, connection)


def _binding_cursor(*, binary_results: bool = False) -> CursorWrapper:
    """A Django cursor (execute wrappers, query logging, error translation) that binds
    parameters server-side, so that `%b` sends them in binary. PostgreSQL (psycopg 3) only.

    `binary_results`: rows come back in binary, timestamptz read by psycopg's own loader
    (C) instead of Django's (Python, which sets the time zone again on every value).
    """
    import psycopg
    from django.db.backends.postgresql.base import ServerBindingCursor  # type: ignore[attr-defined]

    connection.ensure_connection()
    connection.validate_thread_sharing()
    raw = ServerBindingCursor(connection.connection)
    if binary_results:
        raw.format = psycopg.pq.Format.BINARY
        timestamptz = psycopg.postgres.types["timestamptz"].oid
        for fmt in (psycopg.pq.Format.BINARY, psycopg.pq.Format.TEXT):
            loader = psycopg.adapters.get_loader(timestamptz, fmt)
            if loader is not None:
                raw.adapters.register_loader(timestamptz, loader)
    if connection.queries_logged:
        return connection.make_debug_cursor(raw)
    return connection.make_cursor(raw)


def _arrays(
    fields: Sequence[models.Field[Any, Any]], rows: Sequence[Sequence[Any]]
) -> list[list[Any]]:
    """One list of prepared values per field, from rows holding one value per field."""
    arrays = []
    for index, field in enumerate(fields):
        prepare = _preparer(field)
        arrays.append([prepare(row[index]) for row in rows])
    return arrays


def update_rows(
    model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """Set `fields` of each row given as (pk, *values), in one statement per chunk."""
    rows = list(rows)
    if not rows:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    pk, fields_ = _columns(model, fields)
    quote = connection.ops.quote_name
    names = [quote(c.column) for c in fields_]
    if connection.vendor != "postgresql":
        prepared = _arrays([pk, *fields_], rows)
        assignments = ", ".join(f"{name} = %s" for name in names)
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {table} SET {assignments} WHERE {quote(pk.column)} = %s",  # noqa: S608
                [[*values[1:], values[0]] for values in zip(*prepared, strict=True)],
            )
        return
    with _binding_cursor() as cursor:
        types = [pk.db_type(connection), *(c.db_type(connection) for c in fields_)]
        unnest = ", ".join(f"%b::{t}[]" for t in types)
        assignments = ", ".join(f"{name} = v.{name}" for name in names)
        key = quote(pk.column)
        for start in range(0, len(rows), CHUNK):
            arrays = _arrays([pk, *fields_], rows[start : start + CHUNK])
            # The keys once more as a condition on the table itself: PostgreSQL then reads
            # the rows through the primary key whatever it estimates the table's size to
            # be. Joined to the unnested rows alone, a table it believes small (statistics
            # from before a backlog) was read whole for every batch, through a hash join.
            cursor.execute(
                f"UPDATE {table} AS t SET {assignments} "  # noqa: S608 -- names from the model
                f"FROM unnest({unnest}) AS v({key}, {', '.join(names)}) "
                f"WHERE t.{key} = v.{key} AND t.{key} = ANY(%b::{types[0]}[])",
                [*arrays, arrays[0]],
            )


def fetch(queryset: Any) -> list[tuple[Any, ...]]:
    """The rows of a values_list() queryset of plain columns, as list(queryset) gives them.

    On PostgreSQL the same SQL is read in binary with psycopg's C loaders: Django's
    timestamptz loader costs more than everything else of a 2,000-row batch put together.
    The session time zone is UTC (Django sets it when USE_TZ is on), so the datetimes are
    the same: aware, in UTC. Columns needing Django's from_db_value (JSON, say) don't
    belong here.
    """
    if connection.vendor != "postgresql" or connection.timezone_name != "UTC":
        return list(queryset)
    try:
        sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
    except EmptyResultSet:  # `pk__in=[]`: the ORM doesn't ask the database either
        return []
    with _binding_cursor(binary_results=True) as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def ids_in(ids: Sequence[int]) -> Any:
    """The right-hand side of `pk__in=` / `ticket_id__in=` for a batch of ids.

    On PostgreSQL one array parameter (`IN (SELECT unnest(%s::bigint[]))`) instead of a
    placeholder per id, which Django and psycopg build and bind one by one; elsewhere the
    list itself.
    """
    if connection.vendor != "postgresql":
        return list(ids)
    return RawSQL("SELECT unnest(%s::bigint[])", [list(ids)], output_field=models.BigIntegerField())


def insert_rows(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    ignore_conflicts: bool = False,
) -> None:
    """Insert rows given as values of `fields`; on PostgreSQL the other columns get their
    database default (NULL without one), so name every column with a Python default.

    No signals and no objects back, as bulk_create; the primary key comes from the
    database. `ignore_conflicts`: ON CONFLICT DO NOTHING, as bulk_create's.
    """
    rows = list(rows)
    if not rows:
        return
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(
            [model(**dict(zip(fields, row, strict=True))) for row in rows],
            batch_size=500,
            ignore_conflicts=ignore_conflicts,
        )
        return
    conflicts = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
    _, fields_ = _columns(model, fields)
    quote = connection.ops.quote_name
    names = ", ".join(quote(c.column) for c in fields_)
    unnest = ", ".join(f"%b::{c.db_type(connection)}[]" for c in fields_)
    with _binding_cursor() as cursor:
        for start in range(0, len(rows), CHUNK):
            cursor.execute(
                f"INSERT INTO {quote(model._meta.db_table)} ({names}) "  # noqa: S608
                f"SELECT * FROM unnest({unnest}){conflicts}",
                _arrays(fields_, rows[start : start + CHUNK]),
            )
