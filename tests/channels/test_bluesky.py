"""Bluesky channel against a REAL Personal Data Server on 127.0.0.1.

The PDS is ``@atproto/dev-env`` (``tests/bluesky/pds.mjs``), started once per session by the
``bluesky_pds`` fixture; every test gets a fresh account. Without Node or the package these
tests skip, saying to run ``scripts/install-test-deps.sh``. Failures a network or a PDS
produces on its own (5xx, timeouts, rate limits) come from ``FlakyTransport`` in front of the
real server: the request reaches the PDS (or not) and the answer is replaced or lost.

Each ``test_BSKY_*`` is the row of that id in ``docs/error-outcomes.md``.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import logging
import re
import shutil
import stat
import textwrap
import traceback
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from campaign.expand import expand
from campaign.loader import load_campaign
from channels.base import Media, OutgoingPost, Receipt
from channels.bluesky import BlueskyChannel, encode_tid, record_key
from channels.registry import channel_for
from core.clock import FakeClock
from core.errors import (
    AlreadyPublished,
    AmbiguousError,
    AuthenticationError,
    ChannelError,
    PermanentError,
    RetryableError,
)
from core.settings import AccountSettings, load_settings
from examples import EXAMPLE_CAMPAIGN as EXAMPLE
from posts.db import Database
from posts.models import Post
from posts.planning import store_drafts
from schedules.dispatch import Dispatcher
from tests.bluesky.pds import Account, BlueskyPds, FlakyTransport
from tests.fakeplatform import FakeConfig, FakePlatform
from tests.helpers import approve_all, who

ROOT = Path(__file__).resolve().parents[2]
TID = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")
LINK = "https://www.gwent.police.uk/advice/advice-and-information/caa/child-abuse/"
TIP = (
    "Siaradwch â'ch plant am eu bywyd ar-lein. Dŵr, tŷ, ŵyn 👨‍👩‍👧\n\n"
    f"Gwybodaeth: {LINK} neu ceop.police.uk.\n\n#StopioSiaradAmddiffyn #Diogelwch"
)
_post_ids = iter(range(1, 10**9))


@pytest.fixture
def flaky() -> Iterator[FlakyTransport]:
    transport = FlakyTransport()
    yield transport
    transport.close()


@pytest.fixture
def channel(
    bluesky_channel_for: Callable[..., BlueskyChannel], flaky: FlakyTransport
) -> BlueskyChannel:
    return bluesky_channel_for(transport=flaky)


def post_for(
    channel: BlueskyChannel,
    text: str,
    *,
    media: tuple[Media, ...] = (),
    language: str = "cy",
    attempt: int = 1,
    post_id: int | None = None,
    resend_count: int = 0,
) -> OutgoingPost:
    post_id = post_id if post_id is not None else next(_post_ids)
    return OutgoingPost(
        post_id=post_id,
        attempt=attempt,
        account_name=channel.account_name,
        account=channel.account,
        language=language,
        text=text,
        media=media,
        content_hash=f"{post_id:064x}",
        resend_count=resend_count,
    )


def texts(pds: BlueskyPds, account: Account) -> list[str]:
    return [r["value"]["text"] for r in pds.records(account.did)]


def rkey_of(receipt: Receipt) -> str:
    return receipt.remote_id.rsplit("/", 1)[1]


def facet_spans(text: str, record: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(kind, what the byte range of the text shows, the link or tag) of every facet."""
    data = text.encode("utf-8")
    spans = []
    for facet in record.get("facets") or []:
        shown = data[facet["index"]["byteStart"] : facet["index"]["byteEnd"]].decode("utf-8")
        for feature in facet["features"]:
            kind = feature["$type"].rsplit("#", 1)[1]
            spans.append((kind, shown, feature.get("uri") or feature.get("tag") or ""))
    return spans


# -- record keys (no server) -----------------------------------------------------------------


def test_record_keys_are_valid_stable_tids(tmp_path: Path) -> None:
    account = AccountSettings(network="bluesky", handle="gwentpolice.bsky.social")
    channel = BlueskyChannel("gwent-bluesky", account, {"app_password": "app-pass-word"})
    first = post_for(channel, "A", post_id=7)
    key = record_key(first)
    assert TID.match(key) and record_key(first) == key
    assert record_key(dataclasses.replace(first, text="changed but same hash")) == key
    # Every attempt of the post lands on the same key: a second send meets the first.
    assert record_key(dataclasses.replace(first, attempt=2)) == key
    others = {
        record_key(dataclasses.replace(first, resend_count=1)),  # a person's resend
        record_key(dataclasses.replace(first, content_hash="f" * 64)),
        record_key(dataclasses.replace(first, post_id=8, content_hash=f"{8:064x}")),
    }
    assert key not in others and len(others) == 3
    # Keys sort by post id (one second of TID time per post id), whatever the resends.
    keys = [record_key(post_for(channel, "x", post_id=n, resend_count=9 - n)) for n in range(1, 9)]
    assert keys == sorted(keys) and all(TID.match(k) for k in keys)
    assert encode_tid(0, 0) == "2222222222222"
    assert encode_tid(2**53 - 1, 1023) == "bzzzzzzzzzzzz"
    with pytest.raises(ValueError):
        encode_tid(2**53, 0)
    channel.close()


# -- publishing ------------------------------------------------------------------------------


def test_BSKY_created(
    channel: BlueskyChannel,
    bluesky_pds: BlueskyPds,
    bluesky_account: Account,
    image: Callable[..., Media],
) -> None:
    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAMAAAACCAYAAACddGYaAAAAEUlEQVR4nGNgYPj/n4EBQgEAI+wD/Y1Qp6sA"
        "AAAASUVORK5CYII="
    )
    pictures = (
        image("rhiant.png", alt="Rhiant a phlentyn yn edrych ar ffôn gyda'i gilydd", data=png),
        image("poster.png", alt="A poster: stop, talk, protect"),
    )
    post = post_for(channel, TIP, media=pictures, language="cy")
    receipt = channel.publish(post)

    rkey = rkey_of(receipt)
    assert rkey == record_key(post)
    assert receipt.remote_id == f"at://{bluesky_account.did}/app.bsky.feed.post/{rkey}"
    assert receipt.url == f"https://bsky.app/profile/{bluesky_account.handle}/post/{rkey}"
    stored = bluesky_pds.record(bluesky_account.did, rkey)
    assert stored["cid"] == receipt.extra["cid"]
    record = stored["value"]
    assert record["text"].encode("utf-8") == TIP.encode("utf-8")  # byte for byte
    assert record["langs"] == ["cy"]
    assert sorted(facet_spans(TIP, record)) == sorted(
        [
            ("link", LINK, LINK),
            ("link", "ceop.police.uk", "https://ceop.police.uk"),
            ("tag", "#StopioSiaradAmddiffyn", "StopioSiaradAmddiffyn"),
            ("tag", "#Diogelwch", "Diogelwch"),
        ]
    )
    images = record["embed"]["images"]
    assert record["embed"]["$type"] == "app.bsky.embed.images"
    assert [i["alt"] for i in images] == [p.alt_text for p in pictures]
    assert images[0]["aspectRatio"] == {
        "$type": "app.bsky.embed.defs#aspectRatio",
        "width": 3,
        "height": 2,
    }
    for picture, embedded in zip(pictures, images, strict=True):
        assert embedded["image"]["mimeType"] == "image/png"
        blob = bluesky_pds.blob(bluesky_account.did, embedded["image"]["ref"]["$link"])
        assert blob == picture.path.read_bytes()


def test_mentions_become_facets_with_the_did(
    bluesky_channel_for: Callable[..., BlueskyChannel],
    bluesky_pds: BlueskyPds,
    bluesky_account: Account,
) -> None:
    friend = bluesky_pds.create_account("heddlugwent")
    channel = bluesky_channel_for()
    text = f"Diolch @{friend.handle} and @nobody-here.test"
    receipt = channel.publish(post_for(channel, text, language="cy+en"))
    record = bluesky_pds.record(bluesky_account.did, rkey_of(receipt))["value"]
    assert record["langs"] == ["cy", "en"]
    assert facet_spans(text, record) == [("mention", f"@{friend.handle}", "")]
    assert record["facets"][0]["features"][0]["did"] == friend.did


def test_BSKY_rkey_taken(
    channel: BlueskyChannel,
    bluesky_channel_for: Callable[..., BlueskyChannel],
    bluesky_pds: BlueskyPds,
    bluesky_account: Account,
    flaky: FlakyTransport,
) -> None:
    """A second send of the post (another attempt, another worker) finds its key taken:
    the PDS refuses the create, and the channel says it is already published, with the
    first record's URI and URL. Nothing new is created."""
    post = post_for(channel, TIP)
    first = channel.publish(post)
    with pytest.raises(AlreadyPublished) as again:
        channel.publish(dataclasses.replace(post, attempt=2))
    with pytest.raises(AlreadyPublished) as from_elsewhere:  # another worker, another session
        bluesky_channel_for().publish(dataclasses.replace(post, attempt=3))
    for caught in (again, from_elsewhere):
        assert caught.value.remote_id == first.remote_id and caught.value.url == first.url
    assert texts(bluesky_pds, bluesky_account) == [TIP]
    assert flaky.requests.count("com.atproto.repo.createRecord") == 2
    # A person's resend is a new request: a new key, a new record.
    resent = channel.publish(dataclasses.replace(post, attempt=4, resend_count=1))
    assert rkey_of(resent) != rkey_of(first)
    assert texts(bluesky_pds, bluesky_account) == [TIP, TIP]


def test_BSKY_5xx_found(
    channel: BlueskyChannel,
    bluesky_pds: BlueskyPds,
    bluesky_account: Account,
    flaky: FlakyTransport,
) -> None:
    flaky.fail_next("fail_after_create", path="createRecord")
    post = post_for(channel, TIP)
    receipt = channel.publish(post)
    assert rkey_of(receipt) == record_key(post) and receipt.extra["reconciled"] == "true"
    assert texts(bluesky_pds, bluesky_account) == [TIP]


def test_BSKY_5xx_absent(
    channel: BlueskyChannel,
    bluesky_pds: BlueskyPds,
    bluesky_account: Account,
    flaky: FlakyTransport,
) -> None:
    flaky.fail_next("5xx", path="createRecord")
    post = post_for(channel, TIP)
    with pytest.raises(RetryableError, match="nothing was published"):
        channel.publish(post)
    assert channel.find(post) is None
    assert texts(bluesky_pds, bluesky_account) == []
    # The worker's next attempt has the same key and goes through, once.
    receipt = channel.publish(dataclasses.replace(post, attempt=2))
    assert rkey_of(receipt) == record_key(post)
    assert texts(bluesky_pds, bluesky_account) == [TIP]


@pytest.mark.parametrize("status", [502, 504])
def test_BSKY_gateway(
    channel: BlueskyChannel,
    bluesky_pds: BlueskyPds,
    bluesky_account: Account,
    flaky: FlakyTransport,
    status: int,
) -> None:
    """A gateway's 5xx: the PDS behind it may still write the record. Not found yet is no
    proof, so it is ambiguous; find() with the same key settles it later."""
    flaky.fail_next("5xx", status=status, path="createRecord")
    post = post_for(channel, TIP)
    with pytest.raises(AmbiguousError, match="may have been published"):
        channel.publish(post)
    assert texts(bluesky_pds, bluesky_account) == []


def test_BSKY_5xx_read(
    channel: BlueskyChannel,
    bluesky_pds: BlueskyPds,
    bluesky_account: Account,
    flaky: FlakyTransport,
    image: Callable[..., Media],
) -> None:
    flaky.fail_next("5xx", path="uploadBlob")
    with pytest.raises(RetryableError):
        channel.publish(post_for(channel, "With an image", media=(image(),)))
    flaky.fail_next("5xx", path="getSession")
    with pytest.raises(RetryableError):
        channel.check()
    assert texts(bluesky_pds, bluesky_account) == []


def test_BSKY_400(
    channel: BlueskyChannel, bluesky_pds: BlueskyPds, bluesky_account: Account
) -> None:
    """The PDS validates the record against the lexicon: a bad language tag is refused."""
    with pytest.raises(PermanentError, match="HTTP 400 InvalidRequest"):
        channel.publish(post_for(channel, "Refused", language="not a language"))
    assert texts(bluesky_pds, bluesky_account) == []


def test_BSKY_429(
    channel: BlueskyChannel,
    bluesky_pds: BlueskyPds,
    bluesky_account: Account,
    flaky: FlakyTransport,
) -> None:
    flaky.fail_next("rate_limit", path="createRecord", reset_in=1800)
    with pytest.raises(RetryableError) as caught:
        channel.publish(post_for(channel, "Limited"))
    assert caught.value.retry_after == pytest.approx(1800, abs=2)
    assert texts(bluesky_pds, bluesky_account) == []
    assert flaky.requests.count("com.atproto.repo.getRecord") == 0  # a 429 created nothing


def test_BSKY_429_login(
    bluesky_channel_for: Callable[..., BlueskyChannel],
    bluesky_pds: BlueskyPds,
    bluesky_account: Account,
) -> None:
    """The PDS's own limit on createSession (30 per 5 minutes for a handle), real headers."""
    with httpx.Client(base_url=bluesky_pds.url, timeout=30) as http:
        for _ in range(30):
            http.post(
                "/xrpc/com.atproto.server.createSession",
                json={"identifier": bluesky_account.handle, "password": "wrong-password-x"},
            )
    channel = bluesky_channel_for()
    with pytest.raises(RetryableError, match="rate limited") as caught:
        channel.publish(post_for(channel, "After too many logins"))
    assert caught.value.retry_after is not None and 0 < caught.value.retry_after <= 300


def _session_string(account: Account, pds: BlueskyPds, access: str, refresh: str) -> str:
    return ":::".join([account.handle, account.did, access, refresh, pds.url])


def _jwt(payload: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        raw = json.dumps(value).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256', 'typ': 'at+jwt'})}.{part(payload)}.c2lnbmF0dXJl"


@pytest.mark.parametrize("expired", [False, True], ids=["revoked", "expired"])
def test_BSKY_session_expired(
    bluesky_channel_for: Callable[..., BlueskyChannel],
    bluesky_pds: BlueskyPds,
    bluesky_account: Account,
    flaky: FlakyTransport,
    tmp_path: Path,
    expired: bool,
) -> None:
    """A stored session the PDS no longer takes (a revoked token; an expired one whose
    refresh is refused): logged in again once with the app password, then it posts."""
    now = int(datetime.now(UTC).timestamp())
    access = _jwt({"scope": "com.atproto.appPass", "sub": bluesky_account.did,
                   "exp": now - 60 if expired else now + 3600})  # fmt: skip
    refresh = _jwt({"scope": "com.atproto.refresh", "sub": bluesky_account.did, "exp": now + 10**6})
    session_file = tmp_path / "sessions" / "gwent-bluesky.bluesky.json"
    session_file.parent.mkdir()
    session_file.write_text(
        json.dumps(
            {
                "service": bluesky_pds.url,
                "handle": bluesky_account.handle,
                "session": _session_string(bluesky_account, bluesky_pds, access, refresh),
            }
        )
    )
    session_file.chmod(0o600)
    channel = bluesky_channel_for(transport=flaky, session_file=session_file)
    channel.publish(post_for(channel, "After a new login"))
    assert texts(bluesky_pds, bluesky_account) == ["After a new login"]
    assert flaky.requests.count("com.atproto.server.createSession") == 1
    kept = json.loads(session_file.read_text())["session"]
    assert access not in kept and refresh not in kept  # the new session replaced it
    assert stat.S_IMODE(session_file.stat().st_mode) == 0o600


def test_an_unreadable_session_file_means_a_new_login(
    bluesky_channel_for: Callable[..., BlueskyChannel],
    bluesky_pds: BlueskyPds,
    bluesky_account: Account,
    flaky: FlakyTransport,
    tmp_path: Path,
) -> None:
    session_file = tmp_path / "gwent-bluesky.bluesky.json"
    for content in (
        "not json",
        json.dumps(
            {
                "service": bluesky_pds.url,
                "handle": bluesky_account.handle,
                "session": "a:::b:::not-a-jwt:::nor-this",
            }
        ),
    ):
        session_file.write_text(content)
        session_file.chmod(0o600)
        channel = bluesky_channel_for(transport=flaky, session_file=session_file)
        assert channel.check().startswith(f"@{bluesky_account.handle}")
        channel.close()
    assert flaky.requests.count("com.atproto.server.createSession") == 2


def test_the_session_is_reused_between_posts_and_restarts(
    bluesky_channel_for: Callable[..., BlueskyChannel],
    bluesky_pds: BlueskyPds,
    bluesky_account: Account,
    flaky: FlakyTransport,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    session_file = tmp_path / "state" / "sessions" / "gwent-bluesky.bluesky.json"
    with caplog.at_level(logging.DEBUG):
        channel = bluesky_channel_for(transport=flaky, session_file=session_file)
        for n in range(3):
            channel.publish(post_for(channel, f"Post {n}"))
        channel.close()
        restarted = bluesky_channel_for(transport=flaky, session_file=session_file)
        restarted.publish(post_for(restarted, "After a restart"))
        restarted.check()
    assert flaky.requests.count("com.atproto.server.createSession") == 1
    assert len(texts(bluesky_pds, bluesky_account)) == 4
    assert stat.S_IMODE(session_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(session_file.parent.stat().st_mode) == 0o700
    tokens = json.loads(session_file.read_text())["session"].split(":::")[2:4]
    logged = caplog.text + "".join(r.getMessage() for r in caplog.records)
    for secret in [*tokens, bluesky_account.app_password]:
        assert secret not in logged


def test_a_session_file_others_can_read_is_ignored(
    bluesky_channel_for: Callable[..., BlueskyChannel],
    bluesky_account: Account,
    flaky: FlakyTransport,
    tmp_path: Path,
) -> None:
    session_file = tmp_path / "gwent-bluesky.bluesky.json"
    first = bluesky_channel_for(transport=flaky, session_file=session_file)
    first.check()
    session_file.chmod(0o644)
    bluesky_channel_for(transport=flaky, session_file=session_file).check()
    assert flaky.requests.count("com.atproto.server.createSession") == 2


def test_BSKY_login_refused(
    bluesky_channel_for: Callable[..., BlueskyChannel], bluesky_pds: BlueskyPds
) -> None:
    channel = bluesky_channel_for(app_password="wrong-app-password-1")
    with pytest.raises(AuthenticationError, match="app password") as caught:
        channel.publish(post_for(channel, "Not with that password"))
    assert "wrong-app-password-1" not in str(caught.value)


def test_BSKY_session_refused_twice(
    channel: BlueskyChannel,
    bluesky_pds: BlueskyPds,
    bluesky_account: Account,
    flaky: FlakyTransport,
) -> None:
    channel.check()
    flaky.fail_next("expired_token", count=2, path="createRecord")
    with pytest.raises(AuthenticationError, match="refused a session it had just created"):
        channel.publish(post_for(channel, "Refused twice"))
    assert flaky.requests.count("com.atproto.server.createSession") == 2
    assert texts(bluesky_pds, bluesky_account) == []


def test_BSKY_403(channel: BlueskyChannel, flaky: FlakyTransport) -> None:
    flaky.fail_next(
        "answer",
        status=403,
        body={"error": "AccountTakedown", "message": "Account has been taken down"},
        path="createRecord",
    )
    with pytest.raises(AuthenticationError, match="AccountTakedown"):
        channel.publish(post_for(channel, "Taken down"))


def test_BSKY_read_timeout(
    channel: BlueskyChannel,
    bluesky_pds: BlueskyPds,
    bluesky_account: Account,
    flaky: FlakyTransport,
) -> None:
    """No answer in time and no record (yet): it may still land, so ambiguous; find() with
    the same key settles it."""
    flaky.fail_next("timeout", path="createRecord")
    post = post_for(channel, TIP)
    with pytest.raises(AmbiguousError, match="no answer in time"):
        channel.publish(post)
    assert channel.find(post) is None


def test_BSKY_timeout_found(
    channel: BlueskyChannel,
    bluesky_pds: BlueskyPds,
    bluesky_account: Account,
    flaky: FlakyTransport,
) -> None:
    flaky.fail_next("timeout_after", path="createRecord")
    receipt = channel.publish(post_for(channel, TIP))
    assert receipt.extra["reconciled"] == "true"
    assert texts(bluesky_pds, bluesky_account) == [TIP]


def test_BSKY_dropped(
    channel: BlueskyChannel,
    bluesky_pds: BlueskyPds,
    bluesky_account: Account,
    flaky: FlakyTransport,
) -> None:
    flaky.fail_next("drop_after", path="createRecord")
    receipt = channel.publish(post_for(channel, TIP))
    assert receipt.extra["reconciled"] == "true"
    flaky.fail_next("drop_after", path="createRecord")
    flaky.fail_next("5xx", path="getRecord")
    with pytest.raises(AmbiguousError, match="cannot be looked up"):
        channel.publish(post_for(channel, "Dropped, and the look-up fails"))
    assert texts(bluesky_pds, bluesky_account) == [TIP, "Dropped, and the look-up fails"]


def test_BSKY_refused(bluesky_channel_for: Callable[..., BlueskyChannel], refused_url: str) -> None:
    channel = bluesky_channel_for(base_url=refused_url)
    with pytest.raises(RetryableError, match="could not connect"):
        channel.publish(post_for(channel, "Nobody there"))


def test_BSKY_connect_timeout(
    bluesky_channel_for: Callable[..., BlueskyChannel], unreachable_url: str
) -> None:
    channel = bluesky_channel_for(base_url=unreachable_url, timeout=0.5)
    with pytest.raises(RetryableError, match="nothing was sent"):
        channel.publish(post_for(channel, "Cannot connect"))


def test_BSKY_too_long(channel: BlueskyChannel, flaky: FlakyTransport) -> None:
    with pytest.raises(PermanentError, match="301 characters"):
        channel.publish(post_for(channel, "ŵ" * 301))
    assert flaky.requests == []
    channel.publish(post_for(channel, "ŵ" * 299 + "👨‍👩‍👧"))  # 300 graphemes: fits


def test_BSKY_image_unreadable(
    channel: BlueskyChannel,
    flaky: FlakyTransport,
    image: Callable[..., Media],
    tmp_path: Path,
) -> None:
    missing = Media(tmp_path / "missing.png", "A missing picture", "0" * 64)
    with pytest.raises(PermanentError, match="cannot read image"):
        channel.publish(post_for(channel, "x", media=(image(), missing)))
    five = tuple(image(f"{n}.png") for n in range(5))
    with pytest.raises(PermanentError, match="at most 4 images"):
        channel.publish(post_for(channel, "x", media=five))
    big = image("big.png", data=b"\x89PNG\r\n\x1a\n" + b"\0" * 1_000_000)
    with pytest.raises(PermanentError, match="at most 1,000,000"):
        channel.publish(post_for(channel, "x", media=(big,)))
    assert flaky.requests == []  # checked before any request


# -- find and check --------------------------------------------------------------------------


def test_BSKY_find_found(channel: BlueskyChannel) -> None:
    post = post_for(channel, TIP)
    receipt = channel.publish(post)
    # Any attempt of the post, and a send after a person's resend, finds the record.
    for asked in (post, dataclasses.replace(post, attempt=5, resend_count=2)):
        found = channel.find(asked)
        assert found is not None
        assert found.remote_id == receipt.remote_id and found.url == receipt.url


def test_BSKY_find_absent(channel: BlueskyChannel, flaky: FlakyTransport) -> None:
    sent = post_for(channel, TIP)
    channel.publish(sent)
    assert channel.find(post_for(channel, "Never sent")) is None
    # Edited before it was sent: other content, another key.
    assert channel.find(dataclasses.replace(sent, text="Edited", content_hash="e" * 64)) is None
    # Resent twice and never there: every key of the post was looked at.
    unsent = post_for(channel, "Never sent either", resend_count=2)
    assert channel.find(unsent) is None
    assert flaky.requests.count("com.atproto.repo.getRecord") == 1 + 1 + 3


def test_BSKY_find_unreadable(channel: BlueskyChannel, flaky: FlakyTransport) -> None:
    flaky.fail_next("rate_limit", path="getRecord", reset_in=90)
    with pytest.raises(AmbiguousError) as caught:
        channel.find(post_for(channel, "x"))
    assert caught.value.retry_after == pytest.approx(90, abs=2)


def test_BSKY_find_other_text(channel: BlueskyChannel) -> None:
    """Our key holds other text (another database's post with the same id, attempt and
    content hash): never taken for ours."""
    post = post_for(channel, "The first text")
    channel.publish(post)
    with pytest.raises(AmbiguousError, match="other text"):
        channel.find(dataclasses.replace(post, text="Another text"))


def test_BSKY_check(channel: BlueskyChannel, bluesky_account: Account) -> None:
    assert channel.check() == f"@{bluesky_account.handle} ({bluesky_account.did})"


def test_no_secret_in_any_message_repr_or_log(
    bluesky_channel_for: Callable[..., BlueskyChannel],
    bluesky_account: Account,
    flaky: FlakyTransport,
    refused_url: str,
    caplog: pytest.LogCaptureFixture,
    image: Callable[..., Media],
) -> None:
    errors: list[BaseException] = []

    def attempt(call: Callable[..., Any], *args: Any) -> None:
        try:
            call(*args)
        except ChannelError as error:
            errors.append(error)

    with caplog.at_level(logging.DEBUG):
        channel = bluesky_channel_for(transport=flaky)
        post = post_for(channel, "Poster", media=(image(),))
        attempt(channel.check)
        attempt(channel.publish, post)
        for kind in ("5xx", "rate_limit", "timeout", "fail_after_create", "expired_token"):
            flaky.fail_next(kind, path="createRecord")
            attempt(channel.publish, post_for(channel, f"Failing with {kind}"))
        wrong = bluesky_channel_for(app_password="wrong-app-password-2")
        attempt(wrong.publish, post_for(wrong, "With a wrong password"))
        gone = bluesky_channel_for(base_url=refused_url)
        attempt(gone.find, post)
    session = channel._session or ""
    secrets = [
        bluesky_account.app_password,
        bluesky_account.password,
        "wrong-app-password-2",
        *session.split(":::")[2:4],
    ]
    assert len(errors) >= 5 and all(len(s) > 10 for s in secrets)
    shown = ["".join(traceback.format_exception(e)) + repr(e) for e in errors]
    shown += [repr(c) + str(c) for c in (channel, wrong, gone)]
    shown += [r.getMessage() + (r.exc_text or "") for r in caplog.records] + [caplog.text]
    for text in shown:
        for secret in secrets:
            assert secret not in text


# -- the example campaign through the worker -------------------------------------------------


def _settings(tmp_path: Path, pds: BlueskyPds, platform: FakePlatform) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            state_dir = "state"
            [worker]
            threads = 2
            request_timeout_seconds = 10
            [accounts.gwent-x]
            network = "x"
            handle = "@GwentPolice"
            languages = ["en", "cy"]
            [accounts.gwent-facebook]
            network = "facebook"
            handle = "GwentPolice"
            languages = ["en", "cy"]
            [accounts.gwent-bluesky]
            network = "bluesky"
            handle = "REPLACED"
            languages = ["en", "cy"]
            dry_run = false
            api_base_url = "{pds.url}"
            credentials = {{ app_password = "TEST_BLUESKY_APP_PASSWORD" }}
            [accounts.gwent-mastodon]
            network = "mastodon"
            handle = "@GwentPolice@mastodon.social"
            languages = ["en", "cy"]
            dry_run = false
            api_base_url = "{platform.url}"
            credentials = {{ access_token = "TEST_MASTODON_TOKEN" }}
            """
        ),
        encoding="utf-8",
    )
    return config


def _run_example(
    tmp_path: Path,
    pds: BlueskyPds,
    account: Account,
    platform: FakePlatform,
    fake_config: FakeConfig,
    days: list[date],
    folder: Path,
) -> tuple[list[Post], list[Post]]:
    """Plan the campaign in ``folder`` on ``days``, approve what lints clean, and let the
    worker publish it: Bluesky to the real PDS, Mastodon to the fake, X and Facebook dry run."""
    config = _settings(tmp_path, pds, platform)
    config.write_text(config.read_text().replace("REPLACED", account.handle))
    settings = load_settings(config, environ={})
    env = {
        "TEST_BLUESKY_APP_PASSWORD": account.app_password,
        "TEST_MASTODON_TOKEN": fake_config.masto_credentials()["access_token"],
    }
    db = Database(settings.database_url)
    db.ensure_schema()
    clock = FakeClock(datetime(2027, 1, 1, tzinfo=UTC))
    campaign = load_campaign(folder)
    drafts = [d for day in days for d in expand(campaign, settings, start=day, end=day)]
    store_drafts(db, drafts, actor=who("alice"), now=clock.now())
    with db.transaction() as s:
        clean = [
            p.id
            for p in s.scalars(select(Post).order_by(Post.id))
            if not any(problem.get("level") == "error" for problem in p.problems or [])
        ]
    approve_all(db, clean, clock.now())
    dispatcher = Dispatcher(
        db,
        settings,
        lambda name: channel_for(name, settings.account(name), settings, environ=env),
        clock,
        owner="test-worker",
    )
    try:
        with db.transaction() as s:
            due = sorted({p.due_at for p in s.scalars(select(Post).where(Post.id.in_(clean)))})
        for when in due:
            clock.set(when)
            # An account's posts go out one at a time, in order: a round per post.
            while dispatcher.run_round().claimed:
                dispatcher.wait()
    finally:
        dispatcher.shutdown()
    with db.transaction() as s:
        posts = list(s.scalars(select(Post).order_by(Post.due_at, Post.id)))
        for post in posts:
            s.expunge(post)
    db.dispose()
    bluesky = [p for p in posts if p.account == "gwent-bluesky" and p.id in clean]
    mastodon = [p for p in posts if p.account == "gwent-mastodon" and p.id in clean]
    return bluesky, mastodon


def _example_copy(tmp_path: Path, short_welsh_link: bool = False) -> Path:
    """The example campaign, published to Bluesky and Mastodon as well as X and Facebook
    (``short_welsh_link``: with the Welsh link https://www.gwent.police.uk/cy/)."""
    folder = tmp_path / "campaign"
    shutil.copytree(EXAMPLE, folder)
    toml = folder / "campaign.toml"
    text = re.sub(  # the campaign's accounts, and the series' (all four)
        r"^accounts = \[.*\]$",
        'accounts = ["gwent-x", "gwent-facebook", "gwent-bluesky", "gwent-mastodon"]',
        toml.read_text(),
        flags=re.M,
    )
    if short_welsh_link:
        welsh_link = re.compile(r'^(link = )"https://www\.gwent\.police\.uk/cy/[^"]*"$', re.M)
        text = welsh_link.sub(r'\1"https://www.gwent.police.uk/cy/"', text)
    toml.write_text(text)
    return folder


def _check_on_the_pds(pds: BlueskyPds, account: Account, posts: list[Post], folder: Path) -> None:
    campaign = load_campaign(folder)
    for post in posts:
        assert post.state == "published", (post.occasion, post.last_error)
        assert post.remote_id is not None and post.text is not None
        rkey = post.remote_id.rsplit("/", 1)[1]
        assert post.remote_id == f"at://{account.did}/app.bsky.feed.post/{rkey}"
        assert post.remote_url == f"https://bsky.app/profile/{account.handle}/post/{rkey}"
        record = pds.record(account.did, rkey)["value"]
        assert record["text"].encode("utf-8") == post.text.encode("utf-8")
        assert record["langs"] == [post.language]
        spans = facet_spans(post.text, record)
        link = str(campaign.variables(post.language)["link"])
        assert ("link", link, link) in spans
        tags = re.findall(r"#(\w+)", post.text.rsplit("\n", 1)[-1])
        assert tags and all(("tag", f"#{tag}", tag) in spans for tag in tags)
        for kind, shown, target in spans:  # every byte range shows what it points at
            if kind == "tag":
                assert shown == f"#{target}"
            else:
                assert target.endswith(shown.removeprefix("https://"))
        embedded = (record.get("embed") or {}).get("images") or []
        assert [i["alt"] for i in embedded] == [m["alt_text"] for m in post.media]
        for item, image in zip(post.media, embedded, strict=True):
            blob = pds.blob(account.did, image["image"]["ref"]["$link"])
            # The bytes planning put in the media library (posts name them by hash).
            assert hashlib.sha256(blob).hexdigest() == item["sha256"]


def test_the_example_campaign_through_the_worker(
    tmp_path: Path,
    bluesky_pds: BlueskyPds,
    bluesky_account: Account,
    platform: FakePlatform,
    fake_config: FakeConfig,
) -> None:
    """The example campaign's posts, on the day whose Welsh tip fits Bluesky's 300
    graphemes (on most days the long Welsh link makes it too long: the lint says so and
    those posts are not approved). Both languages on Bluesky and on Mastodon."""
    folder = _example_copy(tmp_path)
    bluesky, mastodon = _run_example(
        tmp_path, bluesky_pds, bluesky_account, platform, fake_config, [date(2027, 1, 7)], folder
    )
    assert sorted(p.language for p in bluesky) == ["cy", "en"]
    _check_on_the_pds(bluesky_pds, bluesky_account, bluesky, folder)
    assert len(bluesky_pds.records(bluesky_account.did)) == 2  # once each
    statuses = platform.md_statuses("GwentPolice")
    assert [s["text"] for s in statuses] == [p.text for p in mastodon]
    assert sorted(s["language"] for s in statuses) == ["cy", "en"]
    assert all(p.state == "published" and p.remote_url for p in mastodon)


def test_the_example_occasions_with_images_through_the_worker(
    tmp_path: Path,
    bluesky_pds: BlueskyPds,
    bluesky_account: Account,
    platform: FakePlatform,
    fake_config: FakeConfig,
) -> None:
    """A daily tip, Safer Internet Day and Child Exploitation Awareness Day (each with its
    image and alt text in each language), from a copy of the example campaign whose Welsh link is
    the short https://www.gwent.police.uk/cy/ so that every Welsh post fits Bluesky."""
    folder = _example_copy(tmp_path, short_welsh_link=True)
    days = [date(2027, 1, 4), date(2027, 2, 9), date(2027, 3, 18)]
    bluesky, mastodon = _run_example(
        tmp_path, bluesky_pds, bluesky_account, platform, fake_config, days, folder
    )
    occasions = [p.occasion.split("/")[0] for p in bluesky if p.language == "en"]
    assert occasions == ["daily-tip", "safer-internet-day", "daily-tip", "cea-day", "daily-tip"]
    assert len(bluesky) == 10 and sum(len(p.media) for p in bluesky) == 4
    _check_on_the_pds(bluesky_pds, bluesky_account, bluesky, folder)
    assert len(bluesky_pds.records(bluesky_account.did)) == len(bluesky)  # once each
    statuses = platform.md_statuses("GwentPolice")
    assert [s["text"] for s in statuses] == [p.text for p in mastodon]
    assert [s["language"] for s in statuses] == [p.language for p in mastodon]
    described = [platform.md_media(m)["description"] for s in statuses for m in s["media_ids"]]
    assert described == [m["alt_text"] for p in mastodon for m in p.media]
    assert len(described) == 4
