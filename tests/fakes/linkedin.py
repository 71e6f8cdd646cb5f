"""A strict fake of LinkedIn on 127.0.0.1: the REST API (Posts, Images, Organization Access
Control) and the OAuth endpoints (token introspection, refresh), for running the real
``channels.linkedin`` code over real HTTP. The documentation it follows is cited in
``channels/linkedin.py``.

What it checks and answers, as LinkedIn documents it:

- every ``/rest`` request: ``Authorization: Bearer`` a token it issued (401 serviceErrorCode
  65600 otherwise), not revoked (65601), not expired (65602); ``LinkedIn-Version`` present
  (400) and active (426); ``X-Restli-Protocol-Version: 2.0.0`` (400); URNs in a query
  URL-encoded (400); the token's scope (403).
- ``POST /rest/posts``: JSON with only the fields it knows; ``author`` an organisation the
  member may post for (ADMINISTRATOR, CONTENT_ADMINISTRATOR, DIRECT_SPONSORED_CONTENT_POSTER;
  else 403); ``visibility``, ``distribution``, ``lifecycleState`` ``PUBLISHED``;
  ``commentary`` read as "little" text: an unescaped reserved character outside a hashtag
  or mention cuts the text there, silently, as LinkedIn does; over 3000 UTF-16 units: 400;
  ``content.media`` or ``content.multiImage`` (2 to 20) naming uploaded images the author
  owns, ``altText`` at most 4086; a text the page already holds: 422 ``DUPLICATE_POST``; a
  daily number of creates per member (``daily_post_limit``) past which it answers 429 with
  no headers, until midnight UTC; else 201 with ``x-restli-id``.
- ``GET /rest/posts?q=author``: ``count`` 1 to 100, ``start``, ``sortBy`` ``CREATED`` or
  ``LAST_MODIFIED``; the commentary as little text, hashtags as ``{hashtag|\\#|tag}``.
- ``POST /rest/images?action=initializeUpload``, then ``PUT`` to its ``uploadUrl`` with the
  bearer token; ``GET /rest/organizationAcls?q=roleAssignee`` (``r_organization_admin`` or
  ``rw_organization_admin``).
- ``POST /oauth/v2/introspectToken`` and ``POST /oauth/v2/accessToken``
  (``grant_type=refresh_token``), with the app's client id and secret.

Failures on demand, ``fail_next(kind, count=1, path=…, method=…, **options)``, for the next
request whose path contains ``path``: ``5xx`` (``status``, default 500), ``answer`` (exactly
``status``, ``body``, ``headers``), ``rate_limit`` (429; ``Retry-After`` when ``retry_after``
is given), ``slow`` (done, answered after ``delay`` seconds), ``drop`` (the connection closed
unanswered; ``create=True``: after doing it), ``expired_token``, ``revoked_token``,
``fail_after_create`` (done, then 500). ``hold_next_create()`` keeps the next post create
waiting until the test releases it: a request in flight.
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import regex
from werkzeug.wrappers import Request, Response

from tests.fakes import server
from tests.fakes.server import Failure, Hold

ORGANIZATION = "2414183"  # the force's page
OTHER_ORGANIZATION = "5515715"
ACTIVE_VERSIONS = ("202605", "202604", "202603", "202602", "202601", "202512")
POSTING_ROLES = ("ADMINISTRATOR", "CONTENT_ADMINISTRATOR", "DIRECT_SPONSORED_CONTENT_POSTER")
FULL_SCOPE = "r_organization_admin,r_organization_social,w_organization_social"
ACCESS_TOKEN_SECONDS = 60 * 86400
RESERVED = frozenset("\\|{}@[]()<>#*_~")
POST_FIELDS = {
    "author",
    "commentary",
    "visibility",
    "distribution",
    "lifecycleState",
    "isReshareDisabledByAuthor",
    "content",
    "contentLandingPage",
    "reshareContext",
}
REQUIRED_POST_FIELDS = ("author", "commentary", "visibility", "distribution", "lifecycleState")
MAX_COMMENTARY = 3000
MAX_ALT_TEXT = 4086
_TEMPLATE = regex.compile(r"\{hashtag\|(?:\\#|#|＃)\|([\p{L}\p{M}\p{N}]+)\}")
_HASHTAG = regex.compile(r"#([\p{L}\p{M}\p{N}]+)")
_MENTION = regex.compile(r"@\[([^\]\\]*)\]\((urn:li:(?:person|organization):\w+)\)")
KINDS = server.KINDS | {"revoked_token"}


# -- little text ----------------------------------------------------------------------------


def parse_little(little: str) -> list[tuple[str, ...]]:
    """The elements of "little" text: ``("text", s)``, ``("hashtag", tag)``,
    ``("mention", name, urn)``. An unescaped reserved character that starts no element ends
    the text there: LinkedIn publishes what came before it, and says nothing."""
    elements: list[tuple[str, ...]] = []
    text: list[str] = []

    def flush() -> None:
        if text:
            elements.append(("text", "".join(text)))
            text.clear()

    position = 0
    while position < len(little):
        char = little[position]
        if char == "\\":
            if position + 1 < len(little) and little[position + 1] in RESERVED:
                text.append(little[position + 1])
                position += 2
                continue
            break
        found = None
        if char == "{":
            found = _TEMPLATE.match(little, position)
            kind = "hashtag"
        elif char == "#":
            found = _HASHTAG.match(little, position)
            kind = "hashtag"
        elif char == "@":
            found = _MENTION.match(little, position)
            kind = "mention"
        if found is not None:
            flush()
            elements.append((kind, *found.groups()))
            position = found.end()
            continue
        if char in RESERVED:
            break  # silently cut here
        text.append(char)
        position += 1
    flush()
    return elements


def plain(elements: Iterable[tuple[str, ...]]) -> str:
    """What a reader sees."""
    shown = {"text": lambda e: e[1], "hashtag": lambda e: "#" + e[1], "mention": lambda e: e[1]}
    return "".join(shown[e[0]](e) for e in elements)


def render_little(elements: Iterable[tuple[str, ...]]) -> str:
    """Little text as the API gives it back: escapes, hashtag templates, mentions."""
    pieces = []
    for element in elements:
        if element[0] == "text":
            pieces.append("".join("\\" + c if c in RESERVED else c for c in element[1]))
        elif element[0] == "hashtag":
            pieces.append(f"{{hashtag|\\#|{element[1]}}}")
        else:
            pieces.append(f"@[{element[1]}]({element[2]})")
    return "".join(pieces)


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# -- accounts and tokens --------------------------------------------------------------------


@dataclass
class Member:
    urn: str
    #: organisation id -> an approved role
    roles: dict[str, str]
    scope: str = FULL_SCOPE


@dataclass
class AccessToken:
    value: str
    member: Member
    created_at: float
    expires_at: float
    revoked: bool = False


@dataclass
class RefreshToken:
    value: str
    member: Member
    expires_at: float
    revoked: bool = False


@dataclass
class Issued:
    """What a member's authorisation gave: the tokens and who they belong to."""

    member: Member
    access_token: str
    refresh_token: str | None

    def credentials(self, fake: FakeLinkedIn, *, app: bool = True) -> dict[str, str]:
        """As an account's credentials: the token, with the app's id and secret (``app``),
        and the refresh token when there is one."""
        found = {"access_token": self.access_token}
        if app:
            found.update(client_id=fake.client_id, client_secret=fake.client_secret)
        if self.refresh_token:
            found["refresh_token"] = self.refresh_token
        return found


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body), status=status, headers=headers or {}, mimetype="application/json"
    )


def _error(status: int, message: str, **more: Any) -> Response:
    return _json(status, {"status": status, "message": message, **more})


def _refused_token(code: int, name: str, message: str) -> Response:
    return _json(401, {"status": 401, "serviceErrorCode": code, "code": name, "message": message})


EXPIRED = (65602, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired")
REVOKED = (
    65601,
    "REVOKED_ACCESS_TOKEN",
    "The token used in the request has been revoked by the user",
)
INVALID = (65600, "INVALID_ACCESS_TOKEN", "Invalid access token")


# -- the server -----------------------------------------------------------------------------


class FakeLinkedIn(server.FakeServer[Failure]):
    """LinkedIn's API and OAuth server. ``url`` stands for both ``api.linkedin.com`` and
    ``www.linkedin.com`` (a channel's ``api_base_url``)."""

    thread_name = "fake-linkedin"
    kinds = KINDS
    failure_type = Failure

    def __init__(self) -> None:
        self.client_id = "li-client-7f3a9c21"
        self.client_secret = "li-secret-b81e44d0c2a7"
        self.versions = ACTIVE_VERSIONS
        self.organizations = {ORGANIZATION: "Heddlu Gwent Police", OTHER_ORGANIZATION: "Other"}
        #: creates per member per UTC day before 429 (LinkedIn publishes no number)
        self.daily_post_limit = 150
        #: seconds added to the real clock: LinkedIn's time (token expiry, createdAt)
        self.offset = 0.0
        self._lock = threading.RLock()
        self.reset()

    def now(self) -> float:
        return time.time() + self.offset

    # -- control ------------------------------------------------------------------------

    def reset(self) -> None:
        with self._lock:
            self._ids = itertools.count(7_100_000_000_000_000_001)
            self._tokens: dict[str, AccessToken] = {}
            self._refresh_tokens: dict[str, RefreshToken] = {}
            self._posts: list[dict[str, Any]] = []
            self._images: dict[str, dict[str, Any]] = {}
            self._uploads: dict[str, str] = {}  # upload key -> image urn
            self._creates: dict[tuple[str, str], int] = {}  # (member, UTC day) -> creates
            self.failures: list[Failure] = []
            self.requests: list[dict[str, Any]] = []
            self._holds: list[Hold] = []
            self.holds: list[Hold] = []  # hold_next(path)
            self.offset = 0.0
            self.daily_post_limit = 150

    def issue(
        self,
        roles: dict[str, str] | None = None,
        *,
        expires_in: timedelta = timedelta(days=50),
        scope: str = FULL_SCOPE,
        refresh: bool = False,
        refresh_expires_in: timedelta = timedelta(days=300),
    ) -> Issued:
        """A member's authorisation of the app: an access token (and a refresh token)."""
        with self._lock:
            member = Member(
                urn=f"urn:li:person:{secrets.token_hex(5)}",
                roles=dict({ORGANIZATION: "ADMINISTRATOR"} if roles is None else roles),
                scope=scope,
            )
            access = self._new_access_token(member, expires_in.total_seconds())
            refresh_token = None
            if refresh:
                refresh_token = "AQX" + secrets.token_urlsafe(24)
                self._refresh_tokens[refresh_token] = RefreshToken(
                    refresh_token, member, self.now() + refresh_expires_in.total_seconds()
                )
            return Issued(member, access, refresh_token)

    def expire(self, token: str) -> None:
        with self._lock:
            self._tokens[token].expires_at = self.now() - 1

    def revoke(self, token: str) -> None:
        with self._lock:
            if token in self._tokens:
                self._tokens[token].revoked = True
            if token in self._refresh_tokens:
                self._refresh_tokens[token].revoked = True

    def tokens_of(self, member: Member) -> list[str]:
        with self._lock:
            return [t.value for t in self._tokens.values() if t.member is member]

    def hold_next_create(self, timeout: float = 30.0) -> Hold:
        hold = Hold(timeout=timeout)
        with self._lock:
            self._holds.append(hold)
        return hold

    def add_post(self, text: str, *, created_at: datetime, organization: str = ORGANIZATION) -> str:
        """A post already on the page, made elsewhere (``text`` plain, hashtags kept)."""
        with self._lock:
            return self._store_post(
                f"urn:li:organization:{organization}",
                parse_little(_escape_plain(text)),
                created_at.timestamp(),
                commentary=text,
                content=None,
            )

    def posts(self, organization: str = ORGANIZATION) -> list[dict[str, Any]]:
        """The page's posts, oldest first: ``id``, ``text`` (what a reader sees),
        ``commentary`` (as sent), ``content``, ``createdAt``."""
        author = f"urn:li:organization:{organization}"
        with self._lock:
            return [
                {k: v for k, v in p.items() if k != "elements"}
                for p in self._posts
                if p["author"] == author
            ]

    def image(self, urn: str) -> dict[str, Any]:
        """An image: ``owner``, ``bytes`` (None until uploaded), ``authorized`` (the upload
        carried a valid bearer token)."""
        with self._lock:
            return dict(self._images[urn])

    # -- the WSGI app -------------------------------------------------------------------

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        return self._dispatch(request, environ)(environ, start_response)

    def _route(self, method: str, path: str) -> Any:
        if path.startswith("/dms-uploads/") and method == "PUT":
            return self._put_upload
        return {
            ("POST", "/rest/posts"): self._create_post,
            ("GET", "/rest/posts"): self._find_posts,
            ("POST", "/rest/images"): self._initialize_upload,
            ("GET", "/rest/organizationAcls"): self._acls,
            ("POST", "/oauth/v2/introspectToken"): self._introspect,
            ("POST", "/oauth/v2/accessToken"): self._refresh,
        }.get((method, path))

    def _dispatch(self, request: Request, environ: dict[str, Any]) -> Response:
        method, path = request.method, request.path
        handler = self._route(method, path)
        with self._lock:
            self.requests.append(
                {
                    "method": method,
                    "path": path,
                    "query": request.query_string.decode(),
                    "headers": {
                        k: v for k, v in request.headers.items() if k.lower() != "authorization"
                    },
                    "bearer": request.headers.get("Authorization", "").startswith("Bearer "),
                }
            )
        failure = self._take(method, path)
        if handler is None:
            return _error(404, f"Resource {path} does not exist")
        if failure is None:
            return handler(request)
        return self._failed(failure, environ, lambda: handler(request), self._failure_answer)

    def _failure_answer(self, failure: Failure) -> Response:
        if failure.kind == "answer":
            return _json(failure.status or 500, failure.body, failure.headers)
        if failure.kind == "5xx":
            status = failure.status or 500
            return _error(
                status, "Internal Server Error" if status == 500 else "Service Unavailable"
            )
        if failure.kind == "rate_limit":
            headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after else {}
            return _json(429, _throttled(), headers)
        if failure.kind == "expired_token":
            return _refused_token(*EXPIRED)
        if failure.kind == "revoked_token":
            return _refused_token(*REVOKED)
        return _error(500, "Internal Server Error")

    # -- authentication and Rest.li -----------------------------------------------------

    def _member(self, request: Request, needs: tuple[str, ...] = ()) -> Member | Response:
        """The member of the bearer token, or the answer refusing it; then the Rest.li
        headers; then the scope (any of ``needs``)."""
        header = request.headers.get("Authorization", "")
        value = header[7:].strip() if header.startswith("Bearer ") else ""
        if not value:
            return _json(
                401,
                {"message": "Empty oauth2_access_token", "serviceErrorCode": 401, "status": 401},
            )
        with self._lock:
            token = self._tokens.get(value)
        if token is None:
            return _refused_token(*INVALID)
        if token.revoked:
            return _refused_token(*REVOKED)
        if self.now() >= token.expires_at:
            return _refused_token(*EXPIRED)
        version = request.headers.get("LinkedIn-Version")
        if not version:
            return _error(
                400,
                "A version must be present. Please specify a version by adding the "
                "LinkedIn-Version header.",
                code="VERSION_MISSING",
            )
        if version not in self.versions:
            return _error(
                426, f"Requested version {version} is not active", code="NONEXISTENT_VERSION"
            )
        if request.headers.get("X-Restli-Protocol-Version") != "2.0.0":
            return _error(400, "The request needs the header X-Restli-Protocol-Version: 2.0.0")
        if "urn:li:" in request.query_string.decode():
            return _error(400, "Invalid query parameters: URNs must be URL-encoded")
        if needs and not set(needs) & set(token.member.scope.split(",")):
            return _error(
                403,
                f"Not enough permissions to access: {request.method} {request.path}",
                serviceErrorCode=100,
                code="ACCESS_DENIED",
            )
        return token.member

    def _may_post(self, member: Member, author: Any) -> bool:
        organization = str(author).removeprefix("urn:li:organization:")
        return (
            isinstance(author, str)
            and author.startswith("urn:li:organization:")
            and member.roles.get(organization) in POSTING_ROLES
        )

    # -- posts --------------------------------------------------------------------------

    def _create_post(self, request: Request) -> Response:
        member = self._member(request, ("w_organization_social",))
        if isinstance(member, Response):
            return member
        if request.mimetype != "application/json":
            return _error(400, "Content-Type must be application/json")
        try:
            body = json.loads(request.get_data(as_text=True))
        except ValueError:
            return _error(400, "The request body is not JSON")
        if not isinstance(body, dict):
            return _error(400, "The request body must be an object")
        unknown = sorted(set(body) - POST_FIELDS)
        missing = [name for name in REQUIRED_POST_FIELDS if name not in body]
        if unknown or missing:
            return _input_error(
                422,
                f"Unrecognized fields {unknown}" if unknown else f"Missing fields {missing}",
                "UNRECOGNIZED_FIELD" if unknown else "FIELD_MISSING",
            )
        author = body["author"]
        if not self._may_post(member, author):
            return _error(
                403,
                "Not enough permissions to access: partnerApiPostsExternal.CREATE.20260501",
                serviceErrorCode=100,
                code="ACCESS_DENIED",
            )
        distribution = body["distribution"]
        if (
            body["visibility"] not in ("PUBLIC", "CONNECTIONS", "LOGGED_IN")
            or body["lifecycleState"] != "PUBLISHED"
            or not isinstance(distribution, dict)
            or distribution.get("feedDistribution") not in ("MAIN_FEED", "NONE")
            or not isinstance(distribution.get("targetEntities", []), list)
            or not isinstance(distribution.get("thirdPartyDistributionChannels", []), list)
            or not isinstance(body.get("isReshareDisabledByAuthor", False), bool)
            or not isinstance(body["commentary"], str)
        ):
            return _input_error(
                422, "Invalid value in visibility, distribution or lifecycleState", "INVALID_VALUE"
            )
        elements = parse_little(body["commentary"])
        text = plain(elements)
        if utf16_length(text) > MAX_COMMENTARY:
            return _input_error(
                400,
                "com.linkedin.content.common.exception.BadRequestResponseException: "
                f"ShareCommentary text length ({utf16_length(text)} characters) exceeded the "
                f"maximum allowed ({MAX_COMMENTARY} characters)",
                "FIELD_ARRAY_SIZE_TOO_HIGH",
            )
        problem = self._check_content(body.get("content"), author)
        if problem is not None:
            return problem
        with self._lock:
            day = (member.urn, datetime.fromtimestamp(self.now(), UTC).strftime("%Y-%m-%d"))
            if self._creates.get(day, 0) >= self.daily_post_limit:
                return _json(429, _throttled())
            duplicate = next(
                (p for p in self._posts if p["author"] == author and p["text"] == text), None
            )
            if duplicate is not None:
                return _input_error(
                    422,
                    "com.linkedin.content.common.exception.BadRequestResponseException: "
                    f"Content is a duplicate of {duplicate['id']}",
                    "DUPLICATE_POST",
                    description="Duplicate post is detected",
                )
            self._creates[day] = self._creates.get(day, 0) + 1
            hold = self._holds.pop(0) if self._holds else None
        if hold is not None:
            hold.wait()
        with self._lock:
            urn = self._store_post(
                author,
                elements,
                self.now(),
                commentary=body["commentary"],
                content=body.get("content"),
            )
        return Response(status=201, headers={"x-restli-id": urn})

    def _check_content(self, content: Any, author: str) -> Response | None:
        if content is None:
            return None
        if (
            not isinstance(content, dict)
            or len(content) != 1
            or set(content) - {"media", "multiImage"}
        ):
            return _input_error(422, "content takes one of media, multiImage", "INVALID_VALUE")
        if "media" in content:
            items = [content["media"]]
        else:
            multi = content["multiImage"]
            items = multi.get("images") if isinstance(multi, dict) else None
            if not isinstance(items, list) or not 2 <= len(items) <= 20:
                return _input_error(422, "A MultiImage post takes 2 to 20 images", "INVALID_VALUE")
        for item in items:
            if not isinstance(item, dict) or set(item) - {"id", "altText"} or "id" not in item:
                return _input_error(422, "An image is {id, altText}", "INVALID_VALUE")
            alt = item.get("altText", "")
            if not isinstance(alt, str) or len(alt) > MAX_ALT_TEXT:
                return _input_error(
                    422,
                    f"altText is at most {MAX_ALT_TEXT} characters",
                    "FIELD_ARRAY_SIZE_TOO_HIGH",
                )
            with self._lock:
                image = self._images.get(str(item["id"]))
            if image is None or image["owner"] != author or image["bytes"] is None:
                return _input_error(
                    422, f"Image {item['id']} is not uploaded for {author}", "INVALID_VALUE"
                )
        return None

    def _store_post(
        self,
        author: str,
        elements: list[tuple[str, ...]],
        created: float,
        *,
        commentary: str,
        content: Any,
    ) -> str:
        urn = f"urn:li:share:{next(self._ids)}"
        self._posts.append(
            {
                "id": urn,
                "author": author,
                "text": plain(elements),
                "elements": elements,
                "commentary": commentary,
                "content": content,
                "createdAt": int(created * 1000),
            }
        )
        return urn

    def _find_posts(self, request: Request) -> Response:
        member = self._member(request, ("r_organization_social",))
        if isinstance(member, Response):
            return member
        args = request.args
        if args.get("q") != "author":
            return _error(400, "The finder q=author needs the author")
        author = args.get("author", "")
        if not self._may_post(member, author):
            return _error(
                403,
                "Not enough permissions to access: partnerApiPostsExternal.FINDER-author",
                serviceErrorCode=100,
                code="ACCESS_DENIED",
            )
        try:
            count, start = int(args.get("count", "10")), int(args.get("start", "0"))
        except ValueError:
            return _error(400, "count and start are numbers")
        if not 1 <= count <= 100 or start < 0:
            return _error(400, "count is 1 to 100, start 0 or more")
        if args.get("sortBy", "LAST_MODIFIED") not in ("LAST_MODIFIED", "CREATED"):
            return _error(400, "sortBy is LAST_MODIFIED or CREATED")
        with self._lock:
            posts = sorted(
                (p for p in self._posts if p["author"] == author),
                key=lambda p: p["createdAt"],
                reverse=True,
            )
        page = posts[start : start + count]
        links = []
        if start + count < len(posts):
            links.append(
                {
                    "type": "application/json",
                    "rel": "next",
                    "href": f"/rest/posts?author={quote(author, safe='')}&count={count}"
                    f"&q=author&start={start + count}",
                }
            )
        elements = [
            {
                "id": p["id"],
                "author": author,
                "commentary": render_little(p["elements"]),
                "visibility": "PUBLIC",
                "lifecycleState": "PUBLISHED",
                "distribution": {
                    "feedDistribution": "MAIN_FEED",
                    "targetEntities": [],
                    "thirdPartyDistributionChannels": [],
                },
                "createdAt": p["createdAt"],
                "publishedAt": p["createdAt"],
                "lastModifiedAt": p["createdAt"],
                **({"content": p["content"]} if p["content"] else {}),
            }
            for p in page
        ]
        return _json(
            200,
            {
                "paging": {"start": start, "count": count, "links": links, "total": len(posts)},
                "elements": elements,
            },
        )

    # -- images -------------------------------------------------------------------------

    def _initialize_upload(self, request: Request) -> Response:
        member = self._member(request, ("w_organization_social",))
        if isinstance(member, Response):
            return member
        if request.args.get("action") != "initializeUpload":
            return _error(400, "action=initializeUpload is required")
        try:
            body = json.loads(request.get_data(as_text=True))
            owner = body["initializeUploadRequest"]["owner"]
        except (ValueError, KeyError, TypeError):
            return _error(400, "The body is {initializeUploadRequest: {owner}}")
        if not self._may_post(member, owner):
            return _error(
                403,
                "Not enough permissions to upload for this owner",
                serviceErrorCode=100,
                code="ACCESS_DENIED",
            )
        with self._lock:
            urn = f"urn:li:image:C4E10AQ{next(self._ids)}"
            key = secrets.token_urlsafe(12)
            self._images[urn] = {"owner": owner, "bytes": None, "authorized": False}
            self._uploads[key] = urn
        expires = int((self.now() + 3600) * 1000)
        return _json(
            200,
            {
                "value": {
                    "uploadUrlExpiresAt": expires,
                    "uploadUrl": f"{self.url}/dms-uploads/{key}",
                    "image": urn,
                }
            },
        )

    def _put_upload(self, request: Request) -> Response:
        key = request.path.removeprefix("/dms-uploads/")
        header = request.headers.get("Authorization", "")
        with self._lock:
            urn = self._uploads.get(key)
            token = self._tokens.get(header[7:].strip()) if header.startswith("Bearer ") else None
        if urn is None:
            return _error(404, "No such upload")
        if token is None or token.revoked or self.now() >= token.expires_at:
            return _refused_token(*INVALID)
        with self._lock:
            self._images[urn].update(bytes=request.get_data(), authorized=True)
        return Response(status=201)

    # -- organisation roles -------------------------------------------------------------

    def _acls(self, request: Request) -> Response:
        member = self._member(request, ("r_organization_admin", "rw_organization_admin"))
        if isinstance(member, Response):
            return member
        if request.args.get("q") != "roleAssignee":
            return _error(400, "The finder q=roleAssignee is required")
        elements = [
            {
                "roleAssignee": member.urn,
                "state": "APPROVED",
                "role": role,
                "organization": f"urn:li:organization:{organization}",
            }
            for organization, role in member.roles.items()
            if request.args.get("role") in (None, role)
        ]
        return _json(
            200, {"paging": {"start": 0, "count": len(elements), "links": []}, "elements": elements}
        )

    # -- OAuth --------------------------------------------------------------------------

    def _client_refused(self, request: Request) -> Response | None:
        if request.mimetype != "application/x-www-form-urlencoded":
            return _json(
                400, {"error": "invalid_request", "error_description": "A form is required"}
            )
        form = request.form
        if (
            form.get("client_id") != self.client_id
            or form.get("client_secret") != self.client_secret
        ):
            return _json(
                401,
                {"error": "invalid_client", "error_description": "Client authentication failed"},
            )
        return None

    def _introspect(self, request: Request) -> Response:
        refused = self._client_refused(request)
        if refused is not None:
            return refused
        value = request.form.get("token", "")
        if not value:
            return _json(
                400, {"error": "invalid_request", "error_description": "token is required"}
            )
        with self._lock:
            token = self._tokens.get(value)
        if token is None:
            return _json(200, {"active": False})
        status = (
            "revoked"
            if token.revoked
            else "expired"
            if self.now() >= token.expires_at
            else "active"
        )
        return _json(
            200,
            {
                "active": status == "active",
                "client_id": self.client_id,
                "authorized_at": int(token.created_at),
                "created_at": int(token.created_at),
                "status": status,
                "expires_at": int(token.expires_at),
                "scope": token.member.scope,
                "auth_type": "3L",
            },
        )

    def _refresh(self, request: Request) -> Response:
        refused = self._client_refused(request)
        if refused is not None:
            return refused
        if request.form.get("grant_type") != "refresh_token":
            return _json(
                400, {"error": "unsupported_grant_type", "error_description": "grant_type"}
            )
        with self._lock:
            refresh = self._refresh_tokens.get(request.form.get("refresh_token", ""))
            if refresh is None or refresh.revoked or self.now() >= refresh.expires_at:
                return _json(
                    400,
                    {
                        "error": "invalid_request",
                        "error_description": "The provided authorization grant or refresh token "
                        "is invalid, expired or revoked",
                    },
                )
            access = self._new_access_token(refresh.member, ACCESS_TOKEN_SECONDS)
            left = int(refresh.expires_at - self.now())
        return _json(
            200,
            {
                "access_token": access,
                "expires_in": ACCESS_TOKEN_SECONDS,
                "refresh_token": refresh.value,
                "refresh_token_expires_in": left,
                "scope": refresh.member.scope,
            },
        )

    def _new_access_token(self, member: Member, seconds: float) -> str:
        value = "AQV" + secrets.token_urlsafe(24)
        now = self.now()
        self._tokens[value] = AccessToken(value, member, now, now + seconds)
        return value


def _throttled() -> dict[str, Any]:
    return {
        "status": 429,
        "message": "Resource level throttle DAY limit for calls to this resource is reached.",
    }


def _input_error(status: int, message: str, code: str, description: str = "") -> Response:
    return _json(
        status,
        {
            "errorDetailType": "com.linkedin.common.error.BadRequest",
            "message": message,
            "errorDetails": {
                "inputErrors": [{"description": description or message, "input": {}, "code": code}]
            },
            "status": status,
        },
    )


def _escape_plain(text: str) -> str:
    """A plain text as little text, its hashtags kept (for posts made elsewhere)."""
    pieces: list[str] = []
    for found in regex.finditer(r"#[\p{L}\p{M}\p{N}]+|.", text, flags=regex.DOTALL):
        chunk = found.group(0)
        pieces.append(chunk if len(chunk) > 1 else ("\\" + chunk if chunk in RESERVED else chunk))
    return "".join(pieces)


def serve() -> Iterator[FakeLinkedIn]:
    """For fixtures: a started fake, stopped afterwards."""
    fake = FakeLinkedIn().start()
    try:
        yield fake
    finally:
        fake.stop()
