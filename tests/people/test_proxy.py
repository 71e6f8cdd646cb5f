"""Behind the HTTPS reverse proxy, for real: the web app served by waitress on 127.0.0.1
and real HTTP requests carrying X-Forwarded-For/-Proto, as nginx sends them. From the
trusted proxy's address the cookies are Secure and the client's address is the forwarded
one (the session shows it, the throttle keys on it); from any other address the headers
are dropped, so nobody can claim to be another client or to have come over HTTPS."""

from __future__ import annotations

import http.client
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

import pytest
from flask import Flask
from waitress import create_server
from waitress.wasyncore import close_all

from core.clock import FakeClock
from core.settings import Settings
from people import throttle, users
from people.pacing import FakePacer
from people.sessions import WebSession
from posts.db import Database
from tests.helpers import who
from tests.web.conftest import PASSWORD
from web.app import create_app
from web.proxy import waitress_options

PROXY = "127.0.0.1"  # where the shipped unit's proxy connects from
ELSEWHERE = "127.0.0.2"  # another address on this machine: not the proxy


class Browser:
    """Raw HTTP from a chosen source address, with a cookie jar and the proxy's headers."""

    def __init__(self, port: int, source: str, forwarded_for: str | None = None,
                 proto: str | None = None) -> None:
        self.port, self.source = port, source
        self.forwarded_for, self.proto = forwarded_for, proto
        self.cookies: dict[str, str] = {}
        self.set_cookies: list[str] = []

    def request(self, method: str, path: str, form: dict[str, str] | None = None
                ) -> http.client.HTTPResponse:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10,
                                          source_address=(self.source, 0))
        headers = {"Host": "publisher.example.police.uk"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if self.forwarded_for is not None:
            headers["X-Forwarded-For"] = self.forwarded_for
        if self.proto is not None:
            headers["X-Forwarded-Proto"] = self.proto
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.text = response.read().decode()  # type: ignore[attr-defined]
        conn.close()
        self.set_cookies = response.headers.get_all("Set-Cookie") or []
        for header in self.set_cookies:
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if value:
                self.cookies[name] = value
            else:
                self.cookies.pop(name, None)
        return response

    def sign_in(self, name: str, password: str = PASSWORD) -> http.client.HTTPResponse:
        page = self.request("GET", "/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)  # type: ignore[attr-defined]
        assert token, page.text  # type: ignore[attr-defined]
        return self.request(
            "POST", "/login",
            {"csrf_token": token.group(1), "username": name, "password": password},
        )

    def session_cookie(self) -> str:
        return next(h for h in self.set_cookies if h.startswith("publisher_session="))


@contextmanager
def served(app: Flask, trusted_proxy: str | None) -> Iterator[int]:
    server = create_server(app, host="127.0.0.1", port=0, threads=2,
                           **waitress_options(trusted_proxy))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield int(server.effective_port)  # type: ignore[union-attr]
    finally:
        # Closed from the server's own loop (a close from this thread races its select).
        try:
            server.trigger.pull_trigger(lambda: close_all(server._map))  # type: ignore[union-attr]
        except OSError:  # its trigger is closed already: the loop has ended (seen once in CI)
            close_all(server._map)  # type: ignore[union-attr]
        thread.join(timeout=10)
        server.task_dispatcher.shutdown()
        assert not thread.is_alive()


@pytest.fixture
def people(db: Database, clock: FakeClock) -> Database:
    users.add_user(db, "bob", PASSWORD, role="reviewer", actor=who("test"), now=clock.now())
    return db


@pytest.fixture
def app(settings: Settings, people: Database, clock: FakeClock) -> Flask:
    return create_app(settings, people, clock, secret_key="test-secret-key", pacer=FakePacer())


def addresses(db: Database) -> list[str]:
    with db.transaction() as session:
        return [r.address for r in session.query(WebSession).order_by(WebSession.id)]


def test_from_the_proxy_the_cookie_is_secure_and_the_address_the_clients(
    app: Flask, people: Database
) -> None:
    with served(app, PROXY) as port:
        browser = Browser(port, PROXY, forwarded_for="198.51.100.7", proto="https")
        done = browser.sign_in("bob")
        assert (done.status, done.getheader("Location")) == (303, "/queue")
        assert "; Secure" in browser.session_cookie()
        assert all("Secure" in h for h in browser.set_cookies)  # the device cookie too
        assert browser.request("GET", "/queue").status == 200
    assert addresses(people) == ["198.51.100.7"]


def test_the_throttle_keys_on_the_forwarded_address(app: Flask, people: Database) -> None:
    with served(app, PROXY) as port:
        attacker = Browser(port, PROXY, forwarded_for="203.0.113.66", proto="https")
        for n in range(throttle.ADDRESS.free + 1):
            assert attacker.sign_in(f"made-up-{n}", "guess").status == 401
        assert attacker.sign_in("bob").status == 401  # that client is slowed down
        # Another client behind the same proxy is not.
        assert Browser(port, PROXY, "198.51.100.8", "https").sign_in("bob").status == 303
        # A proxy that appends: only the last hop (the one it added) counts.
        spoof = Browser(port, PROXY, forwarded_for="198.51.100.9, 203.0.113.66", proto="https")
        assert spoof.sign_in("bob").status == 401


def test_a_client_that_is_not_the_proxy_cannot_spoof_the_headers(
    app: Flask, people: Database
) -> None:
    with served(app, ELSEWHERE) as port:  # only 127.0.0.2 is trusted; we come from .1
        for n in range(throttle.ADDRESS.free + 1):
            # A new made-up address on every attempt: all of them count for 127.0.0.1.
            spoofer = Browser(port, PROXY, forwarded_for=f"192.0.2.{n}", proto="https")
            assert spoofer.sign_in(f"made-up-{n}", "guess").status == 401
        spoofer = Browser(port, PROXY, forwarded_for="192.0.2.200", proto="https")
        assert spoofer.sign_in("bob").status == 401
        # And the proxy itself, forwarding a real client, is trusted.
        real = Browser(port, ELSEWHERE, forwarded_for="198.51.100.20", proto="https")
        assert real.sign_in("bob").status == 303
        assert "; Secure" in real.session_cookie()
    assert addresses(people) == ["198.51.100.20"]


def test_https_claimed_by_a_client_is_not_believed(app: Flask, people: Database) -> None:
    with served(app, ELSEWHERE) as port:
        liar = Browser(port, PROXY, forwarded_for="198.51.100.30", proto="https")
        assert liar.sign_in("bob").status == 303
        assert "Secure" not in liar.session_cookie()
    assert addresses(people) == ["127.0.0.1"]


def test_without_behind_proxy_the_headers_are_dropped(app: Flask, people: Database) -> None:
    with served(app, None) as port:
        browser = Browser(port, PROXY, forwarded_for="198.51.100.40", proto="https")
        assert browser.sign_in("bob").status == 303
        assert "Secure" not in browser.session_cookie()
    assert addresses(people) == ["127.0.0.1"]


def test_waitress_options_refuse_trusting_everyone() -> None:
    with pytest.raises(ValueError, match="proxy's own address"):
        waitress_options("*")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_publisher_web_behind_proxy_as_the_unit_runs_it(
    settings: Settings, people: Database
) -> None:
    """``publisher web --behind-proxy``, the shipped unit's command, in its own process."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")}
    server = subprocess.Popen(
        [sys.executable, "-m", "publisher", "--config", str(settings.config_path),
         "web", "--port", str(port), "--behind-proxy"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        cwd=Path(str(settings.config_path)).parent,
    )
    try:
        assert server.stdout is not None
        # Printed once waitress has bound and is listening: no waiting by luck.
        line = server.stdout.readline()
        assert "Serving the web app" in line, line
        browser = Browser(port, PROXY, forwarded_for="198.51.100.50", proto="https")
        done = browser.sign_in("bob")
        assert done.status == 303
        assert "; Secure" in browser.session_cookie()
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert addresses(people) == ["198.51.100.50"]
