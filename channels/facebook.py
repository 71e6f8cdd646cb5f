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

The Page access token travels as the ``access_token`` parameter: in the form body of a
POST, in the query of a GET. Query strings show up in urllib3's DEBUG log and in requests'
exception texts, so the token is registered for redaction (see ``credentials``) and no
requests exception text is ever passed on.

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
    SettingsError,
)
from core.settings import AccountSettings, Settings

from .base import Media, NetworkChannel, OutgoingPost, Receipt, lookback_start, read_images
from .credentials import Secret, redact
from .networks import NETWORKS
from .outcomes import retry_after, status_error, transport_error
from .transport import ChannelSession, identify_duplicate

log = logging.getLogger(__name__)

CREDENTIALS = ("page_token",)
GRAPH_HOST = "https://graph.facebook.com"
FEED_SIZE = 100
USAGE_HEADERS = ("x-app-usage", "x-page-usage", "x-business-use-case-usage")

# Graph API error codes (the "code" of the JSON error body). See docs/error-outcomes.md.
TEMPORARY = {1, 2}
THROTTLED = {4, 17, 32, 341, 613, 80001}
TOKEN_INVALID = {102, 190}
PERMISSION = {10, *range(200, 300)}
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


class FacebookChannel(NetworkChannel):
    """One Facebook Page, through its Page access token (credential ``page_token``)."""

    name = "facebook"
    CREDENTIALS = CREDENTIALS
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
        if not credentials.get("page_token"):
            raise SettingsError(
                f"account {account_name!r}: Facebook needs page_token (see docs/accounts.md)"
            )
        self.account_name = account_name
        self.account = account
        self.page = account.handle.lstrip("@")
        self._token = Secret(credentials["page_token"])
        version = f"v{graph_api_version.removeprefix('v')}"
        self.base_url = f"{(account.api_base_url or GRAPH_HOST).rstrip('/')}/{version}"
        self._session = ChannelSession(timeout)
        self._clock = clock
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
        log.info(
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
            try:
                body = self._request(
                    "GET",
                    f"{self.page}/{edge}",
                    action=f"read {what} of the Page",
                    creates_post=False,
                    params=params,
                )
            except AuthenticationError:
                raise
            except ChannelError as exc:
                photo = " photo" if edge == "photos" else ""
                raise AmbiguousError(
                    f"facebook: cannot look the{photo} post up ({exc})",
                    retry_after=exc.retry_after,
                ) from None
            found = _match(body, field, post.text, what)
            after = _next_cursor(body)
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

    def close(self) -> None:
        self._session.close()

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

    def _request(
        self,
        method: str,
        path: str,
        *,
        action: str,
        creates_post: bool,
        params: dict[str, str] | None = None,
        data: dict[str, str] | None = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
    ) -> dict[str, Any]:
        """One Graph API call; the JSON answer, or the ``ChannelError`` it means."""
        token = self._token.reveal()
        if method == "GET":
            params = {**(params or {}), "access_token": token}
        else:
            data = {**(data or {}), "access_token": token}
        error: ChannelError | None = None
        try:
            response = self._session.request(
                method, f"{self.base_url}/{path}", params=params, data=data, files=files
            )
        except requests.RequestException as exc:
            error = transport_error(
                exc, network="facebook", action=action, creates_post=creates_post
            )
        # Raised outside the except block: the requests exception quotes the URL (and so
        # the token of a GET), and must not ride along as __context__.
        if error is not None:
            raise error
        self._note_usage(response)
        try:
            body = response.json()
        except ValueError:
            body = None
        if 200 <= response.status_code < 300 and isinstance(body, dict) and "error" not in body:
            return body
        raise self._answer_error(response, body, action=action, creates_post=creates_post)

    def _answer_error(
        self, response: requests.Response, body: Any, *, action: str, creates_post: bool
    ) -> ChannelError:
        """The outcome of a Graph API error answer. Rows ``FB-*`` of error-outcomes."""
        status = response.status_code
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            return self._status_error(f"facebook: {action}: HTTP {status}", response, creates_post)
        code = _int(error.get("code"))
        subcode = _int(error.get("error_subcode"))
        said = redact(str(error.get("message") or "no message"), [self._token.reveal()])
        trace = f", fbtrace_id {error['fbtrace_id']}" if error.get("fbtrace_id") else ""
        sub = f", subcode {subcode}" if subcode is not None else ""
        where = f"facebook: {action}: {said} (code {code}{sub}, HTTP {status}{trace})"

        if code in TEMPORARY and creates_post:
            # "Unknown error" / "service temporarily unavailable" after we sent a post:
            # it may exist. find() settles it cheaply, a blind resend could double it.
            return AmbiguousError(f"{where}; it may have been published")
        if code in TEMPORARY:
            return RetryableError(f"{where}; temporary, try again")
        if code in THROTTLED:
            return RetryableError(f"{where}; rate limited", retry_after=self._retry_after(response))
        if code in TOKEN_INVALID:
            reason = TOKEN_SUBCODES.get(subcode or 0, "the token was refused")
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
        return self._status_error(where, response, creates_post)

    def _status_error(
        self, where: str, response: requests.Response, creates_post: bool
    ) -> ChannelError:
        """Outcome by HTTP status alone: an unknown code, or no Graph error body at all."""
        return status_error(
            where,
            response.status_code,
            creates_post=creates_post,
            who="the Graph API",
            retry_after=self._retry_after(response),
        )

    def _retry_after(self, response: requests.Response) -> float | None:
        """``Retry-After`` (seconds or a date) if sent, else the business-use-case header's
        estimate (minutes)."""
        wait = retry_after(response.headers.get("retry-after"), now=self._clock())
        if wait is not None:
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

    def _note_usage(self, response: requests.Response) -> None:
        for header in USAGE_HEADERS:
            value = response.headers.get(header)
            if value is None:
                continue
            try:
                self.usage[header] = json.loads(value)
            except ValueError:
                self.usage[header] = value
            log.debug("facebook: %s %s: %s", self.account_name, header, value)


def _file(media: Media, data: bytes) -> tuple[str, bytes, str]:
    mime = mimetypes.guess_type(media.path.name)[0] or "application/octet-stream"
    return (media.path.name, data, mime)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _url(remote_id: str) -> str:
    page_id, _, post_id = remote_id.partition("_")
    if post_id:
        return f"https://www.facebook.com/{page_id}/posts/{post_id}"
    return f"https://www.facebook.com/{remote_id}"


def _match(body: dict[str, Any], field: str, text: str, where: str) -> Receipt | None:
    """The item of a Graph list whose ``field`` is ``text``; None if the list has none."""
    items = body.get("data")
    if not isinstance(items, list):
        raise AmbiguousError(f"facebook: cannot look the post up: {where} had no list")
    wanted = _normal(text)
    for item in items:
        if not isinstance(item, dict) or not item.get("id"):
            continue
        if _normal(str(item.get(field, ""))) == wanted:
            return Receipt(remote_id=str(item["id"]), url=_url(str(item["id"])))
    return None


def _next_cursor(body: dict[str, Any]) -> str | None:
    """The ``after`` cursor of the next page, if the Graph API says there is one."""
    paging = body.get("paging")
    if not isinstance(paging, dict) or not paging.get("next"):
        return None
    cursors = paging.get("cursors")
    after = cursors.get("after") if isinstance(cursors, dict) else None
    return str(after) if after else None


def _normal(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip()
