"""Threads (Meta's Threads API) through a thin ``requests`` client.

Sources (developers.facebook.com/documentation/threads/…, checked November 2026):

- ``overview``: the API answers on ``graph.threads.net`` (or ``graph.threads.com``),
  version ``v1.0``. A profile may publish 250 posts through the API in a 24-hour moving
  period, enforced by ``threads_publish``; ``GET /{user}/threads_publishing_limit
  ?fields=quota_usage,config`` says how many it has used (``config``: ``quota_total``,
  ``quota_duration``).
- ``posts``: a post is a container, ``POST /{user}/threads`` (``media_type`` ``TEXT`` or
  ``IMAGE``, ``text``, ``image_url`` on a public server: Threads fetches it; ``alt_text``,
  image posts only, ``posts/accessibility``), then ``POST /{user}/threads_publish`` with
  ``creation_id``. 500 characters, emoji counted as their UTF-8 bytes (``networks.py``).
  Waiting "on average 30 seconds" before publishing an image container is recommended.
- ``troubleshooting``: ``GET /{container}?fields=status,error_message`` is ``IN_PROGRESS``,
  ``FINISHED`` (ready), ``PUBLISHED``, ``ERROR`` (with ``error_message``) or ``EXPIRED``
  (not published within 24 hours); the way to tell what a publish that gave no media id did.
- ``retrieve-and-discover-posts/retrieve-posts`` and ``reference/user``: ``GET
  /{user}/threads?fields=…&since=…&limit=…&after=…`` (at most 100 a page, newest first,
  cursor paging).
- ``create-posts/text-attachments``: since 22 December 2025 a post with more than 5 links
  fails at the container (``THREADS_API__LINK_LIMIT_EXCEEDED``).
- ``get-started/long-lived-tokens``: long-lived tokens last 60 days and are refreshed with
  ``GET /refresh_access_token?grant_type=th_refresh_token`` once at least 24 hours old.
  ``troubleshooting/debug-access-token``: ``GET /debug_token?input_token=…`` gives
  ``is_valid``, ``expires_at`` and ``scopes`` (the caller must be a tester of the app).
- Errors are Graph API errors (``{"error": {"code", "error_subcode", "message", …}}``):
  190 an invalid or expired token, 4/17/32/613 throttling, 1/2 temporary, 10 and 2xx
  permissions.

Exactly once. A container is not a post: one created and never published expires. The
create that may be in doubt is ``threads_publish``: after no answer in time, a dropped
connection, a 5xx (or a Graph "temporary" error) or an answer without a media id,
``publish`` reads the container's status: ``PUBLISHED`` → the profile's threads are read
(``find``) for its id; ``ERROR``/``EXPIRED`` → nothing was published (retryable); anything
else → ``AmbiguousError`` (the publish may still land). Threads has no idempotency key, so
``resend_is_safe`` is False and the worker looks with ``find`` before it sends again.
``find`` reads the profile's threads since ``post.not_before`` (100 a page, at most 5
pages; one page without it), matching the text exactly.

Images: Threads fetches each image from a public URL, so the channel is given
``image_url``, a function from a post's ``Media`` to such a URL (the web app's signed media
address). Without one an image post fails before any request (``PermanentError``); text
posts need none. One image a post (``IMAGE``); carousels are not sent.

The call and the reading of an error answer are ``graph.GraphChannel``'s. The access
token travels as the ``access_token`` parameter (the documented way): in the form body of a
POST and in the query of a GET. Outcomes: ``docs/error-outcomes.md``, rows ``THREADS-*``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from core.errors import (
    AmbiguousError,
    AuthenticationError,
    ChannelError,
    PermanentError,
    PublisherError,
    RetryableError,
    SettingsError,
)
from core.settings import AccountSettings, Settings

from .base import Media, OutgoingPost, Receipt, lookback_start, read_images
from .graph import (
    PERMISSION,
    TOKEN_INVALID,
    GraphChannel,
    GraphError,
    as_int,
    normal,
    paging,
    timestamp,
)
from .media_urls import MediaUrls
from .networks import NETWORKS
from .outcomes import cannot_tell

log = logging.getLogger(__name__)

CREDENTIALS = ("access_token",)
THREADS_HOST = "https://graph.threads.net"
API_VERSION = "v1.0"
PAGE_SIZE = 100  # the most one page of a profile's threads holds
MAX_LINKS = 5
# Waits (seconds) before each further look at a container still IN_PROGRESS: about 30 s,
# the average the documentation gives for media.
CONTAINER_WAITS = (1.0, 2.0, 3.0, 5.0, 8.0, 11.0)
# The permissions a token needs (read: threads_basic; publish: threads_content_publish).
SCOPES = ("threads_basic", "threads_content_publish")
# Tell people this long before the token expires (accounts check).
EXPIRY_WARNING_DAYS = 14
# Container error messages that another attempt cannot fix (troubleshooting page).
PERMANENT_CONTAINER_ERRORS = {
    "INVALID_ASPEC_RATIO",
    "INVALID_BIT_RATE",
    "INVALID_DURATION",
    "INVALID_FRAME_RATE",
    "INVALID_AUDIO_CHANNELS",
    "INVALID_AUDIO_CHANNEL_LAYOUT",
}

# Graph API error codes (the "code" of the JSON error body). See docs/error-outcomes.md.
TEMPORARY = {1, 2}
THROTTLED = {4, 17, 32, 613}

#: Makes a public URL Threads can fetch an image from (the web app's signed media URL).
ImageUrl = Callable[[Media], str]


class ThreadsChannel(GraphChannel):
    """One Threads profile, through its long-lived user access token (``access_token``)."""

    name = "threads"
    CREDENTIALS = CREDENTIALS
    HOST = THREADS_HOST
    WHO = "Threads"
    USAGE_WAIT = False  # only Retry-After: graph.threads.net documents no usage headers
    #: find(): threads per page, and the most pages it reads back to ``not_before``.
    find_page_size = PAGE_SIZE
    find_pages = 5

    def __init__(
        self,
        account_name: str,
        account: AccountSettings,
        credentials: Mapping[str, str],
        *,
        timeout: float = 20.0,
        image_url: ImageUrl | None = None,
        api_version: str = API_VERSION,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._connect(account_name, account, credentials, api_version, timeout, clock)
        username = account.handle.strip().lstrip("@")
        if not username or "@" in username or "/" in username:
            raise SettingsError(
                f"account {account_name!r}: a Threads handle is the profile's username, e.g. "
                f"@gwentpolice, not {account.handle!r}"
            )
        self.username = username
        self.image_url = image_url
        self._sleep = sleep
        self._user_id: str | None = None

    # -- the contract -------------------------------------------------------------------

    def publish(self, post: OutgoingPost) -> Receipt:
        # Everything that can be refused without asking Threads is refused first.
        images = read_images("threads", post.media, limits=NETWORKS["threads"].images)
        _check_links(post.text)
        fields: dict[str, str] = {"media_type": "IMAGE" if images else "TEXT"}
        if post.text:
            fields["text"] = post.text
        if images:
            media = images[0][0]
            fields["image_url"] = self._public_url(media)
            if media.alt_text:
                fields["alt_text"] = media.alt_text
        user_id = self._profile_id()
        self._check_quota(user_id)
        created = self._request(
            "POST",
            f"{user_id}/threads",
            action="create the container",
            creates_post=False,  # a container is not a post
            data=fields,
        )
        container = str(created.get("id") or "")
        if not container:
            raise RetryableError("threads: Threads made no container id; nothing was published")
        self._wait_until_ready(container, has_image=bool(images))
        try:
            body = self._request(
                "POST",
                f"{user_id}/threads_publish",
                action="publish the container",
                creates_post=True,
                data={"creation_id": container},
            )
        except AmbiguousError as error:
            return self._settle(post, container, error)
        except PermanentError as error:
            raise self._refusal(user_id, error) from None
        media_id = str(body.get("id") or "")
        if not media_id:
            # The troubleshooting page's case: ask the container what happened.
            return self._settle(
                post, container, AmbiguousError("threads: the publish answered without a media id")
            )
        log.debug(
            "threads: published post %s of %s as %s", post.post_id, self.account_name, media_id
        )
        return Receipt(
            media_id, self._permalink(media_id, "id,permalink"), {"container": container}
        )

    def find(self, post: OutgoingPost) -> Receipt | None:
        """The profile's threads since ``post.not_before`` (one page without it), matched
        by text. ``None`` only once that stretch was read in full."""
        since = lookback_start(post)
        params = {"fields": "id,text,timestamp,permalink", "limit": str(self.find_page_size)}
        if since is not None:
            # Threads wants ``since`` before now (and ``until``): a later not_before is
            # checked against the threads' timestamps below instead.
            params["since"] = str(int(min(since.timestamp(), self._clock() - 60)))
        wanted = normal(post.text)
        with cannot_tell(self.name):
            user_id = self._profile_id()
        for _ in range(self.find_pages):
            body = self._read_threads(user_id, params)
            items = body["data"]
            for item in items:
                if _is_thread(item) and normal(str(item["text"])) == wanted:
                    url = item.get("permalink")
                    return Receipt(str(item["id"]), str(url) if url else None)
            has_next, after = paging(body)
            more = has_next or len(items) >= self.find_page_size
            if not more or since is None:
                return None  # every thread since then, or the one page asked for
            stamps = [s.timestamp() for item in items if (s := timestamp(item)) is not None]
            if items and len(stamps) == len(items) and min(stamps) < since.timestamp():
                return None  # read back past not_before (a ``since`` later than we may ask)
            if not after:
                raise AmbiguousError("threads: cannot look the post up: a full page had no cursor")
            params = {**params, "after": after}
        assert since is not None
        raise AmbiguousError(
            f"threads: cannot look the post up: more than {self.find_pages * self.find_page_size}"
            f" threads since {since:%Y-%m-%d %H:%M} UTC"
        )

    def check(self) -> str:
        user_id = self._profile_id(refresh=True)
        expiry = self._token_expiry()
        used, total, _ = self._quota(user_id)
        return (
            f"@{self.username} (Threads id {user_id}; {expiry}; {used} of {total} posts "
            "published through the API in the last 24 hours)"
        )

    def expires_at(self) -> datetime | None:
        """When the access token expires, as Threads' ``debug_token`` says (``None``: it
        cannot say, or never). ``AuthenticationError`` if it is expired or invalid."""
        data = self._debug_token()
        return None if data is None else _expiry(data)

    @classmethod
    def options(cls, account_name: str, settings: Settings) -> dict[str, Any]:
        """Image posts take their public address from the web app's signed media links
        ([web] in the settings); without [web], text posts still go out."""
        options = super().options(account_name, settings)
        if settings.web.public_url:
            links = MediaUrls(settings.web)
            options["image_url"] = lambda media: links.url(media.sha256)
        return options

    def __repr__(self) -> str:
        return f"ThreadsChannel(account={self.account_name!r}, username={self.username!r})"

    # -- publishing ---------------------------------------------------------------------

    def _public_url(self, media: Media) -> str:
        """Where Threads can fetch the image; ``PermanentError`` before any request if
        this install cannot offer one."""
        if self.image_url is None:
            raise PermanentError(
                f"threads: image {media.path.name}: Threads fetches images from a public URL "
                "and this install offers none: set web.public_url and the media signing "
                "secret (docs/accounts.md, Threads); nothing was sent. Text posts need none"
            )
        error: str | None = None
        try:
            url = self.image_url(media)
        except PublisherError as exc:
            error = str(exc)
        except Exception as exc:  # the builder is another module's: name its failure only
            error = type(exc).__name__
        if error is not None:
            raise PermanentError(
                f"threads: no public URL for image {media.path.name}: {error}; nothing was sent"
            )
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise PermanentError(
                f"threads: the public URL made for image {media.path.name} is not an http(s) "
                "address; nothing was sent"
            )
        return url

    def _wait_until_ready(self, container: str, *, has_image: bool) -> None:
        """Read the container's status until it is ``FINISHED``, waiting up to about 30 s
        (an image is fetched and processed first). A container that fails published
        nothing."""
        state = ""
        for wait in (0.0, *CONTAINER_WAITS):
            if wait:
                self._sleep(wait)
            status = self._container_status(container, "read the container's status")
            state = str(status.get("status") or "")
            if state == "FINISHED":
                return
            if state == "IN_PROGRESS":
                continue
            if state == "ERROR":
                raise _container_error(container, status, has_image)
            if state == "PUBLISHED":  # nobody but this call knows the container
                raise AmbiguousError(
                    f"threads: container {container} is already published before this "
                    "publish; it may be on the profile"
                )
            raise RetryableError(
                f"threads: container {container} is {state or 'without a status'}; "
                "nothing was published"
            )
        raise RetryableError(
            f"threads: container {container} is still IN_PROGRESS after "
            f"{sum(CONTAINER_WAITS):.0f} s; nothing was published",
            retry_after=60.0,
        )

    def _settle(self, post: OutgoingPost, container: str, error: AmbiguousError) -> Receipt:
        """After a publish in doubt: the container's status says what became of it."""
        try:
            status = self._container_status(container, "read the container after the publish")
        except AuthenticationError:
            raise
        except ChannelError as exc:
            raise AmbiguousError(
                f"{error}; its container could not be read ({exc})", retry_after=error.retry_after
            ) from None
        state = str(status.get("status") or "")
        if state == "PUBLISHED":
            try:
                found = self.find(post)
            except ChannelError:
                found = None
            if found is not None:
                log.info(
                    "threads: post %s of %s is there as %s (the publish answered: %s)",
                    post.post_id,
                    self.account_name,
                    found.remote_id,
                    error,
                )
                return Receipt(
                    found.remote_id, found.url, {"reconciled": "true", "container": container}
                )
            raise AmbiguousError(
                f"{error}; Threads says container {container} is published, but it is not "
                "among the profile's threads yet",
                retry_after=error.retry_after,
            )
        if state in ("ERROR", "EXPIRED"):
            raise RetryableError(
                f"{error}; its container {container} is {state}: nothing was published"
            )
        raise AmbiguousError(
            f"{error}; its container {container} is {state or 'without a status'}: the "
            "publish may still land",
            retry_after=error.retry_after,
        )

    # -- the publishing limit -----------------------------------------------------------

    def _quota(self, user_id: str) -> tuple[int, int, int]:
        """(posts published in the window, the most allowed, the window in seconds), read
        from ``threads_publishing_limit``; never assumed."""
        body = self._request(
            "GET",
            f"{user_id}/threads_publishing_limit",
            action="read the publishing limit",
            creates_post=False,
            params={"fields": "quota_usage,config"},
        )
        try:
            entry = body["data"][0]
            config = entry["config"]
            return (
                int(entry["quota_usage"]),
                int(config["quota_total"]),
                int(config["quota_duration"]),
            )
        except (KeyError, IndexError, TypeError, ValueError):
            raise RetryableError(
                "threads: the publishing limit answer had no quota_usage and config; nothing "
                "was published"
            ) from None

    def _check_quota(self, user_id: str) -> None:
        used, total, window = self._quota(user_id)
        if used >= total:
            raise self._at_limit(user_id, used, total, window, "")

    def _refusal(self, user_id: str, error: PermanentError) -> ChannelError:
        """A refused publish: the publishing limit (read again) if the profile is at it,
        else the refusal as it is."""
        try:
            used, total, window = self._quota(user_id)
        except ChannelError:
            return error
        if used >= total:
            return self._at_limit(user_id, used, total, window, f" ({error})")
        return error

    def _at_limit(
        self, user_id: str, used: int, total: int, window: int, detail: str
    ) -> RetryableError:
        return RetryableError(
            f"threads: the profile has published {used} of its {total} posts allowed in "
            f"{window // 3600} hours{detail}; nothing was published",
            retry_after=self._limit_wait(user_id, window),
        )

    def _limit_wait(self, user_id: str, window: int) -> float | None:
        """Seconds until the oldest of the profile's threads in the window leaves it: the
        earliest a post can free up (Threads does not say which posts count, so this is a
        lower bound; the next attempt reads the limit again). ``None`` if unreadable."""
        now = self._clock()
        params = {
            "fields": "id,timestamp",
            "limit": str(self.find_page_size),
            "since": str(int(now - window)),
        }
        oldest: float | None = None
        for _ in range(self.find_pages):
            try:
                body = self._read_threads(user_id, params)
            except ChannelError:
                return None
            stamps = [s.timestamp() for item in body["data"] if (s := timestamp(item)) is not None]
            if stamps:
                oldest = min(stamps) if oldest is None else min(oldest, *stamps)
            has_next, after = paging(body)
            if not has_next or not after:
                break
            params = {**params, "after": after}
        if oldest is None:
            return None
        return max(60.0, oldest + window - now)

    # -- the profile and its token ------------------------------------------------------

    def _profile_id(self, refresh: bool = False) -> str:
        """The token's Threads user id, once it is known to be the configured profile's."""
        if self._user_id is not None and not refresh:
            return self._user_id
        me = self._request(
            "GET",
            "me",
            action="read the profile (GET /me)",
            creates_post=False,
            params={"fields": "id,username"},
        )
        user_id, username = str(me.get("id") or ""), str(me.get("username") or "")
        if not user_id:
            raise RetryableError("threads: GET /me answered without an id; nothing was published")
        if username.casefold() != self.username.casefold():
            raise AuthenticationError(
                f"threads: the access token of account {self.account_name!r} belongs to "
                f"@{username} (Threads id {user_id}), but the account is configured as "
                f"@{self.username}: make the token while logged in as @{self.username}"
            )
        self._user_id = user_id
        return user_id

    def _debug_token(self) -> dict[str, Any] | None:
        """``debug_token``'s data about our own token; ``None`` when Threads will not say
        (the profile is not a tester of the app). Invalid or expired: authentication."""
        try:
            body = self._request(
                "GET",
                "debug_token",
                action="read the token's expiry (debug_token)",
                creates_post=False,
                params={"input_token": self._token.reveal()},
            )
        except AuthenticationError:
            raise
        except ChannelError as exc:
            log.info("threads: %s: debug_token says nothing: %s", self.account_name, exc)
            return None
        data = body.get("data")
        if not isinstance(data, dict):
            return None
        if data.get("is_valid") is False:
            raise AuthenticationError(
                "threads: Threads says the access token is no longer valid (expired or "
                "revoked): make a new long-lived token (docs/accounts.md, Threads)"
            )
        expires = _expiry(data)
        if expires is not None and expires.timestamp() <= self._clock():
            raise AuthenticationError(
                f"threads: the access token expired on {expires:%Y-%m-%d %H:%M} UTC: make a "
                "new long-lived token (docs/accounts.md, Threads)"
            )
        scopes = data.get("scopes")
        if isinstance(scopes, list):
            missing = [scope for scope in SCOPES if scope not in scopes]
            if missing:
                raise PermanentError(
                    f"threads: the access token lacks {', '.join(missing)}: make it again "
                    f"with the permissions {', '.join(SCOPES)}"
                )
        return data

    def _token_expiry(self) -> str:
        """``accounts check``'s words on the token's life."""
        data = self._debug_token()
        if data is None:
            return (
                "token expiry unknown: debug_token answers only for testers of the app; "
                "long-lived tokens last 60 days"
            )
        expires = _expiry(data)
        if expires is None:
            return "the token does not expire"
        days = (expires.timestamp() - self._clock()) / 86400
        advice = ""
        if days < EXPIRY_WARNING_DAYS:
            advice = ": refresh it now (GET /refresh_access_token, docs/accounts.md)"
        return f"token expires {expires:%Y-%m-%d %H:%M} UTC, in {days:.0f} days{advice}"

    # -- the Threads API ----------------------------------------------------------------

    def _container_status(self, container: str, action: str) -> dict[str, Any]:
        return self._request(
            "GET",
            container,
            action=action,
            creates_post=False,
            params={"fields": "status,error_message"},
        )

    def _read_threads(self, user_id: str, params: dict[str, str]) -> dict[str, Any]:
        """One page of the profile's threads (a look-up's read: ``GraphChannel._look``)."""
        action = "read the profile's threads"
        return self._look(f"{user_id}/threads", params, action=action, listing="the threads")

    def _outcome(self, error: GraphError) -> ChannelError:
        """Rows ``THREADS-*`` of error-outcomes."""
        code, where, wait = error.code, error.where, error.wait
        if code in TOKEN_INVALID:
            return AuthenticationError(
                f"{where}: the access token was refused (expired after 60 days, revoked, or "
                "the password changed): make a new long-lived token (docs/accounts.md)"
            )
        if code in THROTTLED:
            return RetryableError(f"{where}; rate limited", retry_after=wait)
        if code in TEMPORARY and error.creates_post:
            return AmbiguousError(f"{where}; it may have been published", retry_after=wait)
        if code in TEMPORARY:
            return RetryableError(f"{where}; temporary: nothing was published", retry_after=wait)
        if code in PERMISSION:
            return PermanentError(
                f"{where}: the token lacks permission: it needs {', '.join(SCOPES)}"
            )
        return self._by_status(error)


# -- helpers --------------------------------------------------------------------------------


def _is_thread(item: Any) -> bool:
    return isinstance(item, dict) and bool(item.get("id")) and item.get("text") is not None


def _check_links(text: str) -> None:
    """More than ``MAX_LINKS`` different links fail at the container: refuse them first."""
    from twitter_text import extract_urls

    links = set(extract_urls(text, True))
    if len(links) > MAX_LINKS:
        raise PermanentError(
            f"threads: the post has {len(links)} different links; Threads takes at most "
            f"{MAX_LINKS} (THREADS_API__LINK_LIMIT_EXCEEDED); nothing was sent"
        )


def _container_error(container: str, status: Mapping[str, Any], has_image: bool) -> ChannelError:
    said = str(status.get("error_message") or "UNKNOWN")
    where = f"threads: container {container} failed ({said}); nothing was published"
    if said in PERMANENT_CONTAINER_ERRORS:
        return PermanentError(where)
    if has_image:
        where += (
            ": if this repeats, Threads cannot fetch the image: its public address "
            "(web.public_url) must be reachable from the internet"
        )
    return RetryableError(where)


def _expiry(data: Mapping[str, Any]) -> datetime | None:
    """``expires_at`` (Unix seconds; 0 or absent: does not expire) as aware UTC."""
    value = as_int(data.get("expires_at"))
    if not value:
        return None
    return datetime.fromtimestamp(value, UTC)
