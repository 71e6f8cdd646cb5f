"""Online backups: a consistent copy of the SQLite database while the worker runs.

SQLite's backup API copies a snapshot: in WAL mode the copy reads one consistent
version of the database and writers carry on meanwhile. The copy is written beside the
target, checked (``PRAGMA integrity_check``), switched to a single-file journal mode,
and only then renamed into place, so a failed backup never leaves a half file behind.

PostgreSQL is backed up with its own tool (see docs/service.md): ``pg_dump``.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from core.errors import BackupError

TABLES = ("posts", "events", "holds")



@dataclass(frozen=True)
class BackupReport:
    path: Path
    size: int
    rows: dict[str, int]

    def summary(self) -> str:
        counts = ", ".join(f"{n} {table}" for table, n in self.rows.items())
        return f"Backed up to {self.path} ({self.size / 1024:.0f} KiB: {counts}); checked."


def sqlite_path(database_url: str) -> Path:
    """The file behind a ``sqlite:///`` URL, or ``BackupError`` saying what to use instead."""
    if not database_url.startswith("sqlite"):
        raise BackupError(
            "the database is not SQLite: back PostgreSQL up with pg_dump, e.g. "
            '`pg_dump --format=custom --file publisher.dump "$DATABASE_URL"` '
            "(see docs/service.md)"
        )
    path = database_url.split("///", 1)[-1]
    if not path or path == ":memory:":
        raise BackupError("an in-memory database cannot be backed up")
    return Path(path)


def backup_sqlite(database_url: str, target: Path, *, overwrite: bool = False) -> BackupReport:
    """Copy the live database to ``target`` (an online, consistent copy)."""
    source = sqlite_path(database_url)
    target = Path(target)
    if not source.exists():
        raise BackupError(f"there is no database at {source}")
    if target.exists() and not overwrite:
        raise BackupError(f"{target} exists; choose another name or give --overwrite")
    if target.resolve() == source.resolve():
        raise BackupError("the backup cannot overwrite the database itself")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
        try:
            dst = sqlite3.connect(partial)
            try:
                src.backup(dst)  # all pages in one step: one consistent snapshot
                dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
                check = dst.execute("PRAGMA integrity_check").fetchone()[0]
                if check != "ok":
                    raise BackupError(f"the copy failed its integrity check: {check}")
                rows = {
                    table: int(dst.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
                    for table in TABLES
                    if dst.execute(
                        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
                    ).fetchone()
                }
            finally:
                dst.close()
        finally:
            src.close()
        with open(partial, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, target)
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"backup of {source} failed: {exc}") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return BackupReport(target, target.stat().st_size, rows)
