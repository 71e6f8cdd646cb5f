"""Mastodon through Mastodon.py (``requests`` underneath), on the account's own instance.

- Credential ``access_token`` (an application's token with ``write:statuses``,
  ``write:media`` and ``read:accounts``, ``read:statuses``); the instance is
  ``account.api_base_url``, else the domain of the handle (``@GwentPolice@mastodon.social``).
- ``Mastodon(..., ratelimit_method="throw")``: the library never sleeps in a job. Every
  request goes through one ``ChannelSession`` (a timeout on every request).
- Mastodon.py is told the instance's version (``MASTODON_VERSION``, 4.0 or newer) instead
  of asking: when the instance cannot be read (503 to everything, or 401 on
  ``/api/v1/instance`` in limited-federation mode with a revoked token), its version check
  and ``media_post`` call each other without end (about 960 requests, then a
  ``RecursionError``). And every public call is one bounded attempt: past
  ``MAX_REQUESTS`` requests the session refuses to send more (``RetryableError``).
- A post is ``status_post(text, media_ids, visibility=account.visibility,
  idempotency_key=post.idempotency_key, language=...)``; ``visibility`` is always sent
  (``public`` unless the account says otherwise), or the account's own default applies.
  Each image first through ``media_post(data, description=alt_text)`` (``/api/v2/media``);
  an image still processing (HTTP 202, ``url`` null) is polled with
  ``GET /api/v1/media/:id`` until it has a URL, after waits of ``MEDIA_WAITS`` seconds,
  never uploaded again.
- ``limit()``: the instance's own length limit (``configuration.statuses.max_characters``,
  read once from ``/api/v2/instance`` or ``/api/v1/instance`` and cached), with
  ``url_length()`` (``characters_reserved_per_url``), for lint and preview.
- Outcomes: ``docs/error-outcomes.md``, rows ``MASTO-*``.

Exactly once. Every create carries an ``Idempotency-Key`` made of the post id, the content
hash and the resend count a person raises, never the attempt: every attempt of a post
sends the same key. Mastodon keeps it for an hour per account: a request with a key it
holds answers with the status it already made, never a second one, and (current Mastodon,
``PostStatusService#with_idempotency``) a request whose key is still being worked on
answers 503 and makes nothing. So ``resend_is_safe`` within ``resend_window_seconds``.

- After an ambiguous failure of the create (5xx, no answer in time, dropped connection),
  ``publish`` first reads the account's latest statuses (``find``). Found: its receipt.
  Not found, and the instance answered 5xx (it has finished with the request): ``publish``
  sends the same request once more with the same key, which either returns the status the
  first one made or makes it now, once. Not found after a timeout or a dropped connection:
  the first request may still be running on the instance, and on an instance without the
  key lock (older versions record the key only once the status is saved) a resend racing
  it could make a second status, so it stays ``AmbiguousError`` for ``find`` or a person
  to settle later.
- ``find`` never sends anything: it reads the account's statuses back to
  ``post.not_before`` (``GET /api/v1/accounts/:id/statuses``, 40 a page, at most 5 pages;
  one page without it) and matches the text exactly, after turning
  Mastodon's HTML back into the text we sent (paragraphs, line breaks, the hidden parts of
  shortened links, entities). It works past the key's one-hour window too.
"""

from __future__ import annotations

import contextlib
import logging
import mimetypes
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any, TypeVar

import requests
from mastodon import Mastodon
from mastodon.errors import (
    MastodonAPIError,
    MastodonError,
    MastodonIllegalArgumentError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonUnauthorizedError,
)

from core.errors import (
    AmbiguousError,
    AuthenticationError,
    ChannelError,
    PermanentError,
    RetryableError,
    SettingsError,
)
from core.settings import AccountSettings

from .base import Media, NetworkChannel, OutgoingPost, Receipt, lookback_start, read_images
from .credentials import Secret, redact
from .networks import text_limit_advice
from .outcomes import cannot_tell, seconds_until, sent_or_not, status_error, transport_error
from .transport import ChannelSession

log = logging.getLogger(__name__)

CREDENTIALS = ("access_token",)
MAX_IMAGES = 4
MAX_DESCRIPTION = 1500  # Mastodon's media description limit
TIMELINE_SIZE = 40  # the most one page of an account's statuses holds
DEFAULT_LIMIT = 500
DEFAULT_URL_LENGTH = 23
FIND_PAGES = 5  # find() reads at most 200 statuses back
# Told to Mastodon.py so it never asks (see the module docstring). 4.0 has /api/v2/media
# and /api/v2/instance; an older instance's v1 instance is read as a fallback.
MASTODON_VERSION = "4.0.0"
# Waits (seconds) before each look at an image still processing: about 30 s in all.
MEDIA_WAITS = (1.0, 2.0, 3.0, 5.0, 8.0, 11.0)
# The most requests one publish, find or check may send: every upload with its polls,
# the create, the look-up after a failure (its pages and the account), one resend.
MAX_REQUESTS = MAX_IMAGES * (1 + len(MEDIA_WAITS)) + FIND_PAGES + 4

T = TypeVar("T")


class MastodonChannel(NetworkChannel):
    """One Mastodon account: its instance and an access token."""

    name = "mastodon"
    CREDENTIALS = CREDENTIALS
    # The instance answers a known Idempotency-Key with the status it made, for an hour.
    resend_is_safe = True
    resend_window_seconds = 3600.0
    #: find(): statuses per page, and the most pages it reads back to ``not_before``.
    find_page_size = TIMELINE_SIZE
    find_pages = FIND_PAGES

    def __init__(
        self,
        account_name: str,
        account: AccountSettings,
        credentials: Mapping[str, str],
        *,
        timeout: float = 20.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not credentials.get("access_token"):
            raise SettingsError(
                f"account {account_name!r}: Mastodon needs access_token (see docs/accounts.md)"
            )
        self.account_name = account_name
        self.account = account
        self.username, self.instance = _split_handle(account_name, account.handle)
        self.base_url = (account.api_base_url or f"https://{self.instance}").rstrip("/")
        self._token = Secret(credentials["access_token"])
        self._clock = clock
        self._sleep = sleep
        self._session = _BoundedSession(timeout, MAX_REQUESTS)
        self._api = Mastodon(
            access_token=credentials["access_token"],
            api_base_url=self.base_url,
            ratelimit_method="throw",  # never sleep inside a job
            request_timeout=timeout,
            session=self._session,
            # A known version, never asked for: see the module docstring. "created" makes
            # Mastodon.py use it (with "none" it would take 1.0.0 and the v1 endpoints).
            mastodon_version=MASTODON_VERSION,
            version_check_mode="created",
        )
        self._account_id: str | None = None
        self._limit: int | None = None
        self._url_length: int | None = None

    # -- the contract -------------------------------------------------------------------

    def publish(self, post: OutgoingPost) -> Receipt:
        images = read_images(
            "mastodon", post.media, max_images=MAX_IMAGES, max_alt_text=MAX_DESCRIPTION
        )
        with self._session.attempt():
            return self._publish(post, images)

    def _publish(self, post: OutgoingPost, images: list[tuple[Media, bytes]]) -> Receipt:
        media_ids = [self._upload(media, data) for media, data in images]

        def send() -> Any:
            return self._api.status_post(
                post.text,
                media_ids=media_ids or None,
                visibility=self.account.visibility,
                idempotency_key=post.idempotency_key,
                language=_language(post.language),
            )

        try:
            status = self._call("publish the post", send, creates_post=True)
        except _AnsweredAmbiguous as error:
            return self._settle(post, error, resend=send)
        except AmbiguousError as error:
            return self._settle(post, error, resend=None)
        return self._receipt(status, post)

    def find(self, post: OutgoingPost) -> Receipt | None:
        with self._session.attempt():
            return self._find(post)

    def _find(self, post: OutgoingPost) -> Receipt | None:
        """The account's statuses, newest first, back to ``post.not_before`` (one page
        without it), matched by text. ``None`` only once that stretch was read in full."""
        since = lookback_start(post)
        wanted = _normal(post.text)
        max_id: str | None = None
        for _ in range(self.find_pages):
            statuses = self._statuses_page(max_id)
            for status in statuses:
                if not isinstance(status, dict) or not status.get("id"):
                    continue
                if _normal(status_text(str(status.get("content") or ""))) == wanted:
                    return Receipt(remote_id=str(status["id"]), url=_status_url(status))
            if len(statuses) < self.find_page_size or since is None:
                return None  # the whole timeline, or the one page asked for
            oldest = _created_at(statuses[-1])
            if oldest is None:
                raise AmbiguousError("mastodon: cannot look the post up: a status has no time")
            if oldest < since:
                return None
            max_id = str(_get(statuses[-1], "id"))
        raise AmbiguousError(
            f"mastodon: cannot look the post up: more than {self.find_pages * self.find_page_size}"
            f" statuses since {since:%Y-%m-%d %H:%M} UTC"
        )

    def _statuses_page(self, max_id: str | None) -> list[Any]:
        with cannot_tell("mastodon"):
            account_id = self._account_id or self._me()["id"]
            statuses = self._call(
                "read the recent statuses",
                lambda: self._api.account_statuses(
                    account_id, limit=self.find_page_size, exclude_reblogs=True, max_id=max_id
                ),
                creates_post=False,
            )
        if not isinstance(statuses, list):
            raise AmbiguousError("mastodon: cannot look the post up: no list of statuses")
        return statuses

    def check(self) -> str:
        with self._session.attempt():
            return self._check()

    def _check(self) -> str:
        me = self._me(refresh=True)
        acct = str(me.get("acct") or me.get("username") or "")
        username = acct.split("@", 1)[0]
        if username.casefold() != self.username.casefold():
            raise AuthenticationError(
                f"mastodon: the access token of account {self.account_name!r} belongs to "
                f"@{username}@{self.instance} (id {me['id']}), but the account is configured "
                f"as {self.account.handle}: make the token while logged in as that account"
            )
        limit = self.limit()
        advice = text_limit_advice("mastodon", self.account.text_limit, limit)
        return f"@{username}@{self.instance} (id {me['id']}, up to {limit} characters{advice})"

    def close(self) -> None:
        self._session.close()

    # -- the instance -------------------------------------------------------------------

    def limit(self) -> int:
        """The instance's length limit for a status (read once; 500 if it does not say)."""
        if self._limit is None:
            self._read_instance()
        return self._limit or DEFAULT_LIMIT

    def url_length(self) -> int:
        """How many characters every link counts on this instance (23 on Mastodon)."""
        if self._url_length is None:
            self._read_instance()
        return self._url_length or DEFAULT_URL_LENGTH

    def _read_instance(self) -> None:
        def read() -> Any:
            try:
                return self._api.instance_v2()
            except MastodonNotFoundError:  # older than 4.0: only the v1 instance
                return self._api.instance_v1()

        with self._session.attempt():
            instance = self._call("read the instance", read, creates_post=False)
        statuses = _get(instance, "configuration", "statuses") or {}
        self._limit = _positive(_get(statuses, "max_characters")) or DEFAULT_LIMIT
        self._url_length = (
            _positive(_get(statuses, "characters_reserved_per_url")) or DEFAULT_URL_LENGTH
        )

    # -- Mastodon's API -----------------------------------------------------------------

    def _settle(
        self,
        post: OutgoingPost,
        error: AmbiguousError,
        resend: Callable[[], Any] | None,
    ) -> Receipt:
        """After an ambiguous create: look it up; after a 5xx, resend with the same key."""
        looked: ChannelError | None = None
        try:
            found = self._find(post)
        except ChannelError as exc:
            found, looked = None, exc
        if found is not None:
            log.info(
                "mastodon: post %s of %s is there as %s (the create answered: %s)",
                post.post_id,
                self.account_name,
                found.remote_id,
                error,
            )
            return Receipt(found.remote_id, found.url, {"reconciled": "true"})
        if resend is None:
            raise error
        try:
            status = self._call("publish the post (resent with its key)", resend, creates_post=True)
        except AmbiguousError as again:
            raise AmbiguousError(
                f"{error}; the resend with the same key failed too: {again}"
            ) from None
        except (RetryableError, PermanentError) as again:
            if looked is None:
                raise  # the statuses were read and it is not there: the refusal stands
            # Nobody could see whether the first one made it: still in doubt.
            raise AmbiguousError(
                f"{error}; the statuses could not be read ({looked}) and the resend with "
                f"the same key was refused: {again}"
            ) from None
        log.info(
            "mastodon: post %s of %s resent with its idempotency key after: %s",
            post.post_id,
            self.account_name,
            error,
        )
        receipt = self._receipt(status, post)
        return Receipt(receipt.remote_id, receipt.url, {**receipt.extra, "resent": "true"})

    def _receipt(self, status: Any, post: OutgoingPost) -> Receipt:
        status_id = _get(status, "id")
        if not status_id:
            raise AmbiguousError("mastodon: the instance accepted the post but gave no status id")
        log.debug(
            "mastodon: published post %s of %s as %s", post.post_id, self.account_name, status_id
        )
        return Receipt(remote_id=str(status_id), url=_status_url(status))

    def _me(self, refresh: bool = False) -> dict[str, str]:
        me = self._call(
            "read the account (verify_credentials)",
            self._api.account_verify_credentials,
            creates_post=False,
        )
        account_id = _get(me, "id")
        if not account_id:
            raise RetryableError("mastodon: verify_credentials answered without an account id")
        found = {
            "id": str(account_id),
            "username": str(_get(me, "username") or ""),
            "acct": str(_get(me, "acct") or ""),
        }
        if refresh or self._account_id is None:
            self._account_id = found["id"]
        return found

    def _upload(self, media: Media, data: bytes) -> str:
        """Upload one image with its description; an unattached upload is not public."""
        mime = mimetypes.guess_type(media.path.name)[0] or "application/octet-stream"
        uploaded = self._call(
            f"upload image {media.path.name}",
            lambda: self._api.media_post(
                data, mime_type=mime, description=media.alt_text, file_name=media.path.name
            ),
            creates_post=False,
        )
        media_id = _get(uploaded, "id")
        if not media_id:
            raise RetryableError(f"mastodon: the upload of {media.path.name} gave no media id")
        # /api/v2/media answers 202 with no URL while the instance still processes the
        # image; a status may not use it until then (422). Wait for it, never re-upload.
        for wait in MEDIA_WAITS:
            if _get(uploaded, "url"):
                return str(media_id)
            self._sleep(wait)
            uploaded = self._call(
                f"see whether image {media.path.name} is processed",
                lambda: self._api.media(str(media_id)),
                creates_post=False,
            )
        if _get(uploaded, "url"):
            return str(media_id)
        raise RetryableError(
            f"mastodon: image {media.path.name} (media {media_id}) is still being processed "
            f"after {sum(MEDIA_WAITS):.0f} s; nothing was published",
            retry_after=60.0,
        )

    def _call(self, action: str, call: Callable[[], T], *, creates_post: bool) -> T:
        """Run one Mastodon.py call and map whatever goes wrong to one outcome."""
        error: ChannelError | None = None
        try:
            return call()
        except MastodonRatelimitError:
            error = RetryableError(
                f"mastodon: {action}: rate limited by the instance",
                retry_after=self._retry_after(),
            )
        except MastodonNetworkError as exc:
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, _OverBudget):
                error = RetryableError(f"mastodon: {action}: {cause}; nothing more was sent")
            elif isinstance(cause, requests.RequestException):
                error = transport_error(
                    cause, network="mastodon", action=action, creates_post=creates_post
                )
            else:
                error = sent_or_not(
                    f"mastodon: {action}: network failure", creates_post=creates_post
                )
        except MastodonAPIError as exc:
            error = self._answer_error(exc, action, creates_post)
        except MastodonIllegalArgumentError as exc:
            error = PermanentError(f"mastodon: {action}: {type(exc).__name__}")
        except MastodonError as exc:
            error = sent_or_not(
                f"mastodon: {action}: unexpected {type(exc).__name__}", creates_post=creates_post
            )
        except RecursionError:  # a library loop the request bound did not stop
            error = sent_or_not(
                f"mastodon: {action}: the client library looped", creates_post=creates_post
            )
        # Raised outside the except blocks: library exceptions quote URLs and stay out.
        raise error

    def _answer_error(self, exc: MastodonAPIError, action: str, creates_post: bool) -> ChannelError:
        """An HTTP answer other than 2xx. Rows ``MASTO-*`` of error-outcomes."""
        status, reason, said = _api_error_parts(exc)
        detail = redact(said or reason or "no details", [self._token.reveal()])
        where = f"mastodon: {action}: HTTP {status or '?'} {detail}"
        if isinstance(exc, MastodonUnauthorizedError) or status == 401:
            return AuthenticationError(
                f"{where}: the instance does not accept the account's access token; make a "
                f"new one for {self.account.handle} (Preferences, Development)"
            )
        if status is None:  # what Mastodon.py's class stands for
            server_error = isinstance(exc, MastodonServerError)
            status = 500 if server_error else 404 if isinstance(exc, MastodonNotFoundError) else 0
        if status >= 500 and creates_post:
            return _AnsweredAmbiguous(
                f"{where}: the instance failed after receiving the post; it may have been published"
            )
        if status == 403:
            return PermanentError(
                f"{where}: refused; the token needs the scopes write:statuses, write:media, "
                "read:accounts and read:statuses, or the account is suspended"
            )
        if status == 422 and "processing" in detail.lower():
            return RetryableError(f"{where}: an image is still being processed", retry_after=5.0)
        return status_error(where, status, creates_post=creates_post, who="the instance")

    def _retry_after(self) -> float | None:
        """Seconds to the reset Mastodon.py read from ``X-RateLimit-Reset`` (None if none)."""
        return seconds_until(self._api.ratelimit_reset, now=self._clock())


class _AnsweredAmbiguous(AmbiguousError):
    """The instance answered the create with a 5xx: it has finished with the request."""


class _OverBudget(Exception):
    """The session refused a request: the attempt has sent its ``MAX_REQUESTS``."""


class _BoundedSession(ChannelSession):
    """A session that sends at most ``limit`` requests inside one ``attempt()``.

    Whatever the library does (a version check calling itself, a retry loop), one publish,
    find or check cannot turn into hundreds of requests."""

    def __init__(self, timeout: float, limit: int) -> None:
        super().__init__(timeout)
        self.limit = limit
        self._count = threading.local()  # per thread: depth of attempt() and requests sent

    @contextlib.contextmanager
    def attempt(self) -> Iterator[None]:
        """Count requests from here; a nested attempt (find inside publish) shares the count."""
        count = self._count
        if not getattr(count, "depth", 0):
            count.depth, count.sent = 0, 0
        count.depth += 1
        try:
            yield
        finally:
            count.depth -= 1

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        count = self._count
        if getattr(count, "depth", 0):
            if count.sent >= self.limit:
                raise _OverBudget(f"more than {self.limit} requests in one attempt, stopped")
            count.sent += 1
        return super().send(request, **kwargs)


# -- helpers --------------------------------------------------------------------------------


def _split_handle(account_name: str, handle: str) -> tuple[str, str]:
    """``@user@instance`` (or ``user@instance``) as (user, instance)."""
    parts = handle.strip().lstrip("@").split("@")
    if len(parts) != 2 or not all(parts):
        raise SettingsError(
            f"account {account_name!r}: a Mastodon handle is @user@instance, e.g. "
            f"@GwentPolice@mastodon.social, not {handle!r}"
        )
    return parts[0], parts[1].lower()


def _api_error_parts(exc: MastodonAPIError) -> tuple[int | None, str, str]:
    """(HTTP status, reason, the instance's ``error`` text) from Mastodon.py's error args."""
    args = exc.args
    status = args[1] if len(args) > 1 and isinstance(args[1], int) else None
    reason = str(args[2]) if len(args) > 2 and args[2] else ""
    said = str(args[3]) if len(args) > 3 and args[3] else ""
    return status, reason, said


def _get(value: Any, *keys: str) -> Any:
    for key in keys:
        value = value.get(key) if isinstance(value, Mapping) else getattr(value, key, None)
        if value is None:
            return None
    return value


def _created_at(status: Any) -> datetime | None:
    """A status's ``created_at`` (Mastodon.py parses it; a string if it could not)."""
    value = _get(status, "created_at")
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _positive(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _status_url(status: Any) -> str | None:
    url = _get(status, "url") or _get(status, "uri")
    return str(url) if url else None


def _language(language: str) -> str | None:
    """Mastodon takes one ISO 639 code: a bilingual ``cy+en`` post is tagged by its first."""
    first = language.replace(",", "+").split("+")[0].strip()
    return first or None


# -- Mastodon's HTML back to text -----------------------------------------------------------


class _TextOfStatus(HTMLParser):
    """Collects the text of a status's ``content``: ``<p>`` are paragraphs (blank line
    between), ``<br>`` a line break, every text node kept (the ``invisible`` and
    ``ellipsis`` spans of a shortened link together make the whole URL)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._paragraphs = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag == "p":
            if self._paragraphs:
                self.parts.append("\n\n")
            self._paragraphs += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def status_text(content: str) -> str:
    """The plain text of a status from Mastodon's HTML ``content``."""
    parser = _TextOfStatus()
    parser.feed(content)
    parser.close()
    return "".join(parser.parts)  # entities are already decoded (convert_charrefs)


def _normal(text: str) -> str:
    # Mastodon keeps text NFC, turns \r\n into \n, drops surrounding whitespace and makes
    # any run of blank lines one paragraph break.
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").strip()
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text)
