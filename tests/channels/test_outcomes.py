"""``channels/outcomes.py``: waits (``Retry-After`` in both forms, reset times), HTTP
statuses, and the transport errors of ``requests`` and ``httpx`` made for real against
sockets on 127.0.0.1. Rows ``ANY-*`` of docs/error-outcomes.md are tested here by id."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest
import requests

from channels.outcomes import (
    cannot_tell,
    retry_after,
    seconds_until,
    sent_or_not,
    status_error,
    transport_error,
    wait_seconds,
)
from core.errors import (
    AmbiguousError,
    AuthenticationError,
    ChannelError,
    PermanentError,
    RetryableError,
)

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2027, 3, 18, 9, 0, tzinfo=UTC)  # Child Exploitation Awareness Day
T = NOW.timestamp()
SECRET = "EAAB-page-token-never-shown-123"


# -- Retry-After and reset times -----------------------------------------------------------


def test_ANY_retry_after_seconds() -> None:
    assert retry_after("120", now=T) == 120.0
    assert retry_after(" 0 ", now=T) == 0.0
    assert retry_after("1.5", now=T) == 1.5  # not RFC 9110, but the meaning is plain


def test_ANY_retry_after_date() -> None:
    later = NOW + timedelta(minutes=15)
    assert retry_after(format_datetime(later, usegmt=True), now=T) == 900.0
    # The two obsolete forms a recipient must still accept (RFC 9110 §5.6.7).
    assert retry_after("Thursday, 18-Mar-27 09:01:00 GMT", now=T) == 60.0
    assert retry_after("Thu Mar 18 09:02:00 2027", now=T) == 120.0


def test_ANY_retry_after_past_date_is_zero() -> None:
    earlier = NOW - timedelta(hours=1)
    assert retry_after(format_datetime(earlier, usegmt=True), now=T) == 0.0


@pytest.mark.parametrize("value", [None, "", "   ", "soon", "-5", "12 minutes", "0x10", "NaN"])
def test_ANY_retry_after_garbage_is_none(value: str | None) -> None:
    assert retry_after(value, now=T) is None


def test_seconds_until_a_reset_time() -> None:
    assert seconds_until(str(int(T) + 900), now=T) == 900.0
    assert seconds_until(T + 30.5, now=T) == 30.5
    assert seconds_until(str(int(T) - 60), now=T) == 0.0  # already past
    for garbage in (None, "", "tomorrow", "nan", "inf", float("nan")):
        assert seconds_until(garbage, now=T) is None


def test_wait_seconds_prefers_the_latest_readable_reset_then_retry_after() -> None:
    headers = {
        "x-a-reset": str(int(T) + 60),
        "x-b-reset": str(int(T) + 7200),
        "x-c-reset": "garbage",
        "retry-after": "5",
    }
    assert wait_seconds(headers, now=T, resets=("x-a-reset", "x-b-reset", "x-c-reset")) == 7200
    assert wait_seconds(headers, now=T, resets=("x-c-reset", "x-missing")) == 5.0
    date = {"Retry-After": format_datetime(NOW + timedelta(seconds=42), usegmt=True)}
    assert wait_seconds(requests.structures.CaseInsensitiveDict(date), now=T) == 42.0
    assert wait_seconds(httpx.Headers(date), now=T) == 42.0
    assert wait_seconds({}, now=T, resets=("x-a-reset",)) is None


# -- statuses --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "creates_post", "outcome"),
    [
        (401, True, AuthenticationError),
        (400, True, PermanentError),
        (403, False, PermanentError),
        (404, True, PermanentError),
        (422, True, PermanentError),
        (500, True, AmbiguousError),
        (502, True, AmbiguousError),
        (503, True, AmbiguousError),
        (500, False, RetryableError),
        (503, False, RetryableError),
        (302, True, AmbiguousError),
        (302, False, RetryableError),
    ],
)
def test_status_error(status: int, creates_post: bool, outcome: type[ChannelError]) -> None:
    error = status_error(f"x: publish: HTTP {status}", status, creates_post=creates_post, who="X")
    assert type(error) is outcome
    assert str(error).startswith(f"x: publish: HTTP {status}")


def test_ANY_429() -> None:
    error = status_error("facebook: post: HTTP 429", 429, creates_post=True, retry_after=60.0)
    assert isinstance(error, RetryableError) and error.retry_after == 60.0
    assert "rate limited" in str(error)


def test_ANY_408() -> None:
    # RFC 9110: the server did not receive the whole request, so nothing was created.
    error = status_error("mastodon: post: HTTP 408", 408, creates_post=True, who="the instance")
    assert type(error) is RetryableError and "nothing was published" in str(error)


def test_a_5xx_keeps_the_wait_it_asked_for() -> None:
    for creates_post in (True, False):
        error = status_error("x: HTTP 503", 503, creates_post=creates_post, retry_after=30.0)
        assert error.retry_after == 30.0


def test_sent_or_not() -> None:
    assert type(sent_or_not("x: odd", creates_post=True)) is AmbiguousError
    assert type(sent_or_not("x: odd", creates_post=False)) is RetryableError


# -- transport errors, for real ------------------------------------------------------------


class _Server:
    """A listener on 127.0.0.1 that reads a request, then stays silent or hangs up."""

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.received: list[bytes] = []
        self.done = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.done.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            with connection:
                connection.settimeout(2)
                with contextlib.suppress(OSError):
                    self.received.append(connection.recv(65536))
                if self.behaviour == "silent":
                    self.done.wait(3)
                # "hang-up": close without a byte of answer

    def close(self) -> None:
        self.done.set()
        self.listener.close()


@pytest.fixture
def server() -> Iterator[Callable[[str], _Server]]:
    made: list[_Server] = []

    def make(behaviour: str) -> _Server:
        made.append(_Server(behaviour))
        return made[-1]

    yield make
    for one in made:
        one.close()


@pytest.fixture
def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _requests_error(url: str, timeout: float = 0.3) -> BaseException:
    try:
        requests.post(f"{url}/feed?access_token={SECRET}", data={"m": "hi"}, timeout=timeout)
    except requests.RequestException as exc:
        return exc
    raise AssertionError("the request did not fail")


def _httpx_error(url: str, timeout: float = 0.3) -> BaseException:
    try:
        httpx.post(f"{url}/xrpc/x?access_token={SECRET}", content=b"hi", timeout=timeout)
    except httpx.HTTPError as exc:
        return exc
    raise AssertionError("the request did not fail")


CLIENTS = {"requests": _requests_error, "httpx": _httpx_error}


def _outcomes(exc: BaseException) -> tuple[ChannelError, ChannelError]:
    """(as a create, as an upload or read), after checking neither quotes the URL."""
    made = tuple(
        transport_error(exc, network="net", action="act", creates_post=creates)
        for creates in (True, False)
    )
    for error in made:
        assert SECRET not in str(error) and "127.0.0.1" not in str(error)
    return made[0], made[1]


@pytest.mark.parametrize("client", CLIENTS)
def test_transport_refused_is_not_sent(client: str, closed_port_url: str) -> None:
    create, read = _outcomes(CLIENTS[client](closed_port_url))
    for error in (create, read):
        assert type(error) is RetryableError
        assert "could not connect" in str(error) and "nothing was sent" in str(error)


@pytest.mark.parametrize("client", CLIENTS)
def test_transport_connect_timeout_is_not_sent(client: str, unreachable_url: str) -> None:
    create, read = _outcomes(CLIENTS[client](unreachable_url))
    for error in (create, read):
        assert type(error) is RetryableError and "could not connect in time" in str(error)


@pytest.mark.parametrize("client", CLIENTS)
def test_transport_read_timeout_after_sending(
    client: str, server: Callable[[str], _Server]
) -> None:
    silent = server("silent")
    create, read = _outcomes(CLIENTS[client](silent.url))
    assert silent.received and b"POST" in silent.received[0]  # it was sent
    assert type(create) is AmbiguousError and "no answer in time after sending" in str(create)
    assert type(read) is RetryableError and "nothing was published" in str(read)


@pytest.mark.parametrize("client", CLIENTS)
def test_transport_dropped_after_sending(client: str, server: Callable[[str], _Server]) -> None:
    hang_up = server("hang-up")
    create, read = _outcomes(CLIENTS[client](hang_up.url, timeout=2.0))
    assert hang_up.received and b"POST" in hang_up.received[0]
    assert type(create) is AmbiguousError and "connection failed after sending" in str(create)
    assert type(read) is RetryableError


@pytest.mark.parametrize("client", CLIENTS)
def test_ANY_bad_address(client: str) -> None:
    create, read = _outcomes(CLIENTS[client]("ftp://127.0.0.1:1"))
    for error in (create, read):
        assert type(error) is PermanentError and "api_base_url" in str(error)


def test_importing_outcomes_loads_no_http_library() -> None:
    code = (
        "import sys, channels.outcomes\n"
        "print(sorted(m for m in ('requests', 'httpx', 'urllib3') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "[]"


def test_a_look_up_that_cannot_read_cannot_tell() -> None:
    """Refused credentials stay what they are (the account is paused); any other failure
    of a look-up's read is "cannot tell", with the wait the network asked for."""
    with pytest.raises(AuthenticationError, match="token refused"), cannot_tell("threads"):
        raise AuthenticationError("threads: token refused")
    with pytest.raises(AmbiguousError) as caught, cannot_tell("facebook", "photo post"):
        raise RetryableError("facebook: read the photos: HTTP 429", retry_after=30.0)
    assert str(caught.value) == (
        "facebook: cannot look the photo post up (facebook: read the photos: HTTP 429)"
    )
    assert caught.value.retry_after == 30.0 and caught.value.__suppress_context__
    with cannot_tell("mastodon"):
        pass  # a read that worked: nothing raised
