"""ThreadsChannel against the strict fake Threads API (``tests/fakes/threads.py``): requests
for real, over HTTP on 127.0.0.1.

Every row ``THREADS-*`` of docs/error-outcomes.md has a test here, named by its id.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import traceback
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from channels.base import Media, OutgoingPost, Receipt
from channels.threads import CONTAINER_WAITS, MAX_LINKS, ThreadsChannel
from core.errors import (
    AmbiguousError,
    AuthenticationError,
    ChannelError,
    PermanentError,
    RetryableError,
    SettingsError,
)
from core.settings import AccountSettings
from tests.fakes.threads import FakeThreads

TIMEOUT = 0.5  # the fake's "slow" answers take 2 s
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a5a5c3"
    "3e0000000049454e44ae426082"
)
WELSH = "Dŵr, tŷ, ŵyn, ŷd 👨‍👩‍👧 https://www.gwent.police.uk/stop-siarad-amddiffyn"


class Sleeps:
    """Records the channel's waits instead of sleeping them."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture(scope="module")
def _server() -> Iterator[FakeThreads]:
    with FakeThreads() as fake:
        yield fake


@pytest.fixture
def fake(_server: FakeThreads) -> Iterator[FakeThreads]:
    _server.reset()
    _server.quota_total, _server.image_processing_reads = 250, 1
    originals = _server.profiles
    _server.profiles = [dataclasses.replace(p) for p in originals]  # tests change them
    yield _server
    _server.profiles = originals
    _server.reset()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def channel_for(fake: FakeThreads, sleeps: Sleeps) -> Iterator[Callable[..., ThreadsChannel]]:
    made: list[ThreadsChannel] = []

    def build(
        *,
        username: str = "gwentpolice",
        token: str | None = None,
        base_url: str | None = None,
        public: bool = True,
        image_url: Callable[[Media], str] | None = None,
        timeout: float = TIMEOUT,
    ) -> ThreadsChannel:
        account = AccountSettings(
            network="threads",
            handle=f"@{username}",
            dry_run=False,
            api_base_url=base_url or fake.url,
        )

        def host(media: Media) -> str:
            return fake.host_image(media.path.read_bytes(), "image/png")

        channel = ThreadsChannel(
            "gwent-threads",
            account,
            {"access_token": token or fake.profile(username).token},
            timeout=timeout,
            image_url=image_url or (host if public else None),
            sleep=sleeps,
        )
        made.append(channel)
        return channel

    yield build
    for channel in made:
        channel.close()


@pytest.fixture
def channel(channel_for: Callable[..., ThreadsChannel]) -> ThreadsChannel:
    return channel_for()


_ids = iter(range(70_000, 10**9))


def make_post(
    channel: ThreadsChannel,
    text: str,
    media: tuple[Media, ...] = (),
    not_before: datetime | None = None,
) -> OutgoingPost:
    post_id = next(_ids)
    return OutgoingPost(
        post_id=post_id,
        attempt=1,
        account_name=channel.account_name,
        account=channel.account,
        language="cy",
        text=text,
        media=media,
        content_hash=f"{post_id:064x}",
        not_before=not_before,
    )


@pytest.fixture
def picture(tmp_path: Path) -> Callable[..., Media]:
    def make(name: str = "poster.png", data: bytes = PNG, alt: str = "Poster: siarad") -> Media:
        path = tmp_path / name
        path.write_bytes(data)
        return Media(path=path, alt_text=alt, sha256="0" * 64)

    return make


def posted(fake: FakeThreads) -> list[str]:
    return [t["text"] for t in fake.threads_of("gwentpolice")]


def graph(code: int, message: str = "An error", subcode: int | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


# -- published -----------------------------------------------------------------------------


def test_THREADS_200_text(channel: ThreadsChannel, fake: FakeThreads) -> None:
    receipt = channel.publish(make_post(channel, WELSH))
    (thread,) = fake.threads_of("gwentpolice")
    assert thread["text"].encode() == WELSH.encode() and thread["media_type"] == "TEXT_POST"
    assert receipt.remote_id == thread["id"]
    assert receipt.url and receipt.url.startswith("https://www.threads.com/@gwentpolice/post/")
    assert receipt.extra == {"container": thread["container"]}
    methods = [(r["method"], r["path"].rsplit("/", 1)[-1]) for r in fake.requests]
    # The limit is read before the container; the container's status before publishing.
    assert methods[:5] == [
        ("GET", "me"),
        ("GET", "threads_publishing_limit"),
        ("POST", "threads"),
        ("GET", thread["container"]),
        ("POST", "threads_publish"),
    ]


def test_THREADS_200_image(
    channel: ThreadsChannel, fake: FakeThreads, picture: Callable[..., Media], sleeps: Sleeps
) -> None:
    fake.image_processing_reads = 2
    poster = picture(alt="Poster: Stop, siarad, amddiffyn")
    receipt = channel.publish(make_post(channel, "Stop, siarad, amddiffyn.", (poster,)))
    (thread,) = fake.threads_of("gwentpolice")
    assert thread["media_type"] == "IMAGE" and thread["image"] == PNG  # fetched by Threads
    assert thread["alt_text"] == "Poster: Stop, siarad, amddiffyn"
    assert receipt.remote_id == thread["id"]
    assert sleeps.waits == list(CONTAINER_WAITS[:2])  # read until FINISHED, no longer


def test_THREADS_image_without_public_url(
    channel_for: Callable[..., ThreadsChannel], fake: FakeThreads, picture: Callable[..., Media]
) -> None:
    channel = channel_for(public=False)
    with pytest.raises(PermanentError, match=r"public URL .* web\.public_url"):
        channel.publish(make_post(channel, "With a poster", (picture(),)))
    assert fake.requests == []  # refused before any request
    channel.publish(make_post(channel, "A text post needs no public address"))
    assert posted(fake) == ["A text post needs no public address"]


def test_THREADS_image_url_builder_fails(
    channel_for: Callable[..., ThreadsChannel], fake: FakeThreads, picture: Callable[..., Media]
) -> None:
    def broken(media: Media) -> str:
        raise SettingsError("web.public_url is not set")

    channel = channel_for(image_url=broken)
    with pytest.raises(PermanentError, match=r"no public URL for image poster.png: web.public_url"):
        channel.publish(make_post(channel, "With a poster", (picture(),)))
    channel = channel_for(image_url=lambda media: "file:///srv/poster.png")
    with pytest.raises(PermanentError, match="not an http"):
        channel.publish(make_post(channel, "With a poster", (picture(),)))
    assert fake.requests == []


def test_THREADS_image_unreadable(
    channel: ThreadsChannel, fake: FakeThreads, picture: Callable[..., Media], tmp_path: Path
) -> None:
    missing = Media(tmp_path / "gone.png", "Gone", "0" * 64)
    two = (picture("a.png"), picture("b.png"))
    gif = picture("anim.gif", data=b"GIF89a")
    big = picture("big.png", data=PNG + b"\0" * 8_000_000)
    for media, message in (
        ((missing,), "cannot read image"),
        (two, "at most 1 images, not 2"),
        ((gif,), "image/gif; Threads takes image/jpeg, image/png"),
        ((big,), "8,000,000"),
    ):
        with pytest.raises(PermanentError, match=message):
            channel.publish(make_post(channel, "With images", media))
    assert fake.requests == []


def test_THREADS_links(channel: ThreadsChannel, fake: FakeThreads) -> None:
    links = " ".join(f"https://example.org/{n}" for n in range(MAX_LINKS + 1))
    with pytest.raises(PermanentError, match="6 different links; Threads takes at most 5"):
        channel.publish(make_post(channel, f"Too many: {links}"))
    assert fake.requests == []
    five = " ".join(f"https://example.org/{n}" for n in range(MAX_LINKS))
    channel.publish(make_post(channel, f"Five, one twice: {five} https://example.org/0"))
    assert len(posted(fake)) == 1


# -- the container ---------------------------------------------------------------------------


def test_THREADS_container_error(
    channel_for: Callable[..., ThreadsChannel], fake: FakeThreads, picture: Callable[..., Media]
) -> None:
    # The public address does not answer: Threads cannot fetch the image.
    channel = channel_for(image_url=lambda media: f"{fake.url}/_public/nothing-here")
    with pytest.raises(RetryableError, match=r"failed \(UNKNOWN\).*reachable from the internet"):
        channel.publish(make_post(channel, "With a poster", (picture(),)))
    assert posted(fake) == []
    assert not any(r["path"].endswith("threads_publish") for r in fake.requests)


def test_THREADS_container_error_invalid(channel: ThreadsChannel, fake: FakeThreads) -> None:
    body = {"id": "1", "status": "ERROR", "error_message": "INVALID_ASPEC_RATIO"}
    fake.fail_next("answer", path="/v1.0/1789", method="GET", status=200, body=body)
    with pytest.raises(PermanentError, match="INVALID_ASPEC_RATIO"):
        channel.publish(make_post(channel, "A post"))
    assert posted(fake) == []


def test_THREADS_container_in_progress(
    channel: ThreadsChannel, fake: FakeThreads, picture: Callable[..., Media], sleeps: Sleeps
) -> None:
    fake.image_processing_reads = 100
    with pytest.raises(RetryableError, match="still IN_PROGRESS after 30 s") as caught:
        channel.publish(make_post(channel, "Slow poster", (picture(),)))
    assert caught.value.retry_after == 60
    assert sleeps.waits == list(CONTAINER_WAITS)  # bounded
    assert posted(fake) == []


# -- the publishing limit ---------------------------------------------------------------------


def test_THREADS_limit_reached(channel: ThreadsChannel, fake: FakeThreads) -> None:
    fake.quota_total = 2
    fake.add_thread("gwentpolice", "Two hours ago", age=2 * 3600)
    fake.add_thread("gwentpolice", "An hour ago", age=3600)
    with pytest.raises(RetryableError, match="published 2 of its 2 posts") as caught:
        channel.publish(make_post(channel, "A third today"))
    # The oldest post in the window leaves it 22 hours from now.
    assert caught.value.retry_after == pytest.approx(22 * 3600, abs=5)
    assert not any(r["method"] == "POST" for r in fake.requests)  # not even a container
    assert posted(fake) == ["Two hours ago", "An hour ago"]


def test_THREADS_limit_at_publish(channel: ThreadsChannel, fake: FakeThreads) -> None:
    """The limit read before the container says there is room; the publish is refused
    because there is none: the limit is read again, and it is a wait, not a failure."""
    fake.quota_total = 1
    fake.add_thread("gwentpolice", "This morning", age=3 * 3600)
    room = {"data": [{"quota_usage": 0, "config": {"quota_total": 1, "quota_duration": 86400}}]}
    fake.fail_next("answer", path="threads_publishing_limit", status=200, body=room)
    with pytest.raises(RetryableError, match=r"published 1 of its 1 posts.*publishing limit") as e:
        channel.publish(make_post(channel, "One too many"))
    assert e.value.retry_after == pytest.approx(21 * 3600, abs=5)
    assert posted(fake) == ["This morning"]


def test_THREADS_publish_refused(channel: ThreadsChannel, fake: FakeThreads) -> None:
    fake.fail_next("answer", path="threads_publish", status=400, body=graph(100, "Invalid"))
    with pytest.raises(PermanentError, match="Invalid"):
        channel.publish(make_post(channel, "Refused"))
    assert posted(fake) == []


# -- tokens and permissions -------------------------------------------------------------------


def test_THREADS_190(channel: ThreadsChannel, fake: FakeThreads) -> None:
    fake.fail_next("expired_token", path="threads_publish")
    with pytest.raises(AuthenticationError, match=r"Session has expired.*long-lived token"):
        channel.publish(make_post(channel, "With an expired token"))
    assert posted(fake) == []


def test_THREADS_190_token_expired_at_threads(channel: ThreadsChannel, fake: FakeThreads) -> None:
    fake.profile("gwentpolice").expires_at = time.time() - 60  # the 60 days are over
    with pytest.raises(AuthenticationError, match="code 190, subcode 463"):
        channel.publish(make_post(channel, "After the 60 days"))
    with pytest.raises(AuthenticationError):
        channel.check()


def test_THREADS_other_profile(
    channel_for: Callable[..., ThreadsChannel], fake: FakeThreads
) -> None:
    channel = channel_for(token=fake.profile("dyfedpowyspolice").token)
    with pytest.raises(AuthenticationError, match="belongs to @dyfedpowyspolice"):
        channel.publish(make_post(channel, "On the wrong profile?"))
    with pytest.raises(AuthenticationError, match="belongs to @dyfedpowyspolice"):
        channel.check()
    assert fake.posts == []


def test_THREADS_10(channel: ThreadsChannel, fake: FakeThreads) -> None:
    fake.profile("gwentpolice").scopes = ("threads_basic",)
    with pytest.raises(PermanentError, match=r"code 10.*threads_content_publish"):
        channel.publish(make_post(channel, "Without the permission"))


def test_THREADS_throttled(channel: ThreadsChannel, fake: FakeThreads) -> None:
    fake.fail_next("rate_limit", path="threads_publish", retry_after=120)
    with pytest.raises(RetryableError, match="rate limited") as caught:
        channel.publish(make_post(channel, "Throttled"))
    assert caught.value.retry_after == 120
    assert posted(fake) == []


# -- a publish in doubt --------------------------------------------------------------------


def test_THREADS_5xx_container(channel: ThreadsChannel, fake: FakeThreads) -> None:
    fake.fail_next("5xx", path="/threads", method="POST")
    with pytest.raises(RetryableError, match="nothing was published"):
        channel.publish(make_post(channel, "The container failed"))
    assert posted(fake) == []


def test_THREADS_5xx_publish_found(channel: ThreadsChannel, fake: FakeThreads) -> None:
    fake.fail_next("fail_after_create", path="threads_publish")
    receipt = channel.publish(make_post(channel, "Published, then a 500"))
    (thread,) = fake.threads_of("gwentpolice")
    assert receipt.remote_id == thread["id"]
    assert receipt.extra == {"reconciled": "true", "container": thread["container"]}


def test_THREADS_5xx_publish(channel: ThreadsChannel, fake: FakeThreads) -> None:
    fake.fail_next("5xx", path="threads_publish")
    with pytest.raises(AmbiguousError, match=r"container .* is FINISHED: the publish may still"):
        channel.publish(make_post(channel, "A 503 and nothing made"))
    assert posted(fake) == []


def test_THREADS_publish_timeout(channel: ThreadsChannel, fake: FakeThreads) -> None:
    fake.fail_next("slow", path="threads_publish")
    receipt = channel.publish(make_post(channel, "Published, the answer too late"))
    (thread,) = fake.threads_of("gwentpolice")
    assert receipt.remote_id == thread["id"] and receipt.extra["reconciled"] == "true"


def test_THREADS_publish_held(channel: ThreadsChannel, fake: FakeThreads) -> None:
    """A publish still on its way when the channel gives up is in doubt, never retried
    blindly; find() cannot see it until it lands, then finds it: one post."""
    hold = fake.hold_next("threads_publish")
    post = make_post(channel, "Held at Threads past the timeout", not_before=datetime.now(UTC))
    with pytest.raises(AmbiguousError, match="may still land"):
        channel.publish(post)
    assert hold.arrived.is_set() and posted(fake) == []
    assert channel.find(post) is None  # not yet there: the worker's window covers this
    hold.release()
    deadline = time.monotonic() + 5
    while not posted(fake) and time.monotonic() < deadline:
        time.sleep(0.02)
    found = channel.find(dataclasses.replace(post, attempt=2))
    (thread,) = fake.threads_of("gwentpolice")
    assert found is not None and found.remote_id == thread["id"]


def test_THREADS_publish_dropped(channel: ThreadsChannel, fake: FakeThreads) -> None:
    fake.fail_next("drop", path="threads_publish")
    with pytest.raises(AmbiguousError, match="connection failed after sending"):
        channel.publish(make_post(channel, "Dropped"))
    assert posted(fake) == []


def test_THREADS_publish_no_id(channel: ThreadsChannel, fake: FakeThreads) -> None:
    fake.fail_next("answer", path="threads_publish", status=200, body={})
    with pytest.raises(AmbiguousError, match=r"without a media id.*FINISHED"):
        channel.publish(make_post(channel, "No id"))


def test_THREADS_container_gone_after_publish(channel: ThreadsChannel, fake: FakeThreads) -> None:
    fake.fail_next("5xx", path="threads_publish")
    gone = {"id": "1", "status": "EXPIRED"}
    # The first status read (before publishing) is real; the one after answers EXPIRED.
    fake.fail_next(
        "answer", path="/v1.0/1789", method="GET", status=200, body={"status": "FINISHED"}
    )
    fake.fail_next("answer", path="/v1.0/1789", method="GET", status=200, body=gone)
    with pytest.raises(RetryableError, match="is EXPIRED: nothing was published"):
        channel.publish(make_post(channel, "Expired container"))


def test_THREADS_settle_unreadable(channel: ThreadsChannel, fake: FakeThreads) -> None:
    fake.fail_next("5xx", path="threads_publish")
    fake.fail_next(
        "answer", path="/v1.0/1789", method="GET", status=200, body={"status": "FINISHED"}
    )
    fake.fail_next("5xx", path="/v1.0/1789", method="GET")
    with pytest.raises(AmbiguousError, match="its container could not be read"):
        channel.publish(make_post(channel, "Cannot tell"))


def test_THREADS_refused(channel_for: Callable[..., ThreadsChannel], refused_url: str) -> None:
    channel = channel_for(base_url=refused_url)
    with pytest.raises(RetryableError, match="could not connect"):
        channel.publish(make_post(channel, "Nobody there"))


def test_THREADS_connect_timeout(
    channel_for: Callable[..., ThreadsChannel], unreachable_url: str
) -> None:
    channel = channel_for(base_url=unreachable_url, timeout=0.2)
    with pytest.raises(RetryableError, match="could not connect in time"):
        channel.publish(make_post(channel, "Nobody answers"))


# -- find ----------------------------------------------------------------------------------


def test_THREADS_find_found(channel: ThreadsChannel, fake: FakeThreads) -> None:
    post = make_post(channel, WELSH, not_before=datetime.now(UTC))
    receipt = channel.publish(post)
    channel.publish(make_post(channel, "Another post after it"))
    found = channel.find(dataclasses.replace(post, attempt=2, resend_count=1))
    assert found == Receipt(receipt.remote_id, receipt.url)


def test_THREADS_find_absent(channel: ThreadsChannel, fake: FakeThreads) -> None:
    start = datetime.now(UTC)
    fake.add_thread("gwentpolice", "The same text, a week ago", age=7 * 86400)
    channel.publish(make_post(channel, "Something else"))
    post = make_post(channel, "The same text, a week ago", not_before=start)
    assert channel.find(post) is None  # only since not_before (less 5 minutes) counts
    # The older one is found when the post could have been sent back then.
    early = dataclasses.replace(post, not_before=start - timedelta(days=8))
    assert channel.find(early) is not None


def test_THREADS_find_unreadable(channel: ThreadsChannel, fake: FakeThreads) -> None:
    channel.publish(make_post(channel, "Sent"))
    fake.fail_next("rate_limit", path="/threads", method="GET", retry_after=90)
    with pytest.raises(AmbiguousError, match="cannot look the post up") as caught:
        channel.find(make_post(channel, "Sent"))
    assert caught.value.retry_after == 90


def test_THREADS_find_190(channel: ThreadsChannel, fake: FakeThreads) -> None:
    fake.fail_next("expired_token")
    with pytest.raises(AuthenticationError):
        channel.find(make_post(channel, "Anything"))


# -- check ---------------------------------------------------------------------------------


def test_THREADS_check(channel: ThreadsChannel, fake: FakeThreads) -> None:
    fake.add_thread("gwentpolice", "Earlier today", age=600)
    expires = datetime.fromtimestamp(int(fake.profile("gwentpolice").expires_at), UTC)
    line = channel.check()
    assert line.startswith("@gwentpolice (Threads id 24000000000000001; ")
    assert f"token expires {expires:%Y-%m-%d %H:%M} UTC, in 50 days;" in line
    assert "1 of 250 posts published through the API in the last 24 hours" in line
    assert "refresh" not in line
    assert channel.expires_at() == expires


def test_THREADS_check_expiring(channel: ThreadsChannel, fake: FakeThreads) -> None:
    fake.profile("gwentpolice").expires_at = time.time() + 3 * 86400 + 60
    assert "in 3 days: refresh it now (GET /refresh_access_token" in channel.check()


def test_THREADS_check_not_tester(channel: ThreadsChannel, fake: FakeThreads) -> None:
    fake.profile("gwentpolice").tester = False
    assert "token expiry unknown" in channel.check()
    assert channel.expires_at() is None


def test_THREADS_check_revoked(channel: ThreadsChannel, fake: FakeThreads) -> None:
    """debug_token's own word, when the calls themselves still go through."""
    scopes = ["threads_basic", "threads_content_publish"]
    revoked = {"data": {"is_valid": False, "scopes": scopes}}
    fake.fail_next("answer", path="debug_token", status=200, body=revoked)
    with pytest.raises(AuthenticationError, match="no longer valid"):
        channel.check()
    past = {"data": {"is_valid": True, "expires_at": int(time.time()) - 3600, "scopes": scopes}}
    fake.fail_next("answer", path="debug_token", status=200, body=past)
    with pytest.raises(AuthenticationError, match="expired on"):
        channel.expires_at()


def test_THREADS_check_scopes(channel: ThreadsChannel, fake: FakeThreads) -> None:
    fake.profile("gwentpolice").scopes = ("threads_basic",)
    with pytest.raises(PermanentError, match="lacks threads_content_publish"):
        channel.check()


# -- secrets -------------------------------------------------------------------------------


def test_no_token_in_any_message_repr_or_log(
    channel_for: Callable[..., ThreadsChannel],
    fake: FakeThreads,
    picture: Callable[..., Media],
    refused_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The token travels in the query of every GET: it shows in no error, repr or log."""
    errors: list[BaseException] = []

    def attempt(call: Callable[..., Any], *args: Any) -> None:
        try:
            call(*args)
        except ChannelError as error:
            errors.append(error)

    with caplog.at_level(logging.DEBUG):
        channel = channel_for()
        post = make_post(channel, "Poster", (picture(),))
        attempt(channel.check)
        attempt(channel.publish, post)
        attempt(channel.find, post)
        for kind in ("expired_token", "5xx", "slow", "drop", "rate_limit", "fail_after_create"):
            fake.fail_next(kind, path="threads_publish")
            attempt(channel.publish, make_post(channel, f"Failing with {kind}"))
        fake.fail_next("expired_token")
        attempt(channel.find, post)
        fake.fail_next("answer", status=400, body=graph(100, f"Echo {channel._token.reveal()}"))
        attempt(channel.check)
        gone = channel_for(base_url=refused_url)
        attempt(gone.check)
        attempt(gone.find, post)
    token = fake.profile("gwentpolice").token
    assert len(errors) >= 8
    assert any(r.name.startswith("urllib3") for r in caplog.records)  # DEBUG really was on
    shown = ["".join(traceback.format_exception(e)) + repr(e.__context__) for e in errors]
    shown += [repr(channel), str(channel), caplog.text]
    for text in shown:
        assert token not in text


def test_channel_needs_a_token_and_a_username(fake: FakeThreads) -> None:
    account = AccountSettings(network="threads", handle="@gwentpolice", dry_run=False)
    with pytest.raises(SettingsError, match="Threads needs access_token"):
        ThreadsChannel("gwent-threads", account, {})
    bad = account.replace(handle="gwentpolice@threads.net")
    with pytest.raises(SettingsError, match="the profile's username"):
        ThreadsChannel("gwent-threads", bad, {"access_token": "x" * 20})
    channel = ThreadsChannel("gwent-threads", account, {"access_token": "x" * 20})
    assert channel.base_url == "https://graph.threads.net/v1.0"
    assert repr(channel) == "ThreadsChannel(account='gwent-threads', username='gwentpolice')"


def test_the_fake_counts_as_threads_documents() -> None:
    """The fake's own count (not networks.py's) refuses what Threads would."""
    from tests.fakes.threads import threads_length

    assert (
        threads_length("ŵŷ") == 2 and threads_length("👨‍👩‍👧") == 18 and threads_length("📱") == 4
    )


def test_a_text_over_500_as_threads_counts_is_refused_by_the_fake(
    channel: ThreadsChannel, fake: FakeThreads
) -> None:
    text = "a" * 480 + "👨‍👩‍👧👨‍👩‍👧"  # 480 letters, 36 bytes of emoji: 516 for Threads
    with pytest.raises(PermanentError, match="at most 500"):
        channel.publish(make_post(channel, text))
    assert posted(fake) == []


def test_image_posts_take_the_web_apps_signed_link(tmp_path, monkeypatch) -> None:
    """With [web] set, the registry gives a Threads account the signed public link of each
    image (the route Instagram uses, tests/channels/test_instagram.py); without it, none."""
    import hashlib
    from urllib.parse import parse_qs, urlsplit

    from channels.base import Media
    from channels.media_urls import MediaUrls
    from channels.registry import channel_for
    from core.settings import load_settings

    config = tmp_path / "config.toml"
    account = (
        '[accounts.gwent-threads]\nnetwork = "threads"\nhandle = "@gwentpolice"\n'
        'dry_run = false\ncredentials = { access_token = "T_TOKEN" }\n'
    )
    web = '[web]\npublic_url = "https://publisher.example.police.uk"\nmedia_key_env = "T_KEY"\n'
    monkeypatch.setenv("T_KEY", "k" * 48)
    environ = {"T_TOKEN": "THQVJ-test-token"}
    image = tmp_path / "banner.jpg"
    image.write_bytes(b"\xff\xd8\xff banner")
    media = Media(image, "A banner", hashlib.sha256(image.read_bytes()).hexdigest())

    config.write_text(web + account, encoding="utf-8")
    settings = load_settings(config, environ={})
    channel = channel_for("gwent-threads", settings.account("gwent-threads"), settings, environ)
    url = channel.image_url(media)
    parts = urlsplit(url)
    assert url.startswith(f"https://publisher.example.police.uk/media/{media.sha256}?")
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert MediaUrls(settings.web).verify(media.sha256, query["expires"], query["sig"])

    config.write_text(account, encoding="utf-8")  # text posts still work without [web]
    settings = load_settings(config, environ={})
    channel = channel_for("gwent-threads", settings.account("gwent-threads"), settings, environ)
    assert channel.image_url is None
