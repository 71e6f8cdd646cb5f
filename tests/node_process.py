"""A Node script from the npm cache as a test server: start it, wait for the JSON line it
announces itself with, keep draining its output, stop it by closing its stdin.

The OpenID Connect provider (tests/oidc) and the Bluesky PDS (tests/bluesky) both run so.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

SETUP = (
    "scripts/install-test-deps.sh (it installs into $CP_NODE_CACHE, default "
    "~/.cache/campaign-publisher)"
)


def node_cache() -> Path:
    return Path(os.environ.get("CP_NODE_CACHE") or Path.home() / ".cache" / "campaign-publisher")


class NodeProcess:
    """``node SCRIPT`` running; ``announced`` is the JSON object it printed when ready."""

    def __init__(
        self,
        script: Path,
        *,
        what: str,
        key: str,
        env: dict[str, str],
        timeout: float,
        cwd: Path | None = None,
    ) -> None:
        self.what = what
        self.output: list[str] = []  # its last 200 lines, for a failing test's message
        self.process = subprocess.Popen(
            ["node", str(script)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "CP_NODE_CACHE": str(node_cache()), "NODE_ENV": "test", **env},
            cwd=cwd,
        )
        self.announced = self._wait_for(key, timeout)
        # Keep draining its output so a chatty server never blocks on a full pipe.
        for stream in (self.process.stdout, self.process.stderr):
            threading.Thread(target=self._drain, args=(stream,), daemon=True).start()

    def _wait_for(self, key: str, timeout: float) -> dict[str, Any]:
        process = self.process
        assert process.stdout is not None and process.stderr is not None
        deadline = time.monotonic() + timeout
        while True:
            left = max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([process.stdout], [], [], left)
            if not ready:
                process.kill()
                raise RuntimeError(f"the {self.what} did not start in {timeout:.0f} s")
            line = process.stdout.readline()
            if not line:
                process.wait(10)
                error = process.stderr.read()[-2000:]
                raise RuntimeError(
                    f"the {self.what} stopped at start (exit {process.returncode}): {error}"
                )
            with contextlib.suppress(ValueError):
                announced = json.loads(line)
                if isinstance(announced, dict) and key in announced:
                    return announced

    def _drain(self, stream: Any) -> None:
        for line in stream:
            self.output.append(line)
            del self.output[:-200]

    def stop(self, timeout: float = 10) -> None:
        """Close its stdin (the scripts then shut down and exit); terminate, then kill, a
        script that does not."""
        process = self.process
        if process.poll() is not None:
            return
        with contextlib.suppress(OSError):
            assert process.stdin is not None
            process.stdin.close()
        for end in (lambda: None, process.terminate, process.kill):
            end()
            try:
                process.wait(timeout)
                return
            except subprocess.TimeoutExpired:
                continue
