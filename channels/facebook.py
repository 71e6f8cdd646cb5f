"""Facebook Pages through a thin ``requests`` client of the Graph API.

Why not ``facebook-sdk``: its last release (3.1.0, 2018) accepts only API versions up to
3.1, its errors carry no HTTP status or headers (so no ``Retry-After``, no usage
headers), and it has no timeout. Four endpoints do not need a library.

- Text (and link) post: ``POST /{page-id}/feed`` with ``message`` (+ ``link``, the preview
  card, from ``post.link``; a post with images takes no ``link``, its text carries it).
- One image: ``POST /{page-id}/photos`` (multipart ``source``, ``caption``,
  ``alt_text_custom``): the photo is the post.
- Several images: each uploaded with ``published=false`` (nothing public yet), then
  ``POST /{page-id}/feed`` with ``attached_media[n]={"media_fbid": id}``.
- ``find``: the Page's posts since ``post.not_before`` (``GET /{page-id}/feed`` with
  ``since``, paged; one page without it), matched by exact text; for a
  one-image post also the Page's uploaded photos (``GET /{page-id}/photos?type=uploaded``,
  the caption is the photo's ``name``), because a photo post has no duplicate guard: a
  resend of one that is there but missed by the look-up would publish it twice.
- ``check``: reads the Page and ``/me`` with the token, and tells a user token (the usual
  cause of "unknown error" in other tools) from the Page's own token.

The call itself, and the reading of a Graph error answer, are ``graph.GraphChannel``'s.
The Page access token travels as the ``access_token`` parameter: in the form body of a
POST, in the query of a GET.

Outcomes: ``docs/error-outcomes.md``, rows ``FB-*``.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import time
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any

import requests

from core.errors import (
    AlreadyPublished,
    AmbiguousError,
    AuthenticationError,
    ChannelError,
    PermanentError,
    RetryableError,
)
from core.settings import AccountSettings, Settings

from .base import Media, OutgoingPost, Receipt, lookback_start, read_images
from .graph import PERMISSION, TOKEN_INVALID, GraphChannel, GraphError, next_cursor
from .networks import NETWORKS
from .transport import identify_duplicate

log = logging.getLogger(__name__)

CREDENTIALS = ("page_token",)
GRAPH_HOST = "https://graph.facebook.com"
FEED_SIZE = 100
USAGE_HEADERS = ("x-app-usage", "x-page-usage", "x-business-use-case-usage")

# Graph API error codes (the "code" of the JSON error body). See docs/error-outcomes.md.
TEMPORARY = {1, 2}
THROTTLED = {4, 17, 32, 341, 613, 80001}
POLICY_BLOCK = {368}
DUPLICATE = {506}
TOKEN_SUBCODES = {
    458: "the app is no longer installed for the user who made the token",
    459: "the user must log in to Facebook to clear a security checkpoint",
    460: "the password of the user who made the token has changed",
    463: "the token has expired",
    464: "the user who made the token is not confirmed",
    467: "the token is invalid (logged out, or revoked)",
}


class FacebookChannel(GraphChannel):
    """One Facebook Page, through its Page access token (credential ``page_token``)."""

    name = "facebook"
    CREDENTIALS = CREDENTIALS
    HOST = GRAPH_HOST
    #: find(): items per page, and the most pages it reads back to ``not_before``.
    find_page_size = FEED_SIZE
    find_pages = 5

    def __init__(
        self,
        account_name: str,
        account: AccountSettings,
        credentials: Mapping[str, str],
        *,
        graph_api_version: str = "v25.0",
        timeout: float = 20.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._connect(account_name, account, credentials, graph_api_version, timeout, clock)
        self.page = account.handle.lstrip("@")
        #: The last usage headers the Graph API sent, parsed from JSON, by header name.
        self.usage: dict[str, Any] = {}

    @classmethod
    def options(cls, account_name: str, settings: Settings) -> dict[str, Any]:
        return {
            **super().options(account_name, settings),
            "graph_api_version": settings.graph_api_version,
        }

    def __repr__(self) -> str:
        return f"FacebookChannel(account={self.account_name!r}, page={self.page!r})"

    # -- the contract -------------------------------------------------------------------

    def publish(self, post: OutgoingPost) -> Receipt:
        try:
            return self._publish(post)
        except AlreadyPublished as duplicate:
            raise identify_duplicate(duplicate, self, post) from None

    def _publish(self, post: OutgoingPost) -> Receipt:
        images = read_images("facebook", post.media, limits=NETWORKS["facebook"].images)
        if len(images) == 1:
            ((media, data),) = images
            body = self._request(
                "POST",
                f"{self.page}/photos",
                action="publish the photo post",
                creates_post=True,
                data={"caption": post.text, "alt_text_custom": media.alt_text, "published": "true"},
                files={"source": _file(media, data)},
            )
            # A photo post answers {"id": photo id, "post_id": "{page}_{post}"}.
            remote_id = body.get("post_id") or body.get("id")
        else:
            fields: dict[str, str] = {"message": post.text}
            if post.link and not images:
                fields["link"] = post.link
            for n, (media, data) in enumerate(images):
                media_fbid = self._upload(media, data)
                fields[f"attached_media[{n}]"] = json.dumps({"media_fbid": media_fbid})
            body = self._request(
                "POST",
                f"{self.page}/feed",
                action="publish the post",
                creates_post=True,
                data=fields,
            )
            remote_id = body.get("id")
        if not remote_id:
            raise AmbiguousError(
                "facebook: the Graph API accepted the post but its answer had no post id"
            )
        log.debug(
            "facebook: published post %s of %s as %s", post.post_id, self.account_name, remote_id
        )
        return Receipt(remote_id=str(remote_id), url=_url(str(remote_id)))

    def find(self, post: OutgoingPost) -> Receipt | None:
        """The Page's posts since ``post.not_before`` (one page without it), matched by
        text; for a one-image post then its uploaded photos, matched by caption. ``None``
        only once what it had to read was read in full."""
        found = self._scan("feed", {"fields": "id,message,created_time"}, "message", post)
        if found is not None or len(post.media) != 1:
            return found
        # A photo post (no duplicate guard): its photo, if the feed did not show its post.
        params = {"type": "uploaded", "fields": "id,name,created_time"}
        return self._scan("photos", params, "name", post)

    def _scan(
        self, edge: str, params: dict[str, str], field: str, post: OutgoingPost
    ) -> Receipt | None:
        """Page through ``/{page}/{edge}`` (newest first) for an item whose ``field`` is
        the post's text: back to ``not_before`` (``since``), at most ``find_pages`` pages."""
        what = "the feed" if edge == "feed" else "the photos"
        since = lookback_start(post)
        params = {**params, "limit": str(self.find_page_size)}
        if since is not None:
            params["since"] = str(int(since.timestamp()))
        for _ in range(self.find_pages):
            body = self._look(
                f"{self.page}/{edge}",
                params,
                action=f"read {what} of the Page",
                listing=what,
                what="photo post" if edge == "photos" else "post",
            )
            found = _match(body, field, post.text)
            after = next_cursor(body)
            if found is not None or after is None or since is None:
                return found  # found, every item since then, or the one page asked for
            params = {**params, "after": after}
        raise AmbiguousError(
            f"facebook: cannot look the post up: more than {self.find_pages * self.find_page_size}"
            f" items in {what} since {since:%Y-%m-%d %H:%M} UTC"
        )

    def check(self) -> str:
        page = self._request(
            "GET",
            self.page,
            action=f"read the Page {self.page}",
            creates_post=False,
            params={"fields": "id,name"},
        )
        me = self._request(
            "GET",
            "me",
            action="read the token's identity (GET /me)",
            creates_post=False,
            params={"fields": "id,name", "metadata": "1"},
        )
        page_id, page_name = str(page.get("id", "")), str(page.get("name", self.page))
        if str(me.get("id", "")) == page_id and page_id:
            return f"{page_name} (Page id {page_id})"
        kind = (me.get("metadata") or {}).get("type", "")
        who = f"{me.get('name', 'unknown')} (id {me.get('id', '?')})"
        if kind == "user":
            raise AuthenticationError(
                f"facebook: this is a user access token, not a Page token: it belongs to the "
                f"person {who}. Exchange it for the Page's own token (GET /me/accounts with "
                f"the user token, then the access_token of {page_name}); see docs/accounts.md"
            )
        raise AuthenticationError(
            f"facebook: this token is not {page_name}'s (Page id {page_id}): it belongs to "
            f"{kind or 'another identity'} {who}. Use the Page access token of {page_name}"
        )

    # -- the Graph API ------------------------------------------------------------------

    def _upload(self, media: Media, data: bytes) -> str:
        """Upload an unpublished photo for a multi-photo post; return its id.

        Unpublished photos are not visible, so failures here are at worst retryable.
        """
        body = self._request(
            "POST",
            f"{self.page}/photos",
            action=f"upload image {media.path.name}",
            creates_post=False,
            data={"published": "false", "alt_text_custom": media.alt_text},
            files={"source": _file(media, data)},
        )
        if not body.get("id"):
            raise RetryableError(f"facebook: the upload of {media.path.name} gave no photo id")
        return str(body["id"])

    def _answered(self, response: requests.Response) -> None:
        """Keep the usage headers (``usage``) and log them."""
        for header in USAGE_HEADERS:
            value = response.headers.get(header)
            if value is None:
                continue
            try:
                self.usage[header] = json.loads(value)
            except ValueError:
                self.usage[header] = value
            log.debug("facebook: %s %s: %s", self.account_name, header, value)

    def _outcome(self, error: GraphError) -> ChannelError:
        """Rows ``FB-*`` of error-outcomes."""
        code, where = error.code, error.where
        if code in TEMPORARY and error.creates_post:
            # "Unknown error" / "service temporarily unavailable" after we sent a post:
            # it may exist. find() settles it cheaply, a blind resend could double it.
            return AmbiguousError(f"{where}; it may have been published")
        if code in TEMPORARY:
            return RetryableError(f"{where}; temporary, try again")
        if code in THROTTLED:
            return RetryableError(f"{where}; rate limited", retry_after=error.wait)
        if code in TOKEN_INVALID:
            reason = TOKEN_SUBCODES.get(error.subcode or 0, "the token was refused")
            return AuthenticationError(
                f"{where}: {reason}. Get a new long-lived Page token (docs/accounts.md)"
            )
        if code in PERMISSION:
            return PermanentError(
                f"{where}: the token lacks permission to post on the Page. It must be the "
                "Page's own access token, made by a person with the CREATE_CONTENT task on "
                "the Page, for an app granted pages_manage_posts and pages_read_engagement"
            )
        if code in POLICY_BLOCK:
            return PermanentError(
                f"{where}: Facebook has temporarily blocked the Page or app "
                "from posting (policy); a person must look at the Page"
            )
        if code in DUPLICATE:
            return AlreadyPublished(f"{where}: Facebook says this post is already on the Page")
        return self._by_status(error)


def _file(media: Media, data: bytes) -> tuple[str, bytes, str]:
    mime = mimetypes.guess_type(media.path.name)[0] or "application/octet-stream"
    return (media.path.name, data, mime)


def _url(remote_id: str) -> str:
    page_id, _, post_id = remote_id.partition("_")
    if post_id:
        return f"https://www.facebook.com/{page_id}/posts/{post_id}"
    return f"https://www.facebook.com/{remote_id}"


def _match(body: dict[str, Any], field: str, text: str) -> Receipt | None:
    """The item of a Graph list whose ``field`` is ``text``; None if the list has none."""
    wanted = _normal(text)
    for item in body["data"]:
        if not isinstance(item, dict) or not item.get("id"):
            continue
        if _normal(str(item.get(field, ""))) == wanted:
            return Receipt(remote_id=str(item["id"]), url=_url(str(item["id"])))
    return None


def _normal(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip()
