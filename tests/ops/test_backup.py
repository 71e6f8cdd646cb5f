"""``publisher backup``: a consistent online copy while another connection writes."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.errors import BackupError
from ops.backup import backup_sqlite
from publisher import cli
from tests.ops.conftest import ready_posts

MAX_WRITES = 20_000


class Writer(threading.Thread):
    """Writes (hold, event) pairs, each pair in one transaction, until told to stop."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.stop = threading.Event()
        self.written = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            connection.execute("PRAGMA busy_timeout=30000")
            while not self.stop.is_set() and self.written < MAX_WRITES:
                connection.execute("BEGIN IMMEDIATE")
                cursor = connection.execute(
                    "INSERT INTO holds (account, kind, reason, set_by, set_at, starts_at) "
                    "VALUES ('gwent-x', 'hold', 'load', 'writer', '2027-01-04 12:00:00', "
                    "'2027-01-04 12:00:00')"
                )
                connection.execute(
                    "INSERT INTO events (at, actor, action, detail) "
                    "VALUES ('2027-01-04 12:00:00', 'writer', 'load_write', ?)",
                    (str(cursor.lastrowid),),
                )
                connection.execute("COMMIT")
                self.written += 1
            connection.close()
        except BaseException as exc:  # reported by the test
            self.error = exc


def wait_for(condition, deadline: float = 30.0) -> None:
    end = time.monotonic() + deadline
    while not condition():
        assert time.monotonic() < end, "condition not met before the deadline"
        time.sleep(0.005)


def test_backup_while_another_connection_writes(db, settings, clock, tmp_path) -> None:
    posts = ready_posts(db, settings, clock, tmp_path / "c")
    source = Path(settings.database_url.split("///", 1)[1])
    writer = Writer(source)
    writer.start()
    copies = []
    try:
        for n in range(3):  # each backup starts while the writer is mid-stream
            wait_for(lambda n=n: writer.written >= 50 * (n + 1) or writer.error is not None)
            before = writer.written
            report = backup_sqlite(settings.database_url, tmp_path / f"backup-{n}.db")
            copies.append((report, before, writer.written))
    finally:
        writer.stop.set()
        writer.join(30)
    assert writer.error is None, writer.error
    assert copies[-1][2] > copies[0][1]  # writes went on during the backups
    for report, before, after in copies:
        copy = sqlite3.connect(report.path)
        try:
            assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
            holds = copy.execute("SELECT count(*) FROM holds WHERE set_by = 'writer'").fetchone()[0]
            events = copy.execute(
                "SELECT count(*) FROM events WHERE action = 'load_write'"
            ).fetchone()[0]
            # One snapshot: every pair whole, none half-written.
            assert holds == events and before <= holds <= after
            assert copy.execute("SELECT count(*) FROM posts").fetchone()[0] == len(posts)
        finally:
            copy.close()
        assert report.rows["posts"] == len(posts)
        assert not report.path.with_name(report.path.name + ".partial").exists()


def test_backup_command(db, settings, clock, tmp_path) -> None:
    ready_posts(db, settings, clock, tmp_path / "c")
    target = tmp_path / "backups" / "publisher.db"
    args = ["--config", str(settings.config_path), "backup", str(target)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Backed up to {target}") and "checked" in result.output
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 1 and "exists" in again.output  # never overwritten silently
    assert CliRunner().invoke(cli, [*args, "--overwrite"]).exit_code == 0


def test_postgresql_is_pointed_at_pg_dump(tmp_path) -> None:
    with pytest.raises(BackupError, match="pg_dump"):
        backup_sqlite("postgresql://u@127.0.0.1/publisher", tmp_path / "x.db")
