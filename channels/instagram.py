"""Instagram (a professional account) through the Instagram Platform's content publishing
API, with a thin ``requests`` client of the Graph API (as ``facebook.py``, for the same
reasons).

Sources (developers.facebook.com/docs/instagram-platform, checked November 2026):

- Content Publishing: host ``graph.instagram.com`` with Instagram Login (an Instagram
  User access token; permissions ``instagram_business_basic``,
  ``instagram_business_content_publish``) or ``graph.facebook.com`` with Facebook Login
  (a Page access token; ``instagram_basic``, ``instagram_content_publish``,
  ``pages_read_engagement``): the same paths on both, versioned (``/v25.0/``), the token
  as ``Authorization: Bearer``. "We cURL media used in publishing attempts, so the media
  must be hosted on a publicly accessible server"; "JPEG is the only image format
  supported"; carousels of up to 10; "Instagram accounts are limited to 100 API-published
  posts within a 24-hour moving period. Carousels count as a single post" (the
  ``content_publishing_limit`` reference says 50: both read from the account, never
  assumed); container status ``EXPIRED``, ``ERROR``, ``FINISHED``, ``IN_PROGRESS``,
  ``PUBLISHED``.
- IG User Media (``POST /{ig-user-id}/media``: ``image_url``, ``caption``, ``alt_text``
  for images since 24 March 2025, ``is_carousel_item``, ``media_type=CAROUSEL`` with
  ``children``; "Containers expire after 24 hours"; "An Instagram account can only create
  400 containers within a rolling 24 hour period"; caption "Maximum 2200 characters, 30
  hashtags, and 20 @ tags"). ``GET /{ig-user-id}/media`` lists the account's media newest
  first, with cursor paging only ("All endpoints support cursor-based pagination").
- IG User Media Publish (``POST /{ig-user-id}/media_publish`` with ``creation_id``),
  IG Container (``GET /{container-id}?fields=status_code,status``), IG User Content
  Publishing Limit (``GET /{ig-user-id}/content_publishing_limit?fields=config,quota_usage``
  answers ``data[0].quota_usage`` and ``data[0].config.quota_total``/``quota_duration``),
  Error Codes (code/subcode pairs: see ``docs/error-outcomes.md``, rows ``IG-*``).

The account's ``handle`` is the Instagram professional account's id (``ig-user-id``);
``display_name`` is what people read. Credential ``access_token``.

publish(post):
    1. The images are read and checked (JPEG, 1 to 10, under 8 MiB) and a short-lived
       signed link is made for each (``media_urls``): no image, or an install that cannot
       serve one, is a ``PermanentError`` before any request.
    2. ``content_publishing_limit``: at ``quota_total`` the post waits (``RetryableError``
       with ``retry_after`` until the oldest post of the window leaves it).
    3. The container (one image), or a container per image (``is_carousel_item``) and a
       ``CAROUSEL`` container. Instagram fetches each image now; a fetch that fails is
       error 9004, retryable, and the message names the link (never its signature).
    4. Each container's ``status_code`` is read until ``FINISHED`` (at once, then after
       ``MEDIA_WAITS``: about 30 s in all); ``ERROR`` and ``EXPIRED`` are failures.
    5. ``media_publish``: the only request that makes anything public.
    6. The receipt's URL from ``GET /{media-id}?fields=permalink`` (best effort).

Exactly once. A container that was made but not published is not a post (it expires
after 24 hours): any failure before ``media_publish`` is retryable or permanent, and the
next attempt makes new containers. ``media_publish`` is the create that is in doubt when
it gets no answer (timeout, dropped connection, 5xx, codes 1, 2, -1): the channel reads
the container's ``status_code`` once; ``PUBLISHED`` and the post among the account's media
gives its receipt, anything else stays ``AmbiguousError`` for the worker's look-ups.
Instagram has no idempotency key, so ``resend_is_safe`` is False. ``find`` reads the
account's media back to ``post.not_before`` (cursor pages, ``find_pages`` at most) and
matches the caption exactly.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from core.errors import (
    AmbiguousError,
    AuthenticationError,
    ChannelError,
    PermanentError,
    RetryableError,
    SettingsError,
)
from core.settings import AccountSettings, Settings

from .base import Media, OutgoingPost, Receipt, lookback_start, read_images
from .credentials import redact
from .graph import (
    PERMISSION,
    TOKEN_INVALID,
    GraphChannel,
    GraphError,
    as_int,
    next_cursor,
    normal,
    timestamp,
)
from .media_urls import MediaUrls
from .networks import NETWORKS

log = logging.getLogger(__name__)

CREDENTIALS = ("access_token",)
GRAPH_HOST = "https://graph.instagram.com"  # Instagram Login; graph.facebook.com for Facebook Login
# Seconds between looks at a container still IN_PROGRESS (the first look is at once).
MEDIA_WAITS = (1.0, 2.0, 3.0, 5.0, 8.0, 11.0)
MEDIA_PAGE = 50
QUOTA_DURATION = 86400.0  # when the answer gives none: "24-hour moving period"

# Graph API error codes and Instagram subcodes (Error Codes reference). docs/error-outcomes.md
THROTTLED = {4, 17, 32, 341, 613, 80001, 80002}
TEMPORARY = {1, 2, -1, -2}
PUBLISH_LIMIT = 9  # subcode 2207042: "You reached maximum number of posts …"
MEDIA_FETCH = 9004  # subcode 2207052: "Media download has failed."
NOT_READY = 9007  # subcode 2207027: the container is not finished
UNREACHABLE = 33  # code 100: "does not exist, cannot be loaded due to missing permissions"
SPAM = 2207051
RESTRICTED = 2207050  # the account is inactive, checkpointed or restricted
# Nothing was published, and a new container may well succeed.
TRY_AGAIN = {2207001, 2207003, 2207006, 2207008, 2207020, 2207032, 2207052, 2207053}
# Said to media_publish, these mean the container was not published (not found or not
# permitted, "temporary error publishing a container", expired, not ready).
NOT_PUBLISHED = {2207006, 2207008, 2207020, 2207027}
# The image or caption itself is refused: a person must change it.
BAD_MEDIA = {2207004, 2207005, 2207009, 2207010, 2207023, 2207026, 2207028}
TOKEN_SUBCODES = {
    458: "the app is no longer installed for the user who made the token",
    459: "the user must log in to clear a security checkpoint",
    460: "the password of the user who made the token has changed",
    463: "the token has expired",
    464: "the user who made the token is not confirmed",
    467: "the token is invalid (logged out, or revoked)",
}


class InstagramChannel(GraphChannel):
    """One Instagram professional account (``handle``: its id) and its access token."""

    name = "instagram"
    CREDENTIALS = CREDENTIALS
    HOST = GRAPH_HOST
    WHO = "Instagram"
    TOKEN_AS = "bearer"
    SAID_FIELDS = ("error_user_msg", "message")
    #: find(): media per page, and the most pages it reads back to ``not_before``.
    find_page_size = MEDIA_PAGE
    find_pages = 5

    def __init__(
        self,
        account_name: str,
        account: AccountSettings,
        credentials: Mapping[str, str],
        *,
        media_urls: MediaUrls | None = None,
        graph_api_version: str = "v25.0",
        timeout: float = 20.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._connect(account_name, account, credentials, graph_api_version, timeout, clock)
        user_id = account.handle.strip().lstrip("@")
        if not user_id.isdigit():
            raise SettingsError(
                f"account {account_name!r}: an Instagram handle is the professional account's "
                f"id (digits, e.g. 17841400000000001), not {account.handle!r}: "
                "see docs/accounts.md (Instagram)"
            )
        self.user_id = user_id
        self.media_urls = media_urls
        self._sleep = sleep
        #: signed link -> the same link without its signature, for messages
        self._links: dict[str, str] = {}

    @classmethod
    def options(cls, account_name: str, settings: Settings) -> dict[str, Any]:
        return {
            **super().options(account_name, settings),
            "graph_api_version": settings.graph_api_version,
            "media_urls": MediaUrls(settings.web),
        }

    def __repr__(self) -> str:
        return f"InstagramChannel(account={self.account_name!r}, id={self.user_id!r})"

    # -- the contract -------------------------------------------------------------------

    def publish(self, post: OutgoingPost) -> Receipt:
        images = read_images("instagram", post.media, limits=NETWORKS["instagram"].images)
        if not images:
            raise PermanentError(
                "instagram: every Instagram post needs an image (JPEG); this one has none, "
                "so nothing was sent"
            )
        self._links = {}
        links = [self._link(data) for _, data in images]  # before any request
        self._wait_for_quota()
        if len(images) == 1:
            ((media, _),) = images
            container = self._container(
                "the post's container",
                {"image_url": links[0], "caption": post.text, **_alt(media)},
            )
        else:
            children = [
                self._container(
                    f"the container of image {media.path.name}",
                    {"image_url": link, "is_carousel_item": True, **_alt(media)},
                )
                for (media, _), link in zip(images, links, strict=True)
            ]
            container = self._container(
                "the carousel's container",
                {"media_type": "CAROUSEL", "children": ",".join(children), "caption": post.text},
            )
        media_id = self._publish_container(post, container)
        log.debug(
            "instagram: published post %s of %s as %s", post.post_id, self.account_name, media_id
        )
        return Receipt(remote_id=media_id, url=self._permalink(media_id, "permalink"))

    def find(self, post: OutgoingPost) -> Receipt | None:
        """The account's media since ``post.not_before`` (one page without it), matched
        by caption; ``None`` only once that stretch was read in full."""
        since = lookback_start(post)
        wanted = normal(post.text)
        params = {"fields": "id,caption,timestamp,permalink", "limit": str(self.find_page_size)}
        for _ in range(self.find_pages):
            body = self._read_media(params)
            items = [item for item in body["data"] if isinstance(item, dict) and item.get("id")]
            for item in items:
                if normal(str(item.get("caption") or "")) == wanted:
                    link = item.get("permalink")
                    return Receipt(remote_id=str(item["id"]), url=str(link) if link else None)
            after = next_cursor(body)
            if after is None or since is None:
                return None  # every post of the account, or the one page asked for
            oldest = timestamp(items[-1]) if items else None
            if oldest is None:
                raise AmbiguousError("instagram: cannot look the post up: a post has no time")
            if oldest < since:
                return None
            params = {**params, "after": after}
        raise AmbiguousError(
            f"instagram: cannot look the post up: more than {self.find_pages * self.find_page_size}"
            f" posts since {since:%Y-%m-%d %H:%M} UTC"
        )

    def check(self) -> str:
        urls = self.media_urls
        problem = urls.problem() if urls is not None else "[web] is not configured"
        if urls is None or problem:
            raise PermanentError(f"instagram: images cannot be offered to Instagram: {problem}")
        me = self._request(
            "GET",
            self.user_id,
            action=f"read the Instagram account {self.user_id}",
            creates_post=False,
            params={"fields": "id,username"},
        )
        used, total, _ = self._publishing_limit()
        return (
            f"@{me.get('username', '?')} (Instagram id {self.user_id}; {used} of {total} posts "
            f"published through the API in the last 24 hours; images from "
            f"{urls.public_url}/media/)"
        )

    # -- steps of a publish -------------------------------------------------------------

    def _link(self, data: bytes) -> str:
        """The signed link to an image (named by its bytes' hash): a PermanentError,
        before any request, when this install cannot serve it."""
        if self.media_urls is None:
            raise PermanentError(
                "instagram: images cannot be offered to Instagram: [web] is not configured; "
                "nothing was sent"
            )
        digest = hashlib.sha256(data).hexdigest()
        try:
            link = self.media_urls.url(digest)
        except SettingsError as exc:
            raise PermanentError(
                f"instagram: images cannot be offered to Instagram: {exc}; nothing was sent"
            ) from None
        self._links[link] = self.media_urls.where(digest)
        return link

    def _wait_for_quota(self) -> None:
        used, total, duration = self._publishing_limit()
        if used < total:
            return
        raise RetryableError(
            f"instagram: the account has published {used} of the {total} posts Instagram "
            f"allows through the API in {duration / 3600:g} hours; nothing was sent",
            retry_after=self._quota_wait(duration),
        )

    def _publishing_limit(self) -> tuple[int, int, float]:
        """(posts published through the API in the window, the most allowed, the window's
        seconds), as the account's ``content_publishing_limit`` says."""
        body = self._request(
            "GET",
            f"{self.user_id}/content_publishing_limit",
            action="read the publishing limit",
            creates_post=False,
            params={"fields": "config,quota_usage"},
        )
        data = body.get("data")
        row: dict[str, Any] = {}
        if isinstance(data, list) and data and isinstance(data[0], dict):
            row = data[0]
        config = row.get("config")
        if not isinstance(config, dict):
            config = {}
        used, total = as_int(row.get("quota_usage")), as_int(config.get("quota_total"))
        if used is None or total is None:
            raise RetryableError(
                "instagram: read the publishing limit: the answer has no quota_usage and "
                "config.quota_total; nothing was sent"
            )
        duration = as_int(config.get("quota_duration")) or QUOTA_DURATION
        return used, total, float(duration)

    def _quota_wait(self, duration: float) -> float:
        """Seconds until the oldest post of the window leaves it: a slot is free no sooner
        (an estimate from the account's media, which also holds posts made in the app, so
        never later than the real one; an hour when the media cannot be read)."""
        try:
            body = self._read_media({"fields": "timestamp", "limit": "100"})
        except ChannelError:
            return 3600.0
        now = self._clock()
        times = [
            stamp.timestamp() for item in body["data"] if (stamp := timestamp(item)) is not None
        ]
        in_window = [t for t in times if t > now - duration]
        if not in_window:
            return 3600.0
        return min(max(min(in_window) + duration - now, 60.0), duration)

    def _container(self, what: str, fields: dict[str, Any]) -> str:
        """Make a container and wait until it is ``FINISHED``; its id."""
        body = self._request(
            "POST", f"{self.user_id}/media", action=f"make {what}", creates_post=False, json=fields
        )
        container = body.get("id")
        if not container:
            raise RetryableError(f"instagram: make {what}: no container id; nothing was published")
        self._wait_until_finished(str(container), what)
        return str(container)

    def _wait_until_finished(self, container: str, what: str) -> None:
        for wait in (0.0, *MEDIA_WAITS):
            if wait:
                self._sleep(wait)
            code, status = self._container_status(container, what)
            if code == "FINISHED":
                return
            if code == "IN_PROGRESS":
                continue
            raise self._container_failed(container, what, code, status)
        raise RetryableError(
            f"instagram: {what} ({container}) is still being processed after "
            f"{sum(MEDIA_WAITS):.0f} s; nothing was published",
            retry_after=60.0,
        )

    def _container_status(self, container: str, what: str) -> tuple[str, str]:
        body = self._request(
            "GET",
            container,
            action=f"read the status of {what}",
            creates_post=False,
            params={"fields": "status_code,status"},
        )
        return str(body.get("status_code") or ""), str(body.get("status") or "")

    def _container_failed(self, container: str, what: str, code: str, status: str) -> ChannelError:
        where = f"instagram: {what} ({container}) is {code or 'without a status'}"
        said = f" ({redact(status, [self._token.reveal()])})" if status else ""
        if code == "EXPIRED":
            return RetryableError(f"{where}: not published within 24 hours; a new one is made")
        subcodes = {int(n) for n in re.findall(r"\b22070\d\d\b", status)}
        if code == "ERROR" and subcodes & BAD_MEDIA:
            return PermanentError(f"{where}{said}: Instagram refuses the image or the caption")
        return RetryableError(f"{where}{said}; nothing was published")

    def _publish_container(self, post: OutgoingPost, container: str) -> str:
        try:
            body = self._request(
                "POST",
                f"{self.user_id}/media_publish",
                action="publish the post",
                creates_post=True,
                json={"creation_id": container},
            )
        except AmbiguousError as error:
            return self._settle(post, container, error)
        media_id = body.get("id")
        if not media_id:
            raise AmbiguousError(
                "instagram: Instagram accepted the post but its answer had no media id"
            )
        return str(media_id)

    def _settle(self, post: OutgoingPost, container: str, error: AmbiguousError) -> str:
        """After a publish in doubt: the container says whether it was published; if so,
        the post among the account's media gives its id. Otherwise it stays in doubt: the
        request may still land, and only the worker's look-ups may send it again."""
        try:
            code, _ = self._container_status(container, "the published container")
        except ChannelError:
            raise error from None
        if code != "PUBLISHED":
            raise error
        try:
            found = self.find(post)
        except ChannelError:
            found = None
        if found is None:
            raise AmbiguousError(
                f"{error}; Instagram says the container {container} is published, but the post "
                "is not yet among the account's media"
            ) from None
        log.info(
            "instagram: post %s of %s is there as %s (the publish answered: %s)",
            post.post_id,
            self.account_name,
            found.remote_id,
            error,
        )
        return found.remote_id

    def _read_media(self, params: dict[str, str]) -> dict[str, Any]:
        """One page of the account's media (a look-up's read: see ``GraphChannel._look``)."""
        action = "read the account's media"
        return self._look(f"{self.user_id}/media", params, action=action, listing="the media")

    # -- the Graph API ------------------------------------------------------------------

    def _outcome(self, error: GraphError) -> ChannelError:
        """Rows ``IG-*`` of docs/error-outcomes.md."""
        code, subcode, where = error.code, error.subcode, error.where
        if code in TOKEN_INVALID:
            reason = TOKEN_SUBCODES.get(subcode or 0, "the token was refused")
            return AuthenticationError(
                f"{where}: {reason}. Make a new access token (docs/accounts.md, Instagram)"
            )
        if subcode == RESTRICTED:
            return AuthenticationError(
                f"{where}: the Instagram account is inactive, checkpointed or restricted; "
                "someone must sign in to the Instagram app and do what it asks"
            )
        if subcode == SPAM:
            return PermanentError(f"{where}: Instagram restricted this as suspected spam")
        if code == PUBLISH_LIMIT or subcode == 2207042:
            return RetryableError(
                f"{where}: the account's publishing limit is reached; nothing was published",
                retry_after=self._quota_wait(QUOTA_DURATION),
            )
        if code in THROTTLED:
            return RetryableError(f"{where}; rate limited", retry_after=error.wait)
        if code == MEDIA_FETCH or subcode == 2207052:
            links = ", ".join(sorted(set(self._links.values()))) or "the image link"
            return RetryableError(
                f"{where}: Instagram could not fetch the image from {links}: the web app must "
                "answer there from the internet (docs/accounts.md, Instagram); nothing was "
                "published"
            )
        if code == NOT_READY or subcode == 2207027:
            return RetryableError(f"{where}: the container is not ready; nothing was published")
        if subcode in BAD_MEDIA:
            return PermanentError(f"{where}: Instagram refuses the image or the caption")
        if (
            error.creates_post
            and (code in TEMPORARY or error.status >= 500)
            and subcode not in NOT_PUBLISHED
        ):
            # An unknown or server error after we asked to publish: the post may exist.
            return AmbiguousError(f"{where}; it may have been published")
        if subcode in TRY_AGAIN or code in TEMPORARY:
            return RetryableError(f"{where}; nothing was published, try again")
        if subcode == UNREACHABLE:
            return PermanentError(
                f"{where}: the token cannot reach this object; the account's handle must be "
                "the id of the Instagram account the token was made for"
            )
        if code in PERMISSION:
            return PermanentError(
                f"{where}: the token lacks permission to publish: it needs "
                "instagram_business_basic and instagram_business_content_publish (Instagram "
                "Login), or instagram_basic, instagram_content_publish and "
                "pages_read_engagement (Facebook Login)"
            )
        return self._by_status(error)

    def _quote(self, text: Any) -> str:
        """Instagram's own words, without the token or a signed link's signature."""
        said = str(text)
        for link, where in self._links.items():
            said = said.replace(link, where)
        return super()._quote(re.sub(r"([?&]sig=)[0-9a-fA-F]+", r"\1…", said))


def _alt(media: Media) -> dict[str, str]:
    """``alt_text`` when the image has one (Instagram otherwise writes its own)."""
    return {"alt_text": media.alt_text} if media.alt_text.strip() else {}
