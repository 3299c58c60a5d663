"""Many rows into one table in one round trip, inside the caller's transaction.

A 20-line PO writes two audited transitions and 40 line-trail rows when it arrives, so at
thousands of POs a second these inserts dominate. ``bulk_insert`` binds exactly what
``conn.execute(insert(table), rows)`` would (the column types' bind processors, each distinct
value converted once) but skips per-row statement work: on PostgreSQL (psycopg 3) the rows go
through ``COPY ... FROM STDIN``; elsewhere through the driver's ``executemany`` with the statement
compiled once per dialect.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Dialect, Table, insert


@functools.cache
def _plan(table: Table, columns: tuple[str, ...], dialect: Dialect
          ) -> tuple[str, tuple[str, ...] | None, dict[str, Callable[[Any], Any]]]:
    compiled = insert(table).compile(dialect=dialect, column_keys=list(columns))
    order = tuple(compiled.positiontup or ()) if compiled.positional else None
    processors: dict[str, Callable[[Any], Any]] = {
        name: p for name in columns if (p := table.c[name].type.dialect_impl(dialect).bind_processor(dialect))}
    return str(compiled), order, processors


def _converted(rows: Sequence[dict[str, Any]], columns: Sequence[str],
               processors: dict[str, Callable[[Any], Any]]) -> list[list[Any]]:
    """Each row's values in ``columns`` order, bound by the column processors (each distinct value once)."""
    out = [[row[c] for c in columns] for row in rows]
    for i, name in enumerate(columns):
        proc = processors.get(name)
        if proc is None:
            continue
        cache: dict[Any, Any] = {}
        for values in out:
            value = values[i]
            if value is None:
                continue
            try:
                values[i] = cache[value]
            except KeyError:
                values[i] = cache[value] = proc(value)
            except TypeError:  # unhashable: convert without the cache
                values[i] = proc(value)
    return out


def bulk_insert(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table`` in the caller's transaction."""
    if not rows:
        return
    columns = tuple(rows[0])
    sql, order, processors = _plan(table, columns, conn.dialect)
    values = _converted(rows, order or columns, processors)
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        driver = conn.connection.driver_connection
        assert driver is not None
        names = ", ".join(conn.dialect.identifier_preparer.quote(c) for c in order or columns)
        target = conn.dialect.identifier_preparer.format_table(table)
        with driver.cursor() as cur, cur.copy(f"COPY {target} ({names}) FROM STDIN") as copy:
            for v in values:
                copy.write_row(v)
        return
    if order is not None:
        conn.exec_driver_sql(sql, [tuple(v) for v in values])
    else:
        conn.exec_driver_sql(sql, [dict(zip(columns, v, strict=True)) for v in values])
