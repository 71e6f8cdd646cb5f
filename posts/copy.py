"""Copy a whole queue from one database to another — a force's SQLite file into the shared
PostgreSQL — every table (posts, approvals, holds, the audit log, the web app's users and
their rights) with ids unchanged. One transaction on the target: it has everything or
nothing.

Not copied: signed-in sessions and the sign-in throttle (``NOT_COPIED``). A copy is a move
to another database: everyone signs in again there (a session copied from a file could
outlive its ending on the source, and the cookies of the old host are not the new one's
business), and the throttle is minutes of short-lived state."""

from __future__ import annotations

from sqlalchemy import func, inspect, select, text

from core.errors import QueueError

from .db import Database
from .models import Post
from .schema import all_tables
from .states import PostState

CHUNK = 1000
NOT_COPIED = frozenset({"web_sessions", "sign_in_throttle"})


def copy_queue(source: Database, target: Database) -> dict[str, int]:
    """Rows copied per table. Refuses a non-empty target and a source mid-send."""
    source.ensure_schema()
    target.ensure_schema()
    with source.transaction() as s:
        sending = s.scalar(
            select(func.count()).select_from(Post).where(Post.state == PostState.SENDING)
        )
    if sending:
        raise QueueError(
            f"{sending} post(s) are being sent from the source: stop its worker "
            "first (`systemctl stop campaign-publisher-worker`), then copy"
        )
    every = all_tables().sorted_tables  # parents before children
    known = {table.name for table in every} | {"alembic_version"}
    tables = [table for table in every if table.name not in NOT_COPIED]
    with source.connection() as src:
        unknown = sorted(set(inspect(src).get_table_names()) - known)
    if unknown:  # never leave a table behind without saying so
        raise QueueError(
            "the source database has tables this version does not know: "
            + ", ".join(unknown)
            + " (upgrade Campaign Publisher first)"
        )
    with target.transaction() as t:
        filled = [tb.name for tb in tables if t.scalar(select(func.count()).select_from(tb))]
    if filled:
        raise QueueError(
            f"the target database already has rows in {', '.join(filled)}: "
            "copy into an empty one"
        )
    counts: dict[str, int] = {}
    with source.connection() as src, target.connection() as dst:
        for table in tables:
            rows = [dict(r._mapping) for r in src.execute(select(table))]
            for start in range(0, len(rows), CHUNK):
                dst.execute(table.insert(), rows[start : start + CHUNK])
            counts[table.name] = len(rows)
            if target.dialect == "postgresql" and rows and "id" in table.c:
                # Rows came with their ids: move the sequence past them.
                dst.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                        f"(SELECT max(id) FROM {table.name}))"
                    )
                )
    return counts
