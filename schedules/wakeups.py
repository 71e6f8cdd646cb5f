"""Wake-ups through PostgreSQL LISTEN/NOTIFY: a post approved, a hold changed — on any
host — wakes every worker at once, so no worker polls tightly. The worker's fallback
poll still runs in case a notification is missed (e.g. while reconnecting).

The listener sleeps on the connection's socket and a pipe that ``stop`` writes to, with
no timeout: psycopg's own ``notifies(timeout=…)`` wakes ten times a second, which was
most of an idle PostgreSQL worker's CPU."""

from __future__ import annotations

import logging
import os
import selectors
import threading
from collections.abc import Callable
from typing import Any

from posts.db import CHANNEL

log = logging.getLogger(__name__)


class PostgresWakeups:
    def __init__(self, url: str, on_notify: Callable[[], None]) -> None:
        self.conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
        self.on_notify = on_notify
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="pg-listen", daemon=True)
        self._wake_r, self._wake_w = os.pipe()  # written once by ``stop``

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        os.write(self._wake_w, b"x")
        self._thread.join(timeout=5)
        if not self._thread.is_alive():  # never close a pipe the listener still waits on
            os.close(self._wake_r)
            os.close(self._wake_w)

    def _listen(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    log.info("listening for wake-ups on %s", CHANNEL)
                    self._serve(conn)
            except psycopg.Error as exc:
                log.warning("wake-up listener lost its connection (%s); retrying", exc)
                self._stop.wait(5)

    def _serve(self, conn: Any) -> None:
        """Tell of every notification until ``stop``; a lost connection raises."""
        with selectors.DefaultSelector() as selector:
            selector.register(conn.fileno(), selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while not self._stop.is_set():
                # Those already received (while LISTEN ran, or just now): ``timeout=0``
                # reads what the socket holds and never waits.
                for _ in conn.notifies(timeout=0):
                    self.on_notify()
                selector.select()  # until the server sends something, or ``stop``
