"""Planning's writes in bulk: the posts and events of a year in a few statements.

A year of a campaign is thousands of posts. SQLAlchemy's statement machinery (bind
processing row by row, ``insertmanyvalues``, the unit of work) cost more than SQLite or
PostgreSQL did, so planning hands the driver ready-made rows instead: each value goes
through the column type's own bind processor (the same stored form as the ORM writes),
done once per distinct value where many posts share one (the time, an image, tags).

A person's change to posts is conditional on the post as read (``journal.try_take``):
``take_each`` updates each post only where it is still as read and says which matched, so
a post a worker claimed meanwhile is left alone, never overwritten. On SQLite (in-process)
that is one ``execute`` per post; on PostgreSQL one statement for them all (``SET_BASED``):
the rows go as one array a column, joined to the posts by id, and ``RETURNING`` names the
posts that matched — one round trip and one statement for the server to plan, where a
pipelined UPDATE a post cost the client more than the server. JSON goes to PostgreSQL as
the text psycopg's own dumper makes of it, made once per distinct value.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import JSON, Table
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


#: Dialects whose per-post updates go as one statement for many posts (arrays joined by
#: id); the others run one statement a post (SQLite: in-process, no round trips).
SET_BASED = frozenset({"postgresql"})


class Writer:
    """Driver-level statements on the session's connection (the same transaction)."""

    def __init__(self, session: Session) -> None:
        connection = session.connection()
        self.dialect: Dialect = connection.dialect
        self.raw: Any = connection.connection.driver_connection
        self.mark = "?" if self.dialect.paramstyle == "qmark" else "%s"
        self.set_based = self.dialect.name in SET_BASED
        self._processors: dict[tuple[str, str], Callable[[Any], Any] | None] = {}

    def bind(self, table: Table, column: str) -> Callable[[Any], Any]:
        """The column type's bind processor for this database (identity if none)."""
        key = (table.name, column)
        if key not in self._processors:
            kind = table.c[column].type
            proc: Callable[[Any], Any] | None = kind.dialect_impl(self.dialect).bind_processor(
                self.dialect
            )
            if proc is not None and self.dialect.name == "postgresql" and isinstance(kind, JSON):
                proc = self._as_json_text(proc)
            self._processors[key] = proc
        proc = self._processors[key]
        return proc if proc is not None else _same

    def _as_json_text(self, proc: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """SQLAlchemy's JSON processor (a psycopg ``Json`` wrapper, or None for SQL NULL)
        followed by the connection's own JSON dumper: the very text psycopg would send,
        which goes into COPY and into a ``json[]`` array alike."""
        from psycopg.adapt import PyFormat
        from psycopg.types.json import Json

        dumper = self.raw.adapters.get_dumper(Json, PyFormat.TEXT)(Json, self.raw)

        def text(value: Any) -> str | None:
            wrapped = proc(value)
            return None if wrapped is None else bytes(dumper.dump(wrapped)).decode()

        return text

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
        self.update_each(table, sets, ("id",), rows)

    def take_each(self, sets: Sequence[str], rows: list[tuple[Any, ...]]) -> list[bool]:
        """For each row, ``UPDATE posts SET sets… WHERE id, state, attempt and content_hash
        are still as read`` (those four last in the row): which posts matched (were taken
        and written)."""
        return self.update_each(POSTS, sets, ("id", "state", "attempt", "content_hash"), rows)

    def update_each(
        self, table: Table, sets: Sequence[str], keys: Sequence[str], rows: list[tuple[Any, ...]]
    ) -> list[bool]:
        """For each row (``sets``' values, then ``keys``', the first key the unique id),
        ``UPDATE table SET sets… WHERE every key is as given``: which rows matched."""
        if not rows:
            return []
        cursor = self.raw.cursor()
        try:
            if self.set_based:
                return self._update_set_based(cursor, table, sets, keys, rows)
            m = self.mark
            sql = (
                f"UPDATE {table.name} SET {', '.join(f'{c} = {m}' for c in sets)} "
                f"WHERE {' AND '.join(f'{k} = {m}' for k in keys)}"
            )
            out = []
            for values in rows:
                cursor.execute(sql, values)
                out.append(cursor.rowcount == 1)
            return out
        finally:
            cursor.close()

    def _update_set_based(
        self,
        cursor: Any,
        table: Table,
        sets: Sequence[str],
        keys: Sequence[str],
        rows: list[tuple[Any, ...]],
    ) -> list[bool]:
        """``update_each`` in one statement: each column's values as one array, the arrays
        unnested side by side into rows and joined to the table by the keys. A row a
        worker changed meanwhile fails the join's conditions (PostgreSQL checks them again
        on the row's newest version), exactly as its own UPDATE would."""
        # The array columns by position (v0, v1…): a key may also be set (state). Sent in
        # binary (%b): psycopg writes a text array by escaping each item, 8x slower.
        names = [*sets, *keys]
        arrays = ", ".join(f"%b::{self._sql_type(table, c)}[]" for c in names)
        assignments = ", ".join(f"{c} = v.v{n}" for n, c in enumerate(sets))
        matches = " AND ".join(f"t.{k} = v.v{n}" for n, k in enumerate(keys, len(sets)))
        sql = (
            f"UPDATE {table.name} AS t SET {assignments} FROM unnest({arrays}) "
            f"AS v({', '.join(f'v{n}' for n in range(len(names)))}) "
            f"WHERE {matches} RETURNING t.{keys[0]}"
        )
        columns = [
            _same_kind(table, name, list(values))
            for name, values in zip(names, zip(*rows, strict=True), strict=True)
        ]
        cursor.execute(sql, columns)
        matched = {row[0] for row in cursor.fetchall()}
        position = len(sets)
        return [values[position] in matched for values in rows]

    def _sql_type(self, table: Table, column: str) -> str:
        return str(table.c[column].type.compile(dialect=self.dialect))

    def select_rows(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        cursor = self.raw.cursor()
        try:
            cursor.execute(sql.replace("?", self.mark), tuple(params))
            return list(cursor.fetchall())
        finally:
            cursor.close()


def _same(value: Any) -> Any:
    return value


def _same_kind(table: Table, column: str, values: list[Any]) -> list[Any]:
    """An array's items of one Python type, as psycopg needs: a float column's whole
    numbers (``stale_after = 90`` in a campaign) as floats, the value the column holds."""
    try:
        python_type = table.c[column].type.python_type
    except NotImplementedError:
        return values
    if python_type is float:
        return [None if value is None else float(value) for value in values]
    return values


def event_rows(writer: Writer, events: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Events (``EVENT_COLUMNS`` order, times aware UTC) as the driver takes them."""
    at = writer.shared(_EVENTS, "at")
    return [(at(e[0], e[0]), *e[1:]) for e in events]


def insert_events(writer: Writer, events: list[tuple[Any, ...]]) -> None:
    writer.insert_many(_EVENTS, EVENT_COLUMNS, event_rows(writer, events))

