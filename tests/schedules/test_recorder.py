"""Group commit: results that arrive while a commit runs are recorded together, next."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from channels.base import Receipt
from posts import claims
from schedules import recorder as recorder_module
from schedules.recorder import GroupRecorder

NOW = datetime(2027, 1, 4, 7, 30, tzinfo=UTC)


def _claimed(n: int) -> claims.Claimed:
    return claims.Claimed(n, 1, f"acct-{n}", "x", "en", "t", [], "h", NOW, "w1")


class _Gate:
    """Stands in for ``claims.record_published_all``: the first call waits until opened."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[list[int]] = []
        self.entered = threading.Event()
        self.open = threading.Event()
        self.error = error

    def __call__(self, db: object, results: list[claims.Published]) -> list[bool]:
        self.calls.append([r.claimed.id for r in results])
        if len(self.calls) == 1:
            self.entered.set()
            assert self.open.wait(10)
        if self.error is not None and len(self.calls) == 2:
            raise self.error
        return [r.claimed.id != 3 for r in results]  # post 3's answer came too late


def _run(
    recorder: GroupRecorder, ids: list[int], answers: dict[int, object]
) -> list[threading.Thread]:
    def one(n: int) -> None:
        try:
            answers[n] = recorder.published(_claimed(n), Receipt(f"r{n}"), now=NOW)
        except Exception as exc:
            answers[n] = exc

    threads = [threading.Thread(target=one, args=(n,)) for n in ids]
    for thread in threads:
        thread.start()
    return threads


def _queued(recorder: GroupRecorder, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(recorder._queue) < count:  # no sleep: the threads only append and wait
        assert time.monotonic() < deadline, "results never queued"


def test_results_arriving_during_a_commit_go_together_in_the_next(monkeypatch) -> None:
    gate = _Gate()
    monkeypatch.setattr(claims, "record_published_all", gate)
    recorder = GroupRecorder(db=None)  # type: ignore[arg-type]
    answers: dict[int, object] = {}
    threads = _run(recorder, [1], answers)
    assert gate.entered.wait(10)  # post 1 is committing, alone: it waited for nobody
    threads += _run(recorder, [2, 3, 4], answers)
    _queued(recorder, 3)
    gate.open.set()
    for thread in threads:
        thread.join(10)
    assert gate.calls[0] == [1] and sorted(gate.calls[1]) == [2, 3, 4]
    assert recorder.commits == 2
    assert answers == {1: True, 2: True, 3: False, 4: True}


def test_a_failed_commit_fails_every_result_in_it(monkeypatch) -> None:
    """None of them is recorded, and each publishing thread is told (its lease then
    expires and the post is looked up, as when one record fails alone)."""
    gate = _Gate(error=RuntimeError("database went away"))
    monkeypatch.setattr(claims, "record_published_all", gate)
    recorder = GroupRecorder(db=None)  # type: ignore[arg-type]
    answers: dict[int, object] = {}
    threads = _run(recorder, [1], answers)
    assert gate.entered.wait(10)
    threads += _run(recorder, [2, 4], answers)
    _queued(recorder, 2)
    gate.open.set()
    for thread in threads:
        thread.join(10)
    assert answers[1] is True
    for n in (2, 4):
        assert isinstance(answers[n], RuntimeError)
    # The recorder goes on: the next result commits.
    assert recorder.published(_claimed(5), Receipt("r5"), now=NOW) is True
    assert gate.calls[-1] == [5]


def test_a_lone_result_lets_results_about_to_arrive_join_its_commit(monkeypatch) -> None:
    """The first result's thread yields before committing: results queued while it yields
    go in the same commit (here the yield is replaced by threads that queue two results);
    it stops yielding once a turn brings nothing more."""
    gate = _Gate()
    gate.open.set()
    monkeypatch.setattr(claims, "record_published_all", gate)
    recorder = GroupRecorder(db=None)  # type: ignore[arg-type]
    answers: dict[int, object] = {}
    others: list[threading.Thread] = []
    turns: list[int] = []

    def other_threads_run() -> None:
        turns.append(len(recorder._queue))
        if len(turns) == 1:
            others.extend(_run(recorder, [2, 4], answers))
            _queued(recorder, 3)

    monkeypatch.setattr(recorder_module, "_yield", other_threads_run)
    answers[1] = recorder.published(_claimed(1), Receipt("r1"), now=NOW)
    for thread in others:
        thread.join(10)
    assert gate.calls == [[1, 2, 4]] and recorder.commits == 1
    assert turns == [1, 3]  # the second turn brought nothing: it committed
    assert answers == {1: True, 2: True, 4: True}
