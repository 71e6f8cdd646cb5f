"""PostgreSQL LISTEN/NOTIFY wake-ups (schedules/wakeups.py) on the real server: a
notification wakes the worker, and ``stop`` ends the listener at once although it waits
without a timeout. Each test listens on its own channel: other runs notify the real one."""

from __future__ import annotations

import threading
import uuid

import pytest

from schedules import wakeups as module
from schedules.wakeups import PostgresWakeups
from tests import pg


@pytest.fixture
def channel(monkeypatch: pytest.MonkeyPatch) -> str:
    with pg.schema_url():  # skips (or fails on CI) when no server is reachable
        pass
    name = f"cp_test_{uuid.uuid4().hex[:12]}"
    monkeypatch.setattr(module, "CHANNEL", name)
    return name


def _notify(channel: str) -> None:
    import psycopg

    with psycopg.connect(pg.SERVER, autocommit=True) as conn:
        conn.execute(f"NOTIFY {channel}")


def test_a_notification_wakes_the_worker_and_stop_ends_the_wait(channel: str) -> None:
    woken = threading.Event()
    wakeups = PostgresWakeups(pg.SERVER, woken.set)
    wakeups.start()
    try:
        # Notify until heard: the listener may not have run LISTEN yet.
        for _ in range(600):
            _notify(channel)
            if woken.wait(0.1):
                break
        assert woken.is_set()
        woken.clear()
        _notify(channel)  # heard again: the listener went back to waiting
        assert woken.wait(60)
    finally:
        wakeups.stop()
    # ``stop`` waits 5 s at most for the thread; without its knock on the pipe the
    # listener would sleep on the socket until the next notification.
    assert not wakeups._thread.is_alive()
