"""What every strict fake network shares (``tests/fakes/*``, ``tests/fakeplatform.py``): a
werkzeug server on 127.0.0.1 in a thread, and the failures and holds tests ask for.

A fake subclasses ``FakeServer`` and keeps what is its network's own: its routes, its error
bodies (``_failure_answer``: ``answer``, ``5xx``, ``rate_limit``, ``expired_token``, and
the answer after ``fail_after_create``), and any fields its ``Failure`` adds.
"""

from __future__ import annotations

import http.client
import io
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, NoReturn, Self, TypeVar

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

#: The failures every fake can be asked for (``fail_next``).
KINDS = frozenset(
    {"5xx", "answer", "rate_limit", "slow", "drop", "expired_token", "fail_after_create"}
)


@dataclass
class Failure:
    """The next request matching ``path`` (a part of it) and ``method`` fails as ``kind``."""

    kind: str
    path: str = ""
    method: str = ""
    status: int = 0
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 2.0  # slow: seconds the answer comes after the request was done
    create: bool = False  # drop: after doing the request
    retry_after: int | str | None = None

    def matches(self, method: str, path: str) -> bool:
        return self.path in path and (not self.method or self.method.upper() == method)


@dataclass
class Hold:
    """A request kept waiting before it is done: ``arrived`` is set when it reaches the
    fake; it goes on once ``release()`` is called (or after ``timeout``)."""

    path: str = ""
    timeout: float = 30.0
    arrived: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)

    def release(self) -> None:
        self.released.set()

    def wait(self) -> None:
        self.arrived.set()
        self.released.wait(self.timeout)


# A header line of RFC 9110/9112: a token, a colon, the value between optional white space.
# No obs-fold (RFC 9112 §5.2: a server may reject it with a 400, as X's front end does).
_HEADER_LINE = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*(.*?)[ \t]*\r?\n")


class Dropped(ConnectionResetError):
    """Raised out of the app after shutting the socket: werkzeug treats it as a drop."""


class Quiet(WSGIRequestHandler):
    # The request log would quote query strings (a Graph GET carries the token).
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass

    def log_error(self, format: str, *args: Any) -> None:
        pass


class KeepAlive(Quiet):
    """HTTP/1.1 with persistent connections, for the benchmarks: werkzeug's own handler
    closes every connection, so each request cost a TCP connection on both sides and a new
    server thread. The body is read whole (``Content-Length``) before the app runs, so the
    next request on the connection starts where this one ends; a chunked or ``Expect``
    request is left to werkzeug (which then closes). The app and its checks are the same."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # no 40 ms wait for the client's delayed ACK
    # The Date header of the current second (formatting it was 2-3% of a request's CPU).
    _date: ClassVar[tuple[int, str]] = (0, "")

    def date_time_string(self, timestamp: float | None = None) -> str:
        if timestamp is not None:
            return super().date_time_string(timestamp)
        second = int(time.time())
        if KeepAlive._date[0] != second:
            KeepAlive._date = (second, super().date_time_string(second))
        return KeepAlive._date[1]

    def parse_request(self) -> bool:
        """http.server's, for a plain HTTP/1.1 request line, with the header lines read
        by ``_HEADER_LINE`` instead of the email package (40% of the fake's CPU a request
        went there). A line that is not a header is a 400; anything unusual in the request
        line is left to http.server."""
        line = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = line.split()
        if len(words) != 3 or words[2] != "HTTP/1.1" or words[1].startswith("//"):
            return bool(super().parse_request())
        self.command, self.path, self.request_version = words
        self.requestline, self.close_connection = line, False
        headers = http.client.HTTPMessage()
        for _ in range(http.client._MAXHEADERS + 1):
            raw = self.rfile.readline(http.client._MAXLINE + 1)
            if raw in (b"\r\n", b"\n", b""):
                break
            match = _HEADER_LINE.fullmatch(raw)
            if match is None:
                self.send_error(400, "Bad header line")
                return False
            headers[match[1].decode("iso-8859-1")] = match[2].decode("iso-8859-1")
        else:
            self.send_error(431, "Too many headers")
            return False
        self.headers = headers
        if headers.get("Connection", "").lower() == "close":
            self.close_connection = True
        if headers.get("Expect", "").lower() == "100-continue":
            return bool(self.handle_expect_100())
        return True

    def run_wsgi(self) -> None:
        if "Transfer-Encoding" in self.headers or "Expect" in self.headers:
            self.close_connection = True
            super().run_wsgi()
            return
        length = int(self.headers.get("Content-Length") or 0)
        environ = self.make_environ()
        environ["wsgi.input"] = io.BytesIO(self.rfile.read(length) if length else b"")
        answer: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc: Any = None) -> Any:
            answer[:] = [status, headers]
            return lambda data: None  # the legacy write(): none of ours calls it

        try:
            body = self.server.app(environ, start_response)
            try:
                data = b"".join(body)
            finally:
                if hasattr(body, "close"):
                    body.close()
        except (ConnectionError, TimeoutError):  # ``drop``, or the client went away
            self.close_connection = True
            return
        status, headers = answer
        code, _, reason = status.partition(" ")
        self.send_response(int(code), reason)
        for key, value in headers:
            if key.lower() not in ("content-length", "connection"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self._headers_buffer.append(b"\r\n" + data)  # the answer in one write
        self.flush_headers()


F = TypeVar("F", bound=Failure)


class FakeServer(Generic[F]):
    """Serving (``start()`` or ``with``; ``url``), ``fail_next`` and ``hold_next``. A
    subclass sets ``_lock``, ``failures`` and ``holds`` (its ``reset``) and ``wsgi``;
    ``F`` is its ``Failure`` (``failure_type``)."""

    #: the serving thread's name, and how often it looks for ``stop()`` (seconds)
    thread_name: ClassVar[str] = "fake"
    poll_interval: ClassVar[float] = 0.5
    #: the failures this fake takes, and their type (a network may add fields)
    kinds: ClassVar[Iterable[str]] = KINDS
    failure_type: type[F]
    #: what ``POST /_fake/control`` ``{"action": "set", …}`` may change (``_control``)
    settable: ClassVar[frozenset[str]] = frozenset()

    _lock: threading.RLock
    _server: BaseWSGIServer | None = None
    failures: list[F]
    holds: list[Hold]

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        raise NotImplementedError

    def start(self, host: str = "127.0.0.1", port: int = 0, *, keep_alive: bool = False) -> Self:
        """Serve in a thread; ``keep_alive``: persistent connections (``KeepAlive``)."""
        handler = KeepAlive if keep_alive else Quiet
        self._server = make_server(host, port, self.wsgi, threaded=True, request_handler=handler)
        threading.Thread(
            target=self._server.serve_forever,
            args=(self.poll_interval,),
            name=self.thread_name,
            daemon=True,
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start() if self._server is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the fake first"
        return self._server.server_port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- control ------------------------------------------------------------------------

    def fail_next(self, kind: str, count: int = 1, **options: Any) -> None:
        """Answer the next ``count`` matching requests with failure ``kind``."""
        if kind not in self.kinds:
            raise ValueError(f"unknown failure kind {kind!r}; one of {sorted(self.kinds)}")
        with self._lock:
            self.failures.extend(self.failure_type(kind, **options) for _ in range(count))

    def hold_next(self, path: str, timeout: float = 30.0) -> Hold:
        """Keep the next request on ``path`` waiting, not yet done, until ``release()``."""
        hold = Hold(path, timeout)
        with self._lock:
            self.holds.append(hold)
        return hold

    def state(self) -> dict[str, Any]:
        """Everything the fake holds, JSON-ready (``GET /_fake/state``)."""
        raise NotImplementedError

    def _control(self, request: Request) -> Response:
        """``GET /_fake/state``, and ``POST /_fake/control`` with ``{"action": "fail_next",
        "kind": …, …}``, ``{"action": "reset"}`` or ``{"action": "set", …}``: the fake
        driven from another process."""
        if request.path == "/_fake/state" and request.method == "GET":
            return json_response(200, self.state())
        if request.path != "/_fake/control" or request.method != "POST":
            return json_response(404, {"error": "no such control"})
        order = request.get_json(silent=True) or {}
        action = order.pop("action", "")
        try:
            if action == "fail_next":
                self.fail_next(order.pop("kind", ""), **order)
            elif action == "reset":
                self.reset()
            elif action == "set" and self.settable:
                for key, value in order.items():
                    if key not in self.settable:
                        raise ValueError(f"cannot set {key!r}; one of {sorted(self.settable)}")
                    setattr(self, key, value)
            else:
                return json_response(400, {"error": f"unknown action {action!r}"})
        except (TypeError, ValueError) as exc:
            return json_response(400, {"error": str(exc)})
        return json_response(200, {"ok": True})

    def reset(self) -> None:
        raise NotImplementedError

    # -- serving a request --------------------------------------------------------------

    def _on(self, part: str, path: str) -> bool:
        """Whether a hold's ``part`` names ``path`` (a fake may match more strictly)."""
        return part in path

    def _take(self, method: str, path: str) -> F | None:
        """The failure waiting for this request, taken off the list; first, if a hold waits
        for it, the request waits until it is released."""
        with self._lock:
            failure = next((f for f in self.failures if f.matches(method, path)), None)
            if failure is not None:
                self.failures.remove(failure)
            hold = next((h for h in self.holds if self._on(h.path, path)), None)
            if hold is not None:
                self.holds.remove(hold)
        if hold is not None:
            hold.wait()
        return failure

    def _failed(
        self,
        failure: F,
        environ: dict[str, Any],
        carry_out: Callable[[], Response],
        answer: Callable[[F], Response],
    ) -> Response:
        """What ``failure`` makes of a request: ``slow``, ``drop`` and ``fail_after_create``
        do it first (``carry_out``); every other kind is only the network's ``answer``."""
        if failure.kind == "slow":
            done = carry_out()  # done, but the answer comes too late
            time.sleep(failure.delay)
            return done
        if failure.kind == "drop":
            if failure.create:
                carry_out()
            drop(environ)
        if failure.kind == "fail_after_create":
            carry_out()
        return answer(failure)


def drop(environ: dict[str, Any]) -> NoReturn:
    """Close the request's connection without an answer."""
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        sock.shutdown(socket.SHUT_RDWR)
    raise Dropped("dropped on purpose")


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False),
        status=status,
        headers=headers or {},
        content_type="application/json; charset=utf-8",
    )
