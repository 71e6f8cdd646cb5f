"""Group commit for the worker's successes: sends that finish together are recorded in one
transaction instead of one each.

No thread of its own and no timer: the first thread with a result to record commits it
at once (a lone result waits for nobody); results that arrive while a commit is running
wait for it to end and then go in the next commit together, taken by the first of them. Each
result is still fenced on its own (``claims.record_published_all``), and its publishing
thread returns only once its result is committed, so the heartbeat renews the post's
lease until then.
"""

from __future__ import annotations

import threading
from datetime import datetime

from channels.base import Receipt
from posts import claims
from posts.db import Database


class _Waiting:
    __slots__ = ("done", "error", "recorded", "result", "wake")

    def __init__(self, result: claims.Published) -> None:
        self.result = result
        self.recorded = False
        self.error: BaseException | None = None
        self.done = False
        # Released once: when this result is committed, or when this thread is to commit
        # the next group. One lock a waiter, so a commit wakes only its own group (a
        # shared condition woke every waiting thread at every commit).
        self.wake = threading.Lock()
        self.wake.acquire()


class GroupRecorder:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = threading.Lock()
        self._queue: list[_Waiting] = []
        self._committing = False
        self.commits = 0  # transactions, for the benchmarks

    def published(
        self, claimed: claims.Claimed, receipt: Receipt, *, now: datetime, detail: str = ""
    ) -> bool:
        """``claims.record_published``, committed with whatever else is waiting: True if
        recorded as this attempt's, False if it came too late (its lease was lost)."""
        mine = _Waiting(claims.Published(claimed, receipt, now, detail))
        with self._lock:
            self._queue.append(mine)
            waits, self._committing = self._committing, True
        if waits:
            mine.wake.acquire()
            if mine.done:
                return self._answer(mine)
            # Not committed yet: the previous commit handed this thread the next one.
        with self._lock:
            group, self._queue = self._queue, []
        try:
            recorded = claims.record_published_all(self.db, [w.result for w in group])
            for waiting, ok in zip(group, recorded, strict=True):
                waiting.recorded = ok
        except BaseException as exc:  # every result of the group shares its fate
            for waiting in group:
                waiting.error = exc
        finally:
            with self._lock:
                self.commits += 1
                for waiting in group:
                    waiting.done = True
                    if waiting is not mine:
                        waiting.wake.release()
                if self._queue:
                    self._queue[0].wake.release()  # it commits everything waiting
                else:
                    self._committing = False
        return self._answer(mine)

    @staticmethod
    def _answer(waiting: _Waiting) -> bool:
        if waiting.error is not None:
            raise waiting.error
        return waiting.recorded
