"""A channel that records what it was sent, for tests (instead of mocks).

Tell it how to answer the next calls with ``fail_next`` and ``fail_next_find``; inspect
``sent``. With ``resend_is_safe=True`` it behaves like a network with idempotency keys
(Bluesky's record key): a second publish of the same ``idempotency_key`` makes nothing and
raises ``AlreadyPublished`` with the first one's id. By default every publish is recorded,
so a test sees every double send.
"""

from __future__ import annotations

import threading

from core.errors import AlreadyPublished, AmbiguousError, ChannelError

from .base import Channel, OutgoingPost, Receipt


class FakeChannel(Channel):
    name = "fake"

    def __init__(self, handle: str = "fake", *, resend_is_safe: bool = False) -> None:
        self.handle = handle
        self.resend_is_safe = resend_is_safe
        self.sent: list[OutgoingPost] = []
        self._by_post: dict[str, Receipt] = {}
        self._by_idempotency_key: dict[str, Receipt] = {}
        self._failures: list[tuple[ChannelError, bool]] = []
        self._find_failures: list[ChannelError] = []
        self._lock = threading.Lock()

    def fail_next(self, *errors: ChannelError, created: bool = False) -> None:
        """Raise these errors from the next ``publish`` calls, in order. With ``created``,
        an ``AmbiguousError`` is raised after the post was recorded (sent, answer lost)."""
        with self._lock:
            self._failures.extend((error, created) for error in errors)

    def fail_next_find(self, *errors: ChannelError) -> None:
        """Raise these errors from the next ``find`` calls, in order (it cannot tell)."""
        with self._lock:
            self._find_failures.extend(errors)

    def publish(self, post: OutgoingPost) -> Receipt:
        with self._lock:
            known = self._by_idempotency_key.get(post.idempotency_key)
            if self.resend_is_safe and known is not None:
                raise AlreadyPublished(
                    f"fake: {post.idempotency_key} is already {known.remote_id}",
                    remote_id=known.remote_id,
                    url=known.url,
                )
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
        self._by_post[_key(post)] = receipt
        self._by_idempotency_key.setdefault(post.idempotency_key, receipt)
        return receipt

    def find(self, post: OutgoingPost) -> Receipt | None:
        with self._lock:
            if self._find_failures:
                raise self._find_failures.pop(0)
            return self._by_post.get(_key(post))

    def check(self) -> str:
        return f"{self.handle} (fake)"

    def texts(self) -> list[str]:
        return [p.text for p in self.sent]


def _key(post: OutgoingPost) -> str:
    # The same post and content, whatever the attempt or resend: as find() on a network.
    return f"{post.post_id}:{post.content_hash}"
