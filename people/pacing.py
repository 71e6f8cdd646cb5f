"""Answering a refused sign-in after the same time, whatever the reason.

An unknown name and a throttled attempt cost no password hash, a wrong password costs
one: each refusal is padded to ``answer`` after the attempt began, so the time does not
tell which it was. Tests give a ``FakePacer`` (no real sleeping)."""

from __future__ import annotations

import time
from typing import Protocol


class Pacer(Protocol):
    def start(self) -> float:
        """Now, on a monotonic clock in seconds."""
        ...

    def wait_until(self, deadline: float) -> None:
        """Return at ``deadline`` (at once if it has passed)."""
        ...


class RealPacer:
    def start(self) -> float:
        return time.monotonic()

    def wait_until(self, deadline: float) -> None:
        left = deadline - time.monotonic()
        if left > 0:
            time.sleep(left)


class FakePacer:
    """A monotonic clock moved only by ``wait_until`` and ``spend``; records each wait."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.deadlines: list[float] = []

    def start(self) -> float:
        return self.now

    def spend(self, seconds: float) -> None:
        self.now += seconds

    def wait_until(self, deadline: float) -> None:
        self.deadlines.append(deadline)
        self.now = max(self.now, deadline)
