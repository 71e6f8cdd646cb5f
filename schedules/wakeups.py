"""Wake-ups through PostgreSQL LISTEN/NOTIFY: a post approved, a hold changed — on any
host — wakes every worker at once, so no worker polls tightly. The worker's fallback
poll still runs in case a notification is missed (e.g. while reconnecting)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from posts.db import CHANNEL

log = logging.getLogger(__name__)


class PostgresWakeups:
    def __init__(self, url: str, on_notify: Callable[[], None]) -> None:
        self.conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
        self.on_notify = on_notify
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="pg-listen", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _listen(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    log.info("listening for wake-ups on %s", CHANNEL)
                    while not self._stop.is_set():
                        # Returns after the timeout so a stop is noticed within a second.
                        for _ in conn.notifies(timeout=1.0):
                            self.on_notify()
            except psycopg.Error as exc:
                log.warning("wake-up listener lost its connection (%s); retrying", exc)
                self._stop.wait(5)
