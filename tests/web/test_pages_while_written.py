"""Pages read without the write lock: while the worker (another process) holds SQLite's
write lock, a person looking at the queue, a day, a post, the calendar or the holds still
gets the page at once. A page that took the lock would wait for the worker's write (up to
the busy timeout, 30 s) and, in this process, behind every other page's write."""

from __future__ import annotations

import sqlite3
import sys
import threading
import traceback
from datetime import date
from types import FrameType

from flask.testing import FlaskClient

from posts.db import Database
from tests.web.conftest import DAY, all_posts, login

# Far longer than a page takes, far shorter than the busy timeout a blocked page waits.
PATIENCE_SECONDS = 10


def test_pages_answer_while_another_process_writes(client: FlaskClient, world: Database) -> None:
    post_id = all_posts(world)[0].id
    pages = [
        "/queue",
        f"/day/{DAY.isoformat()}",
        f"/posts/{post_id}",
        f"/calendar?month={DAY:%Y-%m}",
        f"/calendar/week?start={date(2027, 3, 15).isoformat()}",
        "/holds",
        "/audit",
        f"/audit?post={post_id}",
        "/campaigns",
        "/people",
    ]
    login(client, "carol")
    for page in pages:  # the reviewer's first look records previews: a write, done here
        assert client.get(page).status_code == 200, page

    assert world.engine.url.database
    worker = sqlite3.connect(world.engine.url.database, isolation_level=None)
    worker.execute("BEGIN IMMEDIATE")  # as the worker's every write transaction
    try:
        answers: dict[str, int] = {}

        def read() -> None:
            for page in pages:
                answers[page] = client.get(page).status_code

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(PATIENCE_SECONDS)
        # Where the page waits, for the failure message.
        waited = "".join(traceback.format_stack(frame)) if (frame := _frame(reader)) else ""
    finally:
        worker.execute("ROLLBACK")
        worker.close()
    reader.join()
    assert not waited, f"a page waited for the write lock (answered: {sorted(answers)}):\n{waited}"
    assert answers == {page: 200 for page in pages}


def _frame(thread: threading.Thread) -> FrameType | None:
    return sys._current_frames().get(thread.ident or 0) if thread.is_alive() else None
