"""Group commit for the worker's successes: sends that finish together are recorded in one
transaction instead of one each.

No thread of its own and no timer. The first thread with a result to record becomes the
committer: it lets the threads that are ready to run take their turn first (a yield of
the GIL, repeated while their results keep joining, at most ``GATHER_TURNS`` times; with
nobody else ready it goes on at once), commits what is queued, tells each result's
``then`` how it went, and commits again whatever was queued meanwhile, until nothing is
left. A thread whose result arrives while another commits only queues it and returns: it
neither sleeps nor is woken (a wake-up a post, and the GIL hand-offs around it, cost more
CPU than the commit's share on the claim-path bench). Each result is still fenced on its
own (``claims.record_published_all``), and the dispatcher keeps holding a post (its
heartbeat renews the lease) until ``then`` has been called for it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime

from channels.base import Receipt
from posts import claims
from posts.db import Database

log = logging.getLogger(__name__)

# What a result's ``then`` is told: whether it was recorded as this attempt's (False: it
# came too late, its lease was lost), or the error that failed its group's commit.
Recorded = bool | BaseException

# How many times a lone result lets other threads run before it commits. Sends finishing
# together (a burst, the claim-path bench) then share a commit: ~31 results a commit
# instead of ~2, 114 -> 96 µs of CPU a post on the claim-path bench.
GATHER_TURNS = 8


def _yield() -> None:
    """Let another thread that is ready to run take the GIL (returns at once if none is)."""
    time.sleep(0)


class GroupRecorder:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = threading.Lock()
        self._queue: list[tuple[claims.Published, Callable[[Recorded], None]]] = []
        self._committing = False
        self.commits = 0  # transactions (the tests count them)

    def published(
        self,
        claimed: claims.Claimed,
        receipt: Receipt,
        *,
        now: datetime,
        then: Callable[[Recorded], None],
        detail: str = "",
    ) -> None:
        """``claims.record_published``, committed with whatever else is waiting; ``then``
        is called once it is committed (or its commit failed), by this thread if no other
        is committing, else by that one, perhaps after this call has returned."""
        with self._lock:
            self._queue.append((claims.Published(claimed, receipt, now, detail), then))
            if self._committing:
                return  # the committing thread takes it in its next commit
            self._committing = True
        self._gather()
        while True:
            with self._lock:
                group, self._queue = self._queue, []
                if not group:
                    self._committing = False
                    return
            self._commit(group)

    def _gather(self) -> None:
        """Before a lone result commits: results of threads about to finish join it, as
        long as each turn brings more (reads of the queue's length need no lock)."""
        queued = len(self._queue)
        for _ in range(GATHER_TURNS):
            _yield()
            if len(self._queue) == queued:
                return
            queued = len(self._queue)

    def _commit(self, group: list[tuple[claims.Published, Callable[[Recorded], None]]]) -> None:
        outcomes: list[Recorded]
        try:
            outcomes = list(claims.record_published_all(self.db, [r for r, _ in group]))
        except BaseException as exc:  # every result of the group shares its fate
            outcomes = [exc] * len(group)
        self.commits += 1
        for (result, then), outcome in zip(group, outcomes, strict=True):
            try:
                then(outcome)
            except BaseException:  # one result's follow-up never stops the others'
                log.exception("post %s: after recording", result.claimed.id)
