"""Reads without SQLAlchemy: the queries of ``publisher status`` and ``publisher queue``
(and the library functions they share with the web) written once as SQL with ``:name``
parameters, run on a bare DB-API connection (sqlite3 or psycopg).

Importing SQLAlchemy and the models costs a command more than its work (issue 17: 0.4 s
of a 0.7 s ``publisher status``), so these commands open a ``Reader`` straight from the
database URL (``open_reader``); the web and the worker run the same SQL inside their own
transaction (``Reader.of``). Values are stored as SQLAlchemy stores them (posts/models.py):
times as aware UTC on PostgreSQL and as naive UTC text on SQLite, JSON as text on SQLite.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SQLITE = "sqlite:///"
_PARAM = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")
_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's SQLite DATETIME text


class Reader:
    """One read transaction on a DB-API connection of ``dialect`` ("sqlite" or
    "postgresql"). SQL is written with ``:name`` parameters, as SQLAlchemy's ``text()``
    takes them; a tuple or list value is expanded for ``IN :name``."""

    def __init__(self, connection: Any, dialect: str) -> None:
        self.connection, self.dialect = connection, dialect

    @classmethod
    def of(cls, source: Any) -> Reader:
        """A Reader on ``source``: a Reader, or an SQLAlchemy Session or Connection (its
        transaction's DB-API connection, so the SQL sees what the transaction sees)."""
        if isinstance(source, Reader):
            return source
        connection = source.connection() if hasattr(source, "get_bind") else source
        return cls(connection.connection.driver_connection, connection.dialect.name)

    def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        sql, values = self._bind(sql, params)
        cursor = self.connection.cursor()
        try:
            cursor.execute(sql, values)
            return [tuple(row) for row in cursor.fetchall()]
        finally:
            cursor.close()

    def value(self, sql: str, **params: Any) -> Any:
        found = self.rows(sql, **params)
        return found[0][0] if found else None

    def _bind(self, sql: str, params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        values: dict[str, Any] = {}
        for name, value in params.items():
            if isinstance(value, tuple | list):  # IN :name → IN (:name_0, :name_1, …)
                names = [f"{name}_{i}" for i in range(len(value))] or [f"{name}_none"]
                values.update(zip(names, value or [None], strict=True))  # IN (NULL): none
                listed = "(" + ", ".join(":" + n for n in names) + ")"
                sql = re.sub(rf":{name}\b", listed, sql)
                continue
            values[name] = value
        values = {k: self.stored(v) for k, v in values.items()}
        if self.dialect != "sqlite":  # psycopg: %(name)s, and a literal % doubled
            sql = _PARAM.sub(r"%(\1)s", sql.replace("%", "%%"))
        return sql, values

    def stored(self, value: Any) -> Any:
        """A value as the database stores it (times: see the module's doc)."""
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError("naive datetime given to the database; use aware UTC")
            value = value.astimezone(UTC)
            return value.strftime(_SQLITE_TIME) if self.dialect == "sqlite" else value
        return value

    @staticmethod
    def when(value: Any) -> datetime | None:
        """A stored time read back: aware UTC (None stays None)."""
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @staticmethod
    def json(value: Any) -> Any:
        """A JSON column read back (text on SQLite, already parsed by psycopg)."""
        return json.loads(value) if isinstance(value, str) else value


def sqlite_path(url: str) -> str | None:
    """The file of a plain ``sqlite:///PATH`` URL; None for any other (a memory database,
    URL options): those are left to SQLAlchemy."""
    if not url.startswith(SQLITE) or "?" in url:
        return None
    path = url.removeprefix(SQLITE)
    return None if path in ("", ":memory:") else path


def postgresql_url(url: str) -> str | None:
    """The libpq URL of a PostgreSQL database URL (psycopg reads its options too)."""
    for prefix in ("postgresql://", "postgresql+psycopg://"):
        if url.startswith(prefix):
            return "postgresql://" + url.removeprefix(prefix)
    return None


def readable(url: str) -> bool:
    """Whether ``open_reader`` can open ``url`` itself (else: SQLAlchemy's Database)."""
    return sqlite_path(url) is not None or postgresql_url(url) is not None


@contextmanager
def open_reader(url: str, *, revision: str) -> Iterator[Reader | None]:
    """A read transaction on ``url``'s database without SQLAlchemy. Yields None when the
    database is not plainly at schema ``revision`` (missing, older or newer), for the
    caller to go the usual way: refuse it, or migrate it, as ``posts.db.open_database``
    does. On SQLite a deferred ``BEGIN``: a snapshot, no write lock (as Database.reading)."""
    path, pg = sqlite_path(url), postgresql_url(url)
    if path is not None:
        if not Path(path).is_file():  # connecting would create it
            yield None
            return
        import sqlite3

        connection: Any = sqlite3.connect(path, timeout=30, isolation_level=None)
        dialect = "sqlite"
        try:
            connection.execute("PRAGMA busy_timeout=30000")
            connection.execute("BEGIN")
        except BaseException:
            connection.close()
            raise
    elif pg is not None:
        import psycopg

        connection = psycopg.connect(pg)
        dialect = "postgresql"
        try:
            connection.execute("SET jit = off")  # as posts.db: short statements
        except BaseException:
            connection.close()
            raise
    else:
        yield None
        return
    try:
        reader = Reader(connection, dialect)
        yield reader if _at_revision(reader, revision) else None
    finally:
        try:
            connection.rollback()
        finally:
            connection.close()


def _at_revision(reader: Reader, revision: str) -> bool:
    table = (
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
        if reader.dialect == "sqlite"
        else "SELECT count(*) FROM information_schema.tables WHERE table_name = "
        "'alembic_version' AND table_schema = current_schema()"
    )
    if not reader.value(table):
        return False
    found: Sequence[tuple[Any, ...]] = reader.rows("SELECT version_num FROM alembic_version")
    return [r[0] for r in found] == [revision]
