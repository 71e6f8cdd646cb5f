"""The audit log's one search and one CSV writer (used by `publisher log` and the web)."""

from __future__ import annotations

import csv
import io
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.clock import FakeClock
from posts import audit
from posts.db import Database
from posts.journal import record_event

LONDON = ZoneInfo("Europe/London")
FORMULAS = ["=1+2", "+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]


def _log(db: Database, rows: list[tuple[str, str, str, datetime]]) -> None:
    with db.transaction() as session:
        for actor, action, detail, at in rows:
            record_event(session, actor=actor, action=action, now=at, detail=detail)


def _csv(db: Database, f: audit.AuditFilter | None = None) -> list[list[str]]:
    lines = audit.csv_lines(db, f or audit.AuditFilter(), LONDON)
    return list(csv.reader(io.StringIO("".join(lines))))


def test_formula_cells_are_neutralised_and_plain_ones_kept(db: Database, clock: FakeClock) -> None:
    _log(db, [(f, "cancel", f, clock.now()) for f in FORMULAS])
    _log(db, [("alice", "=action", "Use 101, not 999 - unless an emergency", clock.now())])
    rows = _csv(db)
    assert rows[0] == list(audit.COLUMNS)
    assert [(r[2], r[8]) for r in rows[1:-1]] == [("'" + f, "'" + f) for f in FORMULAS]
    assert rows[-1][2:4] == ["alice", "'=action"]
    assert rows[-1][8] == "Use 101, not 999 - unless an emergency"
    assert audit.safe_cell("") == "" and audit.safe_cell(None) == ""


def test_search_by_post_person_action_local_days_and_words(
    db: Database, clock: FakeClock
) -> None:
    # 23:30 UTC on 31 May is 00:30 on 1 June in London (BST).
    late = datetime(2027, 5, 31, 23, 30, tzinfo=UTC)
    _log(
        db,
        [
            ("Bob", "approve", "approved content abc", late - timedelta(hours=1)),
            ("bobby", "reject", "100% wrong_number", late),
            ("alice", "reject", "100 percent", late + timedelta(days=1)),
        ],
    )
    zone = LONDON

    def details(**kw: object) -> list[str]:
        rows, _ = audit.newest(db, audit.AuditFilter(**kw), zone, limit=10)  # type: ignore[arg-type]
        return [e.detail for e in rows]

    assert details(person="bob") == ["100% wrong_number", "approved content abc"]
    assert details(action="reject") == ["100 percent", "100% wrong_number"]
    assert details(words="100%") == ["100% wrong_number"]  # % and _ are literal
    assert details(words="o_n") == [] and details(words="wrong%number") == []
    assert details(start=date(2027, 6, 1), end=date(2027, 6, 1)) == ["100% wrong_number"]
    assert details(end=date(2027, 5, 31)) == ["approved content abc"]
    assert details(post=1) == []
    assert audit.actions(db) == ["approve", "reject"]


def test_pages_go_newest_first(db: Database, clock: FakeClock) -> None:
    _log(db, [("a", "note", str(n), clock.now()) for n in range(5)])
    first, older = audit.newest(db, audit.AuditFilter(), LONDON, limit=2)
    assert [e.detail for e in first] == ["4", "3"] and older == first[-1].id
    second, older = audit.newest(db, audit.AuditFilter(), LONDON, limit=2, before=older)
    third, last = audit.newest(db, audit.AuditFilter(), LONDON, limit=2, before=older)
    assert [e.detail for e in second + third] == ["2", "1", "0"] and last is None


def test_the_export_streams_in_batches_and_stops_at_the_log_as_it_began(
    db: Database, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    _log(db, [("a", "note", str(n), clock.now()) for n in range(5)])
    reads: list[int] = []
    real = db.transaction

    @contextmanager
    def counted():  # type: ignore[no-untyped-def]
        reads.append(1)
        with real() as session:
            yield session

    monkeypatch.setattr(db, "transaction", counted)
    events = audit.oldest_first(db, audit.AuditFilter(), LONDON, batch=2)
    assert next(events).detail == "0"
    assert len(reads) == 2  # the newest id, then the first batch only
    monkeypatch.setattr(db, "transaction", real)
    _log(db, [("a", "note", "written during the export", clock.now())])
    monkeypatch.setattr(db, "transaction", counted)
    assert [e.detail for e in events] == ["1", "2", "3", "4"]
    assert len(reads) == 4  # three batches of at most two
    assert _csv(db, audit.AuditFilter(words="nothing like it")) == [list(audit.COLUMNS)]


def test_a_word_search_from_a_day_pages_newest_first_whatever_the_id_order(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On SQLite the newest ids are read row by row and older ones through the time index
    # (RECENT_IDS made small here so that both steps are used on a few events).
    monkeypatch.setattr(audit, "RECENT_IDS", 3)
    day = datetime(2027, 6, 10, 9, tzinfo=UTC)
    rows = [
        ("a", "note", f"{'Abergavenny' if n % 3 == 0 else 'Newport'} {n}", day + timedelta(hours=n))
        for n in range(20)
    ]
    rows.insert(5, ("a", "note", "abergavenny written late", day + timedelta(days=2)))
    rows.insert(9, ("a", "note", "Abergavenny, before the day", day - timedelta(days=3)))
    rows.append(("a", "note", "Abergavenny, written last for an old day", day - timedelta(days=5)))
    _log(db, rows)
    f = audit.AuditFilter(start=date(2027, 6, 10), words="abergavenny")
    since = datetime(2027, 6, 9, 23, tzinfo=UTC)  # 10 June starts at 00:00 BST
    # Newest id first: the rows were logged in this order.
    expected = [d for _, _, d, at in reversed(rows) if at >= since and "abergavenny" in d.lower()]
    assert "abergavenny written late" in expected and len(expected) == 8
    seen: list[str] = []
    before = None
    while True:
        page, before = audit.newest(db, f, LONDON, limit=3, before=before)
        seen += [e.detail for e in page]
        if before is None:
            break
    assert seen == expected
    common = audit.AuditFilter(start=date(2027, 6, 10), words="Newport")
    page, _ = audit.newest(db, common, LONDON, limit=2)
    assert [e.detail for e in page] == ["Newport 19", "Newport 17"]


def test_a_word_search_reads_older_days_through_the_time_index_on_sqlite(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Not a timing: the plan. Walking the primary key instead reads every older event.
    if db.dialect != "sqlite":
        pytest.skip("SQLite's planner")
    from sqlalchemy import event

    monkeypatch.setattr(audit, "RECENT_IDS", 1)
    day = datetime(2027, 6, 10, 9, tzinfo=UTC)
    _log(db, [("a", "note", f"Newport {n}", day + timedelta(minutes=n)) for n in range(5)])
    statements: list[tuple[str, object]] = []

    def seen(conn, cursor, statement, parameters, context, many):  # type: ignore[no-untyped-def]
        statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        audit.newest(db, audit.AuditFilter(start=date(2027, 6, 10), words="Cwmbran"), LONDON, limit=3)
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    older = [(s, p) for s, p in statements if "events.id + " in s]
    assert len(older) == 1
    with db.engine.connect() as connection:
        plan = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + older[0][0], older[0][1]).all()
    assert any("USING INDEX ix_events_at" in str(row[-1]) for row in plan), plan
