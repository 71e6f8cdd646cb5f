"""The audit log read back: one search (post, person, action, local days, words) and one
CSV writer, for the command line and the web alike.

The CSV is for records requests (freedom of information) and is opened in spreadsheets,
so a cell a person typed that starts like a formula is neutralised (OWASP "CSV
injection"). Exports stream in batches by id, each read in its own short transaction:
memory stays flat however long the log, and the worker is never kept waiting on SQLite.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Select, false, func, select, text
from sqlalchemy.orm import Session

from .db import Database
from .models import Event
from .review import day_bounds

COLUMNS = (
    "id",
    "at_utc",
    "actor",
    "action",
    "post_id",
    "from_state",
    "to_state",
    "content_hash",
    "detail",
)
BATCH = 2000
CHUNK = 200  # CSV lines sent at a time
# A spreadsheet runs a cell that starts with one of these (tab and CR too: some
# spreadsheets strip them and then read what follows).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class AuditFilter:
    post: int | None = None
    person: str = ""  # part of the actor's name, any case
    action: str = ""  # exactly
    start: date | None = None  # first local day
    end: date | None = None  # last local day
    words: str = ""  # part of the detail, any case


# The columns a page or an export shows: rows of these, not ORM objects (a tenth of the
# cost per row, and nothing kept in a session's identity map).
FIELDS = (
    Event.id,
    Event.at,
    Event.actor,
    Event.action,
    Event.post_id,
    Event.from_state,
    Event.to_state,
    Event.content_hash,
    Event.detail,
)
# A word search with no dates looks at this many days up to today (the page says so and
# offers the whole log): a substring match cannot use an index, so its cost is the
# number of events in the window, not in the log.
WORDS_DAYS = 7


def audit_query(
    f: AuditFilter, zone: ZoneInfo, actors: list[str] | None = None, dialect: str = ""
) -> Select[Any]:
    """Events matching ``f`` (no order, no limit). ``actors``: the names ``f.person``
    matches (``matching_actors``), so the person filter can use an index. ``dialect``
    "sqlite": words matched with LIKE, which SQLite already compares without case
    (ASCII, as its lower() does), a third of the cost of lower(detail) LIKE lower(?)."""
    query = cast("Select[Any]", select(*FIELDS))
    if f.post is not None:
        query = query.where(Event.post_id == f.post)
    if f.person:
        if actors is None:
            query = query.where(_contains(Event.actor, f.person, dialect))
        else:
            query = query.where(Event.actor.in_(actors) if actors else false())
    if f.action:
        query = query.where(Event.action == f.action)
    start, end = _bounds(f, zone)
    # With days given, the searches also narrow the ids (``id_range``); these keep the
    # answer exact whatever order ids and times are in.
    if start is not None:
        query = query.where(Event.at >= start)
    if end is not None:
        query = query.where(Event.at < end)
    if f.words:
        query = query.where(_contains(Event.detail, f.words, dialect))
    return query


def _contains(column: Any, part: str, dialect: str) -> Any:
    pattern = f"%{_like(part)}%"
    if dialect == "sqlite":
        return column.like(pattern, escape="\\")
    return column.ilike(pattern, escape="\\")


def _bounds(f: AuditFilter, zone: ZoneInfo) -> tuple[datetime | None, datetime | None]:
    return (
        day_bounds(f.start, zone)[0] if f.start is not None else None,
        day_bounds(f.end, zone)[1] if f.end is not None else None,
    )


def id_range(session: Session, f: AuditFilter, zone: ZoneInfo) -> tuple[int, int] | None:
    """The first and last id of the events in ``f``'s days (None: there are none).

    Exact whatever order ids and times are in (every event in the days has an id in the
    range), and in practice tight, since events are written as they happen: a search
    then walks the primary key over those days only, newest or oldest first, instead of
    sorting every event of the days."""
    start, end = _bounds(f, zone)
    query = select(func.min(Event.id), func.max(Event.id))
    if start is not None:
        query = query.where(Event.at >= start)
    if end is not None:
        query = query.where(Event.at < end)
    first, last = session.execute(query).one()
    return None if last is None else (int(first), int(last))


def matching_actors(session: Session, part: str) -> list[str]:
    """Every actor whose name contains ``part`` (any case), from the distinct names."""
    wanted = part.casefold()
    return [name for name in distinct_values(session, "actor") if wanted in name.casefold()]


def distinct_values(session: Session, column: str) -> list[str]:
    """The distinct values of an indexed column of ``events``, by a skip-scan: one index
    probe per value, not a scan of the log (SQLite and PostgreSQL alike)."""
    assert column in ("action", "actor")  # names from this module only, never input
    sql = text(
        f"WITH RECURSIVE v(x) AS (SELECT min({column}) FROM events UNION ALL "
        f"SELECT (SELECT min({column}) FROM events WHERE {column} > v.x) FROM v "
        "WHERE v.x IS NOT NULL) SELECT x FROM v WHERE x IS NOT NULL"
    )
    return [str(x) for x in session.scalars(sql)]


def word_window(f: AuditFilter, today: date) -> AuditFilter:
    """``f``, with a word search without dates limited to the last WORDS_DAYS days."""
    if not f.words or f.start is not None or f.end is not None:
        return f
    return replace(f, start=today - timedelta(days=WORDS_DAYS - 1))


def newest(
    db: Database, f: AuditFilter, zone: ZoneInfo, *, limit: int, before: int | None = None
) -> tuple[list[Any], int | None]:
    """One page, newest first: up to ``limit`` events older than event ``before``, and the
    id to pass as ``before`` for the next page (None when there is none)."""
    with db.reading() as session:
        actors = matching_actors(session, f.person) if f.person else None
        if actors == []:
            return [], None
        query = audit_query(f, zone, actors, db.dialect)
        if db.dialect == "sqlite" and _words_from_a_day(f):
            rows = _recent_words(session, query, limit + 1, before)
            more = len(rows) > limit
            rows = rows[:limit]
            return rows, (rows[-1].id if more and rows else None)
        query = query.order_by(Event.id.desc()).limit(limit + 1)
        if f.start is not None or f.end is not None:
            found = id_range(session, f, zone)
            if found is None:
                return [], None
            query = query.where(Event.id.between(*found))
        if before is not None:
            query = query.where(Event.id < before)
        rows = list(session.execute(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more and rows else None)


# The newest ids a word search reads row by row before it turns to the time index.
RECENT_IDS = 2000


def _words_from_a_day(f: AuditFilter) -> bool:
    """Words searched from a first day on (the page's recent days), and nothing else:
    with a person, an action or a post, their own index leads instead."""
    only_words = f.post is None and not f.person and not f.action
    return bool(f.words) and only_words and f.start is not None and f.end is None


def _recent_words(
    session: Session, query: Select[Any], wanted: int, before: int | None
) -> list[Any]:
    """The newest ``wanted`` events of ``query`` (a word search from a first day on, no
    last day), on SQLite, in two steps: the newest RECENT_IDS ids row by row (a common
    word fills the page there), then older ones through the time index, which reads only
    the days searched and their matches (a rare word). Reading the days' id range first
    and then every row in it cost half as much again for a rare word."""
    top = session.scalar(select(func.max(Event.id)))
    if top is None:
        return []
    if before is not None:
        top = min(top, before - 1)
    newest_first = Event.id.desc()
    recent = query.where(Event.id > top - RECENT_IDS, Event.id <= top)
    rows = list(session.execute(recent.order_by(newest_first).limit(wanted)))
    if len(rows) < wanted:
        # ``id + 0``: not the primary key's order, or SQLite walks every older id; the
        # planner then reads the days through the time index and sorts their matches.
        unordered = Event.id + 0
        older = query.where(unordered <= top - RECENT_IDS).order_by(unordered.desc())
        rows += session.execute(older.limit(wanted - len(rows)))
    return rows


def actions(db: Database) -> list[str]:
    """Every action name in the log, for a search form: a skip-scan of the action index,
    so its cost is the number of names, not of events."""
    with db.reading() as session:
        return distinct_values(session, "action")


def oldest_first(
    db: Database,
    f: AuditFilter,
    zone: ZoneInfo,
    *,
    batch: int | None = None,
    newest_first: bool = False,
    limit: int | None = None,
) -> Iterator[Any]:
    """Every matching event, oldest first (``newest_first``: the other way), at most
    ``limit``, read ``batch`` at a time, each batch in its own short transaction: memory
    stays flat, and on SQLite the worker never waits for more than one batch. Events
    written after the first read are not included: the export is the log as it stood
    when it began."""
    batch = batch or BATCH
    with db.transaction() as session:
        found = id_range(session, f, zone)
        actors = matching_actors(session, f.person) if f.person else None
    if found is None or actors == []:
        return
    first, last = found
    left = limit
    while left is None or left > 0:
        size = batch if left is None else min(batch, left)
        query = audit_query(f, zone, actors, db.dialect)
        query = query.where(Event.id.between(first, last)).limit(size)
        query = query.order_by(Event.id.desc() if newest_first else Event.id)
        with db.transaction() as session:
            rows = list(session.connection().execute(query))
        yield from rows
        if left is not None:
            left -= len(rows)
        if len(rows) < size:
            return
        if newest_first:
            last = rows[-1].id - 1
        else:
            first = rows[-1].id + 1


def csv_lines(
    db: Database, f: AuditFilter, zone: ZoneInfo, *, limit: int | None = None
) -> Iterator[str]:
    """The CSV export, streamed a few lines at a time: a header, then every matching
    event (the newest ``limit`` if given), oldest first, times in UTC."""
    buffer = io.StringIO()
    out = csv.writer(buffer)

    def taken() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    out.writerow(COLUMNS)
    yield taken()
    if limit is not None:
        events: Iterator[Any] = reversed(
            list(oldest_first(db, f, zone, newest_first=True, limit=limit))
        )
    else:
        events = oldest_first(db, f, zone)
    # CHUNK lines a piece: one write per line would cost the server more than the line.
    while rows := list(itertools.islice(events, CHUNK)):
        out.writerows(
            (
                e.id,
                e.at.isoformat(),
                safe_cell(e.actor),
                safe_cell(e.action),
                e.post_id or "",
                e.from_state or "",
                e.to_state or "",
                e.content_hash or "",
                safe_cell(e.detail),
            )
            for e in rows
        )
        yield taken()


def safe_cell(text: str | None) -> str:
    """A cell a spreadsheet will show, never run: one that starts like a formula gets a
    leading apostrophe, so it is read as text."""
    if not text:
        return ""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
