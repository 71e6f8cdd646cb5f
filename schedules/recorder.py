"""Group commit for the worker's successes: sends that finish together are recorded in one
transaction instead of one each.

No thread of its own and no timer: the first thread with a result to record commits it
at once (a lone result waits for nobody); results that arrive while a commit is running
wait for it to end and then go in the next commit together, taken by one of them. Each
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
    __slots__ = ("done", "error", "recorded", "result")

    def __init__(self, result: claims.Published) -> None:
        self.result = result
        self.recorded = False
        self.error: BaseException | None = None
        self.done = False


class GroupRecorder:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._changed = threading.Condition(threading.Lock())
        self._queue: list[_Waiting] = []
        self._committing = False
        self.commits = 0  # transactions, for the benchmarks

    def published(
        self, claimed: claims.Claimed, receipt: Receipt, *, now: datetime, detail: str = ""
    ) -> bool:
        """``claims.record_published``, committed with whatever else is waiting: True if
        recorded as this attempt's, False if it came too late (its lease was lost)."""
        mine = _Waiting(claims.Published(claimed, receipt, now, detail))
        with self._changed:
            self._queue.append(mine)
            while self._committing and not mine.done:
                self._changed.wait()
            if mine.done:
                return self._answer(mine)
            # Nobody is committing and this result is still waiting: commit everything
            # waiting, this one included.
            self._committing = True
            group, self._queue = self._queue, []
        try:
            recorded = claims.record_published_all(self.db, [w.result for w in group])
            for waiting, ok in zip(group, recorded, strict=True):
                waiting.recorded = ok
        except BaseException as exc:  # every result of the group shares its fate
            for waiting in group:
                waiting.error = exc
        finally:
            with self._changed:
                for waiting in group:
                    waiting.done = True
                self._committing = False
                self.commits += 1
                self._changed.notify_all()
        return self._answer(mine)

    @staticmethod
    def _answer(waiting: _Waiting) -> bool:
        if waiting.error is not None:
            raise waiting.error
        return waiting.recorded
