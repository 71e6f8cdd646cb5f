"""Our claim-publish-record path against raw SQL doing the same claim and update.

Ours: the worker's Dispatcher (claim a batch atomically with lease and attempt, build the
outgoing post, publish, record the result with its fence and event) to the outbox and to
a no-op channel. Raw: a bare sqlite3 loop over the same table: ``UPDATE … RETURNING`` to
claim a batch, then one ``UPDATE`` per post to record it, each in its own transaction.
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from channels.base import Channel, OutgoingPost, Receipt
from channels.outbox import OutboxChannel
from core.clock import FakeClock
from posts.db import Database
from schedules.dispatch import Dispatcher

from .common import T0, bench_settings, row, seed_due_posts

POSTS = 10_000
ACCOUNTS = 50
BATCH = 50


class NoOpChannel(Channel):
    name = "noop"

    def publish(self, post: OutgoingPost) -> Receipt:
        return Receipt(remote_id=f"noop-{post.post_id}")

    def find(self, post: OutgoingPost) -> Receipt | None:
        return None

    def check(self) -> str:
        return "no-op"


def ours(
    folder: Path, channel: str, url: str = "", posts: int = POSTS, threads: int | None = None
) -> float:
    """Our worker's rounds to ``channel``; ``threads`` unset is the worker's default (one
    send in flight per account)."""
    options = {} if threads is None else {"threads": threads}
    settings = bench_settings(folder, ACCOUNTS, url=url, batch_size=BATCH, **options)
    db = Database(settings.database_url)
    db.ensure_schema()
    seed_due_posts(db, posts, ACCOUNTS)
    clock = FakeClock(T0 + timedelta(seconds=1))
    outbox = OutboxChannel(folder / "outbox.jsonl")
    noop = NoOpChannel()
    dispatcher = Dispatcher(
        db, settings, lambda a: outbox if channel == "outbox" else noop, clock, owner="bench"
    )
    start = time.perf_counter()
    while dispatcher.published < posts:
        dispatcher.run_round()
        dispatcher.wait()
    elapsed = time.perf_counter() - start
    dispatcher.shutdown()
    db.dispose()
    return posts / elapsed


def raw_sqlite(folder: Path, posts: int = POSTS) -> float:
    settings = bench_settings(folder, ACCOUNTS)
    db = Database(settings.database_url)
    db.ensure_schema()
    seed_due_posts(db, posts, ACCOUNTS)
    db.dispose()
    conn = sqlite3.connect(settings.database_url.removeprefix("sqlite:///"), isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    now = (T0 + timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S.%f")
    done = 0
    start = time.perf_counter()
    while done < posts:
        conn.execute("BEGIN IMMEDIATE")
        ids = conn.execute(
            "UPDATE posts SET state='sending', lease_owner='raw', attempt=attempt+1 "
            "WHERE id IN (SELECT id FROM posts WHERE state='approved' AND due_at <= ? "
            "ORDER BY due_at, id LIMIT ?) RETURNING id",
            (now, BATCH),
        ).fetchall()
        conn.execute("COMMIT")
        for (post_id,) in ids:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "UPDATE posts SET state='published', remote_id=?, lease_owner=NULL "
                "WHERE id=? AND state='sending'",
                (f"raw-{post_id}", post_id),
            )
            conn.execute("COMMIT")
        done += len(ids)
    elapsed = time.perf_counter() - start
    conn.close()
    return posts / elapsed


def raw_postgres(url: str, folder: Path, posts: int = POSTS) -> float:
    """The same claim and update as raw SQL through psycopg, on the same table."""
    import psycopg

    settings = bench_settings(folder, ACCOUNTS, url=url)
    db = Database(settings.database_url)
    db.ensure_schema()
    seed_due_posts(db, posts, ACCOUNTS)
    db.dispose()
    now = T0 + timedelta(seconds=1)
    done = 0
    with psycopg.connect(url, autocommit=False) as conn:
        start = time.perf_counter()
        while done < posts:
            ids = conn.execute(
                "UPDATE posts SET state='sending', lease_owner='raw', attempt=attempt+1 "
                "WHERE id IN (SELECT id FROM posts WHERE state='approved' AND due_at <= %s "
                "ORDER BY due_at, id LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING id",
                (now, BATCH),
            ).fetchall()
            conn.commit()
            for (post_id,) in ids:
                conn.execute(
                    "UPDATE posts SET state='published', remote_id=%s, "
                    "lease_owner=NULL WHERE id=%s AND state='sending'",
                    (f"raw-{post_id}", post_id),
                )
                conn.commit()
            done += len(ids)
        elapsed = time.perf_counter() - start
    return posts / elapsed


def run() -> None:
    print(
        f"Claim path: {POSTS:,} due posts over {ACCOUNTS} accounts, SQLite file, batches of {BATCH}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        raw = raw_sqlite(Path(tmp) / "raw")
        to_outbox = ours(Path(tmp) / "outbox", "outbox")
        to_noop = ours(Path(tmp) / "noop", "noop")
    row("raw sqlite3 UPDATE … RETURNING loop", f"{raw:,.0f} posts/s", "baseline")
    row("ours → no-op channel", f"{to_noop:,.0f} posts/s", f"{to_noop / raw:.0%} of raw")
    row(
        "ours → outbox (dry run, fsync per post)",
        f"{to_outbox:,.0f} posts/s",
        f"{to_outbox / raw:.0%} of raw",
    )
    from tests import pg

    if not pg.available():
        print("  (PostgreSQL not reachable: its claim-path figures are skipped)")
        return
    print(f"Claim path: the same on PostgreSQL ({pg.SERVER})")
    with tempfile.TemporaryDirectory() as tmp:
        with pg.schema_url() as url:
            raw = raw_postgres(url, Path(tmp) / "r")
        with pg.schema_url() as url:
            to_noop = ours(Path(tmp) / "n", "noop", url=url)
    row("raw psycopg UPDATE … SKIP LOCKED loop", f"{raw:,.0f} posts/s", "baseline")
    row("ours → no-op channel", f"{to_noop:,.0f} posts/s", f"{to_noop / raw:.0%} of raw")
