"""LinkedIn channel: the real client against the strict fake (tests/fakes/linkedin.py) over
real HTTP on 127.0.0.1.

Each ``test_LI_*`` is the row of that id in ``docs/error-outcomes.md``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import traceback
import unicodedata
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.base import Media, OutgoingPost
from channels.linkedin import LinkedInChannel, little_text, plain_text, post_url
from channels.networks import measure
from channels.outbox import OutboxChannel
from channels.registry import channel_for as registry_channel_for
from core.errors import (
    AlreadyPublished,
    AmbiguousError,
    AuthenticationError,
    ChannelError,
    PermanentError,
    RetryableError,
    SettingsError,
)
from core.settings import AccountSettings, Settings
from tests.fakes.linkedin import (
    ORGANIZATION,
    OTHER_ORGANIZATION,
    FakeLinkedIn,
    Issued,
    parse_little,
    plain,
    render_little,
    serve,
)

TIMEOUT = 0.5  # the fake's "slow" answers take 2 s
WELSH = (
    "Yn poeni am rywbeth ar-lein? Ffoniwch 101 (101) neu 999 mewn argyfwng. "
    "Siaradwch â'ch plant [heddiw] 👨‍👩‍👧 #StopSiaradAmddiffyn #DiogelwchArLein"
)


@pytest.fixture(scope="module")
def _server() -> Iterator[FakeLinkedIn]:
    yield from serve()


@pytest.fixture
def linkedin(_server: FakeLinkedIn) -> Iterator[FakeLinkedIn]:
    """The fake, emptied for each test."""
    _server.reset()
    yield _server
    _server.reset()


@pytest.fixture
def channel_for(linkedin: FakeLinkedIn) -> Iterator[Callable[..., LinkedInChannel]]:
    """``channel_for(issued=…, app=True, credentials=…, base_url=…, version=…,
    token_expires_at=…)``: a channel for the force's page, on the fake."""
    made: list[LinkedInChannel] = []

    def build(
        issued: Issued | None = None,
        *,
        app: bool = True,
        credentials: dict[str, str] | None = None,
        base_url: str | None = None,
        version: str = "202605",
        token_expires_at: datetime | None = None,
        timeout: float = TIMEOUT,
    ) -> LinkedInChannel:
        issued = issued or linkedin.issue()
        account = AccountSettings(
            network="linkedin",
            handle=ORGANIZATION,
            dry_run=False,
            api_base_url=base_url or linkedin.url,
            token_expires_at=token_expires_at,
        )
        channel = LinkedInChannel(
            "gwent-linkedin",
            account,
            credentials or issued.credentials(linkedin, app=app),
            linkedin_version=version,
            timeout=timeout,
        )
        made.append(channel)
        return channel

    yield build
    for channel in made:
        channel.close()


@pytest.fixture
def channel(channel_for: Callable[..., LinkedInChannel]) -> LinkedInChannel:
    return channel_for()


def texts(linkedin: FakeLinkedIn) -> list[str]:
    return [p["text"] for p in linkedin.posts()]


def calls(linkedin: FakeLinkedIn, path: str, method: str = "POST") -> int:
    return sum(1 for r in linkedin.requests if r["path"] == path and r["method"] == method)


# -- publishing ------------------------------------------------------------------------------


def test_LI_201(
    channel: LinkedInChannel, linkedin: FakeLinkedIn, make_post: Callable[..., OutgoingPost]
) -> None:
    receipt = channel.publish(make_post(channel, "Stop, talk, protect."))
    [post] = linkedin.posts()
    assert receipt.remote_id == post["id"] and receipt.url == post_url(post["id"])
    assert receipt.url == f"https://www.linkedin.com/feed/update/{post['id']}"
    [sent] = [r for r in linkedin.requests if r["path"] == "/rest/posts"]
    assert sent["headers"]["Linkedin-Version"] == "202605"
    assert sent["headers"]["X-Restli-Protocol-Version"] == "2.0.0"
    assert sent["bearer"]


def test_LI_201_no_id(
    channel: LinkedInChannel, linkedin: FakeLinkedIn, make_post: Callable[..., OutgoingPost]
) -> None:
    linkedin.fail_next("answer", status=201, body=None, path="/rest/posts")
    with pytest.raises(AmbiguousError, match="without the post's URN"):
        channel.publish(make_post(channel, "Said yes, gave no id"))


def test_LI_little_text(
    channel: LinkedInChannel, linkedin: FakeLinkedIn, make_post: Callable[..., OutgoingPost]
) -> None:
    """A Welsh post with "(101)" and hashtags reads exactly as written: every reserved
    character escaped (unescaped, LinkedIn cuts the post at the first one), each hashtag a
    hashtag."""
    post = make_post(channel, WELSH, language="cy")
    receipt = channel.publish(post)
    [stored] = linkedin.posts()
    assert stored["text"].encode() == WELSH.encode()
    assert "\\(101\\)" in stored["commentary"] and "\\[heddiw\\]" in stored["commentary"]
    assert "{hashtag|#|StopSiaradAmddiffyn}" in stored["commentary"]
    assert channel.find(post) == receipt  # read back through LinkedIn's templates
    # What an unescaped text would have published: cut at the parenthesis.
    assert plain(parse_little(WELSH)) == "Yn poeni am rywbeth ar-lein? Ffoniwch 101 "


def test_every_reserved_character_arrives_as_written(
    channel: LinkedInChannel, linkedin: FakeLinkedIn, make_post: Callable[..., OutgoingPost]
) -> None:
    text = "a\\b |{x}| @Heddlu [1] (2) <3> #4 *5* _6_ ~7~ & #Tag#Tag2 gwent.police.uk/#cyswllt"
    channel.publish(make_post(channel, text))
    assert texts(linkedin) == [text]


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_little_text_round_trips_through_an_independent_parser(text: str) -> None:
    """Ours and the fake's parser agree on every text: what we send reads as written, and
    what LinkedIn gives back (escapes, templates) reads as sent."""
    elements = parse_little(little_text(text))
    assert plain(elements) == text
    assert plain_text(render_little(elements)) == text
    assert plain_text(little_text(text)) == text


def test_plain_text_reads_every_form_linkedin_writes() -> None:
    assert plain_text("{hashtag|#|Gwent} {hashtag|\\#|Heddlu} {hashtag|＃|Cymru}") == (
        "#Gwent #Heddlu ＃Cymru"
    )
    assert plain_text("Hi @[Gwent Police](urn:li:organization:2414183) \\(101\\)") == (
        "Hi Gwent Police (101)"
    )


def test_LI_image(
    channel: LinkedInChannel,
    linkedin: FakeLinkedIn,
    make_post: Callable[..., OutgoingPost],
    image: Callable[..., Media],
) -> None:
    picture = image("poster.png", alt="Rhiant a phlentyn yn edrych ar ffôn")
    receipt = channel.publish(make_post(channel, "A poster", media=(picture,)))
    [post] = linkedin.posts()
    media = post["content"]["media"]
    assert media["altText"] == "Rhiant a phlentyn yn edrych ar ffôn"
    uploaded = linkedin.image(media["id"])
    assert uploaded["bytes"] == picture.path.read_bytes() and uploaded["authorized"]
    assert uploaded["owner"] == f"urn:li:organization:{ORGANIZATION}"
    assert receipt.remote_id == post["id"]
    assert [r["query"] for r in linkedin.requests if r["path"] == "/rest/images"] == [
        "action=initializeUpload"
    ]


def test_LI_multi_image(
    channel: LinkedInChannel,
    linkedin: FakeLinkedIn,
    make_post: Callable[..., OutgoingPost],
    image: Callable[..., Media],
) -> None:
    pictures = (image("a.png", alt="Un"), image("b.png", alt="Dau"), image("c.gif", alt="Tri"))
    channel.publish(make_post(channel, "Three posters", media=pictures))
    [post] = linkedin.posts()
    images = post["content"]["multiImage"]["images"]
    assert [i["altText"] for i in images] == ["Un", "Dau", "Tri"]
    assert [linkedin.image(i["id"])["bytes"] for i in images] == [
        p.path.read_bytes() for p in pictures
    ]


def test_LI_too_long(
    channel: LinkedInChannel, linkedin: FakeLinkedIn, make_post: Callable[..., OutgoingPost]
) -> None:
    # 1,500 emoji are 3,000 UTF-16 units: the limit. One more character is over.
    at_limit = "👮" * 1500
    assert measure(at_limit, "linkedin") == (3000, 3000)
    channel.publish(make_post(channel, at_limit))
    with pytest.raises(PermanentError, match=r"3001 characters .*at most 3000: nothing was sent"):
        channel.publish(make_post(channel, at_limit + "a"))
    assert len(linkedin.posts()) == 1
    # LinkedIn (the fake) counts the same way: past our check, it refuses the post too.
    channel.account = channel.account.replace(text_limit=5000)
    with pytest.raises(PermanentError, match=r"ShareCommentary text length \(3001 characters\)"):
        channel.publish(make_post(channel, at_limit + "b"))
    assert len(linkedin.posts()) == 1


def test_LI_image_unreadable(
    channel: LinkedInChannel,
    linkedin: FakeLinkedIn,
    make_post: Callable[..., OutgoingPost],
    image: Callable[..., Media],
    tmp_path: Path,
) -> None:
    missing = Media(tmp_path / "gone.png", "Gone", "0" * 64)
    too_many = tuple(image(f"{n}.png") for n in range(21))
    long_alt = image("long.png", alt="a" * 4087)
    webp = image("poster.webp")
    for media, said in (
        ((missing,), "cannot read image"),
        (too_many, "at most 20 images, not 21"),
        ((long_alt,), "LinkedIn takes at most 4086"),
        ((webp,), "image/webp; LinkedIn takes image/jpeg, image/png, image/gif"),
    ):
        with pytest.raises(PermanentError, match=said):
            channel.publish(make_post(channel, "With a bad image", media=media))
    assert linkedin.requests == []  # refused before any request


@pytest.mark.parametrize(
    ("refuse", "said"),
    [("unknown", "is invalid"), ("revoked", "has been revoked"), ("expired", "has expired")],
)
def test_LI_401(
    channel_for: Callable[..., LinkedInChannel],
    linkedin: FakeLinkedIn,
    make_post: Callable[..., OutgoingPost],
    refuse: str,
    said: str,
) -> None:
    issued = linkedin.issue()
    credentials = issued.credentials(linkedin)
    if refuse == "unknown":
        credentials["access_token"] = "AQV-not-a-token-123"
    elif refuse == "revoked":
        linkedin.revoke(issued.access_token)
    else:
        linkedin.expire(issued.access_token)
    channel = channel_for(credentials=credentials)
    with pytest.raises(AuthenticationError, match=f"the access token {said}"):
        channel.publish(make_post(channel, "Refused"))
    code = {"unknown": 65600, "revoked": 65601, "expired": 65602}[refuse]
    with pytest.raises(AuthenticationError, match=f"serviceErrorCode {code}"):
        channel.check()
    assert linkedin.posts() == []


def test_LI_refresh(
    channel_for: Callable[..., LinkedInChannel],
    linkedin: FakeLinkedIn,
    make_post: Callable[..., OutgoingPost],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An expired access token with a refresh token: a new access token, in memory, and
    the refused request sent once more. One post."""
    issued = linkedin.issue(refresh=True, refresh_expires_in=timedelta(days=200, hours=1))
    linkedin.expire(issued.access_token)
    channel = channel_for(issued)
    with caplog.at_level(logging.WARNING):
        receipt = channel.publish(make_post(channel, "After a refresh"))
    assert texts(linkedin) == ["After a refresh"] and receipt.remote_id
    assert calls(linkedin, "/oauth/v2/accessToken") == 1 and channel.refreshed
    expiry = channel.expires_at()
    assert expiry is not None and (expiry - datetime.now(UTC)).days == 200  # the refresh token's
    assert "kept in memory only" in caplog.text
    new = set(linkedin.tokens_of(issued.member)) - {issued.access_token}
    assert len(new) == 1 and new.pop() not in caplog.text
    channel.publish(make_post(channel, "No second refresh"))
    assert calls(linkedin, "/oauth/v2/accessToken") == 1
    assert "renewed with the refresh token" in channel.check()


def test_LI_refresh_refused(
    channel_for: Callable[..., LinkedInChannel],
    linkedin: FakeLinkedIn,
    make_post: Callable[..., OutgoingPost],
) -> None:
    issued = linkedin.issue(refresh=True)
    linkedin.expire(issued.access_token)
    assert issued.refresh_token is not None
    linkedin.revoke(issued.refresh_token)
    channel = channel_for(issued)
    with pytest.raises(AuthenticationError, match="refresh token was refused too"):
        channel.publish(make_post(channel, "Nothing works"))
    assert linkedin.posts() == [] and calls(linkedin, "/rest/posts") == 1


def test_LI_403(
    channel_for: Callable[..., LinkedInChannel],
    linkedin: FakeLinkedIn,
    make_post: Callable[..., OutgoingPost],
) -> None:
    channel = channel_for(linkedin.issue({ORGANIZATION: "ANALYST"}))
    with pytest.raises(PermanentError, match="ADMINISTRATOR or CONTENT_ADMINISTRATOR"):
        channel.publish(make_post(channel, "Not allowed"))
    read_only = channel_for(linkedin.issue(scope="r_organization_admin,r_organization_social"))
    with pytest.raises(PermanentError, match="HTTP 403"):
        read_only.publish(make_post(read_only, "No w_organization_social"))
    assert linkedin.posts() == []


def test_LI_422_duplicate(
    channel: LinkedInChannel, linkedin: FakeLinkedIn, make_post: Callable[..., OutgoingPost]
) -> None:
    first = channel.publish(make_post(channel, WELSH))
    with pytest.raises(AlreadyPublished) as caught:
        channel.publish(make_post(channel, WELSH))
    assert caught.value.remote_id == first.remote_id and caught.value.url == first.url
    assert len(linkedin.posts()) == 1


def test_a_duplicate_without_a_urn_is_looked_up(
    channel: LinkedInChannel, linkedin: FakeLinkedIn, make_post: Callable[..., OutgoingPost]
) -> None:
    post = make_post(channel, "Already there")
    first = channel.publish(post)
    body = {
        "status": 422,
        "message": "Duplicate",
        "errorDetails": {"inputErrors": [{"code": "DUPLICATE_POST"}]},
    }
    linkedin.fail_next("answer", status=422, body=body, path="/rest/posts", method="POST")
    with pytest.raises(AlreadyPublished) as caught:
        channel.publish(dataclasses.replace(post, attempt=2))
    assert caught.value.remote_id == first.remote_id


def test_LI_422(
    channel: LinkedInChannel, linkedin: FakeLinkedIn, make_post: Callable[..., OutgoingPost]
) -> None:
    body = {
        "status": 422,
        "message": "Invalid value for field",
        "errorDetails": {"inputErrors": [{"code": "INVALID_VALUE"}]},
    }
    linkedin.fail_next("answer", status=422, body=body, path="/rest/posts")
    with pytest.raises(PermanentError, match="Invalid value for field"):
        channel.publish(make_post(channel, "Refused"))


def test_LI_400(
    channel: LinkedInChannel, linkedin: FakeLinkedIn, make_post: Callable[..., OutgoingPost]
) -> None:
    body = {"status": 400, "message": "ShareCommentary text length (3001 characters) exceeded"}
    linkedin.fail_next("answer", status=400, body=body, path="/rest/posts")
    with pytest.raises(PermanentError, match="ShareCommentary text length"):
        channel.publish(make_post(channel, "Refused"))


def test_LI_426_version(
    channel_for: Callable[..., LinkedInChannel],
    linkedin: FakeLinkedIn,
    make_post: Callable[..., OutgoingPost],
) -> None:
    channel = channel_for(version="202301")
    with pytest.raises(PermanentError, match=r"set linkedin_version in config\.toml"):
        channel.publish(make_post(channel, "Old version"))
    with pytest.raises(PermanentError, match="202301"):
        channel.check()


def test_LI_429(
    channel: LinkedInChannel, linkedin: FakeLinkedIn, make_post: Callable[..., OutgoingPost]
) -> None:
    """The daily limit: 429 with no headers; LinkedIn's limits reset at midnight UTC."""
    linkedin.daily_post_limit = 1
    channel.publish(make_post(channel, "The day's only post"))
    with pytest.raises(RetryableError, match="rate limited") as caught:
        channel.publish(make_post(channel, "One too many"))
    now = datetime.now(UTC)
    midnight = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
    assert caught.value.retry_after == pytest.approx((midnight - now).total_seconds(), abs=5)
    linkedin.offset = (midnight - now).total_seconds() + 1  # the next day at LinkedIn
    channel.publish(make_post(channel, "The next day"))
    assert len(linkedin.posts()) == 2


def test_LI_429_retry_after(
    channel: LinkedInChannel, linkedin: FakeLinkedIn, make_post: Callable[..., OutgoingPost]
) -> None:
    linkedin.fail_next("rate_limit", path="/rest/posts", retry_after="120")
    with pytest.raises(RetryableError) as caught:
        channel.publish(make_post(channel, "Throttled"))
    assert caught.value.retry_after == 120
    assert linkedin.posts() == []


@pytest.mark.parametrize("status", [500, 503, 504])
def test_LI_5xx(
    channel: LinkedInChannel,
    linkedin: FakeLinkedIn,
    make_post: Callable[..., OutgoingPost],
    status: int,
) -> None:
    linkedin.fail_next("5xx", status=status, path="/rest/posts", method="POST")
    with pytest.raises(AmbiguousError, match="may have been published"):
        channel.publish(make_post(channel, "Server trouble"))
    # Created, then failed: still ambiguous, and find() settles it.
    post = make_post(channel, "Created, then 500")
    linkedin.fail_next("fail_after_create", path="/rest/posts", method="POST")
    with pytest.raises(AmbiguousError):
        channel.publish(post)
    assert channel.find(post) is not None


def test_LI_5xx_upload(
    channel: LinkedInChannel,
    linkedin: FakeLinkedIn,
    make_post: Callable[..., OutgoingPost],
    image: Callable[..., Media],
) -> None:
    for path in ("/rest/images", "/dms-uploads/"):
        linkedin.fail_next("5xx", status=503, path=path)
        with pytest.raises(RetryableError, match="nothing was published"):
            channel.publish(make_post(channel, "Upload trouble", media=(image(),)))
    assert linkedin.posts() == []


def test_LI_read_timeout(
    channel: LinkedInChannel, linkedin: FakeLinkedIn, make_post: Callable[..., OutgoingPost]
) -> None:
    post = make_post(channel, "Slow to answer")
    linkedin.fail_next("slow", path="/rest/posts", method="POST", delay=1.0)
    with pytest.raises(AmbiguousError, match="no answer in time after sending"):
        channel.publish(post)
    found = channel.find(post)
    assert found is not None and found.remote_id == linkedin.posts()[0]["id"]


def test_LI_upload_timeout(
    channel: LinkedInChannel,
    linkedin: FakeLinkedIn,
    make_post: Callable[..., OutgoingPost],
    image: Callable[..., Media],
) -> None:
    linkedin.fail_next("slow", path="/dms-uploads/", delay=1.0)
    with pytest.raises(RetryableError, match="no answer in time; nothing was published"):
        channel.publish(make_post(channel, "Slow upload", media=(image(),)))
    assert linkedin.posts() == []


@pytest.mark.parametrize("created", [False, True])
def test_LI_dropped(
    channel: LinkedInChannel,
    linkedin: FakeLinkedIn,
    make_post: Callable[..., OutgoingPost],
    created: bool,
) -> None:
    post = make_post(channel, "Dropped")
    linkedin.fail_next("drop", path="/rest/posts", method="POST", create=created)
    with pytest.raises(AmbiguousError, match="connection failed after sending"):
        channel.publish(post)
    assert (channel.find(post) is not None) is created


def test_LI_refused(
    channel_for: Callable[..., LinkedInChannel],
    refused_url: str,
    make_post: Callable[..., OutgoingPost],
) -> None:
    channel = channel_for(base_url=refused_url)
    with pytest.raises(RetryableError, match="could not connect"):
        channel.publish(make_post(channel, "Nobody listening"))


def test_LI_connect_timeout(
    channel_for: Callable[..., LinkedInChannel],
    unreachable_url: str,
    make_post: Callable[..., OutgoingPost],
) -> None:
    channel = channel_for(base_url=unreachable_url)
    with pytest.raises(RetryableError, match="could not connect in time"):
        channel.publish(make_post(channel, "Cannot connect"))


def test_LI_in_flight(
    channel: LinkedInChannel,
    channel_for: Callable[..., LinkedInChannel],
    linkedin: FakeLinkedIn,
    make_post: Callable[..., OutgoingPost],
) -> None:
    """A create still in flight is not there yet: find answers None, and the post lands
    after it. This is why the worker looks over a window counted from the request's start
    before it sends again (LinkedIn has no key that would recognise a second send)."""
    assert channel.resend_is_safe is False and channel.resend_window_seconds is None
    post = make_post(channel, "Still on its way")
    hold = linkedin.hold_next_create()
    outcome: list[object] = []
    sender = threading.Thread(target=lambda: outcome.append(channel_for(timeout=10).publish(post)))
    sender.start()
    assert hold.arrived.wait(10)
    assert channel.find(post) is None
    hold.release()
    sender.join(10)
    found = channel.find(post)
    assert found is not None and outcome == [found]


# -- looking up ------------------------------------------------------------------------------


def test_LI_find_found(
    channel: LinkedInChannel, linkedin: FakeLinkedIn, make_post: Callable[..., OutgoingPost]
) -> None:
    """Read back to not_before, page by page (CREATED order), matched once unescaped."""
    start = datetime.now(UTC)
    post = dataclasses.replace(make_post(channel, WELSH), not_before=start)
    sent = channel.publish(post)
    for n in range(3):
        linkedin.add_post(f"Made elsewhere #{n} (later)", created_at=datetime.now(UTC))
    channel.find_page_size = 2
    assert channel.find(post) == sent
    assert "sortBy=CREATED" in linkedin.requests[-1]["query"]
    assert "author=urn%3Ali%3Aorganization%3A2414183" in linkedin.requests[-1]["query"]
    assert linkedin.requests[-1]["headers"]["X-Restli-Method"] == "FINDER"


def test_LI_find_absent(
    channel: LinkedInChannel, linkedin: FakeLinkedIn, make_post: Callable[..., OutgoingPost]
) -> None:
    now = datetime.now(UTC)
    linkedin.add_post("An old post", created_at=now - timedelta(days=2))
    linkedin.add_post("A recent post", created_at=now - timedelta(minutes=1))
    post = dataclasses.replace(make_post(channel, "Never sent"), not_before=now)
    channel.find_page_size = 1
    assert channel.find(post) is None  # stopped at the post older than not_before
    assert calls(linkedin, "/rest/posts", "GET") == 2


def test_LI_find_unreadable(
    channel: LinkedInChannel, linkedin: FakeLinkedIn, make_post: Callable[..., OutgoingPost]
) -> None:
    post = make_post(channel, "Cannot look")
    linkedin.fail_next("5xx", path="/rest/posts", method="GET")
    with pytest.raises(AmbiguousError, match="cannot look the post up"):
        channel.find(post)
    linkedin.fail_next("rate_limit", path="/rest/posts", method="GET", retry_after="90")
    with pytest.raises(AmbiguousError) as caught:
        channel.find(post)
    assert caught.value.retry_after == 90
    start = datetime.now(UTC)
    for n in range(4):
        linkedin.add_post(f"Busy day {n}", created_at=datetime.now(UTC))
    channel.find_page_size, channel.find_pages = 1, 3
    with pytest.raises(AmbiguousError, match="more than 3 posts since"):
        channel.find(dataclasses.replace(post, not_before=start))


def test_LI_find_401(
    channel: LinkedInChannel, linkedin: FakeLinkedIn, make_post: Callable[..., OutgoingPost]
) -> None:
    linkedin.fail_next("revoked_token", path="/rest/posts", method="GET")
    with pytest.raises(AuthenticationError, match="revoked"):
        channel.find(make_post(channel, "Revoked"))


# -- the account -----------------------------------------------------------------------------


def test_LI_check(channel_for: Callable[..., LinkedInChannel], linkedin: FakeLinkedIn) -> None:
    channel = channel_for(
        linkedin.issue({ORGANIZATION: "CONTENT_ADMINISTRATOR", OTHER_ORGANIZATION: "ANALYST"})
    )
    assert channel.check() == "organisation 2414183 (role CONTENT_ADMINISTRATOR)"
    unknown = channel_for(app=False)
    assert "; token expiry unknown: set token_expires_at" in unknown.check()
    refreshing = channel_for(linkedin.issue(refresh=True))
    assert "refresh token expiry unknown: set token_expires_at" in refreshing.check()


def test_LI_check_no_role(
    channel_for: Callable[..., LinkedInChannel], linkedin: FakeLinkedIn
) -> None:
    channel = channel_for(
        linkedin.issue({ORGANIZATION: "ANALYST", OTHER_ORGANIZATION: "ADMINISTRATOR"})
    )
    with pytest.raises(
        AuthenticationError, match=r"no approved role .* 2414183 \(its roles there: ANALYST\)"
    ):
        channel.check()


def test_LI_check_403(channel_for: Callable[..., LinkedInChannel], linkedin: FakeLinkedIn) -> None:
    channel = channel_for(linkedin.issue(scope="r_organization_social,w_organization_social"))
    with pytest.raises(PermanentError, match="HTTP 403"):
        channel.check()


def test_LI_expiry_introspect(
    channel_for: Callable[..., LinkedInChannel], linkedin: FakeLinkedIn
) -> None:
    issued = linkedin.issue(expires_in=timedelta(days=9, hours=1))
    channel = channel_for(issued)
    expiry = channel.expires_at()
    assert expiry is not None and (expiry - datetime.now(UTC)).days == 9
    channel.expires_at()
    assert calls(linkedin, "/oauth/v2/introspectToken") == 1  # asked once per channel
    linkedin.expire(issued.access_token)
    expired = channel_for(issued).expires_at()
    assert expired is not None and expired < datetime.now(UTC)
    wrong = issued.credentials(linkedin) | {"client_secret": "not-the-secret-42"}
    with pytest.raises(PermanentError, match="client_id and client_secret"):
        channel_for(credentials=wrong).expires_at()


def test_LI_expiry_revoked(
    channel_for: Callable[..., LinkedInChannel], linkedin: FakeLinkedIn
) -> None:
    issued = linkedin.issue()
    linkedin.revoke(issued.access_token)
    with pytest.raises(AuthenticationError, match="is revoked"):
        channel_for(issued).expires_at()


def test_LI_expiry_setting(
    channel_for: Callable[..., LinkedInChannel], linkedin: FakeLinkedIn
) -> None:
    when = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
    assert channel_for(app=False, token_expires_at=when).expires_at() == when
    assert channel_for(app=False).expires_at() is None
    # With a refresh token the access token renews itself: the setting is the refresh token's.
    refreshing = channel_for(linkedin.issue(refresh=True), token_expires_at=when)
    assert refreshing.expires_at() == when
    assert calls(linkedin, "/oauth/v2/introspectToken") == 0


def test_LI_upload_host(
    channel: LinkedInChannel,
    linkedin: FakeLinkedIn,
    make_post: Callable[..., OutgoingPost],
    image: Callable[..., Media],
) -> None:
    """The bearer token goes only to LinkedIn's hosts (here, the fake standing in)."""
    assert channel._trusted(f"{linkedin.url}/dms-uploads/x")
    assert not channel._trusted("https://uploads.example.net/x")
    production = LinkedInChannel(
        "gwent-linkedin",
        AccountSettings(network="linkedin", handle=ORGANIZATION),
        {"access_token": "AQV-production-token"},
    )
    assert production._trusted("https://www.linkedin.com/dms-uploads/abc")
    assert not production._trusted("http://www.linkedin.com/dms-uploads/abc")
    assert not production._trusted("https://linkedin.com.example.net/x")
    assert production.rest_url == "https://api.linkedin.com/rest"
    assert production.oauth_url == "https://www.linkedin.com/oauth/v2"


# -- counting: lint and previews ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("ŵŷâ", 3),
        (unicodedata.normalize("NFD", "ŵŷâ"), 3),  # counted after NFC
        ("👨‍👩‍👧", 8),  # three emoji beyond the BMP (2 each) and two joiners
        ("Ffoniwch (101) #StopSiaradAmddiffyn", 35),  # escapes are not text
        ("https://www.gwent.police.uk/cy/cyngor/", 38),  # links letter by letter
    ],
)
def test_linkedin_counts_utf16_code_units(text: str, length: int) -> None:
    assert measure(text, "linkedin") == (length, 3000)
    assert len(plain(parse_little(little_text(text))).encode("utf-16-le")) // 2 >= length


def test_lint_and_previews_count_for_linkedin(tmp_path: Path) -> None:
    from campaign.lint import lint_text
    from posts import textviews
    from posts.models import Post
    from web import preview

    text = "👮" * 1499 + "abc"
    [problem] = [
        p for p in lint_text(text, networks=["linkedin"], language="cy") if p.rule == "length"
    ]
    assert problem.message == "Too long for LinkedIn: 3001 of 3000 (emoji count 2)."
    assert not [
        p for p in lint_text(text[:-1], networks=["linkedin"], language="cy") if p.rule == "length"
    ]
    settings = Settings(
        state_dir=tmp_path,
        accounts={"gwent-linkedin": {"network": "linkedin", "handle": ORGANIZATION}},
    )
    post = Post(
        id=9,
        campaign="c",
        occasion="tip/2027-01-04",
        account="gwent-linkedin",
        language="cy",
        title="Tip",
        network="linkedin",
        due_at=datetime(2027, 1, 4, 7, 30, tzinfo=UTC),
        text=text,
        media=[],
        tags=[],
        problems=[],
        state="draft",
    )
    (line,) = [r for r in textviews.preview(post, settings).splitlines() if "length:" in r]
    assert line.split("length:")[1].strip().startswith("LinkedIn 3001/3000 OVER")
    own = preview.card(post, settings).own_length
    assert own is not None and (own.network, own.used, own.limit, own.over) == (
        "linkedin",
        3001,
        3000,
        True,
    )


# -- settings, registry, secrets -------------------------------------------------------------


def test_handles_and_credentials(linkedin: FakeLinkedIn) -> None:
    account = AccountSettings(network="linkedin", handle="urn:li:organization:2414183")
    assert LinkedInChannel("l", account, {"access_token": "t-123456"}).organization == ORGANIZATION
    with pytest.raises(SettingsError, match="the organisation's id"):
        LinkedInChannel("l", account.replace(handle="@GwentPolice"), {"access_token": "t"})
    with pytest.raises(SettingsError, match="needs client_secret too"):
        LinkedInChannel("l", account, {"access_token": "t", "client_id": "c"})
    with pytest.raises(SettingsError, match="refresh_token needs the app's client_id"):
        LinkedInChannel("l", account, {"access_token": "t", "refresh_token": "r"})


def test_registry_builds_the_channel_from_the_environment_or_a_secrets_file(
    tmp_path: Path,
) -> None:
    settings = Settings(state_dir=tmp_path, linkedin_version="202604")
    account = AccountSettings(
        network="linkedin",
        handle=ORGANIZATION,
        dry_run=False,
        credentials={
            "access_token": "LI_TOKEN",
            "client_id": "LI_ID",
            "client_secret": "LI_SECRET",
        },
    )
    env = {"LI_TOKEN": "AQV-token-123456", "LI_ID": "client-1", "LI_SECRET": "secret-123456"}
    channel = registry_channel_for("gwent-linkedin", account, settings, environ=env)
    assert isinstance(channel, LinkedInChannel) and channel.version == "202604"
    assert channel._client_id == "client-1" and not channel.can_refresh
    with pytest.raises(SettingsError, match="LI_SECRET"):  # named: required
        registry_channel_for("gwent-linkedin", account, settings, environ={**env, "LI_SECRET": ""})
    secrets_file = tmp_path / "secrets.toml"
    secrets_file.write_text(
        '[gwent-linkedin]\naccess_token = "AQV-file-123456"\nrefresh_token = "AQX-file-123456"\n'
        'client_id = "client-2"\nclient_secret = "secret-file-123456"\n'
    )
    os.chmod(secrets_file, 0o600)
    from_file = account.replace(credentials={}, secrets_file=secrets_file)
    channel = registry_channel_for("gwent-linkedin", from_file, settings, environ={})
    assert isinstance(channel, LinkedInChannel) and channel.can_refresh
    only_token = account.replace(credentials={"access_token": "LI_TOKEN"})
    plain_channel = registry_channel_for("gwent-linkedin", only_token, settings, environ=env)
    assert isinstance(plain_channel, LinkedInChannel) and plain_channel._client_secret is None
    dry = AccountSettings(network="linkedin", handle=ORGANIZATION)
    assert isinstance(
        registry_channel_for("gwent-linkedin", dry, settings, environ={}), OutboxChannel
    )


def test_settings_check_the_version_and_the_expiry() -> None:
    with pytest.raises(ValueError, match="linkedin_version"):
        Settings(linkedin_version="2026-05")
    with pytest.raises(ValueError, match="time zone offset"):
        AccountSettings(
            network="linkedin", handle=ORGANIZATION, token_expires_at=datetime(2027, 1, 1)
        )


def test_no_token_in_any_message_repr_or_log(
    channel_for: Callable[..., LinkedInChannel],
    linkedin: FakeLinkedIn,
    make_post: Callable[..., OutgoingPost],
    image: Callable[..., Media],
    refused_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    issued = linkedin.issue(refresh=True)
    errors: list[BaseException] = []
    channels: list[LinkedInChannel] = []

    def attempt(call: Callable[..., Any], *args: Any) -> None:
        try:
            call(*args)
        except ChannelError as error:
            errors.append(error)

    with caplog.at_level(logging.DEBUG):  # urllib3's DEBUG output included
        channel = channel_for(issued)
        channels.append(channel)
        post = make_post(channel, "Poster (101)", media=(image(),))
        attempt(channel.check)
        attempt(channel.publish, post)
        attempt(channel.publish, post)  # duplicate
        attempt(channel.find, post)
        for kind in ("expired_token", "5xx", "slow", "drop", "rate_limit", "fail_after_create"):
            linkedin.fail_next(kind, path="/rest/posts")
            attempt(channel.publish, make_post(channel, f"Failing with {kind}"))
        linkedin.expire(issued.access_token)
        attempt(channel_for(issued).publish, make_post(channel, "Refreshed"))
        assert issued.refresh_token is not None
        linkedin.revoke(issued.refresh_token)
        broken = channel_for(issued)
        channels.append(broken)
        attempt(broken.publish, make_post(channel, "Refresh refused"))
        wrong = issued.credentials(linkedin) | {"client_secret": "wrong-client-secret-1"}
        attempt(channel_for(credentials=wrong, app=True).expires_at)
        gone = channel_for(issued, base_url=refused_url)
        channels.append(gone)
        attempt(gone.find, post)
        attempt(gone.check)

    assert len(errors) >= 8
    assert any(r.name.startswith("urllib3") for r in caplog.records)
    secrets = [
        *linkedin.tokens_of(issued.member),
        issued.refresh_token,
        linkedin.client_secret,
        "wrong-client-secret-1",
    ]
    shown = ["".join(traceback.format_exception(e)) + repr(e) + repr(e.__context__) for e in errors]
    shown += [repr(c) + str(c) for c in channels]
    shown += [r.getMessage() + (r.exc_text or "") for r in caplog.records]
    shown += [caplog.text]
    for text in shown:
        for secret in secrets:
            assert secret not in text
