"""The real worker as a subprocess on a SQLite file, publishing to the dry-run outbox."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from campaign.expand import expand
from campaign.loader import load_campaign
from core.clock import SystemClock
from posts import review
from posts.models import Post
from posts.planning import store_drafts
from tests.helpers import approve_all, who, write_campaign


def _start_worker(settings, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "publisher",
            "--config",
            str(settings.config_path),
            "worker",
            *args,
        ],
        env={**os.environ, "PUBLISHER_WORKER_FALLBACK_POLL_SECONDS": "0.5"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _outbox(settings) -> list[dict]:
    path = settings.outbox_path
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _wait_for(condition, deadline: float, proc: subprocess.Popen[bytes]) -> None:
    end = time.monotonic() + deadline
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"worker exited early: {proc.stdout.read().decode()}")
        if time.monotonic() > end:
            raise AssertionError("condition not met before the deadline")
        time.sleep(0.05)


def _plan_due_soon(db, settings, tmp_path: Path, seconds: float, **kw) -> list[int]:
    """Plan, move every post to fall due ``seconds`` from now, approve."""
    clock = SystemClock()
    folder = write_campaign(tmp_path / "c", **kw)
    store_drafts(db, expand(load_campaign(folder), settings), actor=who("alice"), now=clock.now())
    with db.transaction() as s:
        ids = list(s.scalars(select(Post.id).order_by(Post.id)))
    due = clock.now() + timedelta(seconds=seconds)
    for n, post_id in enumerate(ids):
        review.edit(
            db, post_id, actor=who("alice"), now=clock.now(), due_at=due + timedelta(milliseconds=n)
        )
    approve_all(db, ids, clock.now())
    return ids


def test_worker_publishes_due_posts_on_time_and_stops_on_sigterm(db, settings, tmp_path) -> None:
    ids = _plan_due_soon(
        db, settings, tmp_path, seconds=2, accounts='["gwent-x", "gwent-facebook"]'
    )
    proc = _start_worker(settings)
    try:
        _wait_for(lambda: len(_outbox(settings)) == len(ids), 30, proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode == 0
    sent = _outbox(settings)
    assert sorted(line["post_id"] for line in sent) == sorted(ids)
    with db.transaction() as s:
        posts = list(s.scalars(select(Post)))
    assert {p.state for p in posts} == {"published"}
    texts = {p.id: p.text for p in posts}
    assert all(line["text"] == texts[line["post_id"]] for line in sent)  # byte for byte
    # Each post went out at or after its time.
    lateness = [(p.published_at - p.due_at).total_seconds() for p in posts]
    assert min(lateness) >= 0


def test_sigterm_while_publishing_loses_nothing(db, settings, tmp_path) -> None:
    ids = _plan_due_soon(
        db,
        settings,
        tmp_path,
        seconds=1,
        end="2027-03-31",
        accounts='["gwent-x", "gwent-facebook"]',
    )
    assert len(ids) > 100
    proc = _start_worker(settings)
    _wait_for(lambda: len(_outbox(settings)) >= 1, 30, proc)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    assert proc.returncode == 0
    with db.transaction() as s:
        states = {p.id: p.state for p in s.scalars(select(Post))}
    assert "sending" not in states.values()  # what was in flight was finished and recorded
    published = {i for i, st in states.items() if st == "published"}
    assert {line["post_id"] for line in _outbox(settings)} == published
    # A second run sends the rest; nothing twice.
    proc = _start_worker(settings)
    try:
        _wait_for(lambda: len(_outbox(settings)) >= len(ids), 60, proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    sent = [line["post_id"] for line in _outbox(settings)]
    assert sorted(sent) == sorted(ids)
