"""One UPDATE for many rows, each with its own values: the engine's batch write.

Django's bulk_update builds a CASE per column with a branch per row, which PostgreSQL
plans slowly for thousands of rows. Here PostgreSQL gets `UPDATE ... FROM (VALUES ...)`,
and SQLite, which runs in-process, one prepared UPDATE executed per row.
"""

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection, models

# Rows per statement on PostgreSQL: well under its 65,535 parameters for the engine's
# dozen columns.
CHUNK = 1000


def update_rows(
    model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """Set `fields` of each row given as (pk, *values), in one statement per chunk."""
    rows = list(rows)
    if not rows:
        return
    meta = model._meta
    table = connection.ops.quote_name(meta.db_table)
    pk = meta.pk
    columns = [meta.get_field(name) for name in fields]
    if pk is None or not all(isinstance(c, models.Field) for c in columns):
        raise TypeError(f"{model.__name__}: only concrete fields can be updated")
    fields_: list[models.Field[Any, Any]] = columns  # type: ignore[assignment]
    prepared = [
        [
            pk.get_db_prep_value(row[0], connection),
            *(
                column.get_db_prep_value(value, connection)
                for column, value in zip(fields_, row[1:], strict=True)
            ),
        ]
        for row in rows
    ]
    quote = connection.ops.quote_name
    names = [quote(c.column) for c in fields_]
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            assignments = ", ".join(f"{name} = %s" for name in names)
            cursor.executemany(
                f"UPDATE {table} SET {assignments} WHERE {quote(pk.column)} = %s",  # noqa: S608
                [[*values[1:], values[0]] for values in prepared],
            )
            return
        types = [pk.db_type(connection), *(c.db_type(connection) for c in fields_)]
        row_sql = "(" + ", ".join(f"%s::{t}" for t in types) + ")"
        assignments = ", ".join(f"{name} = v.{name}" for name in names)
        for start in range(0, len(prepared), CHUNK):
            chunk = prepared[start : start + CHUNK]
            cursor.execute(
                f"UPDATE {table} AS t SET {assignments} "  # noqa: S608 -- names from the model
                f"FROM (VALUES {', '.join([row_sql] * len(chunk))}) "
                f"AS v({quote(pk.column)}, {', '.join(names)}) "
                f"WHERE t.{quote(pk.column)} = v.{quote(pk.column)}",
                [value for values in chunk for value in values],
            )
