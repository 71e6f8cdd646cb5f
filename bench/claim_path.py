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
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from channels.base import Channel, OutgoingPost, Receipt
from channels.outbox import OutboxChannel
from core.clock import FakeClock
from posts.db import Database
from schedules.dispatch import Dispatcher

from .common import T0, bench_settings, median, row, seed_due_posts

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


@dataclass(frozen=True)
class Rate:
    """One timed run: posts, wall seconds, and this process's CPU seconds (every thread;
    on SQLite that includes the database's work, on PostgreSQL not the server's)."""

    posts: int
    seconds: float
    cpu: float

    @property
    def per_second(self) -> float:
        return self.posts / self.seconds

    @property
    def cpu_us(self) -> float:
        """CPU microseconds per post."""
        return self.cpu / self.posts * 1e6


def ours(
    folder: Path, channel: str, url: str = "", posts: int = POSTS, threads: int | None = None
) -> Rate:
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
    start, cpu = time.perf_counter(), time.process_time()
    while dispatcher.published < posts:
        dispatcher.run_round()
        dispatcher.wait()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    dispatcher.shutdown()
    db.dispose()
    return Rate(posts, elapsed, cpu)


def raw_sqlite(folder: Path, posts: int = POSTS) -> Rate:
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
    start, cpu = time.perf_counter(), time.process_time()
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
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    conn.close()
    return Rate(posts, elapsed, cpu)


def raw_postgres(url: str, folder: Path, posts: int = POSTS) -> Rate:
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
        start, cpu = time.perf_counter(), time.process_time()
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
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return Rate(posts, elapsed, cpu)


def run(runs: int = 3) -> None:
    """``runs`` rounds of raw then ours, interleaved so that both see the same machine;
    medians, and the median of each run's ratio."""
    print(
        f"Claim path: {POSTS:,} due posts over {ACCOUNTS} accounts, SQLite file, batches of "
        f"{BATCH}; median of {runs} runs (raw and ours in turn)"
    )
    raws, noops, outboxes = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(runs):
            raws.append(raw_sqlite(Path(tmp) / f"raw{n}"))
            noops.append(ours(Path(tmp) / f"noop{n}", "noop"))
            outboxes.append(ours(Path(tmp) / f"outbox{n}", "outbox"))
    _rows("raw sqlite3 UPDATE … RETURNING loop", raws, None)
    _rows("ours → no-op channel", noops, raws)
    _rows("ours → outbox (dry run, fsync per post)", outboxes, raws)
    from tests import pg

    if not pg.available():
        print("  (PostgreSQL not reachable: its claim-path figures are skipped)")
        return
    print(f"Claim path: the same on PostgreSQL ({pg.SERVER}); CPU is this process's only")
    raws, noops = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(runs):
            with pg.schema_url() as url:
                raws.append(raw_postgres(url, Path(tmp) / f"r{n}"))
            with pg.schema_url() as url:
                noops.append(ours(Path(tmp) / f"n{n}", "noop", url=url))
    _rows("raw psycopg UPDATE … SKIP LOCKED loop", raws, None)
    _rows("ours → no-op channel", noops, raws)


def _rows(name: str, rates: list[Rate], raws: list[Rate] | None) -> None:
    speed = median([r.per_second for r in rates])
    cpu = median([r.cpu_us for r in rates])
    if raws is None:
        row(name, f"{speed:,.0f} posts/s", f"baseline; CPU {cpu:.0f} µs a post")
        return
    ratios = [r.per_second / raw.per_second for r, raw in zip(rates, raws, strict=True)]
    each = " / ".join(f"{x:.0%}" for x in ratios)
    row(
        name,
        f"{speed:,.0f} posts/s",
        f"{median(ratios):.0%} of raw (runs: {each}); CPU {cpu:.0f} µs a post",
    )


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each (median)")
    run(parser.parse_args().runs)


if __name__ == "__main__":
    main()
