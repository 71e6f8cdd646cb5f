"""A real Bluesky PDS for the tests: ``tests/bluesky/pds.mjs`` as a subprocess, on 127.0.0.1.

``BlueskyPds.start()`` runs the Node script (``@atproto/dev-env``'s TestNetworkNoAppView
from the npm cache that ``scripts/install-test-deps.sh`` fills), reads the URL it prints
and stops it at the end (it also stops by itself when our end of its stdin closes).
``create_account()`` makes a fresh account with an app password, so every test starts
from an empty repository. Reads (``record``, ``records``, ``blob``) go to the PDS over
HTTP, unauthenticated, the way anyone would read a public repository.

``FlakyTransport`` sits between a channel and the real PDS (the channel's httpx transport)
and makes chosen requests fail the way a network or a PDS does: the request reaches the
real server (or not), and the answer is replaced or lost. Nothing else is faked.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.node_process import SETUP, NodeProcess, node_cache

SCRIPT = Path(__file__).with_name("pds.mjs")
DEV_ENV_VERSION = "0.3.215"
HOW_TO_RUN = (
    f"the Bluesky tests need Node (>= 18) and @atproto/dev-env in the npm cache: run "
    f"{SETUP}, then run the tests again"
)
_handles = itertools.count(1)


def unavailable() -> str | None:
    """Why the PDS cannot run here (a message saying how to fix it), or None."""
    node = shutil.which("node")
    if node is None:
        return f"node is not installed; {HOW_TO_RUN}"
    try:
        version = subprocess.run(
            [node, "--version"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        major = int(version.lstrip("v").split(".")[0])
    except (OSError, ValueError, subprocess.SubprocessError):
        return f"cannot run node --version; {HOW_TO_RUN}"
    if major < 18:
        return f"node {version} is too old; {HOW_TO_RUN}"
    package = node_cache() / "node_modules" / "@atproto" / "dev-env" / "package.json"
    if not package.exists():
        return f"@atproto/dev-env is not in {node_cache()}; {HOW_TO_RUN}"
    return None


@dataclass(frozen=True)
class Account:
    handle: str
    did: str
    password: str
    app_password: str


class BlueskyPds:
    """A running PDS; ``url`` is its base URL (``http://localhost:PORT``)."""

    def __init__(self, node: NodeProcess, data_dir: Path) -> None:
        self.node = node
        self.url = str(node.announced["pds"])
        self.data_dir = data_dir
        self._http = httpx.Client(base_url=self.url, timeout=30)

    @classmethod
    def start(cls, timeout: float = 120.0) -> BlueskyPds:
        data_dir = Path(tempfile.mkdtemp(prefix="cp-pds-"))
        env = {
            "TMPDIR": str(data_dir),  # dev-env writes its SQLite files and blobs there
            "LOG_ENABLED": "false",
        }
        node = NodeProcess(SCRIPT, what="PDS", key="pds", env=env, timeout=timeout, cwd=data_dir)
        return cls(node, data_dir)

    def stop(self) -> None:
        self._http.close()
        self.node.stop(timeout=15)  # pds.mjs closes the network and exits
        shutil.rmtree(self.data_dir, ignore_errors=True)

    # -- accounts -----------------------------------------------------------------------

    def create_account(self, name: str = "gwentpolice") -> Account:
        """A new account ``{name}-{n}.test`` with its own app password."""
        handle = f"{name}-{next(_handles)}.test"
        password = f"account-password-{handle}"
        created = self.xrpc_post(
            "com.atproto.server.createAccount",
            {"handle": handle, "email": f"{handle}@example.com", "password": password},
        )
        made = self.xrpc_post(
            "com.atproto.server.createAppPassword",
            {"name": "campaign-publisher"},
            token=created["accessJwt"],
        )
        return Account(handle, created["did"], password, made["password"])

    def xrpc_post(self, nsid: str, body: dict[str, Any], token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = self._http.post(f"/xrpc/{nsid}", json=body, headers=headers)
        response.raise_for_status()
        return response.json()

    # -- reading what the PDS holds -----------------------------------------------------

    def record(self, did: str, rkey: str, collection: str = "app.bsky.feed.post") -> Any:
        """The record (``uri``, ``cid``, ``value``), or None when the PDS has none."""
        response = self._http.get(
            "/xrpc/com.atproto.repo.getRecord",
            params={"repo": did, "collection": collection, "rkey": rkey},
        )
        if response.status_code == 400 and response.json().get("error") == "RecordNotFound":
            return None
        response.raise_for_status()
        return response.json()

    def records(self, did: str, collection: str = "app.bsky.feed.post") -> list[dict[str, Any]]:
        """Every record of the collection, in record-key order (ours sort by post id)."""
        found: list[dict[str, Any]] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"repo": did, "collection": collection, "limit": 100}
            if cursor:
                params["cursor"] = cursor
            response = self._http.get("/xrpc/com.atproto.repo.listRecords", params=params)
            response.raise_for_status()
            page = response.json()
            found.extend(page["records"])
            cursor = page.get("cursor")
            if not cursor or not page["records"]:
                return sorted(found, key=lambda r: r["uri"].rsplit("/", 1)[1])

    def blob(self, did: str, cid: str) -> bytes:
        response = self._http.get("/xrpc/com.atproto.sync.getBlob", params={"did": did, "cid": cid})
        response.raise_for_status()
        return response.content


# -- failures on demand ---------------------------------------------------------------------


@dataclass
class Failure:
    kind: str
    path: str = ""
    status: int = 0
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    reset_in: int = 300


KINDS = {
    "5xx",  # answer `status` (503) with an XRPC error; the PDS never sees the request
    "answer",  # answer exactly `status`, `body`, `headers`; the PDS never sees it
    "rate_limit",  # 429 with ratelimit-* headers (reset `reset_in` seconds ahead)
    "fail_after_create",  # the PDS handles it, then the answer is a 500
    "timeout_after",  # the PDS handles it, then the answer is lost: a read timeout
    "timeout",  # a read timeout; the PDS never sees the request
    "drop_after",  # the PDS handles it, then the connection drops without an answer
    "expired_token",  # 400 ExpiredToken, as the PDS says for an expired access token
}


class FlakyTransport(httpx.BaseTransport):
    """The real HTTP transport, with failures on demand for requests whose path contains
    ``path`` (e.g. ``createRecord``). Thread-safe; ``requests`` lists what passed."""

    def __init__(self) -> None:
        self._real = httpx.HTTPTransport()
        self._lock = threading.Lock()
        self.failures: list[Failure] = []
        self.requests: list[str] = []

    def fail_next(self, kind: str, count: int = 1, **options: Any) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown failure kind {kind!r}")
        with self._lock:
            self.failures.extend(Failure(kind, **options) for _ in range(count))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        with self._lock:
            self.requests.append(path.rsplit("/", 1)[-1])
            failure = next((f for f in self.failures if f.path in path), None)
            if failure is not None:
                self.failures.remove(failure)
        if failure is None:
            return self._real.handle_request(request)
        kind = failure.kind
        if kind in ("fail_after_create", "timeout_after", "drop_after"):
            real = self._real.handle_request(request)
            real.read()
            real.close()
            if kind == "timeout_after":
                raise httpx.ReadTimeout("the answer came too late", request=request)
            if kind == "drop_after":
                raise httpx.RemoteProtocolError(
                    "Server disconnected without sending a response.", request=request
                )
            return _xrpc(500, "InternalServerError", "Internal Server Error", request=request)
        if kind == "timeout":
            raise httpx.ReadTimeout("no answer", request=request)
        if kind == "answer":
            return httpx.Response(
                failure.status or 500,
                json=failure.body,
                headers=failure.headers,
                request=request,
            )
        if kind == "expired_token":
            return _xrpc(400, "ExpiredToken", "Token has expired", request=request)
        if kind == "rate_limit":
            reset = int(time.time()) + failure.reset_in
            headers = {
                "ratelimit-limit": "30",
                "ratelimit-remaining": "0",
                "ratelimit-reset": str(reset),
                "ratelimit-policy": "30;w=300",
                **failure.headers,
            }
            return _xrpc(429, "RateLimitExceeded", "Rate Limit Exceeded", headers, request)
        status = failure.status or 503
        return _xrpc(status, "InternalServerError", "Service Unavailable", request=request)

    def close(self) -> None:
        self._real.close()


def _xrpc(
    status: int,
    error: str,
    message: str,
    headers: dict[str, str] | None = None,
    request: httpx.Request | None = None,
) -> httpx.Response:
    return httpx.Response(
        status, json={"error": error, "message": message}, headers=headers, request=request
    )
