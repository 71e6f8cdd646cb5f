"""Fixtures for the channel tests: the fake platform, accounts and channels pointed at it.

The real tweepy and requests code runs over real HTTP on 127.0.0.1; nothing of ours is
patched. Client timeouts are short (``TIMEOUT``) so "slow reply" tests stay fast.
Test modules import ``tests.fakeplatform`` and use these fixtures; they do not import
this file.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from channels.base import Media, OutgoingPost
from channels.facebook import FacebookChannel
from channels.x import XChannel
from core.settings import AccountSettings
from tests.fakeplatform import FakeConfig, FakePlatform

TIMEOUT = 0.5  # client timeout in tests; the fake's "slow" answers take 2 s
# A 1x1 PNG: the bytes are compared end to end.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a5a5c3"
    "3e0000000049454e44ae426082"
)
_post_ids = itertools.count(1000)


@pytest.fixture(scope="session")
def fake_config() -> FakeConfig:
    return FakeConfig()


@pytest.fixture(scope="session")
def _platform_server(fake_config: FakeConfig) -> Iterator[FakePlatform]:
    with FakePlatform(fake_config) as platform:
        yield platform


@pytest.fixture
def platform(_platform_server: FakePlatform) -> Iterator[FakePlatform]:
    """The fake networks, emptied for each test (one server for the whole session)."""
    _platform_server.reset()
    yield _platform_server
    _platform_server.reset()


@pytest.fixture
def secrets(fake_config: FakeConfig) -> list[str]:
    """Every credential value in play: none may show in a message, repr or log."""
    return fake_config.secrets()


@pytest.fixture
def x_channel_for(
    platform: FakePlatform, fake_config: FakeConfig
) -> Iterator[Callable[..., XChannel]]:
    """Build an ``XChannel``: ``x_channel_for(base_url=…, handle=…, credentials=…)``."""
    made: list[XChannel] = []

    def build(
        *,
        base_url: str | None = None,
        handle: str = "@GwentPolice",
        credentials: dict[str, str] | None = None,
        timeout: float = TIMEOUT,
    ) -> XChannel:
        account = AccountSettings(
            network="x", handle=handle, dry_run=False, api_base_url=base_url or platform.url
        )
        channel = XChannel(
            "gwent-x", account, credentials or fake_config.x_credentials(handle), timeout=timeout
        )
        made.append(channel)
        return channel

    yield build
    for channel in made:
        channel.close()


@pytest.fixture
def x_channel(x_channel_for: Callable[..., XChannel]) -> XChannel:
    return x_channel_for()


@pytest.fixture
def fb_channel_for(
    platform: FakePlatform, fake_config: FakeConfig
) -> Iterator[Callable[..., FacebookChannel]]:
    """Build a ``FacebookChannel``: ``fb_channel_for(base_url=…, page=…, token=…)``."""
    made: list[FacebookChannel] = []

    def build(
        *,
        base_url: str | None = None,
        page: str = "104857600000001",
        token: str | None = None,
        timeout: float = TIMEOUT,
    ) -> FacebookChannel:
        account = AccountSettings(
            network="facebook", handle=page, dry_run=False, api_base_url=base_url or platform.url
        )
        credentials = {"page_token": token} if token else fake_config.fb_credentials(page)
        channel = FacebookChannel("gwent-facebook", account, credentials, timeout=timeout)
        made.append(channel)
        return channel

    yield build
    for channel in made:
        channel.close()


@pytest.fixture
def fb_channel(fb_channel_for: Callable[..., FacebookChannel]) -> FacebookChannel:
    return fb_channel_for()


@pytest.fixture
def image(tmp_path: Path) -> Callable[..., Media]:
    """Make an image file: ``image("a.png", alt="…")``."""

    def make(
        name: str = "tip.png", alt: str = "A parent and child looking at a phone", data: bytes = PNG
    ) -> Media:
        path = tmp_path / name
        path.write_bytes(data)
        return Media(path=path, alt_text=alt, sha256="0" * 64)

    return make


@pytest.fixture
def make_post() -> Callable[..., OutgoingPost]:
    """``make_post(channel_or_account, text, media=(), link=None)``: a fresh post id each call."""

    def make(
        target: Any,
        text: str,
        *,
        media: tuple[Media, ...] = (),
        link: str | None = None,
        language: str = "en",
    ) -> OutgoingPost:
        account: AccountSettings = getattr(target, "account", target)
        name = getattr(target, "account_name", "gwent")
        post_id = next(_post_ids)
        return OutgoingPost(
            post_id=post_id,
            attempt=1,
            account_name=name,
            account=account,
            language=language,
            text=text,
            media=media,
            link=link,
            content_hash=f"{post_id:064x}",
        )

    return make


@pytest.fixture
def refused_url() -> str:
    """A base URL on 127.0.0.1 where nothing listens: connections are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def unreachable_url() -> Iterator[str]:
    """A base URL on 127.0.0.1 where connecting times out.

    A listener that never accepts, with its (tiny) backlog already full: the kernel drops
    further connection attempts, so the client's connect timeout fires. Nothing is sent.
    """
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):  # connecting in the background
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


# -- Bluesky (a real PDS) and Mastodon (the fake platform) ---------------------------------


@pytest.fixture(scope="session")
def bluesky_pds() -> Iterator[Any]:
    """A real Bluesky PDS on 127.0.0.1 (``tests/bluesky/pds.mjs``) for the whole session.

    Skips, saying how to install it (``scripts/install-test-deps.sh``), without Node or
    ``@atproto/dev-env``."""
    from tests.bluesky.pds import BlueskyPds, unavailable

    reason = unavailable()
    if reason:
        pytest.skip(reason)
    server = BlueskyPds.start()
    yield server
    server.stop()


@pytest.fixture
def bluesky_account(bluesky_pds: Any) -> Any:
    """A new account (``handle``, ``did``, ``app_password``) with an empty repository."""
    return bluesky_pds.create_account()


@pytest.fixture
def bluesky_channel_for(
    bluesky_pds: Any, bluesky_account: Any, tmp_path: Path
) -> Iterator[Callable[..., Any]]:
    """Build a ``BlueskyChannel`` on the PDS: ``bluesky_channel_for(account=…, transport=…,
    app_password=…, session_file=…, base_url=…)`` (default: the test's fresh account)."""
    from channels.bluesky import BlueskyChannel

    made: list[BlueskyChannel] = []

    def build(
        *,
        account: Any = None,
        app_password: str | None = None,
        transport: Any = None,
        session_file: Path | None = None,
        base_url: str | None = None,
        timeout: float = 10.0,
    ) -> BlueskyChannel:
        owner = account or bluesky_account
        settings = AccountSettings(
            network="bluesky",
            handle=owner.handle,
            dry_run=False,
            api_base_url=base_url or bluesky_pds.url,
        )
        channel = BlueskyChannel(
            "gwent-bluesky",
            settings,
            {"app_password": app_password or owner.app_password},
            timeout=timeout,
            session_file=session_file,
            transport=transport,
        )
        made.append(channel)
        return channel

    yield build
    for channel in made:
        channel.close()


@pytest.fixture
def masto_channel_for(
    platform: FakePlatform, fake_config: FakeConfig
) -> Iterator[Callable[..., Any]]:
    """Build a ``MastodonChannel`` on the fake: ``masto_channel_for(base_url=…, handle=…,
    token=…)``."""
    from channels.mastodon import MastodonChannel

    made: list[MastodonChannel] = []

    def build(
        *,
        base_url: str | None = None,
        handle: str = "@GwentPolice@mastodon.social",
        token: str | None = None,
        timeout: float = TIMEOUT,
    ) -> MastodonChannel:
        account = AccountSettings(
            network="mastodon", handle=handle, dry_run=False, api_base_url=base_url or platform.url
        )
        credentials = {"access_token": token} if token else fake_config.masto_credentials(handle)
        channel = MastodonChannel("gwent-mastodon", account, credentials, timeout=timeout)
        made.append(channel)
        return channel

    yield build
    for channel in made:
        channel.close()
