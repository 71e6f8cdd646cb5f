"""``/healthz`` and ``/metrics`` over HTTP, for systemd watchdogs, load balancers and
Prometheus. Bound to 127.0.0.1 by default (settings ``[health]``); port 0 in a test
picks a free port (``server.port``).

``/healthz`` answers 200 with JSON when the last dispatch loop is recent and the database
answers, else 503 with the same JSON naming the problem. HEAD answers as GET, without
the body.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from posts.db import Database

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HealthStatus:
    healthy: bool
    last_loop_at: datetime | None
    last_loop_age_seconds: float | None
    database: str  # "reachable" or the error
    problems: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.healthy else "unhealthy",
            "last_dispatch_loop": self.last_loop_at.isoformat() if self.last_loop_at else None,
            "last_dispatch_loop_age_seconds": self.last_loop_age_seconds,
            "database": self.database,
            "problems": self.problems,
        }


def database_reachable(db: Database) -> str:
    """``"reachable"``, or why not (one line, no secrets: the URL is not quoted)."""
    # A raw DB-API connection: no BEGIN IMMEDIATE (SQLite), so a health check never
    # waits for the worker's write lock. Reading the schema's table proves more than 1.
    try:
        connection = db.engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute("SELECT version_num FROM alembic_version")
            cursor.fetchall()
            cursor.close()
            connection.rollback()
        finally:
            connection.close()
    except Exception as exc:
        from channels.credentials import redact

        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"unreachable: {redact(first)}"
    return "reachable"


def check_health(
    db: Database, last_loop_at: datetime | None, now: datetime, max_loop_age: float
) -> HealthStatus:
    problems = []
    age = (now - last_loop_at).total_seconds() if last_loop_at else None
    if last_loop_at is None:
        problems.append("no dispatch loop has run yet")
    elif age is not None and age > max_loop_age:
        problems.append(f"the last dispatch loop was {age:.0f} s ago (limit {max_loop_age:.0f} s)")
    database = database_reachable(db)
    if database != "reachable":
        problems.append(f"database {database}")
    return HealthStatus(not problems, last_loop_at, age, database, problems)


class HealthServer:
    """A small threaded HTTP server: ``/healthz`` and ``/metrics``."""

    def __init__(
        self,
        host: str,
        port: int,
        registry: CollectorRegistry | None,
        status: Callable[[], HealthStatus],
    ) -> None:
        self.host, self.requested_port = host, port
        self.registry = registry
        self.status = status
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the server first"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        self._server = ThreadingHTTPServer((self.host, self.requested_port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            # Sleeps until a request comes: an idle worker must not wake ten times a
            # second (0.06% of a core). ``stop`` knocks to end the wait at once.
            kwargs={"poll_interval": 3600},
            name="health",
            daemon=True,
        )
        self._thread.start()
        log.info("health and metrics on %s/healthz and %s/metrics", self.url, self.url)

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        stopping = threading.Thread(target=server.shutdown, name="health-stop", daemon=True)
        stopping.start()
        # serve_forever sees the shutdown only when its wait ends: knock until it has.
        host, port = server.server_address[:2]
        while stopping.is_alive():
            with contextlib.suppress(OSError):
                socket.create_connection(
                    ("127.0.0.1" if host in ("", "0.0.0.0") else str(host), port), timeout=1
                ).close()
            stopping.join(0.05)
        server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "campaign-publisher"
            head_only = False

            def do_HEAD(self) -> None:
                # Load balancers and monitors often ask HEAD: the same status and headers.
                self.head_only = True
                try:
                    self.do_GET()
                finally:
                    self.head_only = False

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                try:
                    if path in ("/healthz", "/health"):
                        status = server.status()
                        body = json.dumps(status.as_json()).encode()
                        self._answer(200 if status.healthy else 503, "application/json", body)
                    elif path == "/metrics" and server.registry is not None:
                        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

                        self._answer(200, CONTENT_TYPE_LATEST, generate_latest(server.registry))
                    else:
                        self._answer(404, "text/plain", b"try /healthz or /metrics\n")
                except Exception:
                    log.exception("health server: %s failed", path)
                    self._answer(500, "text/plain", b"internal error\n")

            def _answer(self, code: int, content_type: str, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                if not self.head_only:
                    self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("health server: " + format, *args)

        return Handler
