"""A real OpenID Connect provider for the tests: ``tests/oidc/provider.mjs`` as a subprocess.

It runs panva's ``oidc-provider`` from the npm cache that ``scripts/install-test-deps.sh``
fills, on 127.0.0.1, with the clients and accounts the test gives. ``login_with_requests``
walks its sign-in form with ``requests``, as a browser would, and returns where the
provider sent the browser back (the web app's callback with ``code`` and ``state``).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests

from tests.node_process import SETUP, NodeProcess, node_cache

SCRIPT = Path(__file__).with_name("provider.mjs")
HOW_TO_RUN = (
    f"the OpenID Connect tests need Node (>= 20) and oidc-provider in the npm cache: run "
    f"{SETUP}, then run the tests again"
)
CLIENT_ID = "campaign-publisher"
CLIENT_SECRET = "test-client-secret-0123456789abcdef"


def unavailable() -> str | None:
    if shutil.which("node") is None:
        return f"node is not installed; {HOW_TO_RUN}"
    if not (node_cache() / "node_modules" / "oidc-provider" / "package.json").exists():
        return f"oidc-provider is not in {node_cache()}; {HOW_TO_RUN}"
    return None


class OidcProvider:
    """A running provider; ``issuer`` is its address (``http://127.0.0.1:PORT``)."""

    def __init__(self, node: NodeProcess) -> None:
        self.node = node
        self.issuer = str(node.announced["issuer"])

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
        from people.oidc import forget_providers

        forget_providers()  # a port seen before may now have this new provider behind it
        env = {"OIDC_CLIENTS": json.dumps(clients), "OIDC_ACCOUNTS": json.dumps(accounts)}
        return cls(
            NodeProcess(
                SCRIPT, what="OpenID Connect provider", key="issuer", env=env, timeout=timeout
            )
        )

    @property
    def output(self) -> list[str]:
        return self.node.output

    def stop(self) -> None:
        self.node.stop()


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
