"""The ``Channel`` interface: the one contract every network module keeps.

Contract (``tests/channels/test_contract.py`` checks it against every channel):

``publish(post) -> Receipt``
    Sends ``post.text`` byte for byte, with its media and alt text, to ``post.account``.
    Returns the network's id (and URL where it has one) once the network confirms it.
    Never retries on its own and never sleeps. Every failure is raised as exactly one
    ``ChannelError`` subclass (see ``errors``): ``RetryableError`` when nothing was
    created (with ``retry_after`` seconds if the network said), ``PermanentError``,
    ``AuthenticationError``, ``AlreadyPublished`` (duplicate content), and
    ``AmbiguousError`` when it may have been created (timeout after sending, 5xx,
    dropped connection). No other exception escapes, and no message carries a secret.
    Every request has a timeout.

``find(post) -> Receipt | None``
    Reconciliation after an ambiguous outcome or a lost lease: looks the post up on the
    network (recent posts, idempotency key, record key). Returns the receipt if it is
    there, ``None`` if it is provably not there, and raises ``AmbiguousError`` if it
    cannot tell. Never publishes.

``check() -> str``
    Verifies the credentials can post; returns a one-line description of the identity
    (e.g. ``@GwentPolice (id 123)``) or raises ``AuthenticationError`` / ``PermanentError``
    with a message a person can act on.

A channel is built for one account and may be used from one thread at a time.
"""

from __future__ import annotations

import abc
import mimetypes
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from core.settings import AccountSettings, Settings

from .networks import ImageLimits, display_name


@dataclass(frozen=True)
class Media:
    path: Path
    alt_text: str
    sha256: str


@dataclass(frozen=True)
class OutgoingPost:
    """Exactly what was approved, plus the identity of this attempt."""

    post_id: int
    attempt: int
    account_name: str
    account: AccountSettings
    language: str
    text: str
    media: tuple[Media, ...] = ()
    link: str | None = None
    content_hash: str = ""

    @property
    def idempotency_key(self) -> str:
        """Stable for one post and attempt: a resend of the same attempt is the same request."""
        return f"cp-{self.post_id}-{self.attempt}-{self.content_hash[:16]}"


@dataclass(frozen=True)
class Receipt:
    remote_id: str
    url: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def read_images(
    network: str,
    media: tuple[Media, ...],
    *,
    limits: ImageLimits | None = None,
    max_images: int | None = None,
    max_alt_text: int | None = None,
    max_bytes: int | None = None,
) -> list[tuple[Media, bytes]]:
    """Every image's bytes, checked against the network's limits before any request:
    a bad image sends nothing (a ``PermanentError`` naming the file).

    ``limits``: the network's row of ``networks.NETWORKS`` (count, bytes, alt text,
    types); the ``max_*`` arguments, where given, take precedence over it.
    """
    from core.errors import PermanentError

    name = display_name(network)
    if limits is not None:
        max_images = limits.count if max_images is None else max_images
        max_alt_text = limits.alt_text if max_alt_text is None else max_alt_text
        max_bytes = limits.bytes if max_bytes is None else max_bytes
    if max_images is not None and len(media) > max_images:
        raise PermanentError(
            f"{network}: a post takes at most {max_images} images, not {len(media)}"
        )
    images = []
    for item in media:
        if max_alt_text is not None and len(item.alt_text) > max_alt_text:
            raise PermanentError(
                f"{network}: alt text of {item.path.name} is {len(item.alt_text)} characters; "
                f"{name} takes at most {max_alt_text}"
            )
        mime = mimetypes.guess_type(item.path.name)[0]
        # Only a type we can name is refused: a file without a known extension is sent
        # as it is, and the network judges it.
        if limits is not None and mime is not None and not limits.accepts(mime):
            raise PermanentError(
                f"{network}: image {item.path.name} is {mime}; {name} takes "
                f"{', '.join(limits.types)}"
            )
        try:
            data = item.path.read_bytes()
        except OSError as exc:
            raise PermanentError(
                f"{network}: cannot read image {item.path}: {exc.strerror}"
            ) from None
        if max_bytes is not None and len(data) > max_bytes:
            raise PermanentError(
                f"{network}: image {item.path.name} is {len(data):,} bytes; {name} takes at most "
                f"{max_bytes:,}: make it smaller"
            )
        images.append((item, data))
    return images


class Channel(abc.ABC):
    """A network account we can publish to. See the module docstring for the contract."""

    #: the network's name, as in settings (``x``, ``facebook``, ``bluesky``, ``mastodon``)
    #: or ``outbox`` / ``fake``
    name: str = "channel"

    @abc.abstractmethod
    def publish(self, post: OutgoingPost) -> Receipt:
        """Send the post; return the network's receipt or raise a ``ChannelError``."""

    @abc.abstractmethod
    def find(self, post: OutgoingPost) -> Receipt | None:
        """Look the post up: receipt if there, ``None`` if provably not, else ``AmbiguousError``."""

    @abc.abstractmethod
    def check(self) -> str:
        """Verify the credentials can post; describe the identity in one line."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections. Optional."""


class NetworkChannel(Channel):
    """A channel for one real account of a network, built from the settings and the
    credentials the account names (``config.toml`` maps each to an environment variable)."""

    #: The credentials the network needs, by name.
    CREDENTIALS: tuple[str, ...] = ()
    account_name: str
    account: AccountSettings

    @classmethod
    def from_settings(
        cls,
        account_name: str,
        account: AccountSettings,
        settings: Settings,
        environ: Mapping[str, str] | None = None,
    ) -> Self:
        from .credentials import load_credentials

        credentials = load_credentials(
            account_name, account, cls.CREDENTIALS, os.environ if environ is None else environ
        )
        return cls(account_name, account, credentials, **cls.options(account_name, settings))  # type: ignore[call-arg]

    @classmethod
    def options(cls, account_name: str, settings: Settings) -> dict[str, Any]:
        """Keyword arguments taken from the settings; a network adds its own."""
        return {"timeout": settings.worker.request_timeout_seconds}

    def __repr__(self) -> str:  # never the credentials
        return (
            f"{type(self).__name__}(account={self.account_name!r}, handle={self.account.handle!r})"
        )
