"""``/healthz`` and ``/metrics`` over real HTTP on 127.0.0.1 (an ephemeral port), fed by
the dispatcher with a fake clock and the fake channel."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from prometheus_client.parser import text_string_to_metric_families

from channels.fake import FakeChannel
from core.errors import AuthenticationError, PermanentError
from ops.service import Operations
from posts import holds
from posts.db import Database
from schedules.dispatch import Dispatcher
from tests.helpers import who
from tests.ops.conftest import ready_posts


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.headers["Content-Type"], answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(text: str, name: str, **labels: str) -> float | None:
    return samples(text).get((name, tuple(sorted(labels.items()))))


@pytest.fixture
def fake() -> FakeChannel:
    return FakeChannel()


@pytest.fixture
def ops(db, settings, clock) -> Iterator[Operations]:
    assert settings.health.port == 0  # tests: any free port
    operations = Operations(db, settings, notifiers=[], clock=clock)
    operations.start(BackgroundScheduler())
    assert operations.server is not None
    yield operations
    operations.stop()


@pytest.fixture
def dispatcher(db, settings, clock, fake, ops) -> Iterator[Dispatcher]:
    d = Dispatcher(db, settings, lambda account: fake, clock, owner="test", observers=[ops])
    yield d
    d.shutdown()


def _round(dispatcher: Dispatcher) -> None:
    dispatcher.run_round()
    dispatcher.wait()


def test_health_server_is_bound_to_loopback(ops: Operations) -> None:
    assert ops.server is not None
    assert ops.server.url.startswith("http://127.0.0.1:") and ops.server.port > 0
    status, _, _ = get(ops.server.url + "/nothing")
    assert status == 404


def test_healthz_reports_the_last_loop_and_the_database(
    db, settings, clock, tmp_path, ops, dispatcher
) -> None:
    url = ops.server.url + "/healthz"  # type: ignore[union-attr]
    status, content_type, body = get(url)
    assert status == 503 and content_type == "application/json"
    assert json.loads(body)["problems"] == ["no dispatch loop has run yet"]

    _round(dispatcher)
    status, _, body = get(url)
    health = json.loads(body)
    assert status == 200, body
    assert health["status"] == "ok" and health["database"] == "reachable"
    assert health["last_dispatch_loop"] == clock.now().isoformat()
    assert health["last_dispatch_loop_age_seconds"] == 0

    clock.advance(timedelta(seconds=settings.health.max_loop_age_seconds + 1))
    status, _, body = get(url)
    assert status == 503
    assert "the last dispatch loop was 121 s ago" in json.loads(body)["problems"][0]


def test_healthz_says_when_the_database_is_unreachable(settings, clock, tmp_path) -> None:
    broken = Database(f"sqlite:///{tmp_path}")  # a directory: SQLite cannot open it
    ops = Operations(broken, settings, notifiers=[], clock=clock)
    ops.start(BackgroundScheduler())
    try:
        ops.last_loop_at = clock.now()  # a loop ran; then the database went
        status, _, body = get(ops.server.url + "/healthz")  # type: ignore[union-attr]
        metrics = get(ops.server.url + "/metrics")[2]  # type: ignore[union-attr]
    finally:
        ops.stop()
        broken.dispose()
    health = json.loads(body)
    assert status == 503 and health["database"].startswith("unreachable")
    assert value(metrics, "publisher_database_up") == 0


def test_metrics_cover_the_queue_and_the_sends(
    db, settings, clock, tmp_path, fake, ops, dispatcher
) -> None:
    posts = ready_posts(
        db, settings, clock, tmp_path / "c", accounts='["gwent-x", "gwent-facebook"]'
    )
    x_posts = [p for p in posts if p.account == "gwent-x"]
    clock.set(x_posts[0].due_at + timedelta(seconds=2))
    _round(dispatcher)  # both accounts' first posts, 2 s late
    clock.set(x_posts[1].due_at)
    fake.fail_next(PermanentError("400 bad request"), AuthenticationError("401"))
    _round(dispatcher)  # one fails for good, the other account is paused
    holds.set_hold(db, actor=who("duty"), reason="incident", now=clock.now())

    status, content_type, text = get(ops.server.url + "/metrics")  # type: ignore[union-attr]
    assert status == 200 and content_type.startswith("text/plain")
    assert value(text, "publisher_posts", state="published") == 2
    assert value(text, "publisher_posts", state="failed") == 1
    assert value(text, "publisher_posts", state="retry_wait") == 1
    assert value(text, "publisher_posts", state="approved") == len(posts) - 4
    assert value(text, "publisher_posts", state="unknown") == 0
    for channel in ("gwent-x", "gwent-facebook"):
        assert value(text, "publisher_publish_results_total", channel=channel,
                     outcome="published") == 1
        assert value(text, "publisher_publish_duration_seconds_count", channel=channel) == 2
        assert value(text, "publisher_publish_lateness_seconds_count", channel=channel) == 1
        assert value(text, "publisher_publish_lateness_seconds_bucket", channel=channel,
                     le="5.0") == 1
        assert value(text, "publisher_publish_lateness_seconds_bucket", channel=channel,
                     le="1.0") == 0
    failures = {
        (dict(labels)["channel"], dict(labels)["outcome"]): v
        for (name, labels), v in samples(text).items()
        if name == "publisher_publish_failures_total"
    }
    assert sorted(failures.values()) == [1, 1]
    assert {outcome for _, outcome in failures} == {"permanent", "authentication"}
    paused = next(ch for (ch, outcome) in failures if outcome == "authentication")
    assert value(text, "publisher_holds_active", kind="hold") == 1
    assert value(text, "publisher_holds_active", kind="pause") == 1
    assert value(text, "publisher_paused_accounts") == 1
    assert value(text, "publisher_account_paused", account=paused) == 1
    assert value(text, "publisher_last_dispatch_loop_timestamp_seconds") == (
        clock.now().timestamp()
    )
    next_due = min(p.due_at for p in posts if p.due_at > clock.now())
    assert value(text, "publisher_next_due_timestamp_seconds") == next_due.timestamp()
    assert value(text, "publisher_database_up") == 1


def _raw(url: str, method: str) -> tuple[int, dict[str, str], bytes]:
    """One request on a raw socket: the status, the headers and every byte after them."""
    import socket
    from urllib.parse import urlsplit

    where = urlsplit(url)
    with socket.create_connection((where.hostname, where.port), timeout=10) as connection:
        connection.sendall(f"{method} {where.path} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, rest = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (h.split(":", 1) for h in header_lines)}
    return int(status_line.split()[1]), headers, rest


def test_head_healthz_answers_like_get_without_a_body(ops: Operations, dispatcher) -> None:
    url = ops.server.url + "/healthz"  # type: ignore[union-attr]
    for healthy in (False, True):
        if healthy:
            _round(dispatcher)
        got_status, got_headers, got_body = _raw(url, "GET")
        status, headers, body = _raw(url, "HEAD")
        assert got_status == (200 if healthy else 503)
        assert status == got_status and body == b""
        assert headers["content-type"] == got_headers["content-type"] == "application/json"
        assert int(headers["content-length"]) == len(got_body) > 0
    status, headers, body = _raw(ops.server.url + "/metrics", "HEAD")  # type: ignore[union-attr]
    assert status == 200 and body == b"" and int(headers["content-length"]) > 0


def test_the_server_sleeps_between_requests_and_stops_at_once(ops: Operations) -> None:
    """Idle, the server waits for a request without waking (its poll is an hour); stopping
    knocks, so the worker's shutdown does not wait for that hour."""
    import threading

    server = ops.server
    assert server is not None and server._thread is not None
    serving = server._thread
    assert get(server.url + "/nothing")[0] == 404  # still answers between the long waits
    stopped = threading.Thread(target=server.stop, daemon=True)
    stopped.start()
    stopped.join(60)  # a hang, not a timing: without the knock it would wait an hour
    assert not stopped.is_alive() and not serving.is_alive()
    ops.server = None
