"""X (Twitter): posts through tweepy's v2 ``Client``, images through X's v2 media upload.

- Text: ``tweepy.Client.create_tweet`` (``POST /2/tweets``), OAuth 1.0a user context.
- Images: tweepy 4.17 only has the v1.1 upload, which X is retiring, so a small client of
  ours calls ``POST /2/media/upload`` (multipart, ``media_category=tweet_image``) and
  ``POST /2/media/metadata`` (alt text) with tweepy's own OAuth 1.0a signer and session.
- Every request goes through one ``ChannelSession``: it gives tweepy's timeout-less
  requests a timeout and, when the account has ``api_base_url``, routes tweepy's
  hard-coded host there (tests, sandboxes).
- Outcomes: ``docs/error-outcomes.md``, rows ``X-*``.

Reconciliation (``find``): X has no idempotency key and no look-up by our key, so ``find``
reads the account's posts since ``post.not_before`` (``GET /2/users/{id}/tweets`` with
``start_time``, 100 a page, up to 5 pages; one page without it) and matches the text
exactly, after undoing X's rewriting (t.co links, HTML entities, the
trailing image link). Found: the receipt. Not among them: ``None``. A resend after a
wrong ``None`` is still safe, because X rejects it as duplicate content, which the worker
records as ``AlreadyPublished``: the design's "reconcile by what the duplicate-content
answer tells". If the timeline cannot be read (the Free tier has no read access: 403 or
429), ``find`` raises ``AmbiguousError`` and the duplicate answer is the only guide.
"""

from __future__ import annotations

import html
import logging
import mimetypes
import time
import unicodedata
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import requests
import tweepy

from core.errors import (
    AlreadyPublished,
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
from .networks import NETWORKS
from .outcomes import sent_or_not, status_error, transport_error, wait_seconds
from .transport import ChannelSession, identify_duplicate

log = logging.getLogger(__name__)

CREDENTIALS = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")
TWEEPY_HOST = "https://api.twitter.com"  # tweepy.Client's fixed host
MEDIA_HOST = "https://api.x.com"  # where X documents the v2 media endpoints
TIMELINE_SIZE = 100
# Rate-limit headers worth keeping (and logging) after each answer.
_LIMIT_HEADERS = (
    "x-rate-limit-limit",
    "x-rate-limit-remaining",
    "x-rate-limit-reset",
    "x-user-limit-24hour-limit",
    "x-user-limit-24hour-remaining",
    "x-user-limit-24hour-reset",
    "x-app-limit-24hour-limit",
    "x-app-limit-24hour-remaining",
    "x-app-limit-24hour-reset",
)


class XChannel(NetworkChannel):
    """One X account, OAuth 1.0a user context (the four tokens of an app with write access)."""

    name = "x"
    CREDENTIALS = CREDENTIALS
    #: find(): posts per page (5 to 100), and the most pages it reads back to ``not_before``.
    find_page_size = TIMELINE_SIZE
    find_pages = 5

    def __init__(
        self,
        account_name: str,
        account: AccountSettings,
        credentials: Mapping[str, str],
        *,
        timeout: float = 20.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        missing = [name for name in CREDENTIALS if not credentials.get(name)]
        if missing:
            raise SettingsError(
                f"account {account_name!r}: X needs {', '.join(missing)} (see docs/accounts.md)"
            )
        self.account_name = account_name
        self.account = account
        self.username = account.handle.lstrip("@")
        self._clock = clock
        # Wrapped so they are registered for redaction (urllib3 and oauthlib log at DEBUG);
        # the raw values live only in the tweepy objects below.
        self._secrets = {name: Secret(credentials[name]) for name in CREDENTIALS}
        base = (account.api_base_url or "").rstrip("/")
        routes = {TWEEPY_HOST: base, MEDIA_HOST: base} if base else {}
        self._session = ChannelSession(timeout, routes)
        self._client = tweepy.Client(
            consumer_key=credentials["consumer_key"],
            consumer_secret=credentials["consumer_secret"],
            access_token=credentials["access_token"],
            access_token_secret=credentials["access_token_secret"],
            # Raw responses: we want the headers (limits, access level) and our own mapping.
            return_type=requests.Response,
            wait_on_rate_limit=False,  # never sleep inside a job
        )
        self._client.session = self._session
        self._auth = tweepy.OAuth1UserHandler(
            credentials["consumer_key"],
            credentials["consumer_secret"],
            credentials["access_token"],
            credentials["access_token_secret"],
        ).apply_auth()
        self._user_id: str | None = None
        #: The last rate-limit headers X sent (``x-rate-limit-*``, ``x-user-limit-24hour-*``).
        self.limits: dict[str, str] = {}

    # -- the contract -------------------------------------------------------------------

    def publish(self, post: OutgoingPost) -> Receipt:
        images = read_images("x", post.media, limits=NETWORKS["x"].images)
        media_ids = [self._upload(media, data) for media, data in images]
        try:
            response = self._call(
                "publish the post",
                lambda: self._client.create_tweet(text=post.text, media_ids=media_ids or None),
                creates_post=True,
            )
        except AlreadyPublished as duplicate:
            raise identify_duplicate(duplicate, self, post) from None
        try:
            remote_id = str(response.json()["data"]["id"])
        except (ValueError, KeyError, TypeError):
            # X said yes (2xx) but we cannot read the id: it exists; find() will tell which.
            raise AmbiguousError(
                f"x: X accepted the post (HTTP {response.status_code}) but its answer had "
                "no post id"
            ) from None
        log.debug("x: published post %s of %s as %s", post.post_id, self.account_name, remote_id)
        return Receipt(remote_id=remote_id, url=self._url(remote_id))

    def find(self, post: OutgoingPost) -> Receipt | None:
        """The account's posts since ``post.not_before`` (one page without it), matched by
        text. ``None`` only once they were read in full."""
        since = lookback_start(post)
        wanted = _normal(post.text)
        token: str | None = None
        for _ in range(self.find_pages):
            tweets, token = self._timeline_page(since, token)
            for tweet in tweets:
                if not isinstance(tweet, dict) or not tweet.get("id"):
                    continue
                if _normal(_as_posted(tweet)) == wanted:
                    return Receipt(remote_id=str(tweet["id"]), url=self._url(str(tweet["id"])))
            if not token or since is None:
                return None  # every post since then, or the one page asked for
        raise AmbiguousError(
            f"x: cannot look the post up: more than {self.find_pages * self.find_page_size} "
            f"posts since {since:%Y-%m-%d %H:%M} UTC"
        )

    def _timeline_page(
        self, since: datetime | None, token: str | None
    ) -> tuple[list[Any], str | None]:
        """One page of the account's posts (newest first) and the token of the next."""
        try:
            user_id = self._user_id or self._me()["id"]
            response = self._call(
                "read the recent posts",
                lambda: self._client.get_users_tweets(
                    user_id,
                    max_results=self.find_page_size,
                    exclude=["retweets", "replies"],
                    tweet_fields=["created_at", "entities"],
                    start_time=since,
                    pagination_token=token,
                    user_auth=True,
                ),
                creates_post=False,
            )
            body = response.json()
        except AuthenticationError:
            raise
        except ChannelError as exc:
            raise AmbiguousError(
                f"x: cannot look the post up, so X's duplicate-content answer to a resend "
                f"is the only guide ({exc})",
                retry_after=exc.retry_after,
            ) from None
        except ValueError:
            body = None
        tweets = _timeline(body)
        if tweets is None:
            raise AmbiguousError(
                "x: cannot look the post up: X's answer had no list of posts "
                "(errors instead, or no count)"
            )
        meta = body.get("meta") if isinstance(body, dict) else None
        next_token = meta.get("next_token") if isinstance(meta, dict) else None
        return tweets, str(next_token) if next_token else None

    def check(self) -> str:
        me = self._me(refresh=True)
        if me["username"].casefold() != self.username.casefold():
            raise AuthenticationError(
                f"x: the tokens of account {self.account_name!r} belong to @{me['username']} "
                f"(id {me['id']}), but the account is configured as {self.account.handle}: "
                "generate the access token and secret while logged in as that account"
            )
        level = me.get("access_level", "")
        if level and "write" not in level:
            raise PermanentError(
                f"x: @{me['username']}'s tokens are read-only (x-access-level: {level}): set "
                "the app's permissions to 'Read and write' in the developer portal, then "
                "regenerate the access token and secret (old tokens keep the old permission)"
            )
        return f"@{me['username']} (id {me['id']})"

    def close(self) -> None:
        self._session.close()

    # -- X's API ------------------------------------------------------------------------

    def _me(self, refresh: bool = False) -> dict[str, str]:
        response = self._call(
            "read the account (GET /2/users/me)",
            lambda: self._client.get_me(user_auth=True),
            creates_post=False,
        )
        try:
            data = response.json()["data"]
            me = {"id": str(data["id"]), "username": str(data["username"])}
        except (ValueError, KeyError, TypeError):
            raise RetryableError("x: GET /2/users/me answered without an id and username") from None
        me["access_level"] = response.headers.get("x-access-level", "")
        if refresh or self._user_id is None:
            self._user_id = me["id"]
        return me

    def _upload(self, media: Media, data: bytes) -> str:
        """Upload one image (and its alt text); return X's media id.

        An uploaded image is not public until a post uses it, so every failure here is
        at worst retryable: ``creates_post=False``.
        """
        mime = mimetypes.guess_type(media.path.name)[0] or "application/octet-stream"
        response = self._request(
            f"upload image {media.path.name}",
            "POST",
            f"{MEDIA_HOST}/2/media/upload",
            files={"media": (media.path.name, data, mime)},
            data={"media_category": "tweet_image", "media_type": mime},
        )
        try:
            body = response.json()
            inner = body.get("data") or {}
            media_id = str(inner.get("id") or body.get("media_id_string") or body["id"])
        except (ValueError, KeyError, TypeError, AttributeError):
            raise RetryableError(
                f"x: the upload of {media.path.name} answered without a media id"
            ) from None
        if media.alt_text:
            self._request(
                f"set the alt text of {media.path.name}",
                "POST",
                f"{MEDIA_HOST}/2/media/metadata",
                json={"id": media_id, "metadata": {"alt_text": {"text": media.alt_text}}},
            )
        return media_id

    def _request(self, action: str, method: str, url: str, **kwargs: Any) -> requests.Response:
        """A request of ours (not tweepy's), signed with tweepy's OAuth 1.0a handler."""
        error: ChannelError | None = None
        try:
            response = self._session.request(method, url, auth=self._auth, **kwargs)
        except requests.RequestException as exc:
            error = transport_error(exc, network="x", action=action, creates_post=False)
        # Raised outside the except block so the requests exception (which quotes the
        # URL) is not even kept as context.
        if error is not None:
            raise error
        self._note_limits(response)
        if not 200 <= response.status_code < 300:
            raise self._answer_error(response, action, creates_post=False)
        return response

    def _call(
        self, action: str, call: Callable[[], Any], *, creates_post: bool
    ) -> requests.Response:
        """Run one tweepy call and map whatever goes wrong to one ``ChannelError``."""
        error: ChannelError | None = None
        try:
            response: requests.Response = call()
        except tweepy.HTTPException as exc:
            error = self._answer_error(exc.response, action, creates_post=creates_post)
        except requests.RequestException as exc:
            error = transport_error(exc, network="x", action=action, creates_post=creates_post)
        except tweepy.TweepyException as exc:
            error = _unexpected(exc, action, creates_post)
        if error is not None:
            raise error
        self._note_limits(response)
        return response

    def _answer_error(
        self, response: requests.Response, action: str, *, creates_post: bool
    ) -> ChannelError:
        """The outcome of an HTTP answer other than 2xx. Rows ``X-*`` of error-outcomes:
        X's own cases here, the rest by ``outcomes.status_error``."""
        self._note_limits(response)
        status = response.status_code
        detail = redact(_detail(response))
        where = f"x: {action}: HTTP {status}"
        if status == 401:
            return AuthenticationError(
                f"{where}: X does not accept the account's tokens ({detail}); check the four "
                "OAuth 1.0a values, or regenerate the access token and secret if revoked"
            )
        if status == 403 and "duplicate content" in detail.lower():
            return AlreadyPublished(f"{where}: X says this text is already posted ({detail})")
        if status == 403:
            hint = ""
            if "oauth1" in detail.lower() or "not permitted" in detail.lower():
                hint = (
                    "; if the app is read-only, set its permissions to 'Read and write' "
                    "and regenerate the access token and secret"
                )
            return PermanentError(f"{where}: X refused ({detail}){hint}")
        return status_error(
            f"{where} ({detail})",
            status,
            creates_post=creates_post,
            who="X",
            retry_after=self._retry_after(response),
        )

    def _retry_after(self, response: requests.Response) -> float | None:
        """Seconds until X lifts the limit that was hit; ``None`` if it did not say.

        The 24-hour posting limits are the long ones: the latest reset of any limit that is
        used up wins, else ``Retry-After``."""
        headers = response.headers
        exhausted = [
            f"{prefix}-reset"
            for prefix in ("x-user-limit-24hour", "x-app-limit-24hour", "x-rate-limit")
            if headers.get(f"{prefix}-remaining") in (None, "0")
        ]
        return wait_seconds(headers, now=self._clock(), resets=exhausted)

    def _note_limits(self, response: requests.Response) -> None:
        limits = {k: v for k in _LIMIT_HEADERS if (v := response.headers.get(k)) is not None}
        if limits:
            self.limits = limits
            log.debug("x: %s limits %s", self.account_name, limits)

    def _url(self, remote_id: str) -> str:
        return f"https://x.com/{self.username}/status/{remote_id}"


def _detail(response: requests.Response) -> str:
    """X's own words from an error body (v2 problem JSON or v1.1-style ``errors``)."""
    try:
        body = response.json()
    except ValueError:
        return response.reason or "no details"
    if not isinstance(body, dict):
        return response.reason or "no details"
    parts = [str(body[k]) for k in ("detail", "title") if body.get(k)]
    for error in body.get("errors") or []:
        if isinstance(error, dict) and error.get("message"):
            parts.append(str(error["message"]))
    if body.get("reason"):
        parts.append(f"reason: {body['reason']}")
    # "detail" and "title" often repeat each other.
    return "; ".join(dict.fromkeys(parts)) or response.reason or "no details"


def _unexpected(exc: Exception, action: str, creates_post: bool) -> ChannelError:
    return sent_or_not(f"x: {action}: unexpected {type(exc).__name__}", creates_post=creates_post)


def _timeline(body: Any) -> list[Any] | None:
    """The posts of a timeline answer; None when it does not show the timeline: X answers
    200 with ``errors`` and no ``data`` for some failures, and an empty timeline says so
    (``meta.result_count`` 0) rather than leaving ``data`` out."""
    if not isinstance(body, dict):
        return None
    data = body.get("data")
    if isinstance(data, list):
        return data
    meta = body.get("meta")
    empty = isinstance(meta, dict) and meta.get("result_count") == 0
    return [] if data is None and not body.get("errors") and empty else None


def _as_posted(tweet: Mapping[str, Any]) -> str:
    """A timeline post's text as we sent it: t.co links expanded, the image link removed."""
    text = str(tweet.get("text", ""))
    for entity in (tweet.get("entities") or {}).get("urls") or []:
        short = entity.get("url")
        if not short:
            continue
        if entity.get("media_key"):
            # X appends " https://t.co/…" for attached images; it is not part of our text.
            text = text.replace(" " + short, "").replace(short, "")
        else:
            text = text.replace(short, entity.get("expanded_url") or short)
    return html.unescape(text)


def _normal(text: str) -> str:
    # X stores text NFC-normalised and trims surrounding whitespace.
    return unicodedata.normalize("NFC", text).strip()
