"""Copy a whole queue from one database to another — a force's SQLite file into the shared
PostgreSQL — ids, states, approvals and the audit log unchanged. One transaction on the
target: it has everything or nothing."""

from __future__ import annotations

from sqlalchemy import func, select, text

from core.errors import QueueError

from .db import Database
from .models import Base, Post
from .states import PostState

CHUNK = 1000


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
    with target.transaction() as t:
        if t.scalar(select(func.count()).select_from(Post)):
            raise QueueError("the target database already has posts: copy into an empty one")
    counts: dict[str, int] = {}
    tables = [t for t in Base.metadata.sorted_tables]
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
