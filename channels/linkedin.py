"""LinkedIn organisation pages through the Posts API and the Images API: a thin
``requests`` client (six endpoints need no LinkedIn library).

Sources (Microsoft Learn, LinkedIn Marketing API documentation, checked November 2026):

- Posts API (``linkedin/marketing/community-management/shares/posts-api``):
  ``POST /rest/posts`` with ``author`` ``urn:li:organization:{id}``, ``commentary``,
  ``visibility`` ``PUBLIC``, ``distribution`` (``feedDistribution`` ``MAIN_FEED``, no target
  entities, no third-party channels), ``lifecycleState`` ``PUBLISHED``; every request carries
  ``LinkedIn-Version: YYYYMM`` and ``X-Restli-Protocol-Version: 2.0.0``; the answer is
  ``201`` with the new post's URN in the ``x-restli-id`` header. One image:
  ``content.media`` ``{id, altText}`` (``altText`` at most 4086 characters); several:
  ``content.multiImage.images`` (MultiImage API: 2 to 20). The organisation's posts:
  ``GET /rest/posts?author={urn}&q=author&count=&start=&sortBy=CREATED`` (a Rest.li FINDER,
  URNs URL-encoded), elements with ``id``, ``commentary`` and ``createdAt`` (milliseconds).
  A post's page: ``https://www.linkedin.com/feed/update/{urn}``. Permissions:
  ``w_organization_social`` (post) and ``r_organization_social`` (read), for a member with
  the ``ADMINISTRATOR``, ``DIRECT_SPONSORED_CONTENT_POSTER`` or ``CONTENT_ADMINISTRATOR``
  role on the page.
- little text format (``.../shares/little-text-format``): ``commentary`` is "little" text;
  the characters ``| { } @ [ ] ( ) < > # \\ * _ ~`` are reserved and "need to be escaped with
  a backslash, even if those characters are not used in one of the supported elements"; a
  hashtag is the template ``{hashtag|#|tag}``. Unescaped, LinkedIn accepts the post and
  silently cuts it at the first reserved character (reported in ComposioHQ/composio#2710
  and apoorvdarshan/crossposter v1.1.5). ``little_text`` escapes every reserved character
  and writes each hashtag as a template, so the post reads exactly as approved;
  ``plain_text`` undoes it when the posts are read back.
- Images API (``.../shares/images-api``): ``POST /rest/images?action=initializeUpload`` with
  ``{"initializeUploadRequest": {"owner": urn}}`` answers ``value.uploadUrl`` and
  ``value.image`` (``urn:li:image:…``); the bytes go to ``uploadUrl`` with ``PUT`` and the
  bearer token (as the documentation's example sends them). JPG, GIF, PNG.
- Organization Access Control (``.../organizations/organization-access-control-by-role``):
  ``GET /rest/organizationAcls?q=roleAssignee`` (permission ``r_organization_admin`` or
  ``rw_organization_admin``) lists the member's roles and their state (``APPROVED``…).
- Token introspection (``linkedin/shared/authentication/token-introspection``):
  ``POST https://www.linkedin.com/oauth/v2/introspectToken``, form ``client_id``,
  ``client_secret``, ``token``; answers ``active``, ``status`` (active, expired, revoked) and
  ``expires_at`` (Unix seconds).
- Programmatic refresh tokens (``.../authentication/programmatic-refresh-tokens``): access
  tokens last 60 days, refresh tokens a year from the member's authorisation (a refresh
  does not extend it); ``POST /oauth/v2/accessToken`` with ``grant_type=refresh_token``,
  ``refresh_token``, ``client_id``, ``client_secret`` answers ``access_token``,
  ``expires_in``, ``refresh_token``, ``refresh_token_expires_in`` (seconds).
- Error handling (``linkedin/shared/api-guide/concepts/error-handling``): a JSON body of
  ``status``, ``serviceErrorCode`` and ``message`` (often ``code`` too); ``401`` for a
  token that is invalid (65600), revoked (65601) or expired (65602). Rate limits
  (``.../concepts/rate-limits``): per day, reset at midnight UTC, answered ``429`` with no
  documented headers.
- Seen in use, not in the reference: a text already on the page is refused ``422`` with
  ``errorDetails.inputErrors[].code`` ``DUPLICATE_POST`` and "Content is a duplicate of
  urn:li:share:N" (Arisamiga/Linkedin-RSS#5); an inactive version answers ``426``.

Exactly once: LinkedIn takes no idempotency key (``resend_is_safe`` is False). A create
that may have landed (no answer in time, a dropped connection, a 5xx, a ``201`` without
``x-restli-id``) is ``AmbiguousError``; ``find`` reads the organisation's posts back to
``post.not_before`` and matches the commentary once its escapes are undone. A text the page
already holds is refused as a duplicate: recorded as already published, with its URN.
Uploaded images make nothing public, so their failures are retryable.

Tokens: the access token (credential ``access_token``) lasts 60 days. With ``client_id``
and ``client_secret`` the channel asks LinkedIn when it expires (introspection); with a
``refresh_token`` as well, it trades the refresh token for a new access token when LinkedIn
refuses the current one (401), keeps the new one in memory only (registered for redaction,
never written anywhere: the environment cannot be written back) and sends the refused
request once more (a refused request made nothing). ``expires_at`` answers when a person
must act: the access token's expiry, or with a refresh token the refresh token's (known
from a refresh, else the account's ``token_expires_at``). docs/accounts.md says what the
operator does.

Outcomes: ``docs/error-outcomes.md``, rows ``LI-*``.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import os
import re
import time
import unicodedata
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Self
from urllib.parse import urlsplit

import regex
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
from .credentials import Secret, _read_secrets_file, load_credentials, redact
from .networks import NETWORKS
from .outcomes import cannot_tell, retry_after, status_error, transport_error
from .transport import ChannelSession, identify_duplicate

log = logging.getLogger(__name__)

CREDENTIALS = ("access_token",)
#: Read when the account names them (or its secrets file holds them): introspection needs
#: the app's client id and secret, a refresh all three.
OPTIONAL_CREDENTIALS = ("refresh_token", "client_id", "client_secret")
API_HOST = "https://api.linkedin.com"
OAUTH_HOST = "https://www.linkedin.com"
DEFAULT_VERSION = "202605"
PROTOCOL_VERSION = "2.0.0"
POSTS_PAGE = 50  # posts per page of find()
FIND_PAGES = 5
ACL_PAGE = 100
#: The page roles the Posts API lets post for an organisation (w_organization_social).
POSTING_ROLES = ("ADMINISTRATOR", "CONTENT_ADMINISTRATOR", "DIRECT_SPONSORED_CONTENT_POSTER")
#: serviceErrorCode of a 401 (error handling).
TOKEN_REFUSED = {
    65600: "the access token is invalid",
    65601: "the access token has been revoked",
    65602: "the access token has expired",
}
_DUPLICATE_URN = re.compile(r"duplicate of (urn:li:[A-Za-z]+:[\w-]+)")
_ORGANIZATION = re.compile(r"^(?:urn:li:organization:)?(\d+)$")


class LinkedInChannel(NetworkChannel):
    """One LinkedIn organisation page (``handle``: its id, or ``urn:li:organization:id``),
    posted to with the access token of a member who may post for it."""

    name = "linkedin"
    CREDENTIALS = CREDENTIALS
    #: find(): posts per page, and the most pages it reads back to ``not_before``.
    find_page_size = POSTS_PAGE
    find_pages = FIND_PAGES

    def __init__(
        self,
        account_name: str,
        account: AccountSettings,
        credentials: Mapping[str, str],
        *,
        linkedin_version: str = DEFAULT_VERSION,
        timeout: float = 20.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not credentials.get("access_token"):
            raise SettingsError(
                f"account {account_name!r}: LinkedIn needs access_token (see docs/accounts.md)"
            )
        found = _ORGANIZATION.match(account.handle.strip())
        if found is None:
            raise SettingsError(
                f"account {account_name!r}: a LinkedIn handle is the organisation's id, e.g. "
                f"2414183 (or urn:li:organization:2414183), not {account.handle!r}"
            )
        app = [name for name in OPTIONAL_CREDENTIALS[1:] if credentials.get(name)]
        if len(app) == 1:
            missing = "client_secret" if app == ["client_id"] else "client_id"
            raise SettingsError(
                f"account {account_name!r}: LinkedIn's {app[0]} needs {missing} too "
                "(see docs/accounts.md)"
            )
        if credentials.get("refresh_token") and not app:
            raise SettingsError(
                f"account {account_name!r}: a LinkedIn refresh_token needs the app's client_id "
                "and client_secret (see docs/accounts.md)"
            )
        self.account_name = account_name
        self.account = account
        self.organization = found.group(1)
        self.author = f"urn:li:organization:{self.organization}"
        self.version = linkedin_version
        base = account.api_base_url.rstrip("/") if account.api_base_url else None
        self.rest_url = f"{base or API_HOST}/rest"
        self.oauth_url = f"{base or OAUTH_HOST}/oauth/v2"
        self._token = Secret(credentials["access_token"])
        self._refresh_token = _secret(credentials.get("refresh_token"))
        self._client_id = credentials.get("client_id") or None
        self._client_secret = _secret(credentials.get("client_secret"))
        self._session = ChannelSession(timeout)
        self._clock = clock
        self._introspected: dict[str, Any] | None = None
        #: Set by a refresh: when the refresh token runs out (a person must authorise again).
        self._refresh_expires_at: datetime | None = None
        self.refreshed = False

    @classmethod
    def from_settings(
        cls,
        account_name: str,
        account: AccountSettings,
        settings: Settings,
        environ: Mapping[str, str] | None = None,
    ) -> Self:
        env = os.environ if environ is None else environ
        names = [*CREDENTIALS]
        names += [n for n in OPTIONAL_CREDENTIALS if _configured(account_name, account, n)]
        credentials = load_credentials(account_name, account, names, env)
        return cls(account_name, account, credentials, **cls.options(account_name, settings))

    @classmethod
    def options(cls, account_name: str, settings: Settings) -> dict[str, Any]:
        return {
            **super().options(account_name, settings),
            "linkedin_version": settings.linkedin_version,
        }

    def __repr__(self) -> str:
        return f"LinkedInChannel(account={self.account_name!r}, organization={self.organization!r})"

    @property
    def can_refresh(self) -> bool:
        return self._refresh_token is not None and self._client_secret is not None

    # -- the contract -------------------------------------------------------------------

    def publish(self, post: OutgoingPost) -> Receipt:
        try:
            return self._publish(post)
        except AlreadyPublished as duplicate:
            if duplicate.remote_id:
                raise
            raise identify_duplicate(duplicate, self, post) from None

    def _publish(self, post: OutgoingPost) -> Receipt:
        row = NETWORKS["linkedin"]
        images = read_images("linkedin", post.media, limits=row.images)
        length, limit = row.measure(post.text, self.account.text_limit)
        if length > limit:
            raise PermanentError(
                f"linkedin: the text is {length} characters (UTF-16); LinkedIn takes at most "
                f"{limit}: nothing was sent"
            )
        uploaded = [(media, self._upload(media, data)) for media, data in images]
        body: dict[str, Any] = {
            "author": self.author,
            "commentary": little_text(post.text),
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        if len(uploaded) == 1:
            ((media, urn),) = uploaded
            body["content"] = {"media": _media(urn, media)}
        elif uploaded:
            body["content"] = {"multiImage": {"images": [_media(u, m) for m, u in uploaded]}}
        response = self._call(
            "POST",
            f"{self.rest_url}/posts",
            action="publish the post",
            creates_post=True,
            json_body=body,
        )
        urn = response.headers.get("x-restli-id", "").strip()
        if not urn:
            raise AmbiguousError(
                f"linkedin: publish the post: LinkedIn answered HTTP {response.status_code} "
                "without the post's URN (x-restli-id); it may have been published"
            )
        log.debug("linkedin: published post %s of %s as %s", post.post_id, self.account_name, urn)
        return Receipt(remote_id=urn, url=post_url(urn))

    def find(self, post: OutgoingPost) -> Receipt | None:
        """The organisation's posts, newest first, back to ``post.not_before`` (one page
        without it), matched by their commentary once its escapes are undone. ``None`` only
        once that stretch was read in full."""
        since = lookback_start(post)
        wanted = _normal(post.text)
        start = 0
        for _ in range(self.find_pages):
            elements = self._posts_page(start)
            for element in elements:
                if not isinstance(element, dict) or not element.get("id"):
                    continue
                if _normal(plain_text(str(element.get("commentary") or ""))) == wanted:
                    urn = str(element["id"])
                    return Receipt(remote_id=urn, url=post_url(urn))
            if len(elements) < self.find_page_size or since is None:
                return None  # every post of the page, or the one page asked for
            oldest = _created_at(elements[-1])
            if oldest is None:
                raise AmbiguousError("linkedin: cannot look the post up: a post has no createdAt")
            if oldest < since:
                return None
            start += len(elements)
        raise AmbiguousError(
            f"linkedin: cannot look the post up: more than {self.find_pages * self.find_page_size}"
            f" posts since {since:%Y-%m-%d %H:%M} UTC"
        )

    def check(self) -> str:
        """The member's approved roles on the organisation: one that may post, or refused."""
        response = self._call(
            "GET",
            f"{self.rest_url}/organizationAcls",
            action="read the member's page roles (organizationAcls)",
            creates_post=False,
            params={"q": "roleAssignee", "count": str(ACL_PAGE)},
            finder=True,
        )
        elements = _json(response).get("elements")
        if not isinstance(elements, list):
            raise PermanentError("linkedin: organizationAcls answered without a list of roles")
        roles = sorted(
            {
                str(acl.get("role"))
                for acl in elements
                if isinstance(acl, dict)
                and acl.get("organization") == self.author
                and acl.get("state") == "APPROVED"
            }
        )
        posting = [role for role in roles if role in POSTING_ROLES]
        if not posting:
            held = f" (its roles there: {', '.join(roles)})" if roles else ""
            raise AuthenticationError(
                f"linkedin: the access token of account {self.account_name!r} belongs to a member "
                f"with no approved role that may post for organisation {self.organization}{held}: "
                f"a page admin must give them {' or '.join(POSTING_ROLES[:2])}, or make the "
                "token as a member who has it (docs/accounts.md)"
            )
        described = f"organisation {self.organization} (role {', '.join(posting)}"
        if self.refreshed:
            described += "; access token renewed with the refresh token, kept in memory"
        try:
            if self.expires_at() is None and self.can_refresh:
                described += (
                    "; refresh token expiry unknown: set token_expires_at to the date it runs "
                    "out (docs/accounts.md)"
                )
            elif self.expires_at() is None:
                described += (
                    "; token expiry unknown: set token_expires_at, or add client_id and "
                    "client_secret (docs/accounts.md)"
                )
        except ChannelError:
            pass  # the token line of doctor says why
        return described + ")"

    def expires_at(self) -> datetime | None:
        """When a person must renew the credentials. With a refresh token: the refresh
        token's expiry (known once refreshed, else ``token_expires_at``); without: the access
        token's, asked of LinkedIn when the app's client id and secret are given."""
        if self._refresh_expires_at is not None:
            return self._refresh_expires_at
        if self.can_refresh:
            return super().expires_at()  # the access token renews itself; the setting or None
        if self._client_secret is None:
            return super().expires_at()
        info = self._introspect()
        status = str(info.get("status") or ("active" if info.get("active") else "refused"))
        expiry = _timestamp(info.get("expires_at"))
        if status == "revoked" or (not info.get("active") and expiry is None):
            raise AuthenticationError(
                f"linkedin: token introspection says the access token of account "
                f"{self.account_name!r} is {status}: make a new one (docs/accounts.md)"
            )
        return expiry

    def close(self) -> None:
        self._session.close()

    # -- LinkedIn's API -----------------------------------------------------------------

    def _posts_page(self, start: int) -> list[Any]:
        with cannot_tell("linkedin"):
            response = self._call(
                "GET",
                f"{self.rest_url}/posts",
                action="read the organisation's posts",
                creates_post=False,
                params={
                    "author": self.author,
                    "q": "author",
                    "count": str(self.find_page_size),
                    "start": str(start),
                    "sortBy": "CREATED",
                },
                finder=True,
            )
        elements = _json(response).get("elements")
        if not isinstance(elements, list):
            raise AmbiguousError("linkedin: cannot look the post up: no list of posts")
        return elements

    def _upload(self, media: Media, data: bytes) -> str:
        """Initialise an upload owned by the organisation, ``PUT`` the bytes; the image URN.
        Nothing is public until a post names it, so failures here are at worst retryable."""
        answer = _json(
            self._call(
                "POST",
                f"{self.rest_url}/images",
                action=f"initialise the upload of {media.path.name}",
                creates_post=False,
                params={"action": "initializeUpload"},
                json_body={"initializeUploadRequest": {"owner": self.author}},
            )
        )
        value = answer.get("value")
        if not isinstance(value, dict):
            value = {}
        upload_url, image = value.get("uploadUrl"), value.get("image")
        if not upload_url or not image:
            raise RetryableError(
                f"linkedin: initialising the upload of {media.path.name} gave no uploadUrl or image"
            )
        self._call(
            "PUT",
            str(upload_url),
            action=f"upload {media.path.name}",
            creates_post=False,
            data=data,
            upload=True,
            content_type=mimetypes.guess_type(media.path.name)[0] or "application/octet-stream",
        )
        return str(image)

    def _introspect(self) -> dict[str, Any]:
        if self._introspected is None:
            assert self._client_id is not None and self._client_secret is not None
            response = self._call(
                "POST",
                f"{self.oauth_url}/introspectToken",
                action="introspect the access token",
                creates_post=False,
                form={
                    "client_id": self._client_id,
                    "client_secret": self._client_secret.reveal(),
                    "token": self._token.reveal(),
                },
                oauth=True,
            )
            self._introspected = _json(response)
        return self._introspected

    def _refresh(self, refused: ChannelError) -> None:
        """A new access token from the refresh token, kept in memory. Raises
        ``AuthenticationError`` when LinkedIn refuses the refresh token too."""
        assert self._refresh_token is not None and self._client_secret is not None
        assert self._client_id is not None
        try:
            response = self._call(
                "POST",
                f"{self.oauth_url}/accessToken",
                action="renew the access token with the refresh token",
                creates_post=False,
                form={
                    "grant_type": "refresh_token",
                    "refresh_token": self._refresh_token.reveal(),
                    "client_id": self._client_id,
                    "client_secret": self._client_secret.reveal(),
                },
                oauth=True,
            )
        except AuthenticationError as exc:
            raise AuthenticationError(
                f"{refused}; and the refresh token was refused too ({exc}): a person must "
                "authorise the app again (docs/accounts.md)"
            ) from None
        body = _json(response)
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise RetryableError("linkedin: the token refresh answered without an access_token")
        self._token = Secret(token)
        if isinstance(body.get("refresh_token"), str) and body["refresh_token"]:
            self._refresh_token = Secret(body["refresh_token"])
        now = self._clock()
        lasts = _seconds(body.get("refresh_token_expires_in"))
        self._refresh_expires_at = (
            None if lasts is None else datetime.fromtimestamp(now + lasts, UTC)
        )
        self._introspected = None
        self.refreshed = True
        log.warning(
            "linkedin: account %s: LinkedIn refused the access token (%s); a new one was made "
            "with the refresh token and is kept in memory only%s",
            self.account_name,
            refused,
            ""
            if self._refresh_expires_at is None
            else f"; the refresh token runs out on {self._refresh_expires_at:%Y-%m-%d %H:%M} UTC",
        )

    def _call(
        self,
        method: str,
        url: str,
        *,
        action: str,
        creates_post: bool,
        params: dict[str, str] | None = None,
        json_body: dict[str, Any] | None = None,
        form: dict[str, str] | None = None,
        data: bytes | None = None,
        finder: bool = False,
        upload: bool = False,
        oauth: bool = False,
        content_type: str | None = None,
    ) -> requests.Response:
        """One request; the answer, or the ``ChannelError`` it means. A REST request the
        access token is refused for is sent once more after a refresh, where there is a
        refresh token: a refused request made nothing."""
        refused_once = False
        while True:
            headers = self._headers(url, finder=finder, upload=upload, oauth=oauth)
            if content_type:
                headers["Content-Type"] = content_type
            error: ChannelError | None = None
            try:
                response = self._session.request(
                    method,
                    url,
                    params=params,
                    data=form if form is not None else data,
                    json=json_body,
                    headers=headers,
                )
            except requests.RequestException as exc:
                error = transport_error(
                    exc, network="linkedin", action=action, creates_post=creates_post
                )
            # Raised outside the except block: the requests exception quotes the URL, and
            # must not ride along as __context__.
            if error is not None:
                raise error
            if 200 <= response.status_code < 300:
                return response
            error = self._answer_error(
                response, action=action, creates_post=creates_post, oauth=oauth
            )
            if (
                isinstance(error, AuthenticationError)
                and not oauth
                and not refused_once
                and self.can_refresh
            ):
                refused_once = True
                self._refresh(error)
                continue
            raise error

    def _headers(self, url: str, *, finder: bool, upload: bool, oauth: bool) -> dict[str, str]:
        if oauth:
            return {"Accept": "application/json"}
        bearer = {"Authorization": f"Bearer {self._token.reveal()}"}
        if upload:
            # The upload address is LinkedIn's answer: the token goes only to LinkedIn.
            return bearer if self._trusted(url) else {}
        headers = {
            **bearer,
            "LinkedIn-Version": self.version,
            "X-Restli-Protocol-Version": PROTOCOL_VERSION,
            "Accept": "application/json",
        }
        if finder:
            headers["X-RestLi-Method"] = "FINDER"
        return headers

    def _trusted(self, url: str) -> bool:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if self.account.api_base_url:  # a test or sandbox server stands in for LinkedIn
            return host == (urlsplit(self.account.api_base_url).hostname or "").lower()
        return parts.scheme == "https" and (
            host == "linkedin.com" or host.endswith(".linkedin.com")
        )

    def _answer_error(
        self, response: requests.Response, *, action: str, creates_post: bool, oauth: bool
    ) -> ChannelError:
        """The outcome of an error answer. Rows ``LI-*`` of docs/error-outcomes.md."""
        status = response.status_code
        body = _json(response)
        secrets = [s.reveal() for s in (self._token, self._refresh_token, self._client_secret) if s]
        said = redact(str(body.get("message") or body.get("error_description") or ""), secrets)
        code = _int(body.get("serviceErrorCode"))
        details = _input_error_codes(body)
        where = f"linkedin: {action}: HTTP {status}"
        if said:
            where += f" ({said[:300]})"
        if code is not None:
            where += f", serviceErrorCode {code}"
        if oauth:
            return self._oauth_error(where, status, body)
        if status == 401:
            reason = TOKEN_REFUSED.get(code or 0, "LinkedIn does not accept the access token")
            return AuthenticationError(
                f"{where}: {reason}; make a new one, or authorise the app again (docs/accounts.md)"
            )
        if (
            status == 422
            and creates_post
            and ("DUPLICATE_POST" in details or "duplicate" in said.lower())
        ):
            found = _DUPLICATE_URN.search(said)
            urn = found.group(1) if found else None
            return AlreadyPublished(
                f"{where}: LinkedIn says this text is already on the page",
                remote_id=urn,
                url=post_url(urn) if urn else None,
            )
        if status == 426:
            return PermanentError(
                f"{where}: LinkedIn no longer serves API version {self.version}: set "
                "linkedin_version in config.toml to a current one (YYYYMM)"
            )
        if status == 403:
            return PermanentError(
                f"{where}: the token may not do this: its member needs an approved "
                f"{' or '.join(POSTING_ROLES[:2])} role on organisation {self.organization}, "
                "and the app w_organization_social and r_organization_social "
                "(docs/accounts.md)"
            )
        wait = retry_after(response.headers.get("retry-after"), now=self._clock())
        if status == 429:
            if wait is None:  # the documented reset: the daily limits start again at midnight UTC
                wait = 86400 - self._clock() % 86400
            return RetryableError(f"{where}: rate limited", retry_after=wait)
        return status_error(
            where, status, creates_post=creates_post, who="LinkedIn", retry_after=wait
        )

    def _oauth_error(self, where: str, status: int, body: dict[str, Any]) -> ChannelError:
        """Introspection and refresh: OAuth 2.0 errors (``error``, ``error_description``)."""
        kind = str(body.get("error") or "")
        if kind == "invalid_client" or status == 401:
            return PermanentError(
                f"{where}: LinkedIn does not accept the app's client_id and client_secret "
                "(docs/accounts.md)"
            )
        if 400 <= status < 500:
            return AuthenticationError(f"{where}: {kind or 'refused'}")
        return status_error(where, status, creates_post=False, who="LinkedIn")


# -- little text ----------------------------------------------------------------------------

#: Reserved in "little" text: escaped with a backslash to be plain text.
RESERVED = frozenset("\\|{}@[]()<>#*_~")
# A hashtag: "#" not after a letter, digit, "_" or "&", then letters, marks and digits with
# at least one letter (so "#1" and the keycap "#\uFE0F\u20E3" stay text). An underscore ends
# it: escaped, it is text after the hashtag.
_HASHTAG = regex.compile(
    r"(?<![\p{L}\p{M}\p{N}_&])#(?!\uFE0F|\u20E3)((?=[\p{M}\p{N}]*\p{L})[\p{L}\p{M}\p{N}]+)"
)
# What LinkedIn may give back: a hashtag template (sign "#", "\#" or the full-width "＃"),
# a mention "@[Name](urn:li:…)".
_TEMPLATE = regex.compile(r"\{hashtag\|\\?([#＃])\|((?:\\.|[^}\\])*)\}")
_MENTION = regex.compile(r"@\[((?:\\.|[^\]\\])*)\]\((urn:li:[^)]*)\)")
_ESCAPED = regex.compile(r"\\(.)", regex.DOTALL)


def _escape(text: str) -> str:
    return "".join("\\" + ch if ch in RESERVED else ch for ch in text)


def little_text(text: str) -> str:
    """``text`` as LinkedIn's "little" commentary: every reserved character escaped, each
    hashtag the template ``{hashtag|#|tag}``. Reads exactly as ``text``."""
    pieces, position = [], 0
    for found in _HASHTAG.finditer(text):
        pieces += [_escape(text[position : found.start()]), f"{{hashtag|#|{found.group(1)}}}"]
        position = found.end()
    pieces.append(_escape(text[position:]))
    return "".join(pieces)


def plain_text(little: str) -> str:
    """What a reader sees of "little" text: templates and mentions as their text, escapes
    undone. ``plain_text(little_text(t)) == t``."""
    pieces, position = [], 0
    while position < len(little):
        template = _TEMPLATE.match(little, position)
        if template:
            pieces.append(template.group(1) + _ESCAPED.sub(r"\1", template.group(2)))
            position = template.end()
            continue
        mention = _MENTION.match(little, position)
        if mention:
            pieces.append(_ESCAPED.sub(r"\1", mention.group(1)))
            position = mention.end()
            continue
        if little[position] == "\\" and position + 1 < len(little):
            pieces.append(little[position + 1])
            position += 2
            continue
        pieces.append(little[position])
        position += 1
    return "".join(pieces)


# -- helpers --------------------------------------------------------------------------------


def post_url(urn: str) -> str:
    return f"https://www.linkedin.com/feed/update/{urn}"


def _media(urn: str, media: Media) -> dict[str, str]:
    return {"id": urn, "altText": media.alt_text} if media.alt_text else {"id": urn}


def _configured(account_name: str, account: AccountSettings, name: str) -> bool:
    """Whether the account names an optional credential: an environment variable for it,
    or an entry in its secrets file. Once named, it must be there."""
    if account.credentials.get(name):
        return True
    if account.secrets_file is None:
        return False
    return name in _read_secrets_file(account_name, account.secrets_file)


def _secret(value: str | None) -> Secret | None:
    return Secret(value) if value else None


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except (ValueError, json.JSONDecodeError):
        return {}
    return body if isinstance(body, dict) else {}


def _input_error_codes(body: dict[str, Any]) -> set[str]:
    details = body.get("errorDetails")
    errors = details.get("inputErrors") if isinstance(details, dict) else None
    if not isinstance(errors, list):
        return set()
    return {str(e.get("code")) for e in errors if isinstance(e, dict) and e.get("code")}


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _seconds(value: Any) -> float | None:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds == seconds and seconds >= 0 else None


def _timestamp(value: Any) -> datetime | None:
    seconds = _seconds(value)
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def _created_at(element: Any) -> datetime | None:
    """A post's ``createdAt`` (milliseconds since the epoch)."""
    millis = _seconds(element.get("createdAt")) if isinstance(element, dict) else None
    return None if millis is None else datetime.fromtimestamp(millis / 1000, UTC)


def _normal(text: str) -> str:
    return unicodedata.normalize("NFC", text.replace("\r\n", "\n")).strip()
