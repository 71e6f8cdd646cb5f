"""The ``Channel`` interface: the one contract every network module keeps.

Contract (``tests/channels/test_contract.py`` checks it against every channel):

``publish(post) -> Receipt``
    Sends ``post.text`` byte for byte, with its media and alt text, to ``post.account``.
    Returns the network's id (and URL where it has one) once the network confirms it.
    Never retries on its own and never sleeps, except for a bounded wait the network asks
    for within one send (Mastodon: an image still processing). Every failure is raised as
    exactly one ``ChannelError`` subclass (see ``errors``): ``RetryableError`` when
    nothing was created (with ``retry_after`` seconds if the network said),
    ``PermanentError``, ``AuthenticationError``, ``AlreadyPublished`` (duplicate content,
    or a second send that the network recognised by its key), and ``AmbiguousError`` when
    it may have been created (timeout after sending, 5xx, dropped connection). No other
    exception escapes, and no message carries a secret. Every request has a timeout, and
    the requests of one call are bounded in number.

``find(post) -> Receipt | None``
    Reconciliation after an ambiguous outcome or a lost lease, and a person's resend:
    looks the post up on the network (record key, recent posts), under any of its sends
    (every ``resend_count`` up to the post's). Answers one of three ways, never guessing:

    - a ``Receipt``: it is there;
    - ``None``: the network's answer shows it is not there (a record key that holds
      nothing; recent posts, read in full, without it);
    - raises a ``ChannelError``: it cannot tell. ``AuthenticationError`` when the
      credentials are refused (the account is paused), else ``AmbiguousError`` (with
      ``retry_after`` when the network said how long to wait).

    Never publishes. A request still in flight can land after ``find`` answered ``None``:
    the worker looks over a window counted from when the request started (DESIGN.md).

Resends: ``resend_is_safe`` (below) says whether sending the same ``OutgoingPost`` again
(same ``idempotency_key``: same post, content and ``resend_count``, whatever the
``attempt``) is recognised by the network as the first send instead of making a second
post.

``check() -> str``
    Verifies the credentials can post; returns a one-line description of the identity
    (e.g. ``@GwentPolice (id 123)``) or raises ``AuthenticationError`` / ``PermanentError``
    with a message a person can act on.

``expires_at() -> datetime | None``
    When the account's credentials stop working unless a person renews them (aware UTC):
    e.g. a LinkedIn access token's 60 days, or the year of its refresh token. ``None``:
    unknown, or they do not expire. The default is ``None``; a ``NetworkChannel`` answers
    the account's ``token_expires_at`` setting, and a network that can ask (LinkedIn's
    token introspection) asks. It may raise a ``ChannelError`` (``AuthenticationError``
    when the network says the credentials are already refused). ``publisher doctor`` and
    ``accounts check`` show it, and warn within 14 days (``ops.doctor.check_token_expiry``).

A channel is built for one account and may be used from one thread at a time.
"""

from __future__ import annotations

import abc
import mimetypes
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Self

from core.settings import AccountSettings, Settings

from .networks import ImageLimits, display_name


@dataclass(frozen=True)
class Media:
    """An image of a post. ``path`` names it (its type, by extension) and, for a campaign
    folder's image, is where its bytes are; a library image carries its ``data``, read from
    the database, and ``path`` is only its name (posts.media)."""

    path: Path
    alt_text: str
    sha256: str
    data: bytes | None = None

    def read(self) -> bytes:
        return self.data if self.data is not None else self.path.read_bytes()


@dataclass(frozen=True)
class OutgoingPost:
    """Exactly what was approved, and which send of it this is."""

    post_id: int
    #: The worker's attempt number: for logs only, never part of a key (a second attempt
    #: of the same post must land on the first at the network).
    attempt: int
    account_name: str
    account: AccountSettings
    language: str
    text: str
    media: tuple[Media, ...] = ()
    link: str | None = None
    content_hash: str = ""
    #: ``Post.resend_count``: raised only by a person's explicit ``resend``, so that a send
    #: the person asked for is a new request rather than a repeat of the first.
    resend_count: int = 0
    #: No send of this post can have started before this time (aware UTC): e.g. when it
    #: was first claimed. ``find`` on a network it must match by text (X, Facebook,
    #: Mastodon) reads the recent posts back to it (less ``LOOKBACK_SKEW``) before it
    #: answers ``None``. Without it, ``find`` reads one page of recent posts: proof only
    #: for a post sent recently.
    not_before: datetime | None = None

    @property
    def idempotency_key(self) -> str:
        """The same for every attempt of one post with one content and one resend count:
        a second send of it is the same request to the network (a Bluesky record key, a
        Mastodon ``Idempotency-Key``)."""
        return f"cp-{self.post_id}-{self.resend_count}-{self.content_hash[:16]}"


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
            data = item.read()
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


#: How far before ``OutgoingPost.not_before`` a look-up reads: the network's clock may differ
#: from ours.
LOOKBACK_SKEW = timedelta(minutes=5)


def lookback_start(post: OutgoingPost) -> datetime | None:
    """Where a text-matching ``find`` may stop reading (None: after one page)."""
    return None if post.not_before is None else post.not_before - LOOKBACK_SKEW


class Channel(abc.ABC):
    """A network account we can publish to. See the module docstring for the contract."""

    #: the network's name, as in settings (``x``, ``facebook``, ``bluesky``, ``mastodon``)
    #: or ``outbox`` / ``fake``
    name: str = "channel"

    #: Whether publishing the same post again (same ``idempotency_key``) is recognised by
    #: the network as the first send: it answers with the post already made (or raises
    #: ``AlreadyPublished`` with its id) and never makes a second one. True: Bluesky (record
    #: key), Mastodon (``Idempotency-Key``, within ``resend_window_seconds``). False: X and
    #: Facebook, which refuse only duplicate text (and Facebook not even that for a photo),
    #: so after a send in doubt the worker must look with ``find`` until the first request
    #: can no longer land before it sends again.
    resend_is_safe: bool = False
    #: How long after the first send a resend is still recognised (seconds); ``None``: for
    #: ever (a record key), or not at all when ``resend_is_safe`` is False.
    resend_window_seconds: float | None = None

    @abc.abstractmethod
    def publish(self, post: OutgoingPost) -> Receipt:
        """Send the post; return the network's receipt or raise a ``ChannelError``."""

    @abc.abstractmethod
    def find(self, post: OutgoingPost) -> Receipt | None:
        """Look the post up: receipt if there, ``None`` if provably not, else raise a
        ``ChannelError`` (``AmbiguousError``, or ``AuthenticationError``)."""

    @abc.abstractmethod
    def check(self) -> str:
        """Verify the credentials can post; describe the identity in one line."""

    def expires_at(self) -> datetime | None:
        """When the credentials stop working unless a person renews them (aware UTC);
        ``None`` when unknown or never. See the module docstring."""
        return None

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

    def expires_at(self) -> datetime | None:
        """The account's ``token_expires_at`` setting; a network that can ask does."""
        expiry = self.account.token_expires_at
        return None if expiry is None else expiry.astimezone(UTC)

    def __repr__(self) -> str:  # never the credentials
        return (
            f"{type(self).__name__}(account={self.account_name!r}, handle={self.account.handle!r})"
        )
