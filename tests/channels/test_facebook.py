"""FacebookChannel against the fake Graph API: requests for real, over HTTP on 127.0.0.1.

Every row ``FB-*`` of docs/error-outcomes.md has a test here, named by its id.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest

from channels.base import Media, OutgoingPost, Receipt
from channels.facebook import FacebookChannel
from core.errors import (
    AlreadyPublished,
    AmbiguousError,
    AuthenticationError,
    PermanentError,
    RetryableError,
)
from tests.fakeplatform import FakePlatform

MakePost = Callable[..., OutgoingPost]
PAGE = "104857600000001"


def graph_error(code: int, message: str = "An error", subcode: int | None = None) -> dict:
    error: dict[str, Any] = {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "AbCdEf123",
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


# -- published -----------------------------------------------------------------------------


def test_FB_200_text_post_with_link(
    fb_channel: FacebookChannel, platform: FakePlatform, make_post: MakePost
) -> None:
    post = make_post(
        fb_channel,
        "Safer Internet Day: talk to your children.",
        link="https://www.gwent.police.uk/online-safety",
    )
    receipt = fb_channel.publish(post)
    (stored,) = platform.fb_posts(PAGE)
    assert stored["message"] == post.text and stored["link"] == post.link
    assert receipt == Receipt(
        remote_id=stored["id"],
        url=f"https://www.facebook.com/{PAGE}/posts/{stored['id'].split('_')[1]}",
    )


def test_FB_200_one_photo_with_caption_and_alt_text(
    fb_channel: FacebookChannel,
    platform: FakePlatform,
    make_post: MakePost,
    image: Callable[..., Media],
) -> None:
    poster = image("poster.png", alt="Poster: Stop, talk, protect", data=b"\x89PNG poster")
    receipt = fb_channel.publish(make_post(fb_channel, "Stop, talk, protect.", media=(poster,)))
    (photo,) = platform.fb_photos(PAGE)
    assert photo["bytes"] == b"\x89PNG poster"
    assert photo["caption"] == "Stop, talk, protect."
    assert photo["alt_text"] == "Poster: Stop, talk, protect"
    assert photo["published"] is True
    assert receipt.remote_id == photo["post_id"]
    assert [p["id"] for p in platform.fb_posts(PAGE)] == [receipt.remote_id]


def test_FB_200_several_photos_in_one_post(
    fb_channel: FacebookChannel,
    platform: FakePlatform,
    make_post: MakePost,
    image: Callable[..., Media],
) -> None:
    media = (image("a.png", alt="First", data=b"A"), image("b.png", alt="Second", data=b"B"))
    receipt = fb_channel.publish(make_post(fb_channel, "Two posters", media=media))
    photos = platform.fb_photos(PAGE)
    assert [(p["bytes"], p["alt_text"], p["published"]) for p in photos] == [
        (b"A", "First", False),
        (b"B", "Second", False),
    ]
    (stored,) = platform.fb_posts(PAGE)
    assert stored["id"] == receipt.remote_id
    assert stored["photo_ids"] == [p["id"] for p in photos]
    assert stored["message"] == "Two posters"


def test_FB_200_usage_headers_are_kept_and_logged(
    fb_channel: FacebookChannel, make_post: MakePost, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="channels.facebook"):
        fb_channel.publish(make_post(fb_channel, "Usage"))
    assert fb_channel.usage["x-app-usage"]["call_count"] >= 1
    assert PAGE in fb_channel.usage["x-business-use-case-usage"]
    assert any("x-app-usage" in r.getMessage() for r in caplog.records)


# -- Graph API error codes -------------------------------------------------------------------


@pytest.mark.parametrize("code", [1, 2])
def test_FB_1_2_post(
    fb_channel: FacebookChannel, platform: FakePlatform, make_post: MakePost, code: int
) -> None:
    platform.fail_next(
        "answer", status=500, body=graph_error(code, "Please retry"), path="/feed", method="POST"
    )
    with pytest.raises(AmbiguousError, match=f"code {code}"):
        fb_channel.publish(make_post(fb_channel, "Unknown error"))


def test_FB_1_2_post_created_anyway_is_reconciled(
    fb_channel: FacebookChannel,
    platform: FakePlatform,
    make_post: MakePost,
    image: Callable[..., Media],
) -> None:
    post = make_post(fb_channel, "A photo post that got a code 2", media=(image(),))
    platform.fail_next("fail_after_create", path="/photos")
    with pytest.raises(AmbiguousError):
        fb_channel.publish(post)
    (created,) = platform.fb_posts(PAGE)
    found = fb_channel.find(post)
    assert found is not None and found.remote_id == created["id"]


@pytest.mark.parametrize("code", [1, 2])
@pytest.mark.parametrize("where", ["upload", "read"])
def test_FB_1_2(
    fb_channel: FacebookChannel,
    platform: FakePlatform,
    make_post: MakePost,
    image: Callable[..., Media],
    code: int,
    where: str,
) -> None:
    if where == "upload":
        platform.fail_next("answer", status=500, body=graph_error(code), path="/photos")
        with pytest.raises(RetryableError, match="temporary"):
            fb_channel.publish(make_post(fb_channel, "Two", media=(image("a.png"), image("b.png"))))
        assert platform.fb_posts(PAGE) == []
    else:
        platform.fail_next("answer", status=500, body=graph_error(code), method="GET")
        with pytest.raises(RetryableError, match="temporary"):
            fb_channel.check()


@pytest.mark.parametrize("code", [4, 17, 32, 341, 613, 80001])
def test_FB_throttled(
    fb_channel: FacebookChannel, platform: FakePlatform, make_post: MakePost, code: int
) -> None:
    platform.fail_next(
        "answer", status=400, body=graph_error(code, "Rate limited"), headers={"Retry-After": "300"}
    )
    with pytest.raises(RetryableError, match="rate limited") as caught:
        fb_channel.publish(make_post(fb_channel, "Throttled"))
    assert caught.value.retry_after == 300


def test_FB_throttled_retry_after_as_a_date(
    fb_channel: FacebookChannel, platform: FakePlatform, make_post: MakePost
) -> None:
    at = formatdate(time.time() + 300, usegmt=True)
    platform.fail_next(
        "answer", status=400, body=graph_error(4, "Rate limited"), headers={"Retry-After": at}
    )
    with pytest.raises(RetryableError, match="rate limited") as caught:
        fb_channel.publish(make_post(fb_channel, "Throttled until a date"))
    assert caught.value.retry_after == pytest.approx(300, abs=2)


def test_FB_throttled_estimate_from_business_use_case_header(
    fb_channel: FacebookChannel, platform: FakePlatform, make_post: MakePost
) -> None:
    usage = {
        PAGE: [
            {
                "type": "pages",
                "call_count": 100,
                "total_cputime": 30,
                "total_time": 40,
                "estimated_time_to_regain_access": 12,
            }
        ]
    }
    platform.fail_next(
        "answer",
        status=400,
        body=graph_error(80001, "Too many calls"),
        headers={"x-business-use-case-usage": json.dumps(usage)},
    )
    with pytest.raises(RetryableError) as caught:
        fb_channel.publish(make_post(fb_channel, "Throttled page"))
    assert caught.value.retry_after == 12 * 60


def test_FB_throttled_without_a_hint(
    fb_channel: FacebookChannel, platform: FakePlatform, make_post: MakePost
) -> None:
    platform.fail_next("rate_limit")  # code 4 with x-app-usage, no Retry-After
    with pytest.raises(RetryableError) as caught:
        fb_channel.publish(make_post(fb_channel, "App limit"))
    assert caught.value.retry_after is None
    assert fb_channel.usage["x-app-usage"]["call_count"] == 100


@pytest.mark.parametrize(
    "subcode, meaning",
    [
        (458, "no longer installed"),
        (459, "checkpoint"),
        (460, "password"),
        (463, "expired"),
        (467, "invalid"),
        (None, "refused"),
    ],
)
def test_FB_190(
    fb_channel: FacebookChannel,
    platform: FakePlatform,
    make_post: MakePost,
    subcode: int | None,
    meaning: str,
) -> None:
    platform.fail_next("answer", status=400, body=graph_error(190, "Bad token", subcode))
    with pytest.raises(AuthenticationError, match=meaning):
        fb_channel.publish(make_post(fb_channel, "Token trouble"))


def test_FB_190_expired_token_from_the_platform(
    fb_channel: FacebookChannel, platform: FakePlatform, make_post: MakePost
) -> None:
    platform.fail_next("expired_token")
    with pytest.raises(AuthenticationError, match=r"subcode 463.*expired.*long-lived"):
        fb_channel.publish(make_post(fb_channel, "Expired"))
    assert platform.fb_posts(PAGE) == []


def test_FB_190_unknown_token(
    fb_channel_for: Callable[..., FacebookChannel], make_post: MakePost
) -> None:
    channel = fb_channel_for(token="EAAnotatokenweknow")
    with pytest.raises(AuthenticationError, match="Cannot parse access token"):
        channel.publish(make_post(channel, "Who?"))


def test_FB_102(fb_channel: FacebookChannel, platform: FakePlatform, make_post: MakePost) -> None:
    platform.fail_next("answer", status=400, body=graph_error(102, "Session key invalid"))
    with pytest.raises(AuthenticationError):
        fb_channel.publish(make_post(fb_channel, "Session"))


@pytest.mark.parametrize("code", [10, 200, 230, 299])
def test_FB_permission(
    fb_channel: FacebookChannel, platform: FakePlatform, make_post: MakePost, code: int
) -> None:
    platform.fail_next("answer", status=403, body=graph_error(code, "(#200) Permissions error"))
    with pytest.raises(PermanentError, match="pages_manage_posts"):
        fb_channel.publish(make_post(fb_channel, "Permission"))


def test_FB_permission_user_token_cannot_post(
    fb_channel_for: Callable[..., FacebookChannel], fake_config: Any, make_post: MakePost
) -> None:
    channel = fb_channel_for(token=fake_config.facebook_users[0].token)
    with pytest.raises(PermanentError, match=r"code 200.*pages_manage_posts"):
        channel.publish(make_post(channel, "Posted with a user token"))


def test_FB_368(fb_channel: FacebookChannel, platform: FakePlatform, make_post: MakePost) -> None:
    platform.fail_next(
        "answer",
        status=400,
        body=graph_error(
            368, "The action attempted has been deemed abusive or is otherwise disallowed"
        ),
    )
    with pytest.raises(PermanentError, match="blocked"):
        fb_channel.publish(make_post(fb_channel, "Blocked"))


def test_FB_506(fb_channel: FacebookChannel, platform: FakePlatform, make_post: MakePost) -> None:
    first = fb_channel.publish(make_post(fb_channel, "Once only"))
    with pytest.raises(AlreadyPublished, match="Duplicate status message") as caught:
        fb_channel.publish(make_post(fb_channel, "Once only"))
    assert len(platform.fb_posts(PAGE)) == 1
    assert (caught.value.remote_id, caught.value.url) == (first.remote_id, first.url)


def test_FB_506_when_the_feed_cannot_be_read(
    fb_channel: FacebookChannel, platform: FakePlatform, make_post: MakePost
) -> None:
    platform.fail_next(
        "answer",
        status=400,
        method="POST",
        path="/feed",
        body=graph_error(506, "Duplicate status message"),
    )
    platform.fail_next("5xx", method="GET", path="/feed")
    with pytest.raises(AlreadyPublished) as caught:
        fb_channel.publish(make_post(fb_channel, "Said to be a duplicate"))
    assert caught.value.remote_id is None


def test_FB_100(fb_channel: FacebookChannel, platform: FakePlatform, make_post: MakePost) -> None:
    platform.fail_next("answer", status=400, body=graph_error(100, "(#100) Invalid parameter"))
    with pytest.raises(PermanentError, match="Invalid parameter"):
        fb_channel.publish(make_post(fb_channel, "Invalid"))


def test_FB_4xx_other(
    fb_channel_for: Callable[..., FacebookChannel],
    fb_channel: FacebookChannel,
    platform: FakePlatform,
    make_post: MakePost,
    fake_config: Any,
) -> None:
    unknown_page = fb_channel_for(page="NoSuchPage", token=fake_config.facebook_pages[0].token)
    with pytest.raises(PermanentError, match="code 803"):
        unknown_page.publish(make_post(unknown_page, "Nowhere"))
    platform.fail_next("answer", status=404, body="<html>Not found</html>")
    with pytest.raises(PermanentError, match="HTTP 404"):
        fb_channel.publish(make_post(fb_channel, "Not JSON"))


def test_FB_429(fb_channel: FacebookChannel, platform: FakePlatform, make_post: MakePost) -> None:
    platform.fail_next("answer", status=429, body={})
    with pytest.raises(RetryableError):
        fb_channel.publish(make_post(fb_channel, "Too many"))


# -- server trouble, timeouts, connections ---------------------------------------------------


@pytest.mark.parametrize("body", [None, graph_error(9999, "Something new")])
def test_FB_5xx(
    fb_channel: FacebookChannel, platform: FakePlatform, make_post: MakePost, body: Any
) -> None:
    platform.fail_next("answer", status=502, body=body, path="/feed")
    with pytest.raises(AmbiguousError, match="may have been published"):
        fb_channel.publish(make_post(fb_channel, "Bad gateway"))


def test_FB_5xx_read(
    fb_channel: FacebookChannel,
    platform: FakePlatform,
    make_post: MakePost,
    image: Callable[..., Media],
) -> None:
    platform.fail_next("answer", status=503, body=None, path="/photos")
    with pytest.raises(RetryableError):
        fb_channel.publish(make_post(fb_channel, "Two", media=(image("a.png"), image("b.png"))))
    platform.fail_next("answer", status=503, body=None, method="GET")
    with pytest.raises(RetryableError):
        fb_channel.check()
    assert platform.fb_posts(PAGE) == []


def test_FB_read_timeout(
    fb_channel: FacebookChannel, platform: FakePlatform, make_post: MakePost
) -> None:
    post = make_post(fb_channel, "Slow Graph")
    platform.fail_next("slow", path="/feed")
    started = time.monotonic()
    with pytest.raises(AmbiguousError, match="no answer in time"):
        fb_channel.publish(post)
    assert time.monotonic() - started < 1.5
    assert fb_channel.find(post) is not None


def test_FB_upload_timeout(
    fb_channel: FacebookChannel,
    platform: FakePlatform,
    make_post: MakePost,
    image: Callable[..., Media],
) -> None:
    platform.fail_next("slow", path="/photos")
    with pytest.raises(RetryableError, match="nothing was published"):
        fb_channel.publish(make_post(fb_channel, "Two", media=(image("a.png"), image("b.png"))))
    assert platform.fb_posts(PAGE) == []


def test_FB_dropped(
    fb_channel: FacebookChannel, platform: FakePlatform, make_post: MakePost
) -> None:
    platform.fail_next("drop", path="/feed")
    with pytest.raises(AmbiguousError, match="connection failed after sending"):
        fb_channel.publish(make_post(fb_channel, "Dropped"))


def test_FB_refused(
    fb_channel_for: Callable[..., FacebookChannel], refused_url: str, make_post: MakePost
) -> None:
    channel = fb_channel_for(base_url=refused_url)
    with pytest.raises(RetryableError, match="could not connect"):
        channel.publish(make_post(channel, "Nobody home"))


def test_FB_connect_timeout(
    fb_channel_for: Callable[..., FacebookChannel], unreachable_url: str, make_post: MakePost
) -> None:
    channel = fb_channel_for(base_url=unreachable_url)
    with pytest.raises(RetryableError, match="could not connect in time"):
        channel.publish(make_post(channel, "Cannot connect"))


def test_FB_image_unreadable(
    fb_channel: FacebookChannel, platform: FakePlatform, make_post: MakePost, tmp_path: Path
) -> None:
    missing = Media(path=tmp_path / "gone.png", alt_text="gone", sha256="0" * 64)
    with pytest.raises(PermanentError, match="cannot read image"):
        fb_channel.publish(make_post(fb_channel, "Missing", media=(missing,)))
    assert platform.requests == []


# -- find ----------------------------------------------------------------------------------


def test_FB_find_found(
    fb_channel: FacebookChannel, make_post: MakePost, image: Callable[..., Media]
) -> None:
    text_post = make_post(fb_channel, "Tips & advice <for parents>")
    photo_post = make_post(fb_channel, "A poster", media=(image(),))
    receipts = [fb_channel.publish(text_post), fb_channel.publish(photo_post)]
    assert [fb_channel.find(text_post), fb_channel.find(photo_post)] == receipts


def test_FB_find_photo(
    fake_config: Any,
    platform: FakePlatform,
    fb_channel: FacebookChannel,
    make_post: MakePost,
    image: Callable[..., Media],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A photo post has no duplicate guard (a second POST /photos is a second post), so
    find() must see it even when the feed does not list it: the Page's uploaded photos,
    the caption as their name."""
    monkeypatch.setattr(fake_config, "facebook_feed_shows_photos", False)
    post = make_post(fb_channel, "A poster: stop, talk, protect", media=(image(),))
    fb_channel.publish(post)
    [photo] = platform.fb_photos(fake_config.facebook_pages[0].id)
    found = fb_channel.find(post)
    assert found is not None and found.remote_id == photo["id"]
    assert found.url == f"https://www.facebook.com/{photo['id']}"
    # Not there: None only once both the feed and the photos were read.
    other = make_post(fb_channel, "Another poster", media=(image(),))
    assert fb_channel.find(other) is None
    assert len(platform.fb_photos(fake_config.facebook_pages[0].id)) == 1
    # A text post is never a photo: only the feed is read.
    before = sum(1 for r in platform.requests if r["path"].endswith("/photos"))
    assert fb_channel.find(make_post(fb_channel, "A poster: stop, talk, protect")) is None
    assert sum(1 for r in platform.requests if r["path"].endswith("/photos")) == before


def test_FB_find_photo_unreadable(
    fake_config: Any,
    platform: FakePlatform,
    fb_channel: FacebookChannel,
    make_post: MakePost,
    image: Callable[..., Media],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fake_config, "facebook_feed_shows_photos", False)
    post = make_post(fb_channel, "A poster", media=(image(),))
    fb_channel.publish(post)
    platform.fail_next("rate_limit", path="/photos", method="GET", reset_in=60)
    with pytest.raises(AmbiguousError, match="cannot look the photo post up"):
        fb_channel.find(post)


def test_FB_find_absent(fb_channel: FacebookChannel, make_post: MakePost) -> None:
    fb_channel.publish(make_post(fb_channel, "Something else"))
    assert fb_channel.find(make_post(fb_channel, "Never sent")) is None
    assert fb_channel.find(make_post(fb_channel, "Something else!")) is None


@pytest.mark.parametrize(
    "kind, options",
    [
        (
            "answer",
            {"status": 400, "body": graph_error(10, "(#10) Requires pages_read_engagement")},
        ),
        ("answer", {"status": 400, "body": graph_error(4, "(#4) Rate limited")}),
        ("5xx", {}),
        ("slow", {}),
        ("drop", {}),
    ],
)
def test_FB_find_unreadable(
    fb_channel: FacebookChannel,
    platform: FakePlatform,
    make_post: MakePost,
    kind: str,
    options: dict[str, Any],
) -> None:
    platform.fail_next(kind, path="/feed", **options)
    with pytest.raises(AmbiguousError, match="cannot look the post up"):
        fb_channel.find(make_post(fb_channel, "Unknown"))


def test_FB_find_with_an_expired_token_is_authentication(
    fb_channel: FacebookChannel, platform: FakePlatform, make_post: MakePost
) -> None:
    platform.fail_next("expired_token")
    with pytest.raises(AuthenticationError):
        fb_channel.find(make_post(fb_channel, "Unknown"))


# -- check ---------------------------------------------------------------------------------


def test_FB_check(fb_channel: FacebookChannel) -> None:
    assert fb_channel.check() == "Gwent Police (Page id 104857600000001)"


def test_FB_check_by_page_username(fb_channel_for: Callable[..., FacebookChannel]) -> None:
    channel = fb_channel_for(page="GwentPolice")
    assert channel.check() == "Gwent Police (Page id 104857600000001)"


def test_FB_check_user_token(
    fb_channel_for: Callable[..., FacebookChannel], fake_config: Any
) -> None:
    channel = fb_channel_for(token=fake_config.facebook_users[0].token)
    with pytest.raises(
        AuthenticationError, match=r"this is a user access token, not a Page token: .*Alex Jones"
    ):
        channel.check()


def test_FB_check_other_page(
    fb_channel_for: Callable[..., FacebookChannel], fake_config: Any
) -> None:
    channel = fb_channel_for(token=fake_config.facebook_pages[1].token)
    with pytest.raises(AuthenticationError, match=r"not Gwent Police's.*Heddlu Gwent"):
        channel.check()


def test_FB_check_expired(fb_channel: FacebookChannel, platform: FakePlatform) -> None:
    platform.fail_next("expired_token")
    with pytest.raises(AuthenticationError, match="expired"):
        fb_channel.check()


# -- general -------------------------------------------------------------------------------


def test_graph_api_version_and_base_url(
    fb_channel_for: Callable[..., FacebookChannel], platform: FakePlatform, make_post: MakePost
) -> None:
    channel = fb_channel_for()
    assert channel.base_url == f"{platform.url}/v25.0"
    channel.publish(make_post(channel, "Versioned"))
    assert platform.requests[-1]["path"] == f"/v25.0/{PAGE}/feed"


def test_repr_names_the_account_only(fb_channel: FacebookChannel) -> None:
    assert repr(fb_channel) == f"FacebookChannel(account='gwent-facebook', page='{PAGE}')"
