"""The database's clock, as SQL: time that several processes must agree on (leases, due times).

Each replica's own clock may be minutes off; the database's is one clock for all of them. On
PostgreSQL this is `now()` (the transaction's start) plus an interval; on SQLite it is
`strftime('%Y-%m-%d %H:%M:%f', 'now', …)` padded to the text `UTCDateTime` stores there
(`YYYY-MM-DD HH:MM:SS.ffffff`, naive UTC), so comparisons with stored values stay text comparisons of
one format.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Float, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from storage.models import UTCDateTime


class db_now(FunctionElement[datetime]):
    """`db_now()` is the database's current UTC time; `db_now(timedelta(seconds=30))` is 30 s later."""

    type = UTCDateTime()
    inherit_cache = True
    name = "db_now"

    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        super().__init__(literal(offset.total_seconds(), Float()))


@compiles(db_now, "postgresql")
def _postgresql(element: db_now, compiler: SQLCompiler, **kw: Any) -> str:
    seconds = compiler.process(element.clauses, **kw)
    return f"(now() + CAST({seconds} AS DOUBLE PRECISION) * INTERVAL '1 second')"


@compiles(db_now, "sqlite")
def _sqlite(element: db_now, compiler: SQLCompiler, **kw: Any) -> str:
    seconds = compiler.process(element.clauses, **kw)
    # %f is seconds with milliseconds; '000' pads them to the microseconds SQLAlchemy writes.
    return f"(strftime('%Y-%m-%d %H:%M:%f', 'now', printf('%.6f seconds', {seconds})) || '000')"
