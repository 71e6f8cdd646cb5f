"""A real OpenID Connect provider for the tests: ``tests/oidc/provider.mjs`` as a subprocess.

It runs panva's ``oidc-provider`` from the npm cache that ``scripts/install-test-deps.sh``
fills, on 127.0.0.1, with the clients and accounts the test gives. ``login_with_requests``
walks its sign-in form with ``requests``, as a browser would, and returns where the
provider sent the browser back (the web app's callback with ``code`` and ``state``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests

SCRIPT = Path(__file__).with_name("provider.mjs")
HOW_TO_RUN = (
    "the OpenID Connect tests need Node (>= 20) and oidc-provider in the npm cache: run "
    "scripts/install-test-deps.sh (it installs into $CP_NODE_CACHE, default "
    "~/.cache/campaign-publisher), then run the tests again"
)
CLIENT_ID = "campaign-publisher"
CLIENT_SECRET = "test-client-secret-0123456789abcdef"


def node_cache() -> Path:
    return Path(os.environ.get("CP_NODE_CACHE") or Path.home() / ".cache" / "campaign-publisher")


def unavailable() -> str | None:
    if shutil.which("node") is None:
        return f"node is not installed; {HOW_TO_RUN}"
    if not (node_cache() / "node_modules" / "oidc-provider" / "package.json").exists():
        return f"oidc-provider is not in {node_cache()}; {HOW_TO_RUN}"
    return None


class OidcProvider:
    """A running provider; ``issuer`` is its address (``http://127.0.0.1:PORT``)."""

    def __init__(self, process: subprocess.Popen[str], issuer: str) -> None:
        self.process = process
        self.issuer = issuer
        self.output: list[str] = []

    @classmethod
    def start(
        cls,
        redirect_uris: list[str],
        accounts: dict[str, dict[str, Any]],
        timeout: float = 30.0,
    ) -> OidcProvider:
        clients = [
            {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uris": redirect_uris,
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "client_secret_basic",
            }
        ]
        env = {
            **os.environ,
            "CP_NODE_CACHE": str(node_cache()),
            "OIDC_CLIENTS": json.dumps(clients),
            "OIDC_ACCOUNTS": json.dumps(accounts),
            "NODE_ENV": "test",
        }
        from people.oidc import forget_providers

        forget_providers()  # a port seen before may now have this new provider behind it
        process = subprocess.Popen(
            ["node", str(SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert process.stdout is not None and process.stderr is not None
        deadline = time.monotonic() + timeout
        while True:
            ready, _, _ = select.select(
                [process.stdout], [], [], max(0.0, deadline - time.monotonic())
            )
            if not ready:
                process.kill()
                raise RuntimeError(f"the OpenID Connect provider did not start in {timeout:.0f} s")
            line = process.stdout.readline()
            if not line:
                process.wait(10)
                raise RuntimeError(
                    f"the OpenID Connect provider stopped at start: {process.stderr.read()[-2000:]}"
                )
            with contextlib.suppress(ValueError):
                announced = json.loads(line)
                if isinstance(announced, dict) and "issuer" in announced:
                    break
        found = cls(process, str(announced["issuer"]))
        for stream in (process.stdout, process.stderr):
            threading.Thread(target=found._drain, args=(stream,), daemon=True).start()
        return found

    def _drain(self, stream: Any) -> None:
        for line in stream:
            self.output.append(line)
            del self.output[:-200]

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(OSError):
                assert self.process.stdin is not None
                self.process.stdin.close()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def login_with_requests(http: requests.Session, authorize_url: str, login: str) -> str:
    """Follow the provider's sign-in from ``authorize_url`` as ``login``; the address the
    provider finally sends the browser to (not followed: that is the app's callback)."""
    response = http.get(authorize_url, allow_redirects=True, timeout=10)
    response.raise_for_status()
    action = re.search(r'<form[^>]*action="([^"]+)"', response.text)
    assert action, f"no sign-in form at {response.url}: {response.text[:500]}"
    submitted = http.post(
        urljoin(response.url, action.group(1).replace("&amp;", "&")),
        data={"prompt": "login", "login": login, "password": "any"},
        allow_redirects=False,
        timeout=10,
    )
    location = submitted.headers["Location"]
    # The provider goes through its own resume step(s), then to the client.
    for _ in range(5):
        if not location.startswith(urljoin(response.url, "/")):
            return location
        hop = http.get(urljoin(response.url, location), allow_redirects=False, timeout=10)
        location = hop.headers.get("Location", "")
        assert location, f"the provider stopped at {hop.url}: {hop.status_code} {hop.text[:500]}"
    raise AssertionError("the provider kept redirecting to itself")
