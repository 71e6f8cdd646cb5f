"""One thin ``requests`` client for Meta's Graph API family: Facebook Pages, Instagram and
Threads (``facebook.py``, ``instagram.py``, ``threads.py``).

The three answer alike: versioned paths on a host (``{host}/v25.0/…``), JSON, errors as
``{"error": {"message", "code", "error_subcode", "fbtrace_id"}}``, cursor paging
(``paging.next``, ``paging.cursors.after``), timestamps as ``2026-11-18T09:15:00+0000``.
``GraphChannel`` makes the call, turns a failure to talk into its outcome
(``outcomes.transport_error``), reads the error body once (``GraphError``), and wraps a
look-up's reads (``_look``). What differs stays in each network's module, explicit:

- ``TOKEN_AS``: Facebook and Threads send the token as the ``access_token`` parameter (the
  query of a GET, the form body of a POST); Instagram as ``Authorization: Bearer``.
- ``_outcome``: what each network's codes mean (its rows of ``docs/error-outcomes.md``).
- ``WHO``, ``SAID_FIELDS``, ``USAGE_WAIT`` (below), and ``_answered`` (Facebook's usage
  headers).

A token in a query string shows up in urllib3's DEBUG log and in ``requests``' exception
texts: it is registered for redaction (``credentials``) and no ``requests`` exception text
is ever passed on.
"""

from __future__ import annotations

import abc
import json
import logging
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import requests

from core.errors import AmbiguousError, ChannelError, SettingsError
from core.settings import AccountSettings

from .base import NetworkChannel
from .credentials import Secret, redact
from .networks import display_name
from .outcomes import cannot_tell, retry_after, status_error, transport_error
from .transport import ChannelSession

log = logging.getLogger(__name__)

# Graph API error codes every network of the family gives the same meaning.
TOKEN_INVALID = {102, 190}
PERMISSION = {10, *range(200, 300)}

Files = dict[str, tuple[str, bytes, str]]


@dataclass(frozen=True)
class GraphError:
    """An error answer, read: ``where`` names the network, the action and what it said."""

    status: int
    code: int | None
    subcode: int | None
    where: str
    creates_post: bool
    #: seconds the answer asks to wait (``GraphChannel._retry_after``), or None
    wait: float | None


class GraphChannel(NetworkChannel):
    """A channel on the Graph API: ``_connect`` in ``__init__``, then ``_request``."""

    #: where the API answers (``api_base_url`` overrides it)
    HOST: str
    #: who is named in an outcome by HTTP status alone
    WHO: str = "the Graph API"
    #: how the token travels: the ``access_token`` parameter, or an Authorization header
    TOKEN_AS: Literal["parameter", "bearer"] = "parameter"
    #: the error body's fields quoted in messages, the first one present
    SAID_FIELDS: tuple[str, ...] = ("message",)
    #: whether a wait is also read from ``x-business-use-case-usage`` (Facebook Login hosts)
    USAGE_WAIT: bool = True

    base_url: str
    _token: Secret
    _session: ChannelSession
    _clock: Callable[[], float]

    def _connect(
        self,
        account_name: str,
        account: AccountSettings,
        credentials: Mapping[str, str],
        version: str,
        timeout: float,
        clock: Callable[[], float],
    ) -> None:
        """Keep the account, its token (``CREDENTIALS[0]``) and a session to
        ``{api_base_url or HOST}/v{version}``; a missing token is a ``SettingsError``."""
        credential = self.CREDENTIALS[0]
        if not credentials.get(credential):
            raise SettingsError(
                f"account {account_name!r}: {display_name(self.name)} needs {credential} "
                "(see docs/accounts.md)"
            )
        self.account_name = account_name
        self.account = account
        self._token = Secret(credentials[credential])
        self.base_url = (
            f"{(account.api_base_url or self.HOST).rstrip('/')}/v{version.removeprefix('v')}"
        )
        self._session = ChannelSession(timeout)
        self._clock = clock

    def close(self) -> None:
        self._session.close()

    # -- one call ---------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        action: str,
        creates_post: bool,
        params: dict[str, str] | None = None,
        data: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
        files: Files | None = None,
    ) -> dict[str, Any]:
        """One call; the JSON answer, or the ``ChannelError`` it means. ``action`` says
        what the call does, in messages; ``creates_post``: whether it may make a post."""
        headers: dict[str, str] = {}
        token = self._token.reveal()
        if self.TOKEN_AS == "bearer":
            headers["Authorization"] = f"Bearer {token}"
        elif method == "GET":
            params = {**(params or {}), "access_token": token}
        else:
            data = {**(data or {}), "access_token": token}
        error: ChannelError | None = None
        try:
            response = self._session.request(
                method,
                f"{self.base_url}/{path}",
                params=params,
                data=data,
                json=json,
                files=files,
                headers=headers or None,
            )
        except requests.RequestException as exc:
            error = transport_error(
                exc, network=self.name, action=action, creates_post=creates_post
            )
        # Raised outside the except block: the requests exception quotes the URL (and so
        # the token of a GET), and must not ride along as __context__.
        if error is not None:
            raise error
        self._answered(response)
        try:
            body = response.json()
        except ValueError:
            body = None
        if 200 <= response.status_code < 300 and isinstance(body, dict) and "error" not in body:
            return body
        raise self._answer_error(response, body, action=action, creates_post=creates_post)

    def _answered(self, response: requests.Response) -> None:
        """Every answer, before it is read (Facebook keeps its usage headers)."""

    def _answer_error(
        self, response: requests.Response, body: Any, *, action: str, creates_post: bool
    ) -> ChannelError:
        status = response.status_code
        wait = self._retry_after(response)
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            where = f"{self.name}: {action}: HTTP {status}"
            return status_error(
                where, status, creates_post=creates_post, who=self.WHO, retry_after=wait
            )
        code, subcode = as_int(error.get("code")), as_int(error.get("error_subcode"))
        said = next((error[f] for f in self.SAID_FIELDS if error.get(f)), "no message")
        trace = f", fbtrace_id {error['fbtrace_id']}" if error.get("fbtrace_id") else ""
        sub = f", subcode {subcode}" if subcode is not None else ""
        where = (
            f"{self.name}: {action}: {self._quote(said)} (code {code}{sub}, HTTP {status}{trace})"
        )
        return self._outcome(GraphError(status, code, subcode, where, creates_post, wait))

    @abc.abstractmethod
    def _outcome(self, error: GraphError) -> ChannelError:
        """What the network's error answer means (its rows of docs/error-outcomes.md);
        ``_by_status`` for what it does not know."""

    def _by_status(self, error: GraphError) -> ChannelError:
        """Outcome by HTTP status alone: an unknown code."""
        return status_error(
            error.where,
            error.status,
            creates_post=error.creates_post,
            who=self.WHO,
            retry_after=error.wait,
        )

    def _quote(self, text: Any) -> str:
        """The network's own words, without the token."""
        return redact(str(text), [self._token.reveal()])

    def _retry_after(self, response: requests.Response) -> float | None:
        """``Retry-After`` (seconds or a date) if sent, else (``USAGE_WAIT``) the
        business-use-case header's estimate (minutes)."""
        wait = retry_after(response.headers.get("retry-after"), now=self._clock())
        if wait is not None or not self.USAGE_WAIT:
            return wait
        raw = response.headers.get("x-business-use-case-usage")
        if not raw:
            return None
        try:
            usage = json.loads(raw)
            minutes = [
                float(entry.get("estimated_time_to_regain_access") or 0)
                for entries in usage.values()
                for entry in entries
            ]
        except (ValueError, AttributeError, TypeError):
            return None
        longest = max(minutes, default=0.0)
        return longest * 60 if longest > 0 else None

    # -- reads ------------------------------------------------------------------------

    def _look(
        self, path: str, params: dict[str, str], *, action: str, listing: str, what: str = "post"
    ) -> dict[str, Any]:
        """One page of a list a look-up reads (``data``): refused credentials as they are,
        any other failure to read, or an answer without the list, ``AmbiguousError``."""
        with cannot_tell(self.name, what):
            body = self._request("GET", path, action=action, creates_post=False, params=params)
        if not isinstance(body.get("data"), list):
            raise AmbiguousError(f"{self.name}: cannot look the post up: {listing} had no list")
        return body

    def _permalink(self, media_id: str, fields: str) -> str | None:
        """A published post's address; ``None`` when it cannot be read (the post is there
        whatever this says)."""
        try:
            body = self._request(
                "GET",
                media_id,
                action="read the post's permalink",
                creates_post=False,
                params={"fields": fields},
            )
        except ChannelError as exc:
            log.warning("%s: published %s, but its link is unknown: %s", self.name, media_id, exc)
            return None
        link = body.get("permalink")
        return str(link) if link else None


def paging(body: Mapping[str, Any]) -> tuple[bool, str | None]:
    """(whether the answer says there is a next page, its ``after`` cursor)."""
    found = body.get("paging")
    if not isinstance(found, dict):
        return False, None
    cursors = found.get("cursors")
    after = cursors.get("after") if isinstance(cursors, dict) else None
    return bool(found.get("next")), str(after) if after else None


def next_cursor(body: Mapping[str, Any]) -> str | None:
    """The ``after`` cursor of the next page, if the answer says there is one."""
    has_next, after = paging(body)
    return after if has_next else None


def as_int(value: Any) -> int | None:
    """A number of an answer (a code, Unix seconds); None when it is not one."""
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def timestamp(item: Any) -> datetime | None:
    """An item's ``timestamp`` (``2026-11-18T09:15:00+0000``), aware; None if unreadable."""
    if not isinstance(item, Mapping):
        return None
    try:
        return datetime.strptime(str(item.get("timestamp", "")), "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return None


def normal(text: str) -> str:
    """Text as Instagram and Threads keep it: NFC, ``\\n`` line ends, trimmed."""
    return unicodedata.normalize("NFC", text.replace("\r\n", "\n")).strip()
