"""HTTP plumbing shared by the ``requests``-based channels (X, Facebook; Mastodon later).

- ``ChannelSession``: a ``requests.Session`` where every request has a timeout (tweepy's
  ``Client`` passes none, and a stalled call would hang a worker thread) and a network's
  fixed host can be routed elsewhere (tests, sandboxes: ``api_base_url``). Routing
  happens before the request is prepared, so an OAuth 1.0a signature covers the URL
  actually sent.
- ``transport_error``: the one rule turning a failure to talk to the network into an
  outcome. Rows ``*-refused``, ``*-connect-timeout``, ``*-read-timeout`` and ``*-dropped``
  of ``docs/error-outcomes.md``.
- ``identify_duplicate``: a duplicate-content refusal, with the existing post's id when
  the network's recent posts show it.
"""

from __future__ import annotations

from collections.abc import Mapping

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProxyError

from core.errors import AlreadyPublished, AmbiguousError, ChannelError, RetryableError

from .base import Channel, OutgoingPost


class TimeoutAdapter(HTTPAdapter):
    """An adapter that applies ``timeout`` to every request that does not set its own."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def send(  # type: ignore[override]  # same parameters; only the default differs
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        return super().send(
            request,
            stream=stream,
            timeout=self.timeout if timeout is None else timeout,
            verify=verify,
            cert=cert,
            proxies=proxies,
        )


class ChannelSession(requests.Session):
    """A session with a default timeout and optional host routing (``{prefix: target}``)."""

    def __init__(self, timeout: float, routes: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.timeout = timeout
        self.routes = {k.rstrip("/"): v.rstrip("/") for k, v in (routes or {}).items()}
        adapter = TimeoutAdapter(timeout)
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def route(self, url: str) -> str:
        for prefix, target in self.routes.items():
            if url == prefix or url.startswith(prefix + "/"):
                return target + url[len(prefix) :]
        return url

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        if isinstance(request.url, str):
            request.url = self.route(request.url)
        return super().prepare_request(request)


def transport_error(
    exc: requests.RequestException, *, network: str, action: str, creates_post: bool
) -> ChannelError:
    """The outcome of a request that got no HTTP answer.

    ``creates_post``: whether the request, once received, would make something public.
    Only then is "sent but no answer" ambiguous; an unpublished upload or a read that
    timed out created nothing anyone can see, so it is simply retried.

    The message is ours, not the exception's: a ``requests`` message quotes the URL,
    and a URL may carry a token.
    """
    where = f"{network}: {action}"
    if isinstance(exc, requests.ConnectTimeout):
        return RetryableError(f"{where}: could not connect in time; nothing was sent")
    if isinstance(exc, requests.Timeout):
        if creates_post:
            return AmbiguousError(
                f"{where}: no answer in time after sending; it may have been published"
            )
        return RetryableError(f"{where}: no answer in time; nothing was published")
    if isinstance(exc, requests.ConnectionError) and _never_connected(exc):
        return RetryableError(f"{where}: could not connect ({_reason(exc)}); nothing was sent")
    if creates_post:
        return AmbiguousError(
            f"{where}: the connection failed after sending ({_reason(exc)}); "
            "it may have been published"
        )
    return RetryableError(f"{where}: the connection failed ({_reason(exc)}); nothing was published")


def _never_connected(exc: requests.ConnectionError) -> bool:
    """Whether the failure happened before a byte of the request could be sent."""
    if isinstance(exc, requests.exceptions.ProxyError | requests.exceptions.SSLError):
        return True  # refused by the proxy, or the TLS handshake failed: no request yet
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    # NewConnectionError covers refused connections and failed name look-ups.
    return isinstance(reason, NewConnectionError | ProxyError)


def _reason(exc: requests.RequestException) -> str:
    reason = exc.args[0] if exc.args else exc
    if isinstance(reason, MaxRetryError) and reason.reason is not None:
        reason = reason.reason
    if isinstance(reason, NewConnectionError):
        return "connection refused or host not found"
    # Class names only: exception texts quote URLs.
    name = type(reason).__name__
    inner = reason.args[1] if isinstance(reason, Exception) and len(reason.args) > 1 else None
    if isinstance(inner, Exception):
        name += f": {type(inner).__name__}"
    return name


def identify_duplicate(
    duplicate: AlreadyPublished, channel: Channel, post: OutgoingPost
) -> AlreadyPublished:
    """``duplicate`` with the existing post's id and URL if ``find`` can tell (best effort).

    Neither X nor Facebook says which post already holds the content; their recent posts
    may. A failure to look is not an error here: the duplicate answer stands on its own.
    """
    try:
        found = channel.find(post)
    except ChannelError:
        found = None
    if found is None:
        return duplicate
    return AlreadyPublished(str(duplicate), remote_id=found.remote_id, url=found.url)
