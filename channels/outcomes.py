"""How a network's answer becomes an outcome: the rules every channel shares.

A channel first handles what only its network says (X's duplicate-content 403,
Facebook's error codes, Bluesky's session errors, a Mastodon 5xx it may resend with its
key) and hands everything else here. The outcomes are ``core.errors``' ``ChannelError``
subclasses; ``docs/error-outcomes.md`` lists them network by network.

Sent or not:
    A request that never reached the network (connection refused, host not found,
    connecting timed out, refused by a proxy or in the TLS handshake) created nothing:
    ``RetryableError``. One that may have reached it (no answer in time, the connection
    dropped, a 5xx) is ``AmbiguousError`` if it creates a post, else ``RetryableError``
    (an upload or a read makes nothing public). ``creates_post`` says which.
HTTP status (``status_error``):
    401 authentication; 408 and 429 retryable; any other 4xx permanent; 5xx as above.
Waiting (``retry_after``, ``seconds_until``, ``wait_seconds``):
    ``Retry-After`` in both of its forms (RFC 9110 §10.2.3: delta-seconds or an HTTP-date),
    and the reset times networks send as Unix seconds (X ``x-rate-limit-reset``, Bluesky
    ``ratelimit-reset``). A time in the past is 0 seconds; anything unreadable is ``None``
    (the worker's own backoff).
A look-up that cannot read (``cannot_tell``):
    ``AmbiguousError``, except refused credentials (``AuthenticationError``).
Transport errors (``transport_error``):
    of ``requests`` (X, Facebook, Mastodon) and ``httpx`` (Bluesky). Messages name
    exception classes only: a library's own text quotes the URL, and a URL may carry a
    token.

Importing this module loads neither library: an exception of one can only exist once it
is imported.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC
from email.utils import parsedate_to_datetime

from core.errors import (
    AmbiguousError,
    AuthenticationError,
    ChannelError,
    PermanentError,
    RetryableError,
)

# delta-seconds is 1*DIGIT; a fraction is tolerated (some servers send one).
_DELTA_SECONDS = re.compile(r"\d+(?:\.\d+)?")


# -- waiting --------------------------------------------------------------------------------


def retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds a ``Retry-After`` value asks to wait: delta-seconds (``120``) or an HTTP-date
    (``Wed, 21 Oct 2026 07:28:00 GMT``, and the obsolete RFC 850 and asctime forms).
    ``now``: Unix seconds. A date already past is 0; empty or unreadable is ``None``."""
    if not value or not value.strip():
        return None
    text = value.strip()
    if _DELTA_SECONDS.fullmatch(text):
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # asctime has no zone; an HTTP-date is always UTC
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def seconds_until(reset: str | float | None, *, now: float) -> float | None:
    """Seconds from ``now`` to ``reset``, a time in Unix seconds (``x-rate-limit-reset``,
    ``ratelimit-reset``). Past is 0; missing or unreadable is ``None``."""
    if reset is None or reset == "":
        return None
    try:
        moment = float(reset)
    except (TypeError, ValueError):
        return None
    if moment != moment or moment in (float("inf"), float("-inf")):  # NaN, infinities
        return None
    return max(0.0, moment - now)


def wait_seconds(
    headers: Mapping[str, str], *, now: float, resets: Iterable[str] = ()
) -> float | None:
    """How long an answer asks to wait: the latest of the ``resets`` headers (Unix
    seconds) that can be read, else ``Retry-After``, else ``None``."""
    waits = [
        wait for name in resets if (wait := seconds_until(headers.get(name), now=now)) is not None
    ]
    if waits:
        return max(waits)
    return retry_after(headers.get("retry-after"), now=now)


# -- answers --------------------------------------------------------------------------------


def sent_or_not(
    where: str, *, creates_post: bool, retry_after: float | None = None
) -> ChannelError:
    """An outcome that depends only on whether the request may have made a post."""
    if creates_post:
        return AmbiguousError(f"{where}; it may have been published", retry_after=retry_after)
    return RetryableError(f"{where}; nothing was published", retry_after=retry_after)


def status_error(
    where: str,
    status: int,
    *,
    creates_post: bool,
    who: str = "the network",
    retry_after: float | None = None,
) -> ChannelError:
    """The outcome of an HTTP status the network said nothing more specific about.

    ``where`` names the network, the action and the status (``x: publish the post: HTTP
    503``); ``who`` is the server in a sentence (``X``, ``the instance``); ``retry_after``
    the wait the answer asked for, kept on retryable and ambiguous outcomes.
    """
    if status == 401:
        return AuthenticationError(f"{where}: {who} does not accept the credentials")
    if status == 408:  # RFC 9110 §15.5.9: the server did not receive the whole request
        return RetryableError(
            f"{where}: {who} gave up waiting for the request; nothing was published",
            retry_after=retry_after,
        )
    if status == 429:
        return RetryableError(f"{where}: rate limited", retry_after=retry_after)
    if 400 <= status < 500:
        return PermanentError(f"{where}: refused")
    if 500 <= status < 600:
        if creates_post:
            return AmbiguousError(
                f"{where}: {who} failed after receiving the post; it may have been published",
                retry_after=retry_after,
            )
        return RetryableError(
            f"{where}: {who} is having trouble; nothing was published", retry_after=retry_after
        )
    return sent_or_not(f"{where}: unexpected answer", creates_post=creates_post)


# -- transport errors -----------------------------------------------------------------------


@contextmanager
def cannot_tell(network: str, what: str = "post") -> Iterator[None]:
    """Around a read of ``find``: refused credentials stay ``AuthenticationError``; any other
    ``ChannelError`` means the look-up cannot tell (``AmbiguousError``, with its wait)."""
    try:
        yield
    except AuthenticationError:
        raise
    except ChannelError as exc:
        raise AmbiguousError(
            f"{network}: cannot look the {what} up ({exc})", retry_after=exc.retry_after
        ) from None


def transport_error(
    exc: BaseException, *, network: str, action: str, creates_post: bool
) -> ChannelError:
    """The outcome of a request that got no HTTP answer (``requests`` or ``httpx``).

    ``creates_post``: whether the request, once received, would make something public.
    Only then is "sent but no answer" ambiguous; an unpublished upload or a read that
    timed out created nothing anyone can see, so it is simply retried.
    """
    where = f"{network}: {action}"
    kind = _kind(exc)
    if kind == "invalid":
        return PermanentError(
            f"{where}: cannot send to this address ({type(exc).__name__}); nothing was sent: "
            "check the account's api_base_url"
        )
    if kind == "connect-timeout":
        return RetryableError(f"{where}: could not connect in time; nothing was sent")
    if kind == "not-connected":
        return RetryableError(f"{where}: could not connect ({_reason(exc)}); nothing was sent")
    if kind == "read-timeout":
        if creates_post:
            return AmbiguousError(
                f"{where}: no answer in time after sending; it may have been published"
            )
        return RetryableError(f"{where}: no answer in time; nothing was published")
    if creates_post:
        return AmbiguousError(
            f"{where}: the connection failed after sending ({_reason(exc)}); "
            "it may have been published"
        )
    return RetryableError(f"{where}: the connection failed ({_reason(exc)}); nothing was published")


def _kind(exc: BaseException) -> str:
    """``invalid`` (the request cannot be made), ``connect-timeout``, ``not-connected``
    (nothing could be sent), ``read-timeout`` (sent, no answer in time) or ``dropped``."""
    if "requests" in sys.modules:
        import requests

        if isinstance(exc, requests.RequestException):
            return _requests_kind(exc)
    if "httpx" in sys.modules:
        import httpx

        if isinstance(exc, httpx.UnsupportedProtocol):
            return "invalid"
        if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
            return "connect-timeout"  # waiting for a pooled connection sends nothing either
        if isinstance(exc, httpx.ConnectError | httpx.ProxyError):
            return "not-connected"  # refused, host not found, TLS handshake failed
        if isinstance(exc, httpx.TimeoutException):
            return "read-timeout"  # ReadTimeout, WriteTimeout: bytes may have left
    return "dropped"


def _requests_kind(exc: BaseException) -> str:
    import requests
    from urllib3.exceptions import MaxRetryError, NewConnectionError, ProxyError

    invalid = (
        requests.exceptions.InvalidURL,
        requests.exceptions.MissingSchema,
        requests.exceptions.InvalidSchema,
    )
    if isinstance(exc, invalid):
        return "invalid"
    if isinstance(exc, requests.ConnectTimeout):
        return "connect-timeout"
    if isinstance(exc, requests.Timeout):
        return "read-timeout"
    if isinstance(exc, requests.exceptions.ProxyError | requests.exceptions.SSLError):
        return "not-connected"  # refused by the proxy, or the TLS handshake failed
    if isinstance(exc, requests.ConnectionError):
        reason = exc.args[0] if exc.args else None
        if isinstance(reason, MaxRetryError):
            reason = reason.reason
        # NewConnectionError covers refused connections and failed name look-ups.
        if isinstance(reason, NewConnectionError | ProxyError):
            return "not-connected"
    return "dropped"


def _reason(exc: BaseException) -> str:
    """What went wrong, by exception class only (texts quote URLs)."""
    reason: object = exc.args[0] if exc.args else exc
    if "urllib3" in sys.modules:
        from urllib3.exceptions import MaxRetryError, NewConnectionError

        if isinstance(reason, MaxRetryError) and reason.reason is not None:
            reason = reason.reason
        if isinstance(reason, NewConnectionError):
            return "connection refused or host not found"
    if "httpx" in sys.modules:
        import httpx

        if isinstance(exc, httpx.ConnectError):
            return "connection refused or host not found"
    if not isinstance(reason, BaseException):
        return type(exc).__name__
    name = type(reason).__name__
    inner = reason.args[1] if len(reason.args) > 1 else None
    if isinstance(inner, BaseException):
        name += f": {type(inner).__name__}"
    return name
