"""Mastodon channel: Mastodon.py against the fake instance over real HTTP.

Each ``test_MASTO_*`` is the row of that id in ``docs/error-outcomes.md``.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from channels.base import Media, OutgoingPost, Receipt
from channels.mastodon import MAX_REQUESTS, MEDIA_WAITS, MastodonChannel, status_text
from core.errors import (
    AmbiguousError,
    AuthenticationError,
    ChannelError,
    PermanentError,
    RetryableError,
    SettingsError,
)
from core.settings import AccountSettings
from tests.fakeplatform import FakeConfig, FakePlatform

TIP = (
    "Siaradwch â'ch plant am eu bywyd ar-lein. Dŵr, tŷ, ŵyn 👨‍👩‍👧\n\n"
    "Yn poeni? Ffoniwch 101, neu 999 mewn argyfwng.\n\n"
    "https://www.gwent.police.uk/cy/cyngor/cyngor-a-gwybodaeth/caa/cam-drin-plant/"
    "cam-drin-plant-ar-lein/\n\n#StopioSiaradAmddiffyn"
)


@pytest.fixture
def channel(masto_channel_for: Callable[..., MastodonChannel]) -> MastodonChannel:
    return masto_channel_for()


def statuses(platform: FakePlatform) -> list[dict[str, Any]]:
    return platform.md_statuses("GwentPolice")


def requests_to(platform: FakePlatform, path: str, method: str = "POST") -> int:
    return sum(1 for r in platform.requests if r["path"] == path and r["method"] == method)


# -- publishing ------------------------------------------------------------------------------


def test_MASTO_200(
    channel: MastodonChannel,
    platform: FakePlatform,
    make_post: Callable[..., OutgoingPost],
    image: Callable[..., Media],
) -> None:
    pictures = (image("a.png", alt="A parent and child"), image("b.png", alt="Ffôn a llechen"))
    post = make_post(channel, TIP, media=pictures, language="cy")
    receipt = channel.publish(post)
    [status] = statuses(platform)
    assert status["text"].encode() == TIP.encode()  # byte for byte
    assert status["language"] == "cy"
    assert status["visibility"] == status["visibility_sent"] == "public"
    assert status["idempotency_key"] == post.idempotency_key
    assert receipt.remote_id == status["id"]
    assert receipt.url == f"https://mastodon.social/@GwentPolice/{status['id']}"
    uploaded = [platform.md_media(m) for m in status["media_ids"]]
    assert [m["description"] for m in uploaded] == ["A parent and child", "Ffôn a llechen"]
    assert [m["bytes"] for m in uploaded] == [p.path.read_bytes() for p in pictures]
    assert requests_to(platform, "/api/v2/media") == 2


def test_a_bilingual_post_is_tagged_with_its_first_language(
    channel: MastodonChannel, platform: FakePlatform, make_post: Callable[..., OutgoingPost]
) -> None:
    channel.publish(make_post(channel, "Cymraeg\n\nEnglish", language="cy+en"))
    assert statuses(platform)[0]["language"] == "cy"


def test_MASTO_idempotent(
    channel: MastodonChannel,
    masto_channel_for: Callable[..., MastodonChannel],
    platform: FakePlatform,
    make_post: Callable[..., OutgoingPost],
) -> None:
    """Every attempt of a post sends the same key: Mastodon answers a key it knows with the
    status it made, so a second send (another attempt, another worker) is one status."""
    post = make_post(channel, TIP)
    first = channel.publish(post)
    second = channel.publish(dataclasses.replace(post, attempt=2))
    third = masto_channel_for().publish(dataclasses.replace(post, attempt=3))
    assert first.remote_id == second.remote_id == third.remote_id
    assert first.url == second.url == third.url
    assert len(statuses(platform)) == 1
    assert requests_to(platform, "/api/v1/statuses") == 3  # all three reached the instance
    # A person's resend is a new request: a new key, a new status.
    channel.publish(dataclasses.replace(post, attempt=4, resend_count=1))
    assert len(statuses(platform)) == 2
    assert {s["idempotency_key"] for s in statuses(platform)} == {
        post.idempotency_key,
        dataclasses.replace(post, resend_count=1).idempotency_key,
    }


def test_MASTO_key_in_use(
    channel: MastodonChannel,
    masto_channel_for: Callable[..., MastodonChannel],
    platform: FakePlatform,
    make_post: Callable[..., OutgoingPost],
) -> None:
    """A second send while the first is still being worked on: the instance answers 503 for
    the key it is holding and makes nothing; once the first is done the key answers with
    its status. One status, however the sends overlap."""
    post = make_post(channel, TIP)
    hold = platform.hold_next_status()
    outcomes: list[object] = []

    def first_send() -> None:
        try:
            outcomes.append(masto_channel_for(timeout=30).publish(post))
        except ChannelError as error:
            outcomes.append(error)

    worker = threading.Thread(target=first_send)
    worker.start()
    try:
        assert hold.arrived.wait(10), "the first send never reached the instance"
        with pytest.raises(AmbiguousError, match="resend with the same key failed too"):
            channel.publish(dataclasses.replace(post, attempt=2))
        assert statuses(platform) == []
    finally:
        hold.release()
        worker.join(30)
    [first] = outcomes
    assert isinstance(first, Receipt)
    again = channel.publish(dataclasses.replace(post, attempt=3))
    assert again.remote_id == first.remote_id
    assert len(statuses(platform)) == 1


def test_the_fake_forgets_a_key_after_the_window(
    fake_config: FakeConfig,
    platform: FakePlatform,
    masto_channel_for: Callable[..., MastodonChannel],
    make_post: Callable[..., OutgoingPost],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past Mastodon's hour the key is forgotten: why find() reads the statuses instead."""
    monkeypatch.setattr(fake_config, "mastodon_idempotency_seconds", 0.0)
    channel = masto_channel_for()
    post = make_post(channel, "Twice after the window")
    channel.publish(post)
    channel.publish(post)
    assert len(statuses(platform)) == 2


def test_MASTO_401(
    masto_channel_for: Callable[..., MastodonChannel],
    platform: FakePlatform,
    make_post: Callable[..., OutgoingPost],
) -> None:
    channel = masto_channel_for(token="revoked-token-000000")
    with pytest.raises(AuthenticationError, match="access token"):
        channel.publish(make_post(channel, "Refused"))
    assert statuses(platform) == []


def test_MASTO_403(
    channel: MastodonChannel, platform: FakePlatform, make_post: Callable[..., OutgoingPost]
) -> None:
    platform.fail_next(
        "answer",
        status=403,
        body={"error": "This action is outside the authorized scopes"},
        path="/api/v1/statuses",
    )
    with pytest.raises(PermanentError, match="write:statuses"):
        channel.publish(make_post(channel, "Wrong scopes"))


def test_MASTO_422(
    channel: MastodonChannel, platform: FakePlatform, make_post: Callable[..., OutgoingPost]
) -> None:
    with pytest.raises(PermanentError, match="character limit of 500"):
        channel.publish(make_post(channel, "x" * 501))
    assert statuses(platform) == []


def test_MASTO_422_processing(
    channel: MastodonChannel, platform: FakePlatform, make_post: Callable[..., OutgoingPost]
) -> None:
    platform.fail_next(
        "answer",
        status=422,
        body={"error": "Cannot attach files that have not finished processing. Try again!"},
        path="/api/v1/statuses",
    )
    with pytest.raises(RetryableError) as caught:
        channel.publish(make_post(channel, "Image still processing"))
    assert caught.value.retry_after == 5.0


def test_MASTO_404(
    channel: MastodonChannel, platform: FakePlatform, make_post: Callable[..., OutgoingPost]
) -> None:
    platform.fail_next(
        "answer", status=404, body={"error": "Record not found"}, path="/api/v1/statuses"
    )
    with pytest.raises(PermanentError, match="Record not found"):
        channel.publish(make_post(channel, "Gone"))


def test_MASTO_429(
    channel: MastodonChannel, platform: FakePlatform, make_post: Callable[..., OutgoingPost]
) -> None:
    platform.fail_next("rate_limit", path="/api/v1/statuses", reset_in=600)
    with pytest.raises(RetryableError) as caught:
        channel.publish(make_post(channel, "Too many"))
    # X-RateLimit-Reset is an ISO 8601 time; whole seconds in the Date header: ±2 s.
    assert caught.value.retry_after == pytest.approx(600, abs=2)
    assert statuses(platform) == []


def test_the_posting_limit_of_the_instance(
    fake_config: FakeConfig,
    platform: FakePlatform,
    masto_channel_for: Callable[..., MastodonChannel],
    make_post: Callable[..., OutgoingPost],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fake_config, "mastodon_status_limit", 2)
    channel = masto_channel_for()
    channel.publish(make_post(channel, "One"))
    channel.publish(make_post(channel, "Two"))
    with pytest.raises(RetryableError) as caught:
        channel.publish(make_post(channel, "Three"))
    assert caught.value.retry_after == pytest.approx(3 * 3600, abs=5)
    assert len(statuses(platform)) == 2


def test_MASTO_5xx_found(
    channel: MastodonChannel, platform: FakePlatform, make_post: Callable[..., OutgoingPost]
) -> None:
    """The instance made the status, then failed: find() sees it; nothing is resent."""
    platform.fail_next("fail_after_create", path="/api/v1/statuses")
    post = make_post(channel, TIP)
    receipt = channel.publish(post)
    [status] = statuses(platform)
    assert receipt.remote_id == status["id"] and receipt.extra["reconciled"] == "true"
    assert requests_to(platform, "/api/v1/statuses") == 1


def test_MASTO_5xx_resent(
    channel: MastodonChannel, platform: FakePlatform, make_post: Callable[..., OutgoingPost]
) -> None:
    """A 5xx and not among the statuses: resent once with the same key, made once."""
    platform.fail_next("5xx", path="/api/v1/statuses")
    post = make_post(channel, TIP)
    receipt = channel.publish(post)
    [status] = statuses(platform)
    assert receipt.remote_id == status["id"] and receipt.extra["resent"] == "true"
    assert status["idempotency_key"] == post.idempotency_key


def test_a_resend_after_a_5xx_that_hid_the_status_is_still_one_status(
    channel: MastodonChannel, platform: FakePlatform, make_post: Callable[..., OutgoingPost]
) -> None:
    """Made, then 5xx, and the timeline cannot be read: the resend carries the same key,
    so Mastodon answers with the status it made."""
    platform.fail_next("fail_after_create", path="/api/v1/statuses")
    platform.fail_next("5xx", path="/statuses", method="GET")
    receipt = channel.publish(make_post(channel, TIP))
    [status] = statuses(platform)
    assert receipt.remote_id == status["id"] and receipt.extra["resent"] == "true"


def test_MASTO_5xx_unseen_refused(
    channel: MastodonChannel, platform: FakePlatform, make_post: Callable[..., OutgoingPost]
) -> None:
    """Made, then 5xx; the statuses cannot be read; the resend is refused (429). Nobody saw
    whether the first one made it, so it is in doubt, not "nothing was created"."""
    platform.fail_next("fail_after_create", path="/api/v1/statuses", method="POST")
    platform.fail_next("5xx", path="/statuses", method="GET")
    platform.fail_next("rate_limit", path="/api/v1/statuses", method="POST")
    with pytest.raises(AmbiguousError, match="could not be read"):
        channel.publish(make_post(channel, TIP))
    assert len(statuses(platform)) == 1


def test_MASTO_5xx_twice(
    channel: MastodonChannel, platform: FakePlatform, make_post: Callable[..., OutgoingPost]
) -> None:
    platform.fail_next("5xx", count=2, path="/api/v1/statuses")
    with pytest.raises(AmbiguousError, match="resend with the same key failed too"):
        channel.publish(make_post(channel, "Down"))
    assert statuses(platform) == []


def test_MASTO_5xx_read(
    channel: MastodonChannel,
    platform: FakePlatform,
    make_post: Callable[..., OutgoingPost],
    image: Callable[..., Media],
) -> None:
    platform.fail_next("5xx", path="/media")
    with pytest.raises(RetryableError):
        channel.publish(make_post(channel, "Upload fails", media=(image(),)))
    assert statuses(platform) == []
    platform.fail_next("5xx", path="verify_credentials")
    with pytest.raises(RetryableError):
        channel.check()


def test_MASTO_read_timeout(
    channel: MastodonChannel, platform: FakePlatform, make_post: Callable[..., OutgoingPost]
) -> None:
    """No answer in time, but the status is there: its receipt, nothing resent."""
    platform.fail_next("slow", path="/api/v1/statuses")
    receipt = channel.publish(make_post(channel, TIP))
    [status] = statuses(platform)
    assert receipt.remote_id == status["id"] and receipt.extra["reconciled"] == "true"
    assert requests_to(platform, "/api/v1/statuses") == 1


def test_MASTO_dropped(
    channel: MastodonChannel, platform: FakePlatform, make_post: Callable[..., OutgoingPost]
) -> None:
    """Dropped and not (yet) among the statuses: it may still be running on the instance,
    so no resend races it: ambiguous."""
    platform.fail_next("drop", path="/api/v1/statuses")
    with pytest.raises(AmbiguousError, match="may have been published"):
        channel.publish(make_post(channel, "Dropped"))
    assert requests_to(platform, "/api/v1/statuses") == 1


def test_MASTO_refused(
    masto_channel_for: Callable[..., MastodonChannel],
    refused_url: str,
    make_post: Callable[..., OutgoingPost],
) -> None:
    channel = masto_channel_for(base_url=refused_url)
    with pytest.raises(RetryableError, match="could not connect"):
        channel.publish(make_post(channel, "Nobody there"))


def test_MASTO_connect_timeout(
    masto_channel_for: Callable[..., MastodonChannel],
    unreachable_url: str,
    make_post: Callable[..., OutgoingPost],
) -> None:
    channel = masto_channel_for(base_url=unreachable_url)
    with pytest.raises(RetryableError, match="nothing was sent"):
        channel.publish(make_post(channel, "Cannot connect"))


def test_MASTO_image_unreadable(
    channel: MastodonChannel,
    platform: FakePlatform,
    make_post: Callable[..., OutgoingPost],
    image: Callable[..., Media],
    tmp_path: Path,
) -> None:
    missing = Media(tmp_path / "missing.png", "A missing picture", "0" * 64)
    with pytest.raises(PermanentError, match="cannot read image"):
        channel.publish(make_post(channel, "x", media=(image(), missing)))
    five = tuple(image(f"{n}.png") for n in range(5))
    with pytest.raises(PermanentError, match="at most 4 images"):
        channel.publish(make_post(channel, "x", media=five))
    with pytest.raises(PermanentError, match="at most 1500"):
        channel.publish(make_post(channel, "x", media=(image(alt="a" * 1501),)))
    assert platform.requests == []  # checked before any request


def test_MASTO_visibility(
    fake_config: FakeConfig,
    platform: FakePlatform,
    masto_channel_for: Callable[..., MastodonChannel],
    make_post: Callable[..., OutgoingPost],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The account's own default (here unlisted) never decides: public unless the account
    setting says otherwise, and always sent."""
    monkeypatch.setattr(fake_config.mastodon_accounts[0], "default_visibility", "unlisted")
    channel = masto_channel_for()
    channel.publish(make_post(channel, "Public by default"))
    limited = masto_channel_for()
    limited.account = limited.account.replace(visibility="private")
    limited.publish(make_post(limited, "Followers only"))
    sent = [(s["visibility"], s["visibility_sent"]) for s in statuses(platform)]
    assert sent == [("public", "public"), ("private", "private")]


class Sleeps:
    """Records the channel's waits instead of sleeping them."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def polling_channel(
    masto_channel_for: Callable[..., MastodonChannel], sleeps: Sleeps
) -> MastodonChannel:
    channel = masto_channel_for()
    channel._sleep = sleeps
    return channel


@pytest.mark.parametrize("polls", [0, 2])
def test_MASTO_202_processing(
    fake_config: FakeConfig,
    platform: FakePlatform,
    masto_channel_for: Callable[..., MastodonChannel],
    make_post: Callable[..., OutgoingPost],
    image: Callable[..., Media],
    monkeypatch: pytest.MonkeyPatch,
    polls: int,
) -> None:
    """202 and no URL: the image is still processing. The channel waits and looks again
    (GET /api/v1/media/:id: 206, then 200) and posts once it is ready; it never uploads
    the image again."""
    monkeypatch.setattr(fake_config, "mastodon_media_processing_polls", polls)
    sleeps = Sleeps()
    channel = polling_channel(masto_channel_for, sleeps)
    receipt = channel.publish(make_post(channel, "With a slow image", media=(image(),)))
    [status] = statuses(platform)
    assert receipt.remote_id == status["id"]
    [media_id] = status["media_ids"]
    assert platform.md_media(media_id)["uploads"] == 1
    assert requests_to(platform, "/api/v2/media") == 1
    assert requests_to(platform, f"/api/v1/media/{media_id}", "GET") == polls + 1
    assert sleeps.waits == list(MEDIA_WAITS[: polls + 1])


def test_MASTO_202_never_processed(
    fake_config: FakeConfig,
    platform: FakePlatform,
    masto_channel_for: Callable[..., MastodonChannel],
    make_post: Callable[..., OutgoingPost],
    image: Callable[..., Media],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fake_config, "mastodon_media_processing_polls", 1000)
    sleeps = Sleeps()
    channel = polling_channel(masto_channel_for, sleeps)
    with pytest.raises(RetryableError, match="still being processed") as caught:
        channel.publish(make_post(channel, "Never ready", media=(image(),)))
    assert caught.value.retry_after == 60.0
    assert sleeps.waits == list(MEDIA_WAITS)  # bounded: about 30 s, then it gives up
    assert requests_to(platform, "/api/v2/media") == 1
    assert statuses(platform) == [] and requests_to(platform, "/api/v1/statuses") == 0


def test_MASTO_down(
    channel: MastodonChannel,
    platform: FakePlatform,
    make_post: Callable[..., OutgoingPost],
    image: Callable[..., Media],
) -> None:
    """An instance answering 503 to everything. With an image: the upload fails before
    anything was created, one request, retryable. A text post's create answered 5xx:
    looked up (cannot read), resent once with its key, still 5xx: in doubt, 3 requests."""
    platform.fail_next("5xx", count=10_000)
    with pytest.raises(RetryableError):
        channel.publish(make_post(channel, "With an image", media=(image(),)))
    assert len(platform.requests) == 1
    with pytest.raises(AmbiguousError, match="resend with the same key"):
        channel.publish(make_post(channel, "Text only"))
    assert len(platform.requests) == 1 + 3
    assert statuses(platform) == []


def test_MASTO_revoked_limited_federation(
    fake_config: FakeConfig,
    platform: FakePlatform,
    masto_channel_for: Callable[..., MastodonChannel],
    make_post: Callable[..., OutgoingPost],
    image: Callable[..., Media],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Limited-federation mode (the instance's own endpoints need a token) and a revoked
    token: authentication (the account is paused) after one request, and nothing else."""
    monkeypatch.setattr(fake_config, "mastodon_limited_federation", True)
    revoked = masto_channel_for(token="revoked-token-000000")
    with pytest.raises(AuthenticationError, match="access token"):
        revoked.publish(make_post(revoked, "With an image", media=(image(),)))
    assert len(platform.requests) == 1
    with pytest.raises(AuthenticationError):
        revoked.limit()
    assert statuses(platform) == []
    # A valid token reads the locked-down instance.
    assert masto_channel_for().limit() == 500


def test_MASTO_request_bound(
    channel: MastodonChannel,
    platform: FakePlatform,
    make_post: Callable[..., OutgoingPost],
    image: Callable[..., Media],
) -> None:
    """Whatever the library does, one attempt sends at most MAX_REQUESTS requests. Made to
    forget the version it was told, Mastodon.py's media_post and its version check call
    each other without end on an instance that answers 503: the bound stops it."""
    channel._api.clear_caches()
    platform.fail_next("5xx", count=10_000)
    # Refused requests end the requests, not the library's loop: the channel stops that too.
    with pytest.raises(RetryableError, match="nothing was published"):
        channel.publish(make_post(channel, "With an image", media=(image(),)))
    assert len(platform.requests) == MAX_REQUESTS
    # The next attempt has its own bound.
    with pytest.raises(RetryableError):
        channel.publish(make_post(channel, "Again", media=(image(),)))
    assert len(platform.requests) == 2 * MAX_REQUESTS


# -- find, check, limit ----------------------------------------------------------------------


def test_MASTO_find_found(
    channel: MastodonChannel, platform: FakePlatform, make_post: Callable[..., OutgoingPost]
) -> None:
    texts = [TIP, "Plain & <simple>\nline two", "Three\n\n\nblank lines  \nhttps://a.example/b"]
    for text in texts:
        post = make_post(channel, text)
        receipt = channel.publish(post)
        assert channel.find(post) == receipt


def test_MASTO_find_absent(
    channel: MastodonChannel, make_post: Callable[..., OutgoingPost]
) -> None:
    channel.publish(make_post(channel, "Sent"))
    assert channel.find(make_post(channel, "Never sent")) is None
    assert channel.find(make_post(channel, "Sent, but with more")) is None


def test_MASTO_find_unreadable(
    channel: MastodonChannel, platform: FakePlatform, make_post: Callable[..., OutgoingPost]
) -> None:
    platform.fail_next("rate_limit", path="/statuses", method="GET", reset_in=120)
    with pytest.raises(AmbiguousError) as caught:
        channel.find(make_post(channel, "Looked up while limited"))
    assert caught.value.retry_after == pytest.approx(120, abs=2)


def test_MASTO_find_401(
    channel: MastodonChannel, platform: FakePlatform, make_post: Callable[..., OutgoingPost]
) -> None:
    platform.fail_next("expired_token")
    with pytest.raises(AuthenticationError):
        channel.find(make_post(channel, "x"))


def test_MASTO_check(channel: MastodonChannel) -> None:
    assert (
        channel.check()
        == "@GwentPolice@mastodon.social (id 109000000000000001, up to 500 characters)"
    )


def test_MASTO_check_other_account(
    masto_channel_for: Callable[..., MastodonChannel], fake_config: FakeConfig
) -> None:
    token = fake_config.masto_credentials("HeddluGwent")["access_token"]
    channel = masto_channel_for(token=token)
    with pytest.raises(AuthenticationError, match=r"@HeddluGwent@mastodon\.social"):
        channel.check()


def test_MASTO_limit(
    fake_config: FakeConfig,
    platform: FakePlatform,
    masto_channel_for: Callable[..., MastodonChannel],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fake_config, "mastodon_max_characters", 1000)
    channel = masto_channel_for()
    assert channel.limit() == 1000 and channel.url_length() == 23
    reads = requests_to(platform, "/api/v2/instance/", "GET")
    assert channel.limit() == 1000
    assert requests_to(platform, "/api/v2/instance/", "GET") == reads  # cached


def test_the_limit_feeds_the_lint(
    masto_channel_for: Callable[..., MastodonChannel],
    fake_config: FakeConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from campaign.lint import lint_text

    monkeypatch.setattr(fake_config, "mastodon_max_characters", 600)
    limit = masto_channel_for().limit()
    text = "a" * 550
    assert lint_text(text, networks=["mastodon"], language="en")  # over the default 500
    found = lint_text(text, networks=["mastodon"], language="en", limits={"mastodon": limit})
    assert not [p for p in found if p.rule == "length"]


# -- the parts -------------------------------------------------------------------------------


def test_status_html_back_to_text() -> None:
    content = (
        '<p>Siaradwch â&#39;ch plant &amp; &lt;b&gt;<br />ail linell</p><p><a href="https://'
        'www.gwent.police.uk/cy/cyngor/" rel="nofollow noopener" target="_blank"><span class='
        '"invisible">https://www.</span><span class="ellipsis">gwent.police.uk/cy/cyngor-a-gwyb'
        '</span><span class="invisible">odaeth/</span></a></p><p><a href="https://mastodon.'
        'social/tags/Diogelwch" class="mention hashtag" rel="tag">#<span>Diogelwch</span></a></p>'
    )
    assert status_text(content) == (
        "Siaradwch â'ch plant & <b>\nail linell\n\n"
        "https://www.gwent.police.uk/cy/cyngor-a-gwybodaeth/\n\n#Diogelwch"
    )


def test_handles_and_settings() -> None:
    account = AccountSettings(network="mastodon", handle="@GwentPolice@Mastodon.Social")
    channel = MastodonChannel("gwent-mastodon", account, {"access_token": "token-123456"})
    assert channel.base_url == "https://mastodon.social"
    assert "token-123456" not in repr(channel)
    channel.close()
    for bad in ("@GwentPolice", "GwentPolice@", "@a@b@c"):
        with pytest.raises(SettingsError, match="@user@instance"):
            MastodonChannel(
                "gwent-mastodon",
                AccountSettings(network="mastodon", handle=bad),
                {"access_token": "token-123456"},
            )
    with pytest.raises(SettingsError, match="access_token"):
        MastodonChannel("gwent-mastodon", account, {})


def test_no_token_in_any_message_repr_or_log(
    masto_channel_for: Callable[..., MastodonChannel],
    platform: FakePlatform,
    fake_config: FakeConfig,
    make_post: Callable[..., OutgoingPost],
    image: Callable[..., Media],
    refused_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    errors: list[BaseException] = []

    def attempt(call: Callable[..., Any], *args: Any) -> None:
        try:
            call(*args)
        except ChannelError as error:
            errors.append(error)

    with caplog.at_level(logging.DEBUG):
        channel = masto_channel_for()
        post = make_post(channel, "Poster", media=(image(),))
        attempt(channel.check)
        attempt(channel.publish, post)
        for kind in ("expired_token", "5xx", "slow", "drop", "rate_limit", "fail_after_create"):
            platform.fail_next(kind)
            attempt(channel.publish, make_post(channel, f"Failing with {kind}"))
        platform.fail_next("expired_token")
        attempt(channel.find, post)
        wrong = masto_channel_for(token="wrong-token-1234567")
        attempt(wrong.check)
        attempt(wrong.publish, make_post(channel, "With a wrong token"))
        gone = masto_channel_for(base_url=refused_url)
        attempt(gone.check)
        attempt(gone.find, post)
        channels = [channel, wrong, gone]

    assert len(errors) >= 8
    assert any(r.name.startswith("urllib3") for r in caplog.records)  # DEBUG really was on
    secrets = [*fake_config.secrets(), "wrong-token-1234567"]
    shown = ["".join(traceback.format_exception(e)) + repr(e) + repr(e.__context__) for e in errors]
    shown += [repr(c) + str(c) for c in channels]
    shown += [r.getMessage() + (r.exc_text or "") for r in caplog.records]
    for text in shown:
        for secret in secrets:
            assert secret not in text
