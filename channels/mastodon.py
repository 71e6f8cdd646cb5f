"""Mastodon through Mastodon.py (``requests`` underneath), on the account's own instance.

- Credential ``access_token`` (an application's token with ``write:statuses``,
  ``write:media`` and ``read:accounts``, ``read:statuses``); the instance is
  ``account.api_base_url``, else the domain of the handle (``@GwentPolice@mastodon.social``).
- ``Mastodon(..., ratelimit_method="throw")``: the library never sleeps in a job. Every
  request goes through one ``ChannelSession`` (a timeout on every request).
- A post is ``status_post(text, media_ids, idempotency_key=post.idempotency_key,
  language=...)``; each image first through ``media_post(data, description=alt_text)``.
- ``limit()``: the instance's own length limit (``configuration.statuses.max_characters``,
  read once from ``/api/v2/instance`` or ``/api/v1/instance`` and cached), with
  ``url_length()`` (``characters_reserved_per_url``), for lint and preview.
- Outcomes: ``docs/error-outcomes.md``, rows ``MASTO-*``.

Exactly once. Every create carries an ``Idempotency-Key`` made of the post id, the attempt
and the content hash: Mastodon keeps it for an hour per account, and a request with a key
it holds answers with the status it already made, never a second one.

- After an ambiguous failure of the create (5xx, no answer in time, dropped connection),
  ``publish`` first reads the account's latest statuses (``find``). Found: its receipt.
  Not found, and the instance answered 5xx (it has finished with the request): ``publish``
  sends the same request once more with the same key, which either returns the status the
  first one made or makes it now, once. Not found after a timeout or a dropped connection:
  the first request may still be running on the instance, and a resend racing it could
  make a second status (Mastodon records the key only once the status is saved), so it
  stays ``AmbiguousError`` for ``find`` or a person to settle later.
- ``find`` never sends anything: it reads the account's 40 latest statuses
  (``GET /api/v1/accounts/:id/statuses``) and matches the text exactly, after turning
  Mastodon's HTML back into the text we sent (paragraphs, line breaks, the hidden parts of
  shortened links, entities). It works past the key's one-hour window too.
"""

from __future__ import annotations

import logging
import mimetypes
import re
import time
import unicodedata
from collections.abc import Callable, Mapping
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

from .base import Media, NetworkChannel, OutgoingPost, Receipt, read_images
from .credentials import Secret, redact
from .networks import text_limit_advice
from .outcomes import seconds_until, sent_or_not, status_error, transport_error
from .transport import ChannelSession

log = logging.getLogger(__name__)

CREDENTIALS = ("access_token",)
MAX_IMAGES = 4
MAX_DESCRIPTION = 1500  # Mastodon's media description limit
TIMELINE_SIZE = 40  # the most one page of an account's statuses holds
DEFAULT_LIMIT = 500
DEFAULT_URL_LENGTH = 23

T = TypeVar("T")


class MastodonChannel(NetworkChannel):
    """One Mastodon account: its instance and an access token."""

    name = "mastodon"
    CREDENTIALS = CREDENTIALS

    def __init__(
        self,
        account_name: str,
        account: AccountSettings,
        credentials: Mapping[str, str],
        *,
        timeout: float = 20.0,
        clock: Callable[[], float] = time.time,
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
        self._session = ChannelSession(timeout)
        self._api = Mastodon(
            access_token=credentials["access_token"],
            api_base_url=self.base_url,
            ratelimit_method="throw",  # never sleep inside a job
            request_timeout=timeout,
            session=self._session,
            version_check_mode="none",
        )
        self._account_id: str | None = None
        self._limit: int | None = None
        self._url_length: int | None = None

    # -- the contract -------------------------------------------------------------------

    def publish(self, post: OutgoingPost) -> Receipt:
        images = read_images(
            "mastodon", post.media, max_images=MAX_IMAGES, max_alt_text=MAX_DESCRIPTION
        )
        media_ids = [self._upload(media, data) for media, data in images]

        def send() -> Any:
            return self._api.status_post(
                post.text,
                media_ids=media_ids or None,
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
        try:
            account_id = self._account_id or self._me()["id"]
            statuses = self._call(
                "read the recent statuses",
                lambda: self._api.account_statuses(
                    account_id, limit=TIMELINE_SIZE, exclude_reblogs=True
                ),
                creates_post=False,
            )
        except AuthenticationError:
            raise
        except ChannelError as exc:
            raise AmbiguousError(
                f"mastodon: cannot look the post up ({exc})", retry_after=exc.retry_after
            ) from None
        if not isinstance(statuses, list):
            raise AmbiguousError("mastodon: cannot look the post up: no list of statuses")
        wanted = _normal(post.text)
        for status in statuses:
            if not isinstance(status, dict) or not status.get("id"):
                continue
            if _normal(status_text(str(status.get("content") or ""))) == wanted:
                return Receipt(remote_id=str(status["id"]), url=_status_url(status))
        return None

    def check(self) -> str:
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
        instance = self._call("read the instance", self._api.instance, creates_post=False)
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
        try:
            found = self.find(post)
        except ChannelError:
            found = None
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
        log.info(
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
        return str(media_id)

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
            if isinstance(cause, requests.RequestException):
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
