"""Fixtures for the service tests: real local servers on 127.0.0.1 (SMTP with STARTTLS
and AUTH LOGIN via aiosmtpd, a webhook receiver), posts made ready, and a root logger
restored after tests that reconfigure logging."""

from __future__ import annotations

import json
import logging
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import select

from campaign.expand import expand
from campaign.loader import load_campaign
from posts.models import Post
from posts.planning import store_drafts
from tests.helpers import approve_all, who, write_campaign

SMTP_USER, SMTP_PASSWORD = "publisher", "smtp-pass-7d1c9e2f"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- SMTP ----------------------------------------------------------------------------------


@dataclass
class SmtpServer:
    port: int
    client_context: ssl.SSLContext
    ca_pem: bytes
    messages: list[dict[str, Any]] = field(default_factory=list)
    mechanisms: list[str] = field(default_factory=list)
    received: threading.Event = field(default_factory=threading.Event)


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, smtp: Any, session: Any, envelope: Any) -> str:
        self.server.messages.append(
            {
                "from": envelope.mail_from,
                "to": list(envelope.rcpt_tos),
                "content": envelope.original_content,
                "tls": session.ssl is not None,
                "authenticated": session.authenticated,
            }
        )
        self.server.received.set()
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """aiosmtpd on 127.0.0.1: STARTTLS required, then AUTH LOGIN only (PLAIN excluded)."""
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    server = SmtpServer(
        port=free_port(), client_context=client_context, ca_pem=ca.cert_pem.bytes()
    )

    def authenticator(
        smtp: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        server.mechanisms.append(mechanism)
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == SMTP_USER.encode()
            and auth_data.password == SMTP_PASSWORD.encode()
        )
        return AuthResult(success=ok, handled=False)

    controller = Controller(
        _Handler(server),
        hostname="127.0.0.1",
        port=server.port,
        tls_context=server_context,
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
        auth_exclude_mechanism=["PLAIN"],
    )
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


# -- webhook receiver ----------------------------------------------------------------------


@dataclass
class WebhookServer:
    url: str
    status: int = 200
    requests: list[dict[str, Any]] = field(default_factory=list)
    received: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def webhook_server() -> Iterator[WebhookServer]:
    """Records each JSON POST; answers ``status`` (set it to 500 to make it fail)."""
    holder: dict[str, WebhookServer] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            hook = holder["server"]
            hook.requests.append(
                {
                    "path": self.path,
                    "content_type": self.headers.get("Content-Type"),
                    "json": json.loads(body),
                }
            )
            self.send_response(hook.status)
            self.send_header("Content-Length", "0")
            self.end_headers()
            hook.received.set()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder["server"] = WebhookServer(
        url=f"http://127.0.0.1:{httpd.server_address[1]}/hooks/T0K3N-webhook-5a8e1f"
    )
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield holder["server"]
    finally:
        httpd.shutdown()
        httpd.server_close()


# -- posts and logging ---------------------------------------------------------------------


def ready_posts(db: Any, settings: Any, clock: Any, folder: Path, **kw: Any) -> list[Post]:
    """Plan the test campaign and approve every post (author alice, reviewer bob)."""
    write_campaign(folder, **kw)
    store_drafts(db, expand(load_campaign(folder), settings), actor=who("alice"), now=clock.now())
    with db.transaction() as s:
        ids = list(s.scalars(select(Post.id).order_by(Post.id)))
    approve_all(db, ids, clock.now())
    return all_posts(db)


def all_posts(db: Any) -> list[Post]:
    with db.transaction() as s:
        return list(s.scalars(select(Post).order_by(Post.id)))


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)
