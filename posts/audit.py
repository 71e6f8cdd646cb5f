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
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select

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
BATCH = 500
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


def audit_query(f: AuditFilter, zone: ZoneInfo) -> Select[Any]:
    """Events matching ``f`` (no order, no limit)."""
    query = select(Event)
    if f.post is not None:
        query = query.where(Event.post_id == f.post)
    if f.person:
        query = query.where(Event.actor.ilike(f"%{_like(f.person)}%", escape="\\"))
    if f.action:
        query = query.where(Event.action == f.action)
    if f.start is not None:
        query = query.where(Event.at >= day_bounds(f.start, zone)[0])
    if f.end is not None:
        query = query.where(Event.at < day_bounds(f.end, zone)[1])
    if f.words:
        query = query.where(Event.detail.ilike(f"%{_like(f.words)}%", escape="\\"))
    return query


def newest(
    db: Database, f: AuditFilter, zone: ZoneInfo, *, limit: int, before: int | None = None
) -> tuple[list[Event], int | None]:
    """One page, newest first: up to ``limit`` events older than event ``before``, and the
    id to pass as ``before`` for the next page (None when there is none)."""
    query = audit_query(f, zone).order_by(Event.id.desc()).limit(limit + 1)
    if before is not None:
        query = query.where(Event.id < before)
    with db.transaction() as session:
        rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more and rows else None)


def actions(db: Database) -> list[str]:
    """Every action name in the log, for a search form."""
    with db.transaction() as session:
        return list(session.scalars(select(Event.action).distinct().order_by(Event.action)))


def oldest_first(
    db: Database, f: AuditFilter, zone: ZoneInfo, *, batch: int = BATCH
) -> Iterator[Event]:
    """Every matching event, oldest first, read ``batch`` at a time. Events written after
    the first read are not included: the export is the log as it stood when it began."""
    with db.transaction() as session:
        last = session.scalar(select(func.max(Event.id)))
    if last is None:
        return
    after = 0
    while True:
        query = (
            audit_query(f, zone)
            .where(Event.id > after, Event.id <= last)
            .order_by(Event.id)
            .limit(batch)
        )
        with db.transaction() as session:
            rows = list(session.scalars(query))
        yield from rows
        if len(rows) < batch:
            return
        after = rows[-1].id


def csv_lines(db: Database, f: AuditFilter, zone: ZoneInfo) -> Iterator[str]:
    """The CSV export, a line at a time: a header, then every matching event, oldest
    first, times in UTC."""
    buffer = io.StringIO()
    out = csv.writer(buffer)

    def line(cells: list[Any]) -> str:
        out.writerow(cells)
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield line(list(COLUMNS))
    for e in oldest_first(db, f, zone):
        yield line(
            [
                e.id,
                e.at.isoformat(),
                safe_cell(e.actor),
                safe_cell(e.action),
                e.post_id or "",
                e.from_state or "",
                e.to_state or "",
                e.content_hash or "",
                safe_cell(e.detail),
            ]
        )


def safe_cell(text: str | None) -> str:
    """A cell a spreadsheet will show, never run: one that starts like a formula gets a
    leading apostrophe, so it is read as text."""
    if not text:
        return ""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
