"""The ``Channel`` contract (``channels/base.py``), checked against every channel.

A channel joins the suite with one factory: a function decorated ``@channel_case("name")``
that builds a ``ChannelCase`` (the channel, how to read what the network received, how to
make its next publish fail and its next look-up unable to tell, whether a resend is
recognised, and which secrets must never show). Bluesky, Mastodon and Threads add one
factory each.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import select
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from channels.base import Channel, Media, OutgoingPost, Receipt
from channels.facebook import FacebookChannel
from channels.fake import FakeChannel
from channels.outbox import OutboxChannel, read_outbox
from channels.registry import channel_for
from channels.x import XChannel
from core.errors import (
    AlreadyPublished,
    AmbiguousError,
    ChannelError,
    PermanentError,
    RetryableError,
    SettingsError,
)
from core.settings import AccountSettings, Settings
from tests.fakeplatform import FakeConfig, FakePlatform

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 0.5
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a5a5c3"
    "3e0000000049454e44ae426082"
)
WELSH = (
    "Siaradwch â'ch plant am eu bywyd ar-lein: pwy maen nhw'n ei ddilyn, beth maen nhw'n "
    "ei rannu. Dŵr, tŷ, ŵyn, ŷd 👨‍👩‍👧 #StopSiaradAmddiffyn"
)


@dataclass
class ChannelCase:
    channel: Channel
    account_name: str
    account: AccountSettings
    #: the texts the network now holds for this account, oldest first
    delivered: Callable[[], list[str]]
    #: make the channel's next publish fail (each channel in its own way)
    provoke_failure: Callable[[], None]
    #: make the channel's next look-up fail at the network (so find() cannot tell)
    break_lookup: Callable[[], None]
    #: what the channel must declare as ``resend_is_safe`` (the network's own guarantee)
    resend_is_safe: bool
    secrets: list[str] = field(default_factory=list)
    #: whether find() can prove a post absent (returns None) rather than raise
    tells_absent: bool = True
    #: what a post carries when a test gives it no media (Instagram: an image on every post)
    default_media: Callable[[], tuple[Media, ...]] | None = None


@dataclass
class Env:
    tmp_path: Path
    platform: FakePlatform
    config: FakeConfig
    #: for factories that need another fixture (Bluesky: the real PDS)
    request: pytest.FixtureRequest | None = None


FACTORIES: dict[str, Callable[[Env], ChannelCase]] = {}


def channel_case(
    name: str,
) -> Callable[[Callable[[Env], ChannelCase]], Callable[[Env], ChannelCase]]:
    def register(factory: Callable[[Env], ChannelCase]) -> Callable[[Env], ChannelCase]:
        FACTORIES[name] = factory
        return factory

    return register


@channel_case("outbox")
def _outbox(env: Env) -> ChannelCase:
    account = AccountSettings(network="x", handle="@GwentPolice")
    channel = OutboxChannel(env.tmp_path / "state" / "outbox.jsonl", network="x")

    def provoke() -> None:
        # The outbox's directory cannot be made: a file stands where it should be.
        (env.tmp_path / "blocked").write_text("")
        channel.path = env.tmp_path / "blocked" / "outbox.jsonl"

    def break_lookup() -> None:
        # A directory where the file should be: it cannot be read.
        channel.path = env.tmp_path / "a-directory"
        channel.path.mkdir(exist_ok=True)

    return ChannelCase(
        channel,
        "gwent-x",
        account,
        lambda: [line["text"] for line in read_outbox(channel.path)],
        provoke,
        break_lookup,
        resend_is_safe=False,
    )


def _fake_case(resend_is_safe: bool) -> ChannelCase:
    channel = FakeChannel("GwentPolice", resend_is_safe=resend_is_safe)
    account = AccountSettings(network="x", handle="@GwentPolice")
    return ChannelCase(
        channel,
        "gwent-x",
        account,
        channel.texts,
        lambda: channel.fail_next(RetryableError("fake: try later")),
        lambda: channel.fail_next_find(AmbiguousError("fake: cannot look")),
        resend_is_safe=resend_is_safe,
    )


@channel_case("fake")
def _fake(env: Env) -> ChannelCase:
    return _fake_case(resend_is_safe=False)


@channel_case("fake-with-keys")
def _fake_with_keys(env: Env) -> ChannelCase:
    return _fake_case(resend_is_safe=True)


@channel_case("x")
def _x(env: Env) -> ChannelCase:
    account = AccountSettings(
        network="x", handle="@GwentPolice", dry_run=False, api_base_url=env.platform.url
    )
    credentials = env.config.x_credentials("GwentPolice")
    channel = XChannel("gwent-x", account, credentials, timeout=TIMEOUT)
    return ChannelCase(
        channel,
        "gwent-x",
        account,
        lambda: [p["text"] for p in env.platform.x_posts("GwentPolice")],
        lambda: env.platform.fail_next("5xx", path="/2/tweets"),
        lambda: env.platform.fail_next("5xx", path="/tweets", method="GET"),
        resend_is_safe=False,
        secrets=list(credentials.values()),
    )


@channel_case("facebook")
def _facebook(env: Env) -> ChannelCase:
    page = env.config.facebook_pages[0]
    account = AccountSettings(
        network="facebook", handle=page.id, dry_run=False, api_base_url=env.platform.url
    )
    channel = FacebookChannel(
        "gwent-facebook", account, {"page_token": page.token}, timeout=TIMEOUT
    )
    return ChannelCase(
        channel,
        "gwent-facebook",
        account,
        lambda: [p["message"] for p in env.platform.fb_posts(page.id)],
        lambda: env.platform.fail_next("expired_token"),
        lambda: env.platform.fail_next("5xx", path="/feed", method="GET"),
        resend_is_safe=False,
        secrets=[page.token],
    )


@channel_case("bluesky")
def _bluesky(env: Env) -> ChannelCase:
    """A real PDS (skips without Node, see tests/bluesky/pds.py), a fresh account each time."""
    from channels.bluesky import BlueskyChannel
    from tests.bluesky.pds import FlakyTransport

    assert env.request is not None
    pds = env.request.getfixturevalue("bluesky_pds")
    owner = pds.create_account()
    account = AccountSettings(
        network="bluesky", handle=owner.handle, dry_run=False, api_base_url=pds.url
    )
    transport = FlakyTransport()
    channel = BlueskyChannel(
        "gwent-bluesky", account, {"app_password": owner.app_password}, transport=transport
    )
    return ChannelCase(
        channel,
        "gwent-bluesky",
        account,
        lambda: [r["value"]["text"] for r in pds.records(owner.did)],
        lambda: transport.fail_next("5xx", path="createRecord"),
        lambda: transport.fail_next("5xx", path="getRecord"),
        resend_is_safe=True,
        secrets=[owner.app_password, owner.password],
    )


@channel_case("mastodon")
def _mastodon(env: Env) -> ChannelCase:
    from channels.mastodon import MastodonChannel

    account = AccountSettings(
        network="mastodon",
        handle="@GwentPolice@mastodon.social",
        dry_run=False,
        api_base_url=env.platform.url,
    )
    credentials = env.config.masto_credentials("GwentPolice")
    channel = MastodonChannel("gwent-mastodon", account, credentials, timeout=TIMEOUT)
    return ChannelCase(
        channel,
        "gwent-mastodon",
        account,
        lambda: [s["text"] for s in env.platform.md_statuses("GwentPolice")],
        lambda: env.platform.fail_next("expired_token"),
        lambda: env.platform.fail_next("5xx", path="/statuses", method="GET"),
        resend_is_safe=True,
        secrets=list(credentials.values()),
    )


@channel_case("linkedin")
def _linkedin(env: Env) -> ChannelCase:
    """The strict LinkedIn fake (tests/fakes/linkedin.py), one server per case."""
    from channels.linkedin import LinkedInChannel
    from tests.fakes.linkedin import ORGANIZATION, FakeLinkedIn

    assert env.request is not None
    fake = FakeLinkedIn().start()
    env.request.addfinalizer(fake.stop)
    issued = fake.issue(refresh=True)
    account = AccountSettings(
        network="linkedin", handle=ORGANIZATION, dry_run=False, api_base_url=fake.url
    )
    credentials = issued.credentials(fake)
    channel = LinkedInChannel("gwent-linkedin", account, credentials, timeout=TIMEOUT)
    return ChannelCase(
        channel,
        "gwent-linkedin",
        account,
        lambda: [p["text"] for p in fake.posts()],
        lambda: fake.fail_next("5xx", path="/rest/posts", method="POST"),
        lambda: fake.fail_next("5xx", path="/rest/posts", method="GET"),
        resend_is_safe=False,
        secrets=[v for k, v in credentials.items() if k != "client_id"],
    )


@pytest.fixture(scope="module")
def threads_fake() -> Iterator[Any]:
    """The strict fake of the Threads API (``tests/fakes/threads.py``), one per module."""
    from tests.fakes.threads import FakeThreads

    with FakeThreads() as fake:
        yield fake


@channel_case("threads")
def _threads(env: Env) -> ChannelCase:
    from channels.threads import ThreadsChannel

    assert env.request is not None
    fake = env.request.getfixturevalue("threads_fake")
    fake.reset()
    account = AccountSettings(
        network="threads", handle="@gwentpolice", dry_run=False, api_base_url=fake.url
    )
    token = fake.profile("gwentpolice").token

    def public_url(media: Media) -> str:  # the web app's signed media address, here
        return str(fake.host_image(media.path.read_bytes(), "image/png"))

    channel = ThreadsChannel(
        "gwent-threads",
        account,
        {"access_token": token},
        timeout=TIMEOUT,
        image_url=public_url,
        sleep=lambda seconds: None,  # an image container is read again at once
    )
    return ChannelCase(
        channel,
        "gwent-threads",
        account,
        lambda: [t["text"] for t in fake.threads_of("gwentpolice")],
        lambda: fake.fail_next("expired_token"),
        lambda: fake.fail_next("5xx", path="/threads", method="GET"),
        resend_is_safe=False,
        secrets=[token],
    )


@channel_case("instagram")
def _instagram(env: Env) -> ChannelCase:
    """The strict fake (tests/fakes/instagram.py), which fetches every image from the real
    signed-media route serving this test's folder."""
    from channels.instagram import InstagramChannel
    from tests.fakes import instagram as fake_instagram

    fake = fake_instagram.shared()
    fake.reset()
    folder = env.tmp_path / "instagram-images"
    folder.mkdir(exist_ok=True)
    served = fake_instagram.shared_media(folder)
    owner = fake_instagram.DEFAULT_ACCOUNTS[0]
    account = AccountSettings(
        network="instagram", handle=owner.id, dry_run=False, api_base_url=fake.url
    )
    channel = InstagramChannel(
        "gwent-instagram",
        account,
        {"access_token": owner.token},
        media_urls=served.urls,
        timeout=TIMEOUT,
    )
    pictures = iter(range(10**6))

    def picture() -> tuple[Media, ...]:
        path = folder / f"poster-{next(pictures)}.jpg"
        path.write_bytes(fake_instagram.jpeg_bytes(path.name))
        return (Media(path, "A poster: a white heart on dark blue", "0" * 64),)

    return ChannelCase(
        channel,
        "gwent-instagram",
        account,
        lambda: [m["caption"] for m in fake.media(owner.id)],
        lambda: fake.fail_next("expired_token"),
        lambda: fake.fail_next("5xx", path="/media", method="GET"),
        resend_is_safe=False,
        secrets=[owner.token, served.key],
        default_media=picture,
    )


@pytest.fixture(params=sorted(FACTORIES))
def case(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    platform: FakePlatform,
    fake_config: FakeConfig,
) -> Iterator[ChannelCase]:
    built = FACTORIES[request.param](Env(tmp_path, platform, fake_config, request))
    yield built
    built.channel.close()


_ids = iter(range(50_000, 10**9))


def post_for(case: ChannelCase, text: str, media: tuple[Media, ...] = ()) -> OutgoingPost:
    """A new post of the case's account (a fresh post id, attempt 1, never resent)."""
    post_id = next(_ids)
    if not media and case.default_media is not None:
        media = case.default_media()
    return OutgoingPost(
        post_id=post_id,
        attempt=1,
        account_name=case.account_name,
        account=case.account,
        language="cy",
        text=text,
        media=media,
        content_hash=f"{post_id:064x}",
    )


def assert_no_secret(case: ChannelCase, error: BaseException) -> None:
    shown = "".join(traceback.format_exception(error)) + repr(error) + str(error)
    for secret in case.secrets:
        assert secret not in shown


# -- the contract --------------------------------------------------------------------------


def test_publish_returns_a_receipt_that_find_finds(case: ChannelCase) -> None:
    post = post_for(case, "Stop, talk, protect: ask your child who they talk to online.")
    receipt = case.channel.publish(post)
    assert isinstance(receipt, Receipt) and receipt.remote_id
    found = case.channel.find(post)
    assert found is not None and found.remote_id == receipt.remote_id


def test_find_of_an_unsent_post_is_none(case: ChannelCase) -> None:
    case.channel.publish(post_for(case, "A post that was sent"))
    if not case.tells_absent:
        pytest.skip("this network cannot prove a post absent")
    assert case.channel.find(post_for(case, "A post that was never sent")) is None


def test_find_that_cannot_tell_raises_never_none(case: ChannelCase) -> None:
    """The third answer of find(): the network's look-up failed, so it raises a
    ChannelError, for a post that is there as for one that is not. Never None."""
    sent = post_for(case, "Sent before the look-ups broke")
    case.channel.publish(sent)
    for post in (post_for(case, "Never sent"), sent):
        case.break_lookup()
        with pytest.raises(ChannelError) as caught:
            case.channel.find(post)
        assert_no_secret(case, caught.value)


def test_find_finds_the_post_under_any_of_its_sends(case: ChannelCase) -> None:
    """A later attempt, or a send after a person's resend, finds what an earlier one made."""
    post = post_for(case, "Sent once, looked up by a later send")
    receipt = case.channel.publish(post)
    later = dataclasses.replace(post, attempt=3, resend_count=1)
    found = case.channel.find(later)
    assert found is not None and found.remote_id == receipt.remote_id


def test_find_reads_back_to_not_before(case: ChannelCase) -> None:
    """A network matched by text is read, page by page, back to the time before which no
    send of the post can have started (``not_before``): None only once all of it was read,
    and "cannot tell" when there is more than the look-up may read."""
    channel: Any = case.channel
    if not hasattr(channel, "find_pages"):
        pytest.skip("looks the post up by its key or id, not by reading recent posts")
    channel.find_page_size, channel.find_pages = 5, 3
    start = datetime.now(UTC)

    def posted(text: str) -> OutgoingPost:
        return dataclasses.replace(post_for(case, text), not_before=start)

    target = posted("The one to find")
    channel.publish(target)
    for n in range(7):
        channel.publish(post_for(case, f"Posted after it, number {n}"))
    assert channel.find(target) is not None  # on the second page
    assert channel.find(posted("Never sent")) is None  # 8 posts: all read
    for n in range(8):
        channel.publish(post_for(case, f"And later still, number {n}"))
    with pytest.raises(AmbiguousError, match="more than 15"):
        channel.find(posted("Never sent, 16 posts since"))
    # Nothing can have been sent before a later not_before: the first page shows enough.
    later = dataclasses.replace(
        post_for(case, "Never sent either"), not_before=datetime.now(UTC) + timedelta(hours=1)
    )
    assert channel.find(later) is None


def test_find_finds_a_post_with_one_image(case: ChannelCase, tmp_path: Path) -> None:
    """A one-image post (Facebook: a photo post, which has no duplicate guard)."""
    picture = tmp_path / "poster.png"
    picture.write_bytes(PNG)
    media = case.default_media() if case.default_media else (Media(picture, "A poster", "0" * 64),)
    post = post_for(case, "A poster", media=media)
    case.channel.publish(post)
    assert case.channel.find(post) is not None


def test_resend_is_safe_is_declared(case: ChannelCase) -> None:
    channel = case.channel
    assert type(channel.resend_is_safe) is bool
    assert channel.resend_is_safe is case.resend_is_safe
    window = channel.resend_window_seconds
    assert window is None or (channel.resend_is_safe and window > 0)


def test_a_second_send_of_a_post_lands_on_the_first(case: ChannelCase) -> None:
    """Where resend_is_safe: another attempt of the same post makes nothing new; the
    network answers with the first (a receipt of it, or AlreadyPublished with its id)."""
    if not case.channel.resend_is_safe:
        pytest.skip("the network does not recognise a resend: the worker looks first")
    post = post_for(case, "Sent twice, published once")
    first = case.channel.publish(post)
    try:
        second_id = case.channel.publish(dataclasses.replace(post, attempt=2)).remote_id
    except AlreadyPublished as already:
        second_id = already.remote_id
    assert second_id == first.remote_id
    assert case.delivered() == [post.text]
    # A person's resend is a new request, and a new post.
    case.channel.publish(dataclasses.replace(post, attempt=3, resend_count=1))
    assert case.delivered() == [post.text, post.text]


def test_idempotency_keys_come_from_the_post_not_the_attempt() -> None:
    account = AccountSettings(network="x", handle="@GwentPolice")
    post = OutgoingPost(7, 1, "gwent-x", account, "en", "Text", content_hash="ab" * 32)
    assert dataclasses.replace(post, attempt=2).idempotency_key == post.idempotency_key
    others = {
        dataclasses.replace(post, resend_count=1).idempotency_key,
        dataclasses.replace(post, content_hash="cd" * 32).idempotency_key,
        dataclasses.replace(post, post_id=8).idempotency_key,
    }
    assert post.idempotency_key not in others and len(others) == 3


def test_text_arrives_byte_for_byte(case: ChannelCase) -> None:
    case.channel.publish(post_for(case, WELSH))
    assert case.delivered()[-1].encode("utf-8") == WELSH.encode("utf-8")


def test_failures_are_channel_errors_without_secrets(case: ChannelCase) -> None:
    case.provoke_failure()
    with pytest.raises(ChannelError) as caught:
        case.channel.publish(post_for(case, "This one fails"))
    assert_no_secret(case, caught.value)
    assert case.delivered() == []


def test_a_missing_image_is_a_channel_error_or_nothing(case: ChannelCase, tmp_path: Path) -> None:
    missing = Media(path=tmp_path / "missing.png", alt_text="missing", sha256="0" * 64)
    try:
        case.channel.publish(post_for(case, "With a missing image", media=(missing,)))
    except ChannelError as error:  # anything else escaping fails the test
        assert isinstance(error, PermanentError)
        assert_no_secret(case, error)


def test_check_and_repr_show_no_secret(case: ChannelCase) -> None:
    described = case.channel.check()
    assert described
    for secret in case.secrets:
        assert secret not in described
        assert secret not in repr(case.channel) and secret not in str(case.channel)


# -- secrets through a whole publish/fail cycle ----------------------------------------------


@pytest.mark.parametrize("network", ["x", "facebook"])
def test_no_token_in_any_message_repr_or_log(
    network: str,
    platform: FakePlatform,
    fake_config: FakeConfig,
    tmp_path: Path,
    refused_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    env = Env(tmp_path, platform, fake_config)
    errors: list[BaseException] = []
    channels: list[Channel] = []

    def attempt(call: Callable[..., Any], *args: Any) -> None:
        try:
            call(*args)
        except ChannelError as error:
            errors.append(error)

    with caplog.at_level(logging.DEBUG):  # every library's DEBUG output, urllib3's included
        case = FACTORIES[network](env)
        channels.append(case.channel)
        image = tmp_path / "poster.png"
        image.write_bytes(b"\x89PNG poster")
        post = post_for(case, "Poster", media=(Media(image, "A poster", "0" * 64),))
        attempt(case.channel.check)
        attempt(case.channel.publish, post)
        attempt(case.channel.publish, post)  # duplicate
        attempt(case.channel.find, post)
        for kind in ("expired_token", "5xx", "slow", "drop", "rate_limit", "fail_after_create"):
            platform.fail_next(kind)
            attempt(case.channel.publish, post_for(case, f"Failing with {kind}"))
        platform.fail_next("expired_token")
        attempt(case.channel.find, post)
        # A user token on Facebook, a wrong secret on X.
        bad = {**fake_config.x_credentials(), "consumer_secret": "wrong-consumer-secret-1"}
        other: Channel = (
            XChannel("gwent-x", case.account, bad, timeout=TIMEOUT)
            if network == "x"
            else FacebookChannel(
                "gwent-facebook",
                case.account,
                {"page_token": fake_config.facebook_users[0].token},
                timeout=TIMEOUT,
            )
        )
        channels.append(other)
        attempt(other.check)
        attempt(other.publish, post_for(case, "With bad credentials"))
        # Nothing listening: requests' own exception quotes the URL (a GET's token).
        unreachable = case.account.replace(api_base_url=refused_url)
        gone: Channel = (
            XChannel("gwent-x", unreachable, fake_config.x_credentials(), timeout=TIMEOUT)
            if network == "x"
            else FacebookChannel(
                "gwent-facebook", unreachable, fake_config.fb_credentials(), timeout=TIMEOUT
            )
        )
        channels.append(gone)
        attempt(gone.check)
        attempt(gone.find, post)

    assert len(errors) >= 10
    assert any(r.name.startswith("urllib3") for r in caplog.records)  # DEBUG really was on
    secrets = [*fake_config.secrets(), "wrong-consumer-secret-1"]
    shown = ["".join(traceback.format_exception(e)) + repr(e) + repr(e.__context__) for e in errors]
    shown += [repr(c) + str(c) for c in channels]
    shown += [r.getMessage() + (r.exc_text or "") for r in caplog.records]
    shown += [caplog.text]
    for text in shown:
        for secret in secrets:
            assert secret not in text


# -- the error table and the registry --------------------------------------------------------


def test_every_error_table_row_has_a_test() -> None:
    table = (ROOT / "docs" / "error-outcomes.md").read_text("utf-8")
    ids = re.findall(r"^\| `([A-Z]+-[\w-]+)` \|", table, flags=re.M)
    assert len(ids) > 40
    sources = "".join(
        (Path(__file__).parent / name).read_text("utf-8")
        for name in (
            "test_x.py",
            "test_facebook.py",
            "test_bluesky.py",
            "test_mastodon.py",
            "test_threads.py",
            "test_instagram.py",
            "test_credentials.py",
            "test_contract.py",
            "test_outcomes.py",
            "test_linkedin.py",
        )
    )
    untested = [i for i in ids if f"def test_{i.replace('-', '_')}" not in sources]
    assert untested == []


def test_ANY_unsupported(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    # Settings only know networks with a channel; one that slipped past them is refused.
    account = AccountSettings(network="x", handle="@gwent", dry_run=False)
    object.__setattr__(account, "network", "nextdoor")  # past the settings' own check
    with pytest.raises(SettingsError, match="not supported yet"):
        channel_for("gwent", account, settings, environ={})


def test_registry_dry_run_is_the_outbox(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    for network in ("x", "facebook", "bluesky", "mastodon", "threads", "instagram"):
        account = AccountSettings(network=network, handle="@gwent")
        channel = channel_for("gwent", account, settings, environ={})
        assert isinstance(channel, OutboxChannel)
        assert channel.path == settings.outbox_path and channel.network == network


def test_registry_builds_real_channels_from_the_environment(tmp_path: Path) -> None:
    settings = Settings(
        state_dir=tmp_path, graph_api_version="v24.0", worker={"request_timeout_seconds": 7}
    )
    env = {
        "X_KEY": "k-123456",
        "X_SECRET": "s-123456",
        "X_TOKEN": "t-123456",
        "X_TOKEN_SECRET": "ts-123456",
        "FB_TOKEN": "EAA-123456",
        "BSKY_APP_PASSWORD": "abcd-efgh-ijkl-mnop",
        "MASTO_TOKEN": "masto-token-123456",
    }
    x_account = AccountSettings(
        network="x",
        handle="@GwentPolice",
        dry_run=False,
        credentials={
            "consumer_key": "X_KEY",
            "consumer_secret": "X_SECRET",
            "access_token": "X_TOKEN",
            "access_token_secret": "X_TOKEN_SECRET",
        },
    )
    fb_account = AccountSettings(
        network="facebook", handle="1048576", dry_run=False, credentials={"page_token": "FB_TOKEN"}
    )
    x = channel_for("gwent-x", x_account, settings, environ=env)
    fb = channel_for("gwent-facebook", fb_account, settings, environ=env)
    assert isinstance(x, XChannel) and isinstance(fb, FacebookChannel)
    assert fb.base_url == "https://graph.facebook.com/v24.0"
    with pytest.raises(SettingsError, match="FB_TOKEN"):
        channel_for("gwent-facebook", fb_account, settings, environ={})
    from channels.bluesky import BlueskyChannel
    from channels.mastodon import MastodonChannel

    bsky_account = AccountSettings(
        network="bluesky",
        handle="gwentpolice.bsky.social",
        dry_run=False,
        credentials={"app_password": "BSKY_APP_PASSWORD"},
    )
    masto_account = AccountSettings(
        network="mastodon",
        handle="@GwentPolice@mastodon.social",
        dry_run=False,
        credentials={"access_token": "MASTO_TOKEN"},
    )
    bsky = channel_for("gwent-bluesky", bsky_account, settings, environ=env)
    masto = channel_for("gwent-mastodon", masto_account, settings, environ=env)
    assert isinstance(bsky, BlueskyChannel) and isinstance(masto, MastodonChannel)
    assert bsky.service == "https://bsky.social/xrpc"
    assert bsky.session_file == tmp_path / "sessions" / "gwent-bluesky.bluesky.json"
    assert masto.base_url == "https://mastodon.social"
    for name, account, variable in (
        ("gwent-bluesky", bsky_account, "BSKY_APP_PASSWORD"),
        ("gwent-mastodon", masto_account, "MASTO_TOKEN"),
    ):
        with pytest.raises(SettingsError, match=variable):
            channel_for(name, account, settings, environ={})
    from channels.threads import ThreadsChannel

    threads_account = AccountSettings(
        network="threads",
        handle="@gwentpolice",
        dry_run=False,
        credentials={"access_token": "THREADS_TOKEN"},
    )
    threads = channel_for(
        "gwent-threads", threads_account, settings, environ={"THREADS_TOKEN": "THQVJ-123456"}
    )
    assert isinstance(threads, ThreadsChannel)
    assert threads.base_url == "https://graph.threads.net/v1.0"
    assert threads.image_url is None  # image posts wait for the web app's public URL
    with pytest.raises(SettingsError, match="THREADS_TOKEN"):
        channel_for("gwent-threads", threads_account, settings, environ={})


def test_registry_imports_no_network_module_until_needed() -> None:
    code = (
        "import sys, channels.registry as r;"
        "print(sorted(m for m in ('tweepy', 'channels.x',"
        " 'channels.facebook', 'atproto', 'mastodon',"
        " 'channels.bluesky', 'channels.mastodon', 'channels.linkedin',"
        " 'channels.threads', 'channels.instagram')"
        " if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "[]"


def test_an_ambiguous_error_keeps_retry_after_through_find(
    platform: FakePlatform, fake_config: FakeConfig, tmp_path: Path
) -> None:
    case = FACTORIES["x"](Env(tmp_path, platform, fake_config))
    case.channel.check()
    platform.fail_next("rate_limit", path="/tweets", reset_in=120)
    with pytest.raises(AmbiguousError) as caught:
        case.channel.find(post_for(case, "Looked up while rate limited"))
    assert caught.value.retry_after == pytest.approx(120, abs=2)


def test_the_fake_platform_serves_another_process(fake_config: FakeConfig) -> None:
    """``python -m tests.fakeplatform``: a worker subprocess test drives it over HTTP."""
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.fakeplatform", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        ready, _, _ = select.select([server.stdout], [], [], 20)
        assert ready, "the fake platform did not start"
        url = server.stdout.readline().split()[-1]
        order = {"action": "fail_next", "kind": "5xx", "path": "/2/tweets"}
        assert requests.post(f"{url}/_fake/control", json=order, timeout=5).ok
        account = AccountSettings(
            network="x", handle="@GwentPolice", dry_run=False, api_base_url=url
        )
        channel = XChannel("gwent-x", account, fake_config.x_credentials(), timeout=5)
        case = ChannelCase(
            channel, "gwent-x", account, list, lambda: None, lambda: None, resend_is_safe=False
        )
        with pytest.raises(AmbiguousError):
            channel.publish(post_for(case, "First try fails"))
        channel.publish(post_for(case, WELSH))
        state = requests.get(f"{url}/_fake/state", timeout=5).json()
        assert [p["text"] for p in state["x"]["posts"]["GwentPolice"]] == [WELSH]
        assert state["failures_pending"] == []
        channel.close()
    finally:
        server.terminate()
        server.wait(10)
