"""Planning's writes in bulk: the posts and events of a year in a few statements.

A year of a campaign is thousands of posts. SQLAlchemy's statement machinery (bind
processing row by row, ``insertmanyvalues``, the unit of work) cost more than SQLite or
PostgreSQL did, so planning hands the driver ready-made rows instead: each value goes
through the column type's own bind processor (the same stored form as the ORM writes),
done once per distinct value where many posts share one (the time, an image, tags).

A person's change to posts is conditional on the post as read (``journal.try_take``):
``take_each`` runs one such UPDATE per post and says which matched, so a post a worker
claimed meanwhile is left alone, never overwritten. On SQLite (in-process) that is one
``execute`` per post; on PostgreSQL one pipelined ``executemany`` with ``RETURNING``, so
the round trips do not add up.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from .journal import EVENT_COLUMNS
from .models import Event, Post

POSTS = cast(Table, Post.__table__)
_EVENTS = cast(Table, Event.__table__)

_encode = json.encoder.encode_basestring  # what json.dumps(ensure_ascii=False) uses


def digest_payload(text: str, media: str, account: str, language: str, due_at: datetime) -> str:
    """``posts.models.content_hash``'s JSON, written out directly (a test keeps the two
    equal): ``media`` is its ``media`` list already encoded (``media_json``)."""
    return (
        f'{{"account": {_encode(account)}, '
        f'"due_at": {_encode(due_at.astimezone(UTC).isoformat())}, '
        f'"language": {_encode(language)}, "media": {media}, "text": {_encode(text)}}}'
    )


def media_json(pairs: Iterable[tuple[str, str]]) -> str:
    """The ``media`` list of the content hash's JSON: (sha256, alt text) pairs."""
    return (
        "["
        + ", ".join(
            f'{{"alt_text": {_encode(alt)}, "sha256": {_encode(sha)}}}' for sha, alt in pairs
        )
        + "]"
    )


class Writer:
    """Driver-level statements on the session's connection (the same transaction)."""

    def __init__(self, session: Session) -> None:
        connection = session.connection()
        self.dialect: Dialect = connection.dialect
        self.raw: Any = connection.connection.driver_connection
        self.mark = "?" if self.dialect.paramstyle == "qmark" else "%s"
        self._processors: dict[tuple[str, str], Callable[[Any], Any] | None] = {}

    def bind(self, table: Table, column: str) -> Callable[[Any], Any]:
        """The column type's bind processor for this database (identity if none)."""
        key = (table.name, column)
        if key not in self._processors:
            kind = table.c[column].type
            self._processors[key] = kind.dialect_impl(self.dialect).bind_processor(self.dialect)
        proc = self._processors[key]
        return proc if proc is not None else _same

    def shared(self, table: Table, column: str) -> Callable[[Any, Any], Any]:
        """``bind`` remembered by a key: for values many rows share (an image, tags)."""
        proc = self.bind(table, column)
        memo: dict[Any, Any] = {}

        def get(key: Any, value: Any) -> Any:
            try:
                return memo[key]
            except KeyError:
                out = memo[key] = proc(value)
                return out

        return get

    def insert_many(
        self, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]
    ) -> None:
        if not rows:
            return
        cursor = self.raw.cursor()
        try:
            if self.dialect.name == "postgresql":
                # COPY: one stream, not a statement per row (4-5x faster on a year).
                with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
                    for values in rows:
                        copy.write_row(values)
                return
            marks = ", ".join([self.mark] * len(columns))
            cursor.executemany(
                f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})", rows
            )
        finally:
            cursor.close()

    def update_many(self, table: Table, sets: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        """``UPDATE table SET sets… WHERE id = ?`` for each row (the id last)."""
        if not rows:
            return
        assignments = ", ".join(f"{c} = {self.mark}" for c in sets)
        cursor = self.raw.cursor()
        try:
            cursor.executemany(
                f"UPDATE {table.name} SET {assignments} WHERE id = {self.mark}", rows
            )
        finally:
            cursor.close()

    def take_each(self, sets: Sequence[str], rows: list[tuple[Any, ...]]) -> list[bool]:
        """For each row, ``UPDATE posts SET sets… WHERE id, state, attempt and content_hash
        are still as read`` (those four last in the row): which posts matched (were taken
        and written)."""
        if not rows:
            return []
        m = self.mark
        sql = (
            f"UPDATE posts SET {', '.join(f'{c} = {m}' for c in sets)} "
            f"WHERE id = {m} AND state = {m} AND attempt = {m} AND content_hash = {m}"
        )
        cursor = self.raw.cursor()
        try:
            if self.dialect.name == "postgresql":
                cursor.executemany(sql + " RETURNING id", rows, returning=True)
                taken = []
                while True:
                    taken.append(cursor.fetchone() is not None)
                    if not cursor.nextset():
                        break
                if len(taken) != len(rows):  # pragma: no cover - psycopg's contract
                    raise RuntimeError("the database did not answer each update")
                return taken
            out = []
            for values in rows:
                cursor.execute(sql, values)
                out.append(cursor.rowcount == 1)
            return out
        finally:
            cursor.close()

    def select_rows(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        cursor = self.raw.cursor()
        try:
            cursor.execute(sql.replace("?", self.mark), tuple(params))
            return list(cursor.fetchall())
        finally:
            cursor.close()


def _same(value: Any) -> Any:
    return value


def event_rows(writer: Writer, events: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Events (``EVENT_COLUMNS`` order, times aware UTC) as the driver takes them."""
    at = writer.shared(_EVENTS, "at")
    return [(at(e[0], e[0]), *e[1:]) for e in events]


def insert_events(writer: Writer, events: list[tuple[Any, ...]]) -> None:
    writer.insert_many(_EVENTS, EVENT_COLUMNS, event_rows(writer, events))

