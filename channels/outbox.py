"""The dry run: posts go to a JSON-lines file a person can read (``publisher outbox``).

Each line is one published post. Reconciliation reads the file back, so the outbox
keeps the same exactly-once contract as a real network.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from core.errors import AmbiguousError, PermanentError

from .base import Channel, OutgoingPost, Receipt


class OutboxChannel(Channel):
    name = "outbox"

    def __init__(self, path: Path, network: str = "outbox") -> None:
        self.path = Path(path)
        self.network = network

    def publish(self, post: OutgoingPost) -> Receipt:
        for media in post.media:
            if media.data is None and not media.path.exists():
                raise PermanentError(f"image {media.path} is missing")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as out:
                # Several worker processes may append at once: one whole line each.
                fcntl.flock(out, fcntl.LOCK_EX)
                remote_id = f"outbox-{post.post_id}-{post.attempt}"
                line = {
                    "id": remote_id,
                    "post_id": post.post_id,
                    "attempt": post.attempt,
                    "key": post.idempotency_key,
                    "at": datetime.now(UTC).isoformat(),
                    "account": post.account_name,
                    "network": post.account.network,
                    "handle": post.account.handle,
                    "language": post.language,
                    "text": post.text,
                    "media": [{"file": m.path.name, "alt_text": m.alt_text} for m in post.media],
                }
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:
            raise AmbiguousError(f"outbox {self.path}: {exc.strerror}") from None
        return Receipt(remote_id=remote_id, url=f"outbox://{post.account_name}/{remote_id}")

    def find(self, post: OutgoingPost) -> Receipt | None:
        try:
            for line in read_outbox(self.path):
                if line.get("post_id") == post.post_id and line.get("text") == post.text:
                    return Receipt(
                        remote_id=line["id"], url=f"outbox://{post.account_name}/{line['id']}"
                    )
        except OSError as exc:
            raise AmbiguousError(f"outbox {self.path}: {exc.strerror}") from None
        return None

    def check(self) -> str:
        return f"dry run to {self.path}"


def read_outbox(path: Path) -> Iterator[dict]:
    """Every post in the outbox file, oldest first; none if there is no file yet."""
    if not Path(path).exists():
        return
    with Path(path).open(encoding="utf-8") as lines:
        for raw in lines:
            if raw.strip():
                yield json.loads(raw)
