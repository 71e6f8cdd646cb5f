"""The audit exports stream: the first lines go out before the last events are read,
a batch at a time, on SQLite and PostgreSQL; `publisher log` shows the newest events by
default and everything when asked."""

from __future__ import annotations

import csv
import io
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import insert

from core.settings import Settings
from posts import audit
from posts.db import Database
from posts.models import Event

LONDON = ZoneInfo("Europe/London")
T = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def _events(db: Database, count: int, **fields: object) -> None:
    with db.transaction() as session:
        session.execute(
            insert(Event),
            [
                {
                    "at": T + timedelta(hours=n),
                    "actor": "bob",
                    "action": "note",
                    "detail": f"event {n}",
                    **fields,
                }
                for n in range(count)
            ],
        )


def _counting(db: Database, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    reads: list[int] = []
    real = db.transaction

    @contextmanager
    def counted():  # type: ignore[no-untyped-def]
        reads.append(1)
        with real() as session:
            yield session

    monkeypatch.setattr(db, "transaction", counted)
    return reads


def test_the_csv_is_a_stream_whose_first_lines_come_before_the_last_read(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _events(db, 50)
    monkeypatch.setattr(audit, "BATCH", 10)
    monkeypatch.setattr(audit, "CHUNK", 5)
    reads = _counting(db, monkeypatch)
    lines = audit.csv_lines(db, audit.AuditFilter(), LONDON)
    assert next(lines).startswith("id,at_utc")  # the header: nothing read yet
    first = next(lines)
    assert first.count("\n") == 5 and "event 0" in first
    assert len(reads) == 2  # the range, then one batch of ten of the fifty
    rest = "".join(lines)
    assert "event 49" in rest and len(reads) == 2 + 5
    rows = list(csv.reader(io.StringIO(first + rest)))
    assert [r[8] for r in rows] == [f"event {n}" for n in range(50)]


def test_a_month_is_read_within_its_ids_and_found_whatever_the_id_order(db: Database) -> None:
    _events(db, 5)  # March
    _events(db, 3, at=datetime(2027, 5, 2, 9, tzinfo=UTC), detail="May")
    _events(db, 1, at=datetime(2027, 3, 30, 9, tzinfo=UTC), detail="late March, written in May")
    march = audit.AuditFilter(start=datetime(2027, 3, 1).date(), end=datetime(2027, 3, 31).date())
    found = [e.detail for e in audit.oldest_first(db, march, LONDON, batch=2)]
    assert found == [f"event {n}" for n in range(5)] + ["late March, written in May"]
    page, _ = audit.newest(db, march, LONDON, limit=10)
    assert [e.detail for e in page] == list(reversed(found))


def test_newest_first_with_a_limit(db: Database) -> None:
    _events(db, 9)
    newest = list(
        audit.oldest_first(db, audit.AuditFilter(), LONDON, newest_first=True, limit=4, batch=3)
    )
    assert [e.detail for e in newest] == ["event 8", "event 7", "event 6", "event 5"]
    lines = "".join(audit.csv_lines(db, audit.AuditFilter(), LONDON, limit=2))
    assert [r[8] for r in csv.reader(io.StringIO(lines))][1:] == ["event 7", "event 8"]


def test_people_are_found_by_part_of_their_name_through_the_index(db: Database) -> None:
    _events(db, 2, actor="Gareth Jones")
    _events(db, 2, actor="worker")
    _events(db, 1, actor="MEGAN", detail="meg")
    rows, _ = audit.newest(db, audit.AuditFilter(person="gar"), LONDON, limit=10)
    assert {e.actor for e in rows} == {"Gareth Jones"} and len(rows) == 2
    rows, _ = audit.newest(db, audit.AuditFilter(person="Ega"), LONDON, limit=10)
    assert [e.detail for e in rows] == ["meg"]
    assert audit.newest(db, audit.AuditFilter(person="nobody"), LONDON, limit=10) == ([], None)
    assert [e.detail for e in audit.oldest_first(db, audit.AuditFilter(person="meg"), LONDON)] == [
        "meg"
    ]


def test_publisher_log_shows_the_newest_by_default_and_all_when_asked(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import publisher
    from cli import ops as cli_ops

    db = Database(settings.database_url)  # the settings' own SQLite file, as the CLI reads
    db.ensure_schema()
    _events(db, 12)
    db.dispose()
    monkeypatch.setattr(cli_ops, "LOG_LIMIT", 5)
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(publisher.cli, ["--config", str(settings.config_path), "log", *args])
        assert result.exit_code == 0, result.output
        return result.output

    default = run()
    shown = [line for line in default.splitlines() if "event" in line and "note" in line]
    assert [line.rsplit("  ", 1)[-1] for line in shown] == [f"event {n}" for n in range(7, 12)]
    assert "--limit 0" in default  # says how to see the rest
    assert len([line for line in run("--limit", "0").splitlines() if "note" in line]) == 12
    assert [
        line.rsplit("  ", 1)[-1] for line in run("--limit", "2").splitlines() if "note" in line
    ] == [
        "event 10",
        "event 11",
    ]
    rows = list(csv.reader(io.StringIO(run("--csv"))))
    assert len(rows) == 13  # a records request gets every event unless it asks for fewer
    assert len(list(csv.reader(io.StringIO(run("--csv", "--limit", "3"))))) == 4
