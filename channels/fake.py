"""A channel that records what it was sent, for tests (instead of mocks).

Tell it how to answer the next calls with ``fail_next``; inspect ``sent``.
"""

from __future__ import annotations

import threading

from core.errors import AmbiguousError, ChannelError

from .base import Channel, OutgoingPost, Receipt


class FakeChannel(Channel):
    name = "fake"

    def __init__(self, handle: str = "fake") -> None:
        self.handle = handle
        self.sent: list[OutgoingPost] = []
        self._by_key: dict[str, Receipt] = {}
        self._failures: list[tuple[ChannelError, bool]] = []
        self._lock = threading.Lock()

    def fail_next(self, *errors: ChannelError, created: bool = False) -> None:
        """Raise these errors from the next ``publish`` calls, in order. With ``created``,
        an ``AmbiguousError`` is raised after the post was recorded (sent, answer lost)."""
        with self._lock:
            self._failures.extend((error, created) for error in errors)

    def publish(self, post: OutgoingPost) -> Receipt:
        with self._lock:
            if self._failures:
                error, created = self._failures.pop(0)
                if created and isinstance(error, AmbiguousError):
                    self._record(post)
                raise error
            return self._record(post)

    def _record(self, post: OutgoingPost) -> Receipt:
        self.sent.append(post)
        receipt = Receipt(
            remote_id=str(len(self.sent)), url=f"fake://{self.handle}/{len(self.sent)}"
        )
        self._by_key[_key(post)] = receipt
        return receipt

    def find(self, post: OutgoingPost) -> Receipt | None:
        with self._lock:
            return self._by_key.get(_key(post))

    def check(self) -> str:
        return f"{self.handle} (fake)"

    def texts(self) -> list[str]:
        return [p.text for p in self.sent]


def _key(post: OutgoingPost) -> str:
    # Same post content counts as the same post: as networks reject duplicates.
    return f"{post.post_id}:{post.content_hash}"
