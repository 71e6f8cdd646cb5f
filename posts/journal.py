"""The one place a post changes state, always with its audit event."""

from __future__ import annotations

import functools
import json
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import JSON, Connection, CursorResult, Table, bindparam, insert, select, update
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from core.errors import TransitionRefused

from .db import Driver
from .models import Event, Post, UTCDateTime
from .states import PostState, next_state

WORKER = "worker"


def transition(
    session: Session,
    post: Post,
    action: str,
    *,
    actor: str,
    now: datetime,
    detail: str | dict[str, Any] = "",
) -> PostState:
    """Move ``post`` by ``action`` (or raise ``TransitionRefused``) and record who did it."""
    new = next_state(post.state, action)
    session.add(
        Event(
            at=now,
            actor=actor,
            action=action,
            post_id=post.id,
            from_state=post.state,
            to_state=new.value,
            content_hash=post.content_hash,
            detail=_text(detail),
        )
    )
    post.state = new.value
    post.updated_at = now
    return new


def take_as_read(session: Session, post: Post) -> None:
    """Compare-and-set before a person's change: take the post's row only if it is still
    in the state, attempt and content this transaction read, else ``TransitionRefused``.

    Call it after the checks and before changing anything. A plain read takes no lock on
    PostgreSQL, so a worker's claim can commit between a person's read and write; a write
    by id would then overwrite ``sending`` and the post would go out while the database
    says ``cancelled``. This UPDATE waits for such a claim, sees it, and matches nothing.
    When it matches, the row stays locked (SQLite: the whole database) until commit, so
    the writes that follow act on exactly what was read."""
    read_state = post.state
    if try_take(session, post):
        return
    current = session.execute(_CURRENT, {"_id": post.id}).first()
    if current is None:
        raise TransitionRefused(f"post {post.id} no longer exists; nothing was changed")
    changed = (
        f"it is now {_words(current.state)}"
        if current.state != read_state
        else "its content or attempt changed"
    )
    raise TransitionRefused(
        f"post {post.id} changed while you were acting on it ({changed}; it was "
        f"{_words(read_state)}); nothing was changed. Look at it again."
    )


def try_take(session: Session, post: Post) -> bool:
    """``take_as_read`` that answers False instead of raising (planning leaves such a post
    alone and says so)."""
    result = cast(
        CursorResult[Any],
        session.execute(
            _TAKE,
            {
                "_id": post.id,
                "_state": post.state,
                "_attempt": post.attempt,
                "_hash": post.content_hash,
            },
        ),
    )
    return bool(result.rowcount == 1)


def _words(state: str) -> str:
    return state.replace("_", " ")


def transition_fenced(
    connection: Connection,
    post_id: int,
    attempt: int,
    current: PostState,
    action: str,
    *,
    actor: str,
    now: datetime,
    content_hash: str,
    detail: str | dict[str, Any] = "",
    values: dict[str, Any] | None = None,
) -> PostState | None:
    """``transition`` as one UPDATE, without loading the post: applied only while the post
    is still in ``current`` at ``attempt`` (the fence). Returns the new state, or None.

    The worker's hot path: statements are built once and reused (SQLAlchemy's statement
    construction, not SQLite, was most of the cost)."""
    new = next_state(current, action)
    values = values or {}
    result = connection.execute(
        _fenced_update(tuple(sorted(values))),
        {
            "_id": post_id,
            "_from": current.value,
            "_attempt": attempt,
            "_to": new.value,
            "_now": now,
            **values,
        },
    )
    if result.rowcount != 1:
        return None
    connection.execute(
        _EVENT_INSERT,
        {
            "at": now,
            "actor": actor,
            "action": action,
            "post_id": post_id,
            "from_state": current.value,
            "to_state": new.value,
            "content_hash": content_hash,
            "detail": _text(detail),
        },
    )
    return new


def transition_all_fenced(
    driver: Driver,
    changes: Sequence[FencedChange],
    current: PostState,
    action: str,
    *,
    actor: str,
) -> bool:
    """``transition_fenced`` for several posts at once: one executemany of the fenced
    UPDATE and one of the events. True when every fence held. False when any did not:
    the others *were* changed (the database's row count does not say which), so the
    caller must roll the transaction back and take the posts one by one."""
    if not changes:
        return True
    # The states' values read once, not a property look-up per post.
    before, after = current.value, next_state(current, action).value
    keys = tuple(sorted(changes[0].values))
    update = driver_statement(driver.dialect, _fenced_update(keys))
    matched = update.executemany(
        driver.connection,
        [
            {
                "_id": c.post_id,
                "_from": before,
                "_attempt": c.attempt,
                "_to": after,
                "_now": c.now,
                **c.values,
            }
            for c in changes
        ],
    )
    # Each UPDATE matches at most one row (by id), so the sum says whether all matched.
    if matched != len(changes):
        return False
    insert_events(
        driver,
        [
            {
                "at": c.now,
                "actor": actor,
                "action": action,
                "post_id": c.post_id,
                "from_state": before,
                "to_state": after,
                "content_hash": c.content_hash,
                "detail": _text(c.detail),
            }
            for c in changes
        ],
    )
    return True


def insert_events(driver: Driver, events: list[dict[str, Any]]) -> None:
    """Events (every column of ``EVENT_COLUMNS``) in one executemany."""
    if events:
        driver_statement(driver.dialect, _EVENT_INSERT_ALL).executemany(driver.connection, events)


class DriverStatement:
    """A statement compiled once for a database and run on the driver's connection
    (``Database.driver``), each parameter through its type's bind processor and each
    returned value through its result processor (the same stored and loaded forms as
    SQLAlchemy's): SQLAlchemy's per-execution and per-row work cost more than the
    database did on the worker's hot path."""

    def __init__(self, dialect: Dialect, statement: Any) -> None:
        compiled = statement.compile(dialect=dialect)
        self.compiled = compiled
        self.sql = str(compiled)
        # qmark (SQLite): a tuple per row in this order; else a dict per row.
        self.order: tuple[str, ...] | None = (
            tuple(compiled.positiontup) if compiled.positional else None
        )
        self.processors = {
            name: processor
            for name, bind in compiled.binds.items()
            if (processor := _bind_processor(bind.type, dialect)) is not None
        }
        # qmark: each row's values taken in order by one C call, then only the positions
        # that have a processor are converted (a generator per row and a name look-up per
        # processor per row were a fifth of the worker's CPU on the claim path).
        take = operator.itemgetter(*self.order) if self.order else (lambda _row: ())
        # itemgetter of one name returns the value itself, not a 1-tuple.
        self._take = (lambda row: (take(row),)) if len(self.order or ()) == 1 else take
        self._converted = tuple(
            (i, self.processors[name])
            for i, name in enumerate(self.order or ())
            if name in self.processors
        )
        returned = (
            statement.exported_columns
            if getattr(statement, "_returning", ()) or statement.is_select
            else ()
        )
        self.loaders = [
            (i, loader)
            for i, column in enumerate(returned)
            if (loader := _result_processor(column.type, dialect)) is not None
        ]

    def _params(self, rows: list[dict[str, Any]]) -> list[Any]:
        if self.order is not None:
            take, converted = self._take, self._converted
            taken = [list(take(row)) for row in rows]
            for values in taken:
                for i, processor in converted:
                    values[i] = processor(values[i])
            return taken
        processors = self.processors
        for row in rows:
            for name, processor in processors.items():
                if name in row:
                    row[name] = processor(row[name])
        return rows

    def executemany(self, connection: Any, rows: list[dict[str, Any]]) -> int:
        """Runs the statement for each row; returns the rows matched, in all."""
        cursor = connection.cursor()
        try:
            cursor.executemany(self.sql, self._params(rows))
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def rows(self, connection: Any, params: dict[str, Any]) -> list[list[Any]]:
        """Runs the statement once (its constant parameters filled in) and returns what
        it returns, each value loaded as SQLAlchemy would."""
        (values,) = self._params([self.compiled.construct_params(params)])
        cursor = connection.cursor()
        try:
            cursor.execute(self.sql, values)
            found = [list(r) for r in cursor.fetchall()]
        finally:
            cursor.close()
        for row in found:
            for i, loader in self.loaders:
                row[i] = loader(row[i])
        return found


def _bind_processor(type_: Any, dialect: Dialect) -> Any:
    """The dialect's own form of the type (SQLite's DATETIME formats its strings; the bare
    type would leave datetimes to sqlite3's adapter, another format). A UTC time on SQLite
    by ``sqlite_utc_text``: SQLAlchemy's chain of three calls for it was the largest part
    of a post's parameter work."""
    if dialect.name == "sqlite" and isinstance(type_, UTCDateTime):
        return sqlite_utc_text
    return type_.dialect_impl(dialect).bind_processor(dialect)


def _result_processor(type_: Any, dialect: Dialect) -> Any:
    """SQLAlchemy's result processor for the type, with fast paths on SQLite for the two
    the claim returns for every post: a UTC time in the form ``sqlite_utc_text`` stores
    (SQLAlchemy parses it with a regular expression, then a type decorator adds the
    zone), and an empty JSON list (a post without images)."""
    loader = type_.dialect_impl(dialect).result_processor(dialect, None)
    if dialect.name != "sqlite" or loader is None:
        return loader
    if isinstance(type_, UTCDateTime):
        return functools.partial(_sqlite_utc_datetime, loader)
    if isinstance(type_, JSON):
        return functools.partial(_json_or_empty_list, loader)
    return loader


def _sqlite_utc_datetime(loader: Any, value: str | None) -> datetime | None:
    """Stored text in ``sqlite_utc_text``'s form (26 characters, no offset) in one C call;
    anything else by SQLAlchemy's ``loader``."""
    if value.__class__ is str and len(value) == 26:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
    return loader(value)


def _json_or_empty_list(loader: Any, value: str | None) -> Any:
    return [] if value == "[]" else loader(value)


def sqlite_utc_text(value: datetime | None) -> str | None:
    """``UTCDateTime`` as SQLAlchemy stores it on SQLite, in C calls: UTC without an
    offset, microseconds always written (``2027-01-04 07:30:00.000000``)."""
    if value is None:
        return None
    if value.tzinfo is UTC:
        # Already UTC (the clock's times): the text without its "+00:00", one C call
        # instead of three (a year is always four digits, so the text is 26 characters).
        return value.isoformat(" ", "microseconds")[:26]
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the database; use aware UTC")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


@functools.lru_cache(maxsize=64)
def driver_statement(dialect: Dialect, statement: Any) -> DriverStatement:
    return DriverStatement(dialect, statement)


@dataclass(frozen=True)
class FencedChange:
    """One post's part of ``transition_all_fenced``; every change of one call sets the
    same columns (``values``' keys)."""

    post_id: int
    attempt: int
    content_hash: str
    now: datetime
    detail: str
    values: dict[str, Any]


_posts = cast(Table, Post.__table__)
_EVENT_INSERT = insert(cast(Table, Event.__table__))
EVENT_COLUMNS = (
    "at",
    "actor",
    "action",
    "post_id",
    "from_state",
    "to_state",
    "content_hash",
    "detail",
)
_EVENT_INSERT_ALL = _EVENT_INSERT.values({name: bindparam(name) for name in EVENT_COLUMNS})
# updated_at = updated_at: a write that changes nothing but takes the row.
_TAKE = (
    update(_posts)
    .where(
        _posts.c.id == bindparam("_id"),
        _posts.c.state == bindparam("_state"),
        _posts.c.attempt == bindparam("_attempt"),
        _posts.c.content_hash == bindparam("_hash"),
    )
    .values(updated_at=_posts.c.updated_at)
)
_CURRENT = select(_posts.c.state).where(_posts.c.id == bindparam("_id"))


@functools.cache
def _fenced_update(keys: tuple[str, ...]) -> Any:
    return (
        update(_posts)
        .where(
            _posts.c.id == bindparam("_id"),
            _posts.c.state == bindparam("_from"),
            _posts.c.attempt == bindparam("_attempt"),
        )
        .values(
            state=bindparam("_to"),
            updated_at=bindparam("_now"),
            **{key: bindparam(key) for key in keys},
        )
    )


def record_event(
    session: Session,
    *,
    actor: str,
    action: str,
    now: datetime,
    post: Post | None = None,
    detail: str | dict[str, Any] = "",
) -> None:
    """An event that does not change a post's state (a preview, a hold, a plan run)."""
    session.add(
        Event(
            at=now,
            actor=actor,
            action=action,
            post_id=post.id if post else None,
            from_state=post.state if post else None,
            to_state=post.state if post else None,
            content_hash=post.content_hash if post else None,
            detail=_text(detail),
        )
    )


def _text(detail: str | dict[str, Any]) -> str:
    return (
        detail
        if isinstance(detail, str)
        else json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str)
    )
