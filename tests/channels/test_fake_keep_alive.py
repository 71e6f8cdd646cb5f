"""The fake platform with persistent connections (``start(keep_alive=True)``, the
benchmarks' server): requests share one connection, each answered whole, and the fake's
checks and failures behave as on werkzeug's own server."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from channels.base import Media, OutgoingPost
from channels.x import XChannel
from core.errors import AmbiguousError, ChannelError
from core.settings import AccountSettings
from tests.fakeplatform import FakeConfig, FakePlatform


@pytest.fixture
def kept() -> Iterator[FakePlatform]:
    platform = FakePlatform(FakeConfig()).start(keep_alive=True)
    try:
        yield platform
    finally:
        platform.stop()


def _state(connection: http.client.HTTPConnection) -> dict[str, object]:
    connection.request("GET", "/_fake/state")
    answer = connection.getresponse()
    body = json.loads(answer.read())
    assert answer.status == 200
    return body


def test_requests_share_one_connection(kept: FakePlatform) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", kept.port, timeout=10)
    try:
        _state(connection)
        first = connection.sock
        assert first is not None  # not closed after the answer
        _state(connection)
        assert connection.sock is first
    finally:
        connection.close()


def test_x_posts_images_and_a_dropped_request_over_kept_connections(
    kept: FakePlatform,
) -> None:
    config = kept.config
    account = AccountSettings(
        network="x", handle="@GwentPolice", dry_run=False, api_base_url=kept.url
    )
    channel = XChannel("gwent-x", account, config.x_credentials("GwentPolice"), timeout=5)
    image = Media(Path("one.png"), "Poster", "", data=b"\x89PNG 1")

    def post(n: int, *media: Media) -> OutgoingPost:
        return OutgoingPost(n, 1, "gwent-x", account, "en", f"Post {n}", media=media)

    try:
        channel.publish(post(1, image))  # multipart upload, JSON metadata, JSON create
        channel.publish(post(2))  # the same connection: signatures still verified
        # Answered without reading the body: the next request must not start inside it.
        kept.fail_next("5xx", path="/2/tweets")
        with pytest.raises(ChannelError):
            channel.publish(post(9))
        kept.fail_next("drop", path="/2/tweets", create=True)
        with pytest.raises(AmbiguousError):
            channel.publish(post(3))
        channel.publish(post(4))  # a new connection after the dropped one
    finally:
        channel.close()
    posts = kept.x_posts("GwentPolice")
    assert [p["text"] for p in posts] == ["Post 1", "Post 2", "Post 3", "Post 4"]
    assert kept.x_media(posts[0]["media_ids"][0])["bytes"] == b"\x89PNG 1"
