"""Instagram: the real ``InstagramChannel`` over real HTTP against the strict fake
(``tests/fakes/instagram.py``), which fetches every image from the install's signed media
route; the whole chain (planned, approved, claimed, fetched from the real web app on
127.0.0.1, published) at the end. Tests named ``test_IG_*`` are the rows of
docs/error-outcomes.md."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select

from campaign.expand import expand
from campaign.lint import LintConfig, lint_text
from campaign.loader import load_campaign
from channels.base import Media, OutgoingPost
from channels.instagram import MEDIA_WAITS, InstagramChannel
from channels.media_urls import MediaUrls
from channels.registry import channel_for as registry_channel_for
from core.clock import FakeClock, SystemClock
from core.errors import (
    AmbiguousError,
    AuthenticationError,
    PermanentError,
    RetryableError,
    SettingsError,
)
from core.settings import AccountSettings, Settings, WebSettings, load_settings
from posts.db import Database
from posts.models import Post
from posts.planning import store_drafts
from schedules.dispatch import Dispatcher
from tests.fakes import instagram as fakes
from tests.fakes.instagram import FakeInstagram, LocalMedia, jpeg_bytes, real_jpeg
from tests.helpers import WebServer, approve_all, who

TIMEOUT = 0.5
GWENT = fakes.DEFAULT_ACCOUNTS[0]
DYFED = fakes.DEFAULT_ACCOUNTS[1]
_ids = itertools.count(70_000)


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def ig() -> Iterator[FakeInstagram]:
    fake = fakes.shared()
    fake.reset()
    yield fake
    fake.reset()


@pytest.fixture
def local_media(tmp_path: Path) -> Iterator[LocalMedia]:
    folder = tmp_path / "images"
    folder.mkdir()
    media = LocalMedia(folder)
    yield media
    media.stop()


@pytest.fixture
def image(local_media: LocalMedia) -> Callable[..., Media]:
    """``image("tip.jpg", alt=…, data=…)``: a file in the served folder, its real hash."""

    def make(
        name: str = "tip.jpg",
        alt: str = "A parent and child at a laptop",
        data: bytes | None = None,
    ) -> Media:
        path = local_media.folder / name
        path.write_bytes(jpeg_bytes(name) if data is None else data)
        return Media(path, alt, hashlib.sha256(path.read_bytes()).hexdigest())

    return make


@dataclasses.dataclass
class Sleeps:
    waits: list[float] = dataclasses.field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def channel_for(
    ig: FakeInstagram, local_media: LocalMedia, sleeps: Sleeps
) -> Iterator[Callable[..., InstagramChannel]]:
    made: list[InstagramChannel] = []

    def build(
        *,
        account: fakes.IgAccount = GWENT,
        token: str | None = None,
        base_url: str | None = None,
        media_urls: MediaUrls | str | None = "local",
        timeout: float = TIMEOUT,
    ) -> InstagramChannel:
        settings = AccountSettings(
            network="instagram",
            handle=account.id,
            display_name="Gwent Police",
            dry_run=False,
            api_base_url=base_url or ig.url,
        )
        channel = InstagramChannel(
            "gwent-instagram",
            settings,
            {"access_token": token or account.token},
            media_urls=local_media.urls if media_urls == "local" else media_urls,  # type: ignore[arg-type]
            timeout=timeout,
            sleep=sleeps,
        )
        made.append(channel)
        return channel

    yield build
    for channel in made:
        channel.close()


@pytest.fixture
def channel(channel_for: Callable[..., InstagramChannel]) -> InstagramChannel:
    return channel_for()


def post_for(channel: InstagramChannel, text: str, *media: Media, **changes: Any) -> OutgoingPost:
    post_id = next(_ids)
    post = OutgoingPost(
        post_id=post_id,
        attempt=1,
        account_name=channel.account_name,
        account=channel.account,
        language="en",
        text=text,
        media=tuple(media),
        content_hash=f"{post_id:064x}",
    )
    return dataclasses.replace(post, **changes)


def graph_error(code: int, message: str, subcode: int | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


# -- publishing -----------------------------------------------------------------------------


def test_IG_published(
    channel: InstagramChannel, ig: FakeInstagram, image: Callable[..., Media]
) -> None:
    picture = image("tip.jpg", alt="Campaign banner: a white heart on dark blue")
    text = "Siaradwch â'ch plant am eu bywyd ar-lein. Dŵr, tŷ 👨‍👩‍👧 #StopSiaradAmddiffyn"
    receipt = channel.publish(post_for(channel, text, picture))

    (media,) = ig.media(GWENT.id)
    assert media["caption"].encode() == text.encode()
    assert media["images"] == [picture.path.read_bytes()]
    assert media["alt_texts"] == ["Campaign banner: a white heart on dark blue"]
    assert media["media_type"] == "IMAGE"
    assert receipt.remote_id == media["id"] and receipt.url == media["permalink"]
    # In order: the limit, the container (Instagram fetched the image), its status, the
    # publish, the permalink. The token only ever in the Authorization header.
    assert [(r["method"], r["path"].split("/", 2)[-1]) for r in ig.requests] == [
        ("GET", f"{GWENT.id}/content_publishing_limit"),
        ("POST", f"{GWENT.id}/media"),
        ("GET", ig.requests[2]["path"].split("/", 2)[-1]),
        ("POST", f"{GWENT.id}/media_publish"),
        ("GET", media["id"]),
    ]
    assert all(r["bearer"] and "access_token" not in r["query"] for r in ig.requests)
    (fetch,) = ig.fetches
    assert fetch["ok"] and fetch["status"] == 200 and fetch["content_type"] == "image/jpeg"
    assert fetch["set_cookie"] is None
    assert urlsplit(fetch["url"]).path == f"/media/{picture.sha256}"


def test_IG_carousel(
    channel: InstagramChannel, ig: FakeInstagram, image: Callable[..., Media]
) -> None:
    pictures = [image(f"tip-{n}.jpg", alt=f"Tip card number {n}, white on blue") for n in range(3)]
    receipt = channel.publish(post_for(channel, "Three tips #StopTalkProtect", *pictures))

    (media,) = ig.media(GWENT.id)
    assert media["media_type"] == "CAROUSEL_ALBUM" and media["id"] == receipt.remote_id
    assert media["images"] == [p.path.read_bytes() for p in pictures]
    assert media["alt_texts"] == [p.alt_text for p in pictures]
    items = [c for c in ig.containers.values() if c["kind"] == "CAROUSEL_ITEM"]
    assert [c["fields"]["is_carousel_item"] for c in items] == ["true"] * 3
    assert all("caption" not in c["fields"] for c in items)
    (carousel,) = [c for c in ig.containers.values() if c["kind"] == "CAROUSEL"]
    assert carousel["fields"]["children"] == ",".join(c["id"] for c in items)
    assert carousel["fields"]["caption"] == "Three tips #StopTalkProtect"
    assert "alt_text" not in carousel["fields"]


def test_IG_no_image(channel: InstagramChannel, ig: FakeInstagram) -> None:
    with pytest.raises(PermanentError, match="needs an image"):
        channel.publish(post_for(channel, "Text alone"))
    assert ig.requests == []


@pytest.mark.parametrize(
    ("name", "data", "count", "match"),
    [
        ("poster.png", b"\x89PNG\r\n\x1a\n", 1, "image/png; Instagram takes image/jpeg"),
        ("huge.jpg", jpeg_bytes("huge", 8 * 1024 * 1024), 1, "8,388,608"),
        ("many.jpg", None, 11, "at most 10 images"),
    ],
)
def test_IG_image_refused(
    channel: InstagramChannel,
    ig: FakeInstagram,
    image: Callable[..., Media],
    name: str,
    data: bytes | None,
    count: int,
    match: str,
) -> None:
    pictures = [image(f"{n}-{name}", data=data) for n in range(count)]
    with pytest.raises(PermanentError, match=match):
        channel.publish(post_for(channel, "Refused before any request", *pictures))
    assert ig.requests == []


def test_IG_image_unreadable(channel: InstagramChannel, ig: FakeInstagram, tmp_path: Path) -> None:
    missing = Media(tmp_path / "gone.jpg", "A poster that was deleted", "0" * 64)
    with pytest.raises(PermanentError, match="cannot read image"):
        channel.publish(post_for(channel, "Missing image", missing))
    assert ig.requests == []


def test_IG_not_configured(
    channel_for: Callable[..., InstagramChannel], ig: FakeInstagram, image: Callable[..., Media]
) -> None:
    """An install that cannot offer the image fails before any request, naming what to set."""
    picture = image()
    bare = channel_for(media_urls=None)
    with pytest.raises(PermanentError, match=r"\[web\] is not configured; nothing was sent"):
        bare.publish(post_for(bare, "No web settings", picture))
    web = WebSettings(public_url="https://publisher.gwent.police.uk", media_key_env="IG_TEST_KEY")
    for environ, match in (
        ({}, "missing: set the environment variable IG_TEST_KEY"),
        ({"IG_TEST_KEY": "short"}, "is 5 characters; use at least 32"),
    ):
        keyless = channel_for(media_urls=MediaUrls(web, environ))
        with pytest.raises(PermanentError, match=match):
            keyless.publish(post_for(keyless, "No key", picture))
        with pytest.raises(PermanentError, match=match):
            keyless.check()
    assert ig.requests == []


def test_IG_processing(
    channel: InstagramChannel, ig: FakeInstagram, image: Callable[..., Media], sleeps: Sleeps
) -> None:
    ig.processing_polls = 2
    channel.publish(post_for(channel, "Processed after two looks", image()))
    assert sleeps.waits == [1.0, 2.0]
    assert len(ig.media(GWENT.id)) == 1


def test_IG_never_processed(
    channel: InstagramChannel, ig: FakeInstagram, image: Callable[..., Media], sleeps: Sleeps
) -> None:
    ig.processing_polls = 100
    with pytest.raises(RetryableError, match="still being processed") as caught:
        channel.publish(post_for(channel, "Never finished", image()))
    assert caught.value.retry_after == 60.0
    assert sleeps.waits == list(MEDIA_WAITS)
    assert ig.media(GWENT.id) == []
    assert not any(r["path"].endswith("/media_publish") for r in ig.requests)


@pytest.mark.parametrize(
    ("outcome", "error"),
    [
        (("ERROR", "Error: Media upload has failed with error code 2207005"), PermanentError),
        (("ERROR", "Error: Media upload has failed with error code 2207003"), RetryableError),
        (("ERROR", ""), RetryableError),
        (("EXPIRED", "EXPIRED"), RetryableError),
    ],
)
def test_IG_container_failed(
    channel: InstagramChannel,
    ig: FakeInstagram,
    image: Callable[..., Media],
    outcome: tuple[str, str],
    error: type[Exception],
) -> None:
    ig.container_outcome = outcome
    with pytest.raises(error, match=outcome[0]) as caught:
        channel.publish(post_for(channel, "A container that fails", image()))
    assert type(caught.value) is error
    assert ig.media(GWENT.id) == []


def test_IG_9004(
    channel_for: Callable[..., InstagramChannel],
    ig: FakeInstagram,
    image: Callable[..., Media],
    local_media: LocalMedia,
) -> None:
    """The install's route does not give the image (here: signed with another key): the
    fake, like Instagram, makes no container; the message names the link, never its
    signature, though Instagram's own message quotes the whole URL."""
    picture = image()
    wrong = MediaUrls(local_media.urls.web, {LocalMedia.KEY_VARIABLE: "w" * 48})
    channel = channel_for(media_urls=wrong)
    with pytest.raises(RetryableError) as caught:
        channel.publish(post_for(channel, "Image not reachable", picture))
    message = str(caught.value)
    assert "code 9004, subcode 2207052" in message
    assert (
        f"could not fetch the image from {local_media.urls.public_url}/media/{picture.sha256}"
        in message
    )
    assert "sig=" not in message.replace("sig=…", "")
    (fetch,) = ig.fetches
    assert fetch["status"] == 403 and not fetch["ok"]
    assert ig.containers == {} and ig.media(GWENT.id) == []


def test_IG_quota(
    channel: InstagramChannel, ig: FakeInstagram, image: Callable[..., Media]
) -> None:
    """At the limit the account's content_publishing_limit gives, the post waits until the
    oldest post of the 24 hours leaves the window; no container is made."""
    ig.quota_total = 2
    channel.publish(post_for(channel, "First", image("a.jpg")))
    channel.publish(post_for(channel, "Second", image("b.jpg")))
    containers = len(ig.containers)
    with pytest.raises(RetryableError, match="published 2 of the 2 posts") as caught:
        channel.publish(post_for(channel, "Third", image("c.jpg")))
    assert caught.value.retry_after == pytest.approx(86400, abs=5)
    assert len(ig.containers) == containers and len(ig.media(GWENT.id)) == 2
    ig.quota_total = 3  # the limit is read each time, never assumed
    channel.publish(post_for(channel, "Third", image("c.jpg")))


def test_IG_quota_window_from_older_posts(
    channel: InstagramChannel, ig: FakeInstagram, image: Callable[..., Media]
) -> None:
    now = time.time()
    ig.quota_total = 1
    ig.publish_at(GWENT.id, now - 20 * 3600)
    ig.add_media(GWENT.id, "Posted twenty hours ago", at=now - 20 * 3600)
    ig.add_media(GWENT.id, "Posted two days ago", at=now - 48 * 3600)
    with pytest.raises(RetryableError) as caught:
        channel.publish(post_for(channel, "Waits four hours", image()))
    assert caught.value.retry_after == pytest.approx(4 * 3600, abs=5)


def test_IG_publish_limit(
    channel: InstagramChannel, ig: FakeInstagram, image: Callable[..., Media]
) -> None:
    """Code 9 (subcode 2207042) to media_publish: nothing was published; it waits."""
    body = graph_error(9, "You reached maximum number of posts", 2207042)
    ig.fail_next("answer", path="/media_publish", status=400, body=body)
    with pytest.raises(RetryableError, match="publishing limit is reached") as caught:
        channel.publish(post_for(channel, "Over the limit", image()))
    assert caught.value.retry_after == 3600.0  # no post in the window to count from
    assert ig.media(GWENT.id) == []


def test_IG_190(channel: InstagramChannel, ig: FakeInstagram, image: Callable[..., Media]) -> None:
    ig.fail_next("expired_token")
    with pytest.raises(AuthenticationError, match=r"code 190, subcode 463.*the token has expired"):
        channel.publish(post_for(channel, "Expired", image()))
    ig.revoked.add(GWENT.token)
    with pytest.raises(AuthenticationError, match="Make a new access token"):
        channel.check()
    assert GWENT.token not in str(ig.requests)


@pytest.mark.parametrize(
    ("code", "subcode", "error", "match"),
    [
        (25, 2207050, AuthenticationError, "inactive, checkpointed or restricted"),
        (4, 2207051, PermanentError, "suspected spam"),
        (10, None, PermanentError, "instagram_business_content_publish"),
        (100, 33, PermanentError, "handle must be the id"),
        (36004, 2207010, PermanentError, "refuses the image or the caption"),
        (9007, 2207027, RetryableError, "not ready"),
        (-2, 2207020, RetryableError, "nothing was published"),
        (25, 2207008, RetryableError, "nothing was published"),
    ],
)
def test_IG_codes_to_publish(
    channel: InstagramChannel,
    ig: FakeInstagram,
    image: Callable[..., Media],
    code: int,
    subcode: int | None,
    error: type[Exception],
    match: str,
) -> None:
    """How media_publish's documented refusals end (rows IG-2207050 … IG-not-published)."""
    body = graph_error(code, "Instagram's own words", subcode)
    ig.fail_next("answer", path="/media_publish", status=400, body=body)
    with pytest.raises(error, match=match) as caught:
        channel.publish(post_for(channel, f"Refused with {code}/{subcode}", image()))
    assert type(caught.value) is error
    assert ig.media(GWENT.id) == []


def test_IG_2207050(
    channel: InstagramChannel, ig: FakeInstagram, image: Callable[..., Media]
) -> None:
    ig.fail_next(
        "answer",
        path="/media",
        method="POST",
        status=400,
        body=graph_error(25, "Restricted", 2207050),
    )
    with pytest.raises(AuthenticationError, match="restricted"):
        channel.publish(post_for(channel, "Restricted account", image()))


def test_IG_2207051(
    channel: InstagramChannel, ig: FakeInstagram, image: Callable[..., Media]
) -> None:
    ig.fail_next(
        "answer",
        path="/media_publish",
        status=400,
        body=graph_error(4, "We restrict certain activity", 2207051),
    )
    with pytest.raises(PermanentError, match="spam"):
        channel.publish(post_for(channel, "Spam?", image()))


def test_IG_permission(
    channel: InstagramChannel, ig: FakeInstagram, image: Callable[..., Media]
) -> None:
    ig.fail_next(
        "answer",
        path="/media",
        method="POST",
        status=403,
        body=graph_error(10, "Application does not have permission"),
    )
    with pytest.raises(PermanentError, match="lacks permission"):
        channel.publish(post_for(channel, "No permission", image()))


def test_IG_not_ready(
    channel: InstagramChannel, ig: FakeInstagram, image: Callable[..., Media]
) -> None:
    ig.fail_next(
        "answer",
        path="/media_publish",
        status=400,
        body=graph_error(9007, "Media ID is not available", 2207027),
    )
    with pytest.raises(RetryableError, match="not ready"):
        channel.publish(post_for(channel, "Not ready", image()))


def test_IG_not_published(
    channel: InstagramChannel, ig: FakeInstagram, image: Callable[..., Media]
) -> None:
    ig.fail_next(
        "answer",
        path="/media_publish",
        status=400,
        body=graph_error(-1, "Temporary error publishing a container", 2207008),
    )
    with pytest.raises(RetryableError, match="nothing was published"):
        channel.publish(post_for(channel, "Temporary", image()))
    assert ig.media(GWENT.id) == []


def test_IG_bad_media(
    channel: InstagramChannel, ig: FakeInstagram, image: Callable[..., Media]
) -> None:
    """The fake, like Instagram, refuses a caption over 2,200 characters (36004/2207010)."""
    with pytest.raises(PermanentError, match=r"2207010.*refuses the image or the caption"):
        channel.publish(post_for(channel, "a" * 2201, image()))
    assert ig.containers == {}


def test_IG_throttled(
    channel: InstagramChannel, ig: FakeInstagram, image: Callable[..., Media]
) -> None:
    ig.fail_next("rate_limit", minutes=7)
    with pytest.raises(RetryableError, match="rate limited") as caught:
        channel.publish(post_for(channel, "Too many calls", image()))
    assert caught.value.retry_after == 7 * 60
    ig.fail_next("rate_limit", retry_after=42)
    with pytest.raises(RetryableError) as caught:
        channel.publish(post_for(channel, "Too many calls", image()))
    assert caught.value.retry_after == 42


def test_IG_5xx_container(
    channel: InstagramChannel, ig: FakeInstagram, image: Callable[..., Media]
) -> None:
    ig.fail_next("5xx", path="/media", method="POST")
    with pytest.raises(RetryableError, match="nothing was published"):
        channel.publish(post_for(channel, "Container 5xx", image()))
    ig.fail_next("answer", path="/media", method="POST", status=502, body=None)
    with pytest.raises(RetryableError, match="HTTP 502"):
        channel.publish(post_for(channel, "Container 502", image()))
    assert ig.media(GWENT.id) == []


def test_IG_container_timeout(
    channel: InstagramChannel, ig: FakeInstagram, image: Callable[..., Media]
) -> None:
    """A container is not a post: no answer in time to making one is retryable."""
    ig.fail_next("slow", path="/media", method="POST", delay=1.5)
    with pytest.raises(RetryableError, match="no answer in time; nothing was published"):
        channel.publish(post_for(channel, "Slow container", image()))
    assert ig.media(GWENT.id) == []


# -- the publish in doubt -------------------------------------------------------------------


def test_IG_read_timeout_found(
    channel: InstagramChannel, ig: FakeInstagram, image: Callable[..., Media]
) -> None:
    """Published, the answer too late: the container says PUBLISHED, find gives the id."""
    ig.fail_next("slow", path="/media_publish", delay=1.5)
    post = post_for(channel, "Published, answered late", image())
    receipt = channel.publish(post)
    (media,) = ig.media(GWENT.id)
    assert receipt.remote_id == media["id"] and receipt.url == media["permalink"]


def test_IG_fail_after_create(
    channel: InstagramChannel, ig: FakeInstagram, image: Callable[..., Media]
) -> None:
    ig.fail_next("fail_after_create", path="/media_publish")
    receipt = channel.publish(post_for(channel, "Published, then a 500", image()))
    assert [m["id"] for m in ig.media(GWENT.id)] == [receipt.remote_id]


def test_IG_dropped(
    channel: InstagramChannel, ig: FakeInstagram, image: Callable[..., Media]
) -> None:
    ig.fail_next("drop", path="/media_publish", create=True)
    receipt = channel.publish(post_for(channel, "Published, connection dropped", image()))
    assert [m["id"] for m in ig.media(GWENT.id)] == [receipt.remote_id]
    ig.fail_next("drop", path="/media_publish")
    with pytest.raises(AmbiguousError, match="connection failed after sending"):
        channel.publish(post_for(channel, "Dropped before it was done", image("b.jpg")))
    assert len(ig.media(GWENT.id)) == 1


def test_IG_5xx_publish(
    channel: InstagramChannel, ig: FakeInstagram, image: Callable[..., Media]
) -> None:
    """A 5xx (code 2) to media_publish, and the container is not published: in doubt,
    never published again by the channel."""
    ig.fail_next("5xx", path="/media_publish")
    with pytest.raises(AmbiguousError, match="may have been published"):
        channel.publish(post_for(channel, "5xx to the publish", image()))
    assert ig.media(GWENT.id) == []
    assert sum(r["path"].endswith("/media_publish") for r in ig.requests) == 1


def test_IG_publish_in_flight(
    channel: InstagramChannel, ig: FakeInstagram, image: Callable[..., Media]
) -> None:
    """The publish is still on its way when the client gives up: in doubt (not absent),
    and once it lands, find() finds it: the worker's look-ups settle it, one post."""
    hold = ig.hold_next("/media_publish")
    post = post_for(channel, "Lands after the timeout", image(), not_before=datetime.now(UTC))
    with pytest.raises(AmbiguousError, match="no answer in time after sending") as caught:
        channel.publish(post)
    assert hold.arrived.is_set() and ig.media(GWENT.id) == []
    # The container said FINISHED, not PUBLISHED: no claim that it is out, no look-up yet.
    assert "is published" not in str(caught.value)
    assert not any(r["method"] == "GET" and r["path"].endswith("/media") for r in ig.requests)
    assert channel.find(post) is None  # truthfully not there yet: the worker looks again
    hold.release()
    deadline = time.monotonic() + 5
    while not ig.media(GWENT.id) and time.monotonic() < deadline:
        time.sleep(0.02)
    found = channel.find(dataclasses.replace(post, attempt=2))
    (media,) = ig.media(GWENT.id)
    assert found is not None and found.remote_id == media["id"]


def test_IG_published_not_listed(
    channel: InstagramChannel, ig: FakeInstagram, image: Callable[..., Media]
) -> None:
    """The container says PUBLISHED but the media list cannot be read: still in doubt."""
    ig.fail_next("slow", path="/media_publish", delay=1.5)
    ig.fail_next("5xx", path=f"{GWENT.id}/media", method="GET")
    with pytest.raises(AmbiguousError, match="is published, but the post is not yet"):
        channel.publish(post_for(channel, "Published, list unreadable", image()))


def test_IG_permalink_unreadable(
    channel: InstagramChannel, ig: FakeInstagram, image: Callable[..., Media]
) -> None:
    """After the publish nothing can fail the post: a permalink that cannot be read is no URL."""
    ig.fail_next("expired_token", path="/17900", method="GET")
    receipt = channel.publish(post_for(channel, "Published, no link", image()))
    assert receipt.url is None and [m["id"] for m in ig.media(GWENT.id)] == [receipt.remote_id]


def test_IG_refused(
    channel_for: Callable[..., InstagramChannel], refused_url: str, image: Callable[..., Media]
) -> None:
    channel = channel_for(base_url=refused_url)
    with pytest.raises(RetryableError, match="could not connect"):
        channel.publish(post_for(channel, "Nobody there", image()))


def test_IG_connect_timeout(
    channel_for: Callable[..., InstagramChannel], unreachable_url: str, image: Callable[..., Media]
) -> None:
    channel = channel_for(base_url=unreachable_url, timeout=0.3)
    with pytest.raises(RetryableError, match="could not connect in time"):
        channel.publish(post_for(channel, "Cannot connect", image()))


# -- find -----------------------------------------------------------------------------------


def test_IG_find_found(channel: InstagramChannel, image: Callable[..., Media]) -> None:
    post = post_for(channel, "Found by its caption\r\n", image(), not_before=datetime.now(UTC))
    receipt = channel.publish(post)
    found = channel.find(dataclasses.replace(post, attempt=4, resend_count=1))
    assert found == receipt


def test_IG_find_absent(
    channel: InstagramChannel, ig: FakeInstagram, image: Callable[..., Media]
) -> None:
    channel.publish(post_for(channel, "Something else", image()))
    assert channel.find(post_for(channel, "Never sent", not_before=datetime.now(UTC))) is None
    reads = [r for r in ig.requests if r["method"] == "GET" and r["path"].endswith("/media")]
    assert parse_qs(reads[-1]["query"])["fields"] == ["id,caption,timestamp,permalink"]


def test_IG_find_pages(channel: InstagramChannel, ig: FakeInstagram) -> None:
    """Read back to not_before across pages, and no further; past find_pages, in doubt."""
    channel.find_page_size, channel.find_pages = 2, 3
    now = time.time()
    for hours in (30, 3, 2, 1):
        ig.add_media(GWENT.id, f"{hours} hours ago", at=now - hours * 3600)
    since = datetime.now(UTC) - timedelta(hours=2, minutes=30)
    assert (
        channel.find(post_for(channel, "3 hours ago", not_before=since - timedelta(hours=1)))
        is not None
    )
    assert channel.find(post_for(channel, "Never sent", not_before=since)) is None
    for minutes in range(6):
        ig.add_media(GWENT.id, f"{minutes} minutes ago", at=now - minutes * 60)
    with pytest.raises(AmbiguousError, match="more than 6 posts"):
        channel.find(post_for(channel, "Never sent", not_before=since))


def test_IG_find_unreadable(channel: InstagramChannel, ig: FakeInstagram) -> None:
    ig.fail_next("rate_limit", minutes=3)
    with pytest.raises(AmbiguousError, match="cannot look the post up") as caught:
        channel.find(post_for(channel, "Unreadable"))
    assert caught.value.retry_after == 180


def test_IG_find_190(channel: InstagramChannel, ig: FakeInstagram) -> None:
    ig.fail_next("expired_token")
    with pytest.raises(AuthenticationError):
        channel.find(post_for(channel, "Token expired"))


# -- check ----------------------------------------------------------------------------------


def test_IG_check(
    channel: InstagramChannel,
    ig: FakeInstagram,
    local_media: LocalMedia,
    image: Callable[..., Media],
) -> None:
    channel.publish(post_for(channel, "One so far", image()))
    assert channel.check() == (
        f"@gwentpolice (Instagram id {GWENT.id}; 1 of 100 posts published through the API "
        f"in the last 24 hours; images from {local_media.urls.public_url}/media/)"
    )
    assert GWENT.token not in channel.check() + repr(channel)


def test_IG_check_other_account(channel_for: Callable[..., InstagramChannel]) -> None:
    """The handle is another account's id than the token's."""
    channel = channel_for(account=GWENT, token=DYFED.token)
    with pytest.raises(PermanentError, match=r"subcode 33.*handle must be the id"):
        channel.check()


def test_IG_check_not_configured(
    channel_for: Callable[..., InstagramChannel], ig: FakeInstagram
) -> None:
    with pytest.raises(PermanentError, match=r"\[web\] is not configured"):
        channel_for(media_urls=None).check()
    assert ig.requests == []


def test_the_token_expiry_is_the_setting(channel: InstagramChannel) -> None:
    """Instagram cannot tell a token's expiry without renewing it: the account says."""
    assert channel.expires_at() is None
    when = datetime(2027, 5, 17, 9, 0, tzinfo=UTC)
    channel.account = channel.account.replace(token_expires_at=when)
    assert channel.expires_at() == when


def test_IG_handle_is_the_id() -> None:
    account = AccountSettings(network="instagram", handle="@gwentpolice", dry_run=False)
    with pytest.raises(SettingsError, match="handle is the professional account's id"):
        InstagramChannel("gwent-instagram", account, {"access_token": "t" * 20})


# -- settings, registry, lint ---------------------------------------------------------------


def _config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(body, encoding="utf-8")
    return path


INSTAGRAM_ACCOUNT = """
[accounts.gwent-instagram]
network = "instagram"
handle = "17841400000000001"
dry_run = {dry_run}
credentials = {{ access_token = "GWENT_INSTAGRAM_TOKEN" }}
"""


def test_IG_settings_web_missing(tmp_path: Path) -> None:
    """A real Instagram account without [web] is refused when the settings are read: before
    anything is planned, linted or claimed."""
    config = _config(tmp_path, INSTAGRAM_ACCOUNT.format(dry_run="false"))
    with pytest.raises(
        SettingsError,
        match=r"'gwent-instagram': Instagram fetches every image.*public_url.*media_key_env or media_key_file",
    ):
        load_settings(config, environ={})
    with pytest.raises(SettingsError, match="media_key_env or media_key_file"):
        load_settings(config, environ={"PUBLISHER_WEB_PUBLIC_URL": "https://p.gwent.police.uk"})
    # A dry run needs no public address; nor does a complete [web].
    load_settings(_config(tmp_path, INSTAGRAM_ACCOUNT.format(dry_run="true")), environ={})
    complete = INSTAGRAM_ACCOUNT.format(dry_run="false") + (
        '[web]\npublic_url = "https://publisher.gwent.police.uk/"\nmedia_key_file = "media.key"\n'
    )
    settings = load_settings(_config(tmp_path, complete), environ={})
    assert settings.web.public_url == "https://publisher.gwent.police.uk"
    assert settings.web.media_key_file == tmp_path / "media.key"


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("https://publisher.gwent.police.uk", True),
        ("https://gwent.police.uk/publisher", True),
        ("http://127.0.0.1:8080", True),
        ("http://publisher.gwent.police.uk", False),
        ("http://localhost:8080", False),
        ("ftp://publisher.gwent.police.uk", False),
        ("https://publisher.gwent.police.uk/?x=1", False),
        ("https://user@publisher.gwent.police.uk", False),
    ],
)
def test_public_url_must_be_https(value: str, ok: bool) -> None:
    if ok:
        assert WebSettings(public_url=value).public_url == value
    else:
        with pytest.raises(ValueError, match="public_url"):
            WebSettings(public_url=value)


def test_the_key_variable_is_not_a_setting() -> None:
    with pytest.raises(ValueError, match="PUBLISHER_ are settings"):
        WebSettings(media_key_env="PUBLISHER_MEDIA_KEY")


def test_the_key_file_must_be_private(tmp_path: Path) -> None:
    key = tmp_path / "media.key"
    key.write_text("s" * 48 + "\n")
    key.chmod(0o644)
    urls = MediaUrls(WebSettings(public_url="https://p.example", media_key_file=key), {})
    assert "mode 0644" in (urls.problem() or "")
    key.chmod(0o600)
    assert urls.problem() is None
    link = urls.url("a" * 64)
    query = parse_qs(urlsplit(link).query)
    assert urls.verify("a" * 64, query["expires"][0], query["sig"][0])
    assert "s" * 48 not in link + repr(urls)


def test_registry_builds_the_instagram_channel(tmp_path: Path) -> None:
    settings = Settings(
        state_dir=tmp_path,
        graph_api_version="v24.0",
        worker={"request_timeout_seconds": 7},
        web={"public_url": "https://publisher.gwent.police.uk", "media_key_env": "MEDIA_KEY"},
    )
    account = AccountSettings(
        network="instagram",
        handle="17841400000000001",
        dry_run=False,
        credentials={"access_token": "GWENT_INSTAGRAM_TOKEN"},
    )
    channel = registry_channel_for(
        "gwent-instagram", account, settings, environ={"GWENT_INSTAGRAM_TOKEN": "IGAA-123456"}
    )
    assert isinstance(channel, InstagramChannel)
    assert channel.base_url == "https://graph.instagram.com/v24.0"
    assert (
        channel.media_urls is not None
        and channel.media_urls.public_url == "https://publisher.gwent.police.uk"
    )
    facebook_login = account.replace(api_base_url="https://graph.facebook.com")
    other = registry_channel_for(
        "gwent-instagram",
        facebook_login,
        settings,
        environ={"GWENT_INSTAGRAM_TOKEN": "IGAA-123456"},
    )
    assert (
        isinstance(other, InstagramChannel) and other.base_url == "https://graph.facebook.com/v24.0"
    )
    with pytest.raises(SettingsError, match="GWENT_INSTAGRAM_TOKEN"):
        registry_channel_for("gwent-instagram", account, settings, environ={})


def test_lint_counts_what_instagram_refuses() -> None:
    config = LintConfig(max_hashtags=40, levels={"hashtags": "error"})
    tags = " ".join(f"#Tag{n}" for n in range(31))
    banner = [("images/banner.jpg", "A white heart on a dark blue background")]
    problems = lint_text(
        f"Stay safe online. {tags}",
        networks=["instagram", "x"],
        language="en",
        media=banner,
        config=config,
    )
    ours = [(p.rule, p.network, p.message) for p in problems if p.network == "instagram"]
    assert ours == [("hashtags", "instagram", "31 hashtags; Instagram takes at most 30.")]
    # X takes any number of hashtags the campaign allows; 30 is fine for Instagram.
    tags = " ".join(f"#Tag{n}" for n in range(30))
    assert not lint_text(
        f"Stay safe online. {tags}",
        networks=["instagram"],
        language="en",
        media=banner,
        config=config,
    )


def test_lint_instagram_needs_a_jpeg() -> None:
    def images(media: list[tuple[str, str]], network: str = "instagram") -> list[str]:
        return [
            p.message
            for p in lint_text("Stay safe online.", networks=[network], language="en", media=media)
            if p.rule == "images"
        ]

    assert images([]) == ["Instagram needs an image on every post: add one (JPEG)."]
    assert images([("images/banner.png", "A white heart on a dark blue background")]) == [
        "Image banner.png is image/png; Instagram takes only JPEG."
    ]
    assert images([("banner.jpg", "A white heart on a dark blue background")]) == []
    assert images([], network="x") == [] and images([("b.png", "A white heart on blue")], "x") == []


# -- the whole chain ------------------------------------------------------------------------

KEY = "chain-key-" + "z" * 40


CAMPAIGN = """
[campaign]
name = "ig-chain"
start = 2027-03-18
end = 2027-03-18
accounts = ["gwent-instagram"]
languages = ["en"]

[[occasions]]
id = "cea-day"
dates = [2027-03-18]
time = "09:00"
template = "cea"
image = { path = "images/banner.jpg", alt = { en = "Campaign banner: a white heart on a dark blue background." } }
"""


@pytest.fixture
def chain(
    tmp_path: Path, ig: FakeInstagram, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    """Settings with a real Instagram account on the fake and [web] on a live web app; the
    campaign planned and approved; the post not yet due."""
    from web.app import create_app

    server = WebServer()
    monkeypatch.setenv("CHAIN_MEDIA_KEY", KEY)
    config = _config(
        tmp_path,
        f"""
state_dir = "state"
[worker]
threads = 1
lease_seconds = 60
max_attempts = 3
[web]
public_url = "{server.url}"
media_key_env = "CHAIN_MEDIA_KEY"
"""
        + INSTAGRAM_ACCOUNT.format(dry_run="false")
        + f'api_base_url = "{ig.url}"\n',
    )
    settings = load_settings(config, environ={})
    db = Database(settings.database_url)
    db.ensure_schema()
    clock = FakeClock(datetime(2027, 3, 1, 9, 0, tzinfo=UTC))
    # The web app on the wall clock, as the worker's links are: they are checked against
    # real time, whatever the worker's (fake) clock says about the posts.
    server.app = create_app(settings, db, SystemClock(), secret_key="s" * 32)
    folder = tmp_path / "campaign"
    (folder / "templates").mkdir(parents=True)
    (folder / "images").mkdir()
    (folder / "images" / "banner.jpg").write_bytes(real_jpeg("banner"))
    (folder / "templates" / "cea.en.j2").write_text(
        "Child Exploitation Awareness Day: talk to your child. #CEADay27", encoding="utf-8"
    )
    (folder / "campaign.toml").write_text(CAMPAIGN, encoding="utf-8")
    drafts = expand(load_campaign(folder), settings)
    assert [d.problems for d in drafts] == [()]
    store_drafts(db, drafts, actor=who("alice"), now=clock.now())
    with db.transaction() as session:
        ids = list(session.scalars(select(Post.id)))
    approve_all(db, ids, clock.now())
    environ = {"GWENT_INSTAGRAM_TOKEN": GWENT.token}

    def channels(name: str) -> Any:
        return registry_channel_for(name, settings.account(name), settings, environ=environ)

    dispatcher = Dispatcher(db, settings, channels, clock, owner="chain-worker")
    yield {
        "settings": settings,
        "db": db,
        "clock": clock,
        "server": server,
        "dispatcher": dispatcher,
        "folder": folder,
    }
    dispatcher.shutdown()
    db.dispose()
    server.stop()


def _the_post(db: Database) -> Post:
    with db.transaction() as session:
        return session.scalars(select(Post)).one()


def test_the_whole_chain(chain: dict[str, Any], ig: FakeInstagram) -> None:
    """Planned, approved, claimed by the worker, the image fetched by the fake from the real
    web app over HTTP through its signed link, published once."""
    db, clock, dispatcher = chain["db"], chain["clock"], chain["dispatcher"]
    post = _the_post(db)
    clock.set(post.due_at)
    dispatcher.run_round()
    dispatcher.wait()

    post = _the_post(db)
    (media,) = ig.media(GWENT.id)
    assert post.state == "published" and post.remote_id == media["id"]
    assert post.remote_url == media["permalink"]
    assert media["caption"] == post.text
    assert media["images"] == [(chain["folder"] / "images" / "banner.jpg").read_bytes()]
    assert media["alt_texts"] == ["Campaign banner: a white heart on a dark blue background."]
    (fetch,) = ig.fetches
    assert fetch["url"].startswith(
        f"{chain['server'].url}/media/{post.media[0]['sha256']}?expires="
    )
    assert fetch["ok"] and fetch["content_type"] == "image/jpeg" and fetch["set_cookie"] is None
    # Now published, the link no longer gives the image, however valid its signature.
    assert requests.get(fetch["url"], timeout=5).status_code == 404


def test_the_chain_when_the_image_cannot_be_fetched(
    chain: dict[str, Any], ig: FakeInstagram, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The web app checks links with another key than the worker signs with: the fake gets a
    403, makes no container (9004), and the post waits to retry with a message naming the
    link (no signature); nothing is published."""
    from web.app import create_app

    db, clock, dispatcher = chain["db"], chain["clock"], chain["dispatcher"]
    server = chain["server"]
    other = chain["settings"].web.replace(media_key_env="OTHER_KEY")
    monkeypatch.setenv("OTHER_KEY", "o" * 48)
    server.app = create_app(
        chain["settings"].replace(web=other), db, SystemClock(), secret_key="s" * 32
    )
    post = _the_post(db)
    clock.set(post.due_at)
    dispatcher.run_round()
    dispatcher.wait()

    post = _the_post(db)
    assert post.state == "retry_wait" and ig.media(GWENT.id) == [] and ig.containers == {}
    assert (
        f"could not fetch the image from {server.url}/media/{post.media[0]['sha256']}"
        in post.last_error
    )
    assert "sig=" not in post.last_error.replace("sig=…", "")
    (fetch,) = ig.fetches
    assert fetch["status"] == 403


def test_the_media_route(chain: dict[str, Any]) -> None:
    """What the public route answers: only a valid link to an approved post's image."""
    db, server, settings = chain["db"], chain["server"], chain["settings"]
    post = _the_post(db)
    sha = post.media[0]["sha256"]
    urls = MediaUrls(settings.web, {"CHAIN_MEDIA_KEY": KEY})
    good = urls.url(sha)
    answer = requests.get(good, timeout=5)
    assert (
        answer.status_code == 200
        and answer.content == (chain["folder"] / "images" / "banner.jpg").read_bytes()
    )
    assert answer.headers["Content-Type"] == "image/jpeg"
    assert answer.headers["Cache-Control"] == "no-store" and "Set-Cookie" not in answer.headers
    head = requests.head(good, timeout=5)
    assert head.status_code == 200 and head.content == b""
    assert requests.post(good, timeout=5).status_code == 405

    query = parse_qs(urlsplit(good).query)
    expires, sig = query["expires"][0], query["sig"][0]
    base = f"{server.url}/media/{sha}"
    assert requests.get(f"{base}?expires={expires}&sig={'0' * 64}", timeout=5).status_code == 403
    assert (
        requests.get(f"{base}?expires={int(expires) + 1}&sig={sig}", timeout=5).status_code == 403
    )
    assert requests.get(base, timeout=5).status_code == 403
    assert requests.get(f"{server.url}/media/not-a-hash", timeout=5).status_code == 404
    # Expired: made longer ago than a link lives.
    lifetime = settings.web.media_url_minutes * 60
    made_earlier = MediaUrls(
        settings.web, {"CHAIN_MEDIA_KEY": KEY}, clock=lambda: time.time() - lifetime - 2
    )
    assert requests.get(made_earlier.url(sha), timeout=5).status_code == 403
    # A link made to live longer than links live is refused even with a good signature.
    ahead = MediaUrls(settings.web.replace(media_url_minutes=60), {"CHAIN_MEDIA_KEY": KEY})
    assert requests.get(ahead.url(sha), timeout=5).status_code == 403
    # An image of no waiting post: 404, signed or not.
    other = hashlib.sha256(b"another image").hexdigest()
    assert requests.get(urls.url(other), timeout=5).status_code == 404
    # The library's bytes no longer match the approved hash: 404.
    from posts.media import MediaItem

    fresh = urls.url(sha)
    with db.transaction() as session:
        item = session.scalar(select(MediaItem).where(MediaItem.sha256 == sha))
        assert item is not None
        item.data = real_jpeg("changed")
    assert requests.get(fresh, timeout=5).status_code == 404
    # Nothing else of the web app is public: the login guard still stands.
    assert requests.get(f"{server.url}/queue", timeout=5, allow_redirects=False).status_code == 302


@pytest.mark.parametrize("state", ["draft", "in_review", "published", "cancelled", "failed"])
def test_the_media_route_serves_only_posts_waiting_to_go_out(
    chain: dict[str, Any], state: str
) -> None:
    db, settings = chain["db"], chain["settings"]
    urls = MediaUrls(settings.web, {"CHAIN_MEDIA_KEY": KEY})
    sha = _the_post(db).media[0]["sha256"]
    assert requests.get(urls.url(sha), timeout=5).status_code == 200
    with db.transaction() as session:
        session.scalars(select(Post)).one().state = state
    assert requests.get(urls.url(sha), timeout=5).status_code == 404


def test_the_media_route_needs_a_valid_approval(chain: dict[str, Any]) -> None:
    db, settings = chain["db"], chain["settings"]
    urls = MediaUrls(settings.web, {"CHAIN_MEDIA_KEY": KEY})
    sha = _the_post(db).media[0]["sha256"]
    with db.transaction() as session:
        session.scalars(select(Post)).one().approved_hash = "0" * 64
    assert requests.get(urls.url(sha), timeout=5).status_code == 404


def test_the_media_route_without_a_key_serves_nothing(
    chain: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    db, settings = chain["db"], chain["settings"]
    urls = MediaUrls(settings.web, {"CHAIN_MEDIA_KEY": KEY})
    link = urls.url(_the_post(db).media[0]["sha256"])
    monkeypatch.delenv("CHAIN_MEDIA_KEY")
    assert requests.get(link, timeout=5).status_code == 404


def test_claims_record_the_publish_once(chain: dict[str, Any], ig: FakeInstagram) -> None:
    """A second round finds nothing to send: one post on Instagram."""
    db, clock, dispatcher = chain["db"], chain["clock"], chain["dispatcher"]
    clock.set(_the_post(db).due_at)
    for _ in range(2):
        dispatcher.run_round()
        dispatcher.wait()
    assert len(ig.media(GWENT.id)) == 1


# -- the command line -----------------------------------------------------------------------


def test_publisher_accounts_check_and_lint(
    tmp_path: Path, ig: FakeInstagram, local_media: LocalMedia, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`publisher accounts check` through the registry and the settings, then with the key
    gone; `publisher lint` on a campaign whose Instagram post has a PNG."""
    from click.testing import CliRunner

    from publisher import cli

    config = _config(
        tmp_path,
        INSTAGRAM_ACCOUNT.format(dry_run="false")
        + f'api_base_url = "{ig.url}"\n'
        + f'[web]\npublic_url = "{local_media.urls.public_url}"\nmedia_key_env = "CLI_MEDIA_KEY"\n',
    )
    runner = CliRunner()
    env = {"GWENT_INSTAGRAM_TOKEN": GWENT.token, "CLI_MEDIA_KEY": "c" * 40}
    result = runner.invoke(cli, ["--config", str(config), "accounts", "check"], env=env)
    assert result.exit_code == 0, result.output
    assert f"instagram: credentials work as @gwentpolice (Instagram id {GWENT.id}; 0 of 100" in (
        result.output
    )
    del env["CLI_MEDIA_KEY"]
    monkeypatch.delenv("CLI_MEDIA_KEY", raising=False)
    result = runner.invoke(cli, ["--config", str(config), "accounts", "check"], env=env)
    assert result.exit_code == 1
    assert "FAIL" in result.output and "set the environment variable CLI_MEDIA_KEY" in result.output
    assert GWENT.token not in result.output

    folder = tmp_path / "campaign"
    (folder / "templates").mkdir(parents=True)
    (folder / "images").mkdir()
    (folder / "images" / "banner.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    (folder / "templates" / "cea.en.j2").write_text("Talk to your child. #CEADay27", "utf-8")
    (folder / "campaign.toml").write_text(CAMPAIGN.replace("banner.jpg", "banner.png"), "utf-8")
    result = runner.invoke(cli, ["--config", str(config), "lint", str(folder)], env=env)
    assert result.exit_code == 1
    assert (
        "error [images] Image banner.png is image/png; Instagram takes only JPEG." in result.output
    )


def test_the_fake_serves_another_process(
    local_media: LocalMedia, image: Callable[..., Media]
) -> None:
    """``python -m tests.fakes.instagram``: a worker subprocess (crash tests) can use it."""
    import select
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.instagram", "--port", "0"],
        cwd=root,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        ready, _, _ = select.select([server.stdout], [], [], 20)
        assert ready, "the fake did not start"
        url = server.stdout.readline().split()[-1]
        order = {"action": "set", "hold_creates": 1.0}
        assert requests.post(f"{url}/_fake/control", json=order, timeout=5).ok
        account = AccountSettings(
            network="instagram", handle=GWENT.id, dry_run=False, api_base_url=url
        )
        channel = InstagramChannel(
            "gwent-instagram",
            account,
            {"access_token": GWENT.token},
            media_urls=local_media.urls,
            timeout=TIMEOUT,
        )
        post = post_for(channel, "Held longer than the timeout", image())
        with pytest.raises(AmbiguousError):
            channel.publish(post)  # the publish lands after the client gave up
        time.sleep(1.0)
        assert channel.find(post) is not None
        state = requests.get(f"{url}/_fake/state", timeout=5).json()
        (media,) = state["media"]["gwentpolice"]
        assert (
            media["caption"] == post.text and media["images"][0]["sha256"] == post.media[0].sha256
        )
        assert state["fetches"][0]["ok"]
        bad = requests.post(f"{url}/_fake/control", json={"action": "set", "x": 1}, timeout=5)
        assert bad.status_code == 400
        channel.close()
    finally:
        server.terminate()
        server.wait(10)
