"""Group commit: results that arrive while a commit runs are recorded together, next, by
the thread already committing; their own threads only queue them."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from channels.base import Receipt
from posts import claims
from schedules import recorder as recorder_module
from schedules.recorder import GroupRecorder, Recorded

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


def _record(recorder: GroupRecorder, n: int, answers: dict[int, Recorded]) -> None:
    """Post ``n``'s success, its answer kept in ``answers`` (by whichever thread)."""
    recorder.published(
        _claimed(n), Receipt(f"r{n}"), now=NOW, then=lambda ok: answers.__setitem__(n, ok)
    )


def _committing(recorder: GroupRecorder, n: int, answers: dict[int, Recorded]) -> threading.Thread:
    thread = threading.Thread(target=_record, args=(recorder, n, answers))
    thread.start()
    return thread


def test_results_arriving_during_a_commit_go_together_in_the_next(monkeypatch) -> None:
    gate = _Gate()
    monkeypatch.setattr(claims, "record_published_all", gate)
    recorder = GroupRecorder(db=None)  # type: ignore[arg-type]
    answers: dict[int, Recorded] = {}
    committer = _committing(recorder, 1, answers)
    assert gate.entered.wait(10)  # post 1 is committing, alone: it waited for nobody
    for n in (2, 3, 4):  # queued; these calls return at once, nothing recorded yet
        _record(recorder, n, answers)
    assert answers == {} and gate.calls == [[1]]
    gate.open.set()
    committer.join(10)
    assert gate.calls == [[1], [2, 3, 4]]  # the committing thread took them too
    assert recorder.commits == 2
    assert answers == {1: True, 2: True, 3: False, 4: True}
    assert not recorder._committing and recorder._queue == []


def test_a_failed_commit_fails_every_result_in_it(monkeypatch) -> None:
    """None of them is recorded, and each is told (its lease then expires and the post
    is looked up, as when one record fails alone)."""
    gate = _Gate(error=RuntimeError("database went away"))
    monkeypatch.setattr(claims, "record_published_all", gate)
    recorder = GroupRecorder(db=None)  # type: ignore[arg-type]
    answers: dict[int, Recorded] = {}
    committer = _committing(recorder, 1, answers)
    assert gate.entered.wait(10)
    for n in (2, 4):
        _record(recorder, n, answers)
    gate.open.set()
    committer.join(10)
    assert answers[1] is True
    for n in (2, 4):
        assert isinstance(answers[n], RuntimeError)
    # The recorder goes on: the next result commits, in the caller's thread.
    _record(recorder, 5, answers)
    assert answers[5] is True and gate.calls[-1] == [5]


def test_a_failing_follow_up_does_not_stop_the_others(monkeypatch) -> None:
    monkeypatch.setattr(claims, "record_published_all", lambda db, rs: [True] * len(rs))
    recorder = GroupRecorder(db=None)  # type: ignore[arg-type]
    answers: dict[int, Recorded] = {}

    def first_then_others(ok: Recorded) -> None:
        for n in (2, 4):  # queued while this result's follow-up runs
            _record(recorder, n, answers)
        raise RuntimeError("an observer's bug")

    recorder.published(_claimed(1), Receipt("r1"), now=NOW, then=first_then_others)
    assert answers == {2: True, 4: True} and recorder.commits == 2


def test_a_lone_result_lets_results_about_to_arrive_join_its_commit(monkeypatch) -> None:
    """The first result's thread yields before committing: results queued while it yields
    go in the same commit (here the yield is replaced by two results queuing); it stops
    yielding once a turn brings nothing more."""
    gate = _Gate()
    gate.open.set()
    monkeypatch.setattr(claims, "record_published_all", gate)
    recorder = GroupRecorder(db=None)  # type: ignore[arg-type]
    answers: dict[int, Recorded] = {}
    turns: list[int] = []

    def other_threads_run() -> None:
        turns.append(len(recorder._queue))
        if len(turns) == 1:
            for n in (2, 4):
                _record(recorder, n, answers)

    monkeypatch.setattr(recorder_module, "_yield", other_threads_run)
    _record(recorder, 1, answers)
    assert gate.calls == [[1, 2, 4]] and recorder.commits == 1
    assert turns == [1, 3]  # the second turn brought nothing: it committed
    assert answers == {1: True, 2: True, 4: True}
