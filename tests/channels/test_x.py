"""XChannel against the fake X API: tweepy and requests for real, over HTTP on 127.0.0.1.

Every row ``X-*`` of docs/error-outcomes.md has a test here, named by its id.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest

from channels.base import Media, OutgoingPost, Receipt
from channels.x import XChannel
from core.errors import (
    AlreadyPublished,
    AmbiguousError,
    AuthenticationError,
    ChannelError,
    PermanentError,
    RetryableError,
)
from tests.fakeplatform import X_DUPLICATE, FakePlatform

MakePost = Callable[..., OutgoingPost]


def problem(status: int, detail: str, **extra: Any) -> dict[str, Any]:
    return {"title": "Error", "detail": detail, "type": "about:blank", "status": status, **extra}


# -- published -----------------------------------------------------------------------------


def test_X_201_text_post(x_channel: XChannel, platform: FakePlatform, make_post: MakePost) -> None:
    receipt = x_channel.publish(make_post(x_channel, "Talk to your children about apps."))
    posts = platform.x_posts("GwentPolice")
    assert [p["text"] for p in posts] == ["Talk to your children about apps."]
    assert receipt == Receipt(
        remote_id=posts[0]["id"], url=f"https://x.com/GwentPolice/status/{posts[0]['id']}"
    )


def test_X_201_images_with_alt_text(
    x_channel: XChannel, platform: FakePlatform, make_post: MakePost, image: Callable[..., Media]
) -> None:
    first = image("one.png", alt="Poster: Stop, talk, protect", data=b"\x89PNG one")
    second = image("two.jpg", alt="Poster: Cadwch yn ddiogel – ŵ ŷ", data=b"\xff\xd8 two")
    x_channel.publish(make_post(x_channel, "Two posters", media=(first, second)))

    (post,) = platform.x_posts("GwentPolice")
    uploads = [platform.x_media(m) for m in post["media_ids"]]
    assert [u["bytes"] for u in uploads] == [b"\x89PNG one", b"\xff\xd8 two"]
    assert [u["alt_text"] for u in uploads] == [first.alt_text, second.alt_text]
    assert {u["media_category"] for u in uploads} == {"tweet_image"}
    assert [u["media_type"] for u in uploads] == ["image/png", "image/jpeg"]


def test_X_201_every_request_is_signed_for_the_url_it_reaches(
    x_channel: XChannel, platform: FakePlatform, make_post: MakePost, image: Callable[..., Media]
) -> None:
    # The fake verifies each HMAC-SHA1 signature against the URL it received: routing to
    # api_base_url must happen before signing, for tweepy's requests and ours alike.
    x_channel.publish(make_post(x_channel, "Signed", media=(image(),)))
    assert [r["path"] for r in platform.requests] == [
        "/2/media/upload",
        "/2/media/metadata",
        "/2/tweets",
    ]


def test_X_2xx_no_id(x_channel: XChannel, platform: FakePlatform, make_post: MakePost) -> None:
    platform.fail_next("answer", status=201, body={"data": {}}, path="/2/tweets")
    with pytest.raises(AmbiguousError, match="no post id"):
        x_channel.publish(make_post(x_channel, "An answer without an id"))


# -- refused by X --------------------------------------------------------------------------


def test_X_400(x_channel: XChannel, platform: FakePlatform, make_post: MakePost) -> None:
    platform.fail_next(
        "answer",
        status=400,
        path="/2/tweets",
        body=problem(
            400,
            "One or more parameters to your request was invalid.",
            errors=[{"message": "text: must be at most 280 weighted characters"}],
        ),
    )
    with pytest.raises(PermanentError, match="280 weighted characters"):
        x_channel.publish(make_post(x_channel, "x" * 300))


def test_X_401_expired_token(
    x_channel: XChannel, platform: FakePlatform, make_post: MakePost
) -> None:
    platform.fail_next("expired_token")
    with pytest.raises(AuthenticationError, match="regenerate the access token"):
        x_channel.publish(make_post(x_channel, "Expired"))
    assert platform.x_posts("GwentPolice") == []


def test_X_401_wrong_secret_fails_the_signature(
    x_channel_for: Callable[..., XChannel],
    fake_config: Any,
    platform: FakePlatform,
    make_post: MakePost,
) -> None:
    credentials = {**fake_config.x_credentials(), "access_token_secret": "not-the-secret-123"}
    channel = x_channel_for(credentials=credentials)
    with pytest.raises(AuthenticationError, match="HTTP 401"):
        channel.publish(make_post(channel, "Badly signed"))
    assert platform.x_posts("GwentPolice") == []


def test_X_403_duplicate(x_channel: XChannel, platform: FakePlatform, make_post: MakePost) -> None:
    first = x_channel.publish(make_post(x_channel, "Same text twice"))
    with pytest.raises(AlreadyPublished, match="already posted") as caught:
        x_channel.publish(make_post(x_channel, "Same text twice"))
    assert X_DUPLICATE in str(caught.value)
    # X does not say which post it was; the timeline does, when it can be read.
    assert (caught.value.remote_id, caught.value.url) == (first.remote_id, first.url)
    assert len(platform.x_posts("GwentPolice")) == 1


def test_X_403_duplicate_when_the_timeline_cannot_be_read(
    x_channel: XChannel, platform: FakePlatform, make_post: MakePost
) -> None:
    x_channel.publish(make_post(x_channel, "Same text twice"))
    platform.fail_next(
        "answer", status=403, method="GET", path="/tweets", body=problem(403, "client-not-enrolled")
    )
    with pytest.raises(AlreadyPublished) as caught:
        x_channel.publish(make_post(x_channel, "Same text twice"))
    assert caught.value.remote_id is None


def test_X_403(x_channel: XChannel, platform: FakePlatform, make_post: MakePost) -> None:
    platform.fail_next(
        "answer",
        status=403,
        path="/2/tweets",
        body=problem(403, "You are not permitted to perform this action."),
    )
    with pytest.raises(PermanentError, match="Read and write"):
        x_channel.publish(make_post(x_channel, "Not permitted"))


def test_X_404(x_channel: XChannel, platform: FakePlatform, make_post: MakePost) -> None:
    platform.fail_next("answer", status=404, path="/2/tweets", body=problem(404, "Not Found"))
    with pytest.raises(PermanentError, match="HTTP 404"):
        x_channel.publish(make_post(x_channel, "Nowhere"))


# -- rate limits ---------------------------------------------------------------------------


def test_X_429(x_channel: XChannel, platform: FakePlatform, make_post: MakePost) -> None:
    platform.fail_next("rate_limit", path="/2/tweets", reset_in=900)
    with pytest.raises(RetryableError) as caught:
        x_channel.publish(make_post(x_channel, "Limited"))
    assert caught.value.retry_after == pytest.approx(900, abs=2)
    assert x_channel.limits["x-rate-limit-remaining"] == "0"


def test_X_429_24h(
    x_channel: XChannel,
    platform: FakePlatform,
    make_post: MakePost,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(platform.config, "x_daily_limit", 1)
    x_channel.publish(make_post(x_channel, "The day's only post"))
    with pytest.raises(RetryableError) as caught:
        x_channel.publish(make_post(x_channel, "One too many"))
    assert caught.value.retry_after == pytest.approx(3600, abs=2)
    assert x_channel.limits["x-user-limit-24hour-remaining"] == "0"


def test_X_429_24h_latest_exhausted_reset_wins(
    x_channel: XChannel, platform: FakePlatform, make_post: MakePost
) -> None:
    now = int(time.time())
    platform.fail_next(
        "answer",
        status=429,
        path="/2/tweets",
        body=problem(429, "Too Many"),
        headers={
            "x-rate-limit-remaining": "0",
            "x-rate-limit-reset": str(now + 60),
            "x-app-limit-24hour-remaining": "0",
            "x-app-limit-24hour-reset": str(now + 7200),
            "x-user-limit-24hour-remaining": "5",
            "x-user-limit-24hour-reset": str(now + 80000),
        },
    )
    with pytest.raises(RetryableError) as caught:
        x_channel.publish(make_post(x_channel, "App limit"))
    assert caught.value.retry_after == pytest.approx(7200, abs=2)


@pytest.mark.parametrize("form", ["seconds", "date"])
def test_X_429_retry_after(
    x_channel: XChannel, platform: FakePlatform, make_post: MakePost, form: str
) -> None:
    # Both forms of RFC 9110 §10.2.3: delta-seconds, or an HTTP-date.
    value = "120" if form == "seconds" else formatdate(time.time() + 120, usegmt=True)
    platform.fail_next(
        "answer",
        status=429,
        path="/2/tweets",
        body=problem(429, "Too Many"),
        headers={"Retry-After": value},
    )
    with pytest.raises(RetryableError) as caught:
        x_channel.publish(make_post(x_channel, "Retry after"))
    assert caught.value.retry_after == pytest.approx(120, abs=2)


def test_X_429_bare(x_channel: XChannel, platform: FakePlatform, make_post: MakePost) -> None:
    platform.fail_next("answer", status=429, path="/2/tweets", body=problem(429, "Too Many"))
    with pytest.raises(RetryableError) as caught:
        x_channel.publish(make_post(x_channel, "No headers"))
    assert caught.value.retry_after is None


# -- server trouble, timeouts, connections ---------------------------------------------------


def test_X_5xx(x_channel: XChannel, platform: FakePlatform, make_post: MakePost) -> None:
    platform.fail_next("5xx", path="/2/tweets")
    with pytest.raises(AmbiguousError, match="may have been published"):
        x_channel.publish(make_post(x_channel, "Server trouble"))


def test_X_5xx_after_creating_is_reconciled_by_find(
    x_channel: XChannel, platform: FakePlatform, make_post: MakePost
) -> None:
    post = make_post(x_channel, "Created, then 500")
    platform.fail_next("fail_after_create", path="/2/tweets")
    with pytest.raises(AmbiguousError):
        x_channel.publish(post)
    (created,) = platform.x_posts("GwentPolice")
    found = x_channel.find(post)
    assert found is not None and found.remote_id == created["id"]
    # And a resend is caught by X's duplicate check: never a second copy.
    with pytest.raises(AlreadyPublished):
        x_channel.publish(post)


@pytest.mark.parametrize("path", ["/2/media/upload", "/2/media/metadata", "/2/users/me"])
def test_X_5xx_read(
    x_channel: XChannel,
    platform: FakePlatform,
    make_post: MakePost,
    image: Callable[..., Media],
    path: str,
) -> None:
    platform.fail_next("5xx", path=path)
    with pytest.raises(RetryableError):
        if path == "/2/users/me":
            x_channel.check()
        else:
            x_channel.publish(make_post(x_channel, "Upload trouble", media=(image(),)))
    assert platform.x_posts("GwentPolice") == []


def test_X_read_timeout(x_channel: XChannel, platform: FakePlatform, make_post: MakePost) -> None:
    post = make_post(x_channel, "Slow answer")
    platform.fail_next("slow", path="/2/tweets")
    started = time.monotonic()
    with pytest.raises(AmbiguousError, match="no answer in time"):
        x_channel.publish(post)
    assert time.monotonic() - started < 1.5  # the client timeout (0.5 s), not the server's 2 s
    assert x_channel.find(post) is not None  # it was created: find settles it


@pytest.mark.parametrize("path", ["/2/media/upload", "/2/media/metadata"])
def test_X_upload_timeout(
    x_channel: XChannel,
    platform: FakePlatform,
    make_post: MakePost,
    image: Callable[..., Media],
    path: str,
) -> None:
    platform.fail_next("slow", path=path)
    with pytest.raises(RetryableError, match="nothing was published"):
        x_channel.publish(make_post(x_channel, "Slow upload", media=(image(),)))
    assert platform.x_posts("GwentPolice") == []


def test_X_dropped(x_channel: XChannel, platform: FakePlatform, make_post: MakePost) -> None:
    platform.fail_next("drop", path="/2/tweets")
    with pytest.raises(AmbiguousError, match="connection failed after sending"):
        x_channel.publish(make_post(x_channel, "Dropped"))


def test_X_refused(
    x_channel_for: Callable[..., XChannel], refused_url: str, make_post: MakePost
) -> None:
    channel = x_channel_for(base_url=refused_url)
    with pytest.raises(RetryableError, match="could not connect"):
        channel.publish(make_post(channel, "Nobody home"))


def test_X_connect_timeout(
    x_channel_for: Callable[..., XChannel], unreachable_url: str, make_post: MakePost
) -> None:
    channel = x_channel_for(base_url=unreachable_url)
    with pytest.raises(RetryableError, match="could not connect in time"):
        channel.publish(make_post(channel, "Cannot connect"))


# -- refused before sending ------------------------------------------------------------------


def test_X_image_unreadable(
    x_channel: XChannel, platform: FakePlatform, make_post: MakePost, tmp_path: Path
) -> None:
    missing = Media(path=tmp_path / "gone.png", alt_text="gone", sha256="0" * 64)
    with pytest.raises(PermanentError, match="cannot read image"):
        x_channel.publish(make_post(x_channel, "Missing image", media=(missing,)))
    assert platform.requests == []


def test_X_too_many_images(
    x_channel: XChannel, platform: FakePlatform, make_post: MakePost, image: Callable[..., Media]
) -> None:
    five = tuple(image(f"{n}.png") for n in range(5))
    with pytest.raises(PermanentError, match="at most 4 images"):
        x_channel.publish(make_post(x_channel, "Five images", media=five))
    long_alt = (image(alt="a" * 1001),)
    with pytest.raises(PermanentError, match="at most 1000"):
        x_channel.publish(make_post(x_channel, "Long alt text", media=long_alt))
    assert platform.requests == []


# -- find ----------------------------------------------------------------------------------


def test_X_find_found(
    x_channel: XChannel, make_post: MakePost, image: Callable[..., Media]
) -> None:
    # X serves text with t.co links, HTML entities and an image link appended.
    post = make_post(
        x_channel,
        "Tips & advice <for parents>: https://www.gwent.police.uk/cy and https://ceop.police.uk",
        media=(image(),),
    )
    receipt = x_channel.publish(post)
    x_channel.publish(make_post(x_channel, "Another post after it"))
    assert x_channel.find(post) == receipt


def test_X_find_absent(x_channel: XChannel, make_post: MakePost) -> None:
    x_channel.publish(make_post(x_channel, "Something else"))
    assert x_channel.find(make_post(x_channel, "Never sent")) is None
    # Near misses are not matches.
    assert x_channel.find(make_post(x_channel, "Something else!")) is None


@pytest.mark.parametrize(
    "kind, options",
    [
        (
            "answer",
            {
                "status": 403,
                "body": problem(
                    403,
                    "When authenticating requests to the Twitter API v2 endpoints, you must use "
                    "keys and tokens from a Twitter developer App that is attached to a Project.",
                    reason="client-not-enrolled",
                ),
            },
        ),
        ("rate_limit", {"reset_in": 600}),
        ("5xx", {}),
        ("slow", {}),
    ],
)
def test_X_find_unreadable(
    x_channel: XChannel,
    platform: FakePlatform,
    make_post: MakePost,
    kind: str,
    options: dict[str, Any],
) -> None:
    x_channel.check()  # learn the user id first, so the failure hits the timeline
    platform.fail_next(kind, path="/tweets", **options)
    with pytest.raises(AmbiguousError, match="cannot look the post up") as caught:
        x_channel.find(make_post(x_channel, "Unknown"))
    if kind == "rate_limit":
        assert caught.value.retry_after == pytest.approx(600, abs=2)


def test_X_find_errors(x_channel: XChannel, platform: FakePlatform, make_post: MakePost) -> None:
    """200 with ``errors`` and no ``data`` (X does this for some failures) does not show the
    timeline: cannot tell, never None. An empty timeline says so and is None."""
    x_channel.check()
    body = {"errors": [{"title": "Authorization Error", "detail": "Sorry, not authorized."}]}
    platform.fail_next("answer", status=200, body=body, path="/tweets", method="GET")
    with pytest.raises(AmbiguousError, match="no list of posts"):
        x_channel.find(make_post(x_channel, "Unknown"))
    platform.fail_next("answer", status=200, body={}, path="/tweets", method="GET")
    with pytest.raises(AmbiguousError, match="no list of posts"):
        x_channel.find(make_post(x_channel, "Unknown"))
    assert x_channel.find(make_post(x_channel, "Unknown")) is None  # really empty


def test_X_find_401(x_channel: XChannel, platform: FakePlatform, make_post: MakePost) -> None:
    platform.fail_next("expired_token")
    with pytest.raises(AuthenticationError):
        x_channel.find(make_post(x_channel, "Unknown"))


def test_X_find_never_publishes(
    x_channel: XChannel, platform: FakePlatform, make_post: MakePost
) -> None:
    x_channel.find(make_post(x_channel, "Only looking"))
    assert all(r["method"] == "GET" for r in platform.requests)


# -- check ---------------------------------------------------------------------------------


def test_X_check(x_channel: XChannel) -> None:
    assert x_channel.check() == "@GwentPolice (id 1500000000000000001)"


def test_X_check_read_only(
    x_channel: XChannel, platform: FakePlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(platform.config.x_accounts[0], "access_level", "read")
    with pytest.raises(PermanentError, match=r"'Read and write'.*regenerate"):
        x_channel.check()


def test_X_check_other_account(x_channel_for: Callable[..., XChannel], fake_config: Any) -> None:
    channel = x_channel_for(
        handle="@GwentPolice", credentials=fake_config.x_credentials("HeddluGwent")
    )
    with pytest.raises(AuthenticationError, match="belong to @HeddluGwent"):
        channel.check()


# -- general -------------------------------------------------------------------------------


def test_only_channel_errors_escape_a_broken_answer(
    x_channel: XChannel, platform: FakePlatform, make_post: MakePost
) -> None:
    platform.fail_next("answer", status=200, body="not the shape X uses", path="/2/tweets")
    with pytest.raises(ChannelError):
        x_channel.publish(make_post(x_channel, "Odd answer"))


def test_repr_names_the_account_only(x_channel: XChannel) -> None:
    assert repr(x_channel) == "XChannel(account='gwent-x', handle='@GwentPolice')"
