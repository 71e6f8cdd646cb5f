"""A fake X v2 API and Facebook Graph API on 127.0.0.1, for running the real clients.

One small WSGI app (werkzeug) served in a thread on an ephemeral port. It keeps what it
was sent, checks credentials, and answers the way the networks do: rate limits with
their real headers, duplicates with the networks' own error bodies, and failures on
demand (``fail_next``). Thread-safe.

In a test (see ``tests/channels/conftest.py``)::

    with FakePlatform() as platform:
        account = AccountSettings(network="x", handle="@GwentPolice",
                                  api_base_url=platform.url)
        platform.fail_next("slow")          # the next request answers after 2 s
        platform.x_posts("GwentPolice")     # what X has on that account

From another process (a worker subprocess test)::

    python -m tests.fakeplatform --port 0     # prints "fake platform on http://127.0.0.1:N"
    GET  /_fake/state                          # everything it holds, as JSON
    POST /_fake/control {"action": "fail_next", "kind": "5xx", "count": 2, "path": "/2/tweets"}
    POST /_fake/control {"action": "reset"}

X (``/2/...``)
    ``POST /2/tweets``, ``POST /2/media/upload``, ``POST /2/media/metadata``,
    ``GET /2/users/me``, ``GET /2/users/{id}/tweets`` (``max_results`` 5 to 100,
    ``start_time``, ``pagination_token``/``next_token``). OAuth 1.0a: the HMAC-SHA1 signature
    is verified with the configured consumer and token secrets.
Graph (``/v{N}/...``)
    ``POST /{page}/feed``, ``POST /{page}/photos``, ``GET /{page}/feed`` (without the
    posts of published photos when ``facebook_feed_shows_photos`` is off),
    ``GET /{page}/photos?type=uploaded`` (published photos, the caption as ``name``); both
    lists take ``since``, ``limit`` and the ``after`` cursor (``paging.next`` when more),
    ``GET /{page}``, ``GET /me``. ``access_token`` (query, form, or ``Authorization: Bearer``) must be a
    configured Page token (or a configured user token, which can read but not post).
Mastodon (``/api/v1/...``, ``/api/v2/...``)
    ``POST /api/v1/statuses`` (``Idempotency-Key`` honoured as Mastodon's
    ``PostStatusService`` does: the same key from the same account within
    ``mastodon_idempotency_seconds`` answers 200 with the status it already made and makes
    nothing, not even against the rate limit; while a request with the key is still being
    worked on, another with it answers 503; ``visibility`` defaults to the account's
    ``default_visibility`` when not sent), ``POST /api/v2/media`` and ``/api/v1/media``
    (``description``; with ``mastodon_media_processing_polls`` set, v2 answers 202 with
    ``url`` null and ``GET /api/v1/media/{id}`` answers 206 that many times, then 200 with
    the URL; a status with an unprocessed image is refused with 422),
    ``GET /api/v1/instance``, ``GET /api/v2/instance`` (``max_characters``,
    ``characters_reserved_per_url`` 23; with ``mastodon_limited_federation`` they need a
    valid token, else 401), ``GET /api/v1/accounts/verify_credentials``,
    ``GET /api/v1/accounts/{id}/statuses``. ``Authorization: Bearer`` a configured token.
    ``content`` is HTML the way Mastodon renders plain text; ``X-RateLimit-*`` on answers.
    ``hold_next_status()`` (in-process only) keeps the next status create waiting, its key
    taken, until the test releases it: a request still in flight.

Failure kinds for ``fail_next`` (each applies to the next request whose path contains
``path``, and whose method is ``method`` if given):

``5xx``
    answer ``status`` (default 503) with the network's error body; nothing created.
``answer``
    answer exactly ``status``, ``body`` (JSON) and ``headers``; nothing created.
``rate_limit``
    429 with ``x-rate-limit-*`` headers (X), or code 4 with ``x-app-usage`` (Graph);
    ``reset_in`` seconds, plus ``Retry-After`` if ``retry_after`` is given.
``slow``
    handle the request (a post is created), then answer only after ``delay`` seconds.
``drop``
    close the connection without an answer (``create=True``: after creating the post).
``expired_token``
    X 401; Graph code 190 subcode 463.
``fail_after_create``
    create the post, then answer 500 (X problem JSON; Graph code 2 ``is_transient``).
"""

from __future__ import annotations

import argparse
import base64
import calendar
import hashlib
import html
import itertools
import json
import re
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import grapheme
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.fakes import oauth1, server
from tests.fakes.server import Hold, Quiet
from tests.fakes.server import json_response as _json

X_DUPLICATE = "You are not allowed to create a Tweet with duplicate content."
GRAPH_VERSION = re.compile(r"^/v\d+\.\d+/")
URL = re.compile(r"https?://\S+")


@dataclass
class XAccount:
    """An X user with the tokens of one app (OAuth 1.0a)."""

    id: str
    username: str
    access_token: str
    access_token_secret: str
    access_level: str = "read-write"


@dataclass
class FacebookPage:
    id: str
    name: str
    token: str  # the Page access token
    username: str = ""


@dataclass
class FacebookUser:
    """A person's user token: reads, but cannot post to a Page."""

    id: str
    name: str
    token: str


@dataclass
class MastodonAccount:
    """A local account of the fake Mastodon instance, with its access token."""

    id: str
    username: str
    token: str
    # The account's "posting privacy" preference: what a status gets when the request
    # names no visibility.
    default_visibility: str = "public"


@dataclass
class FakeConfig:
    x_consumer_key: str = "fake-consumer-key-4e1f0a"
    x_consumer_secret: str = "fake-consumer-secret-9b27c3d5"
    x_accounts: list[XAccount] = field(
        default_factory=lambda: [
            XAccount(
                "1500000000000000001",
                "GwentPolice",
                "1500000000000000001-fakeaccesstoken7c1d",
                "fake-access-secret-52aa91",
            ),
            XAccount(
                "1500000000000000002",
                "HeddluGwent",
                "1500000000000000002-fakeaccesstoken0e3b",
                "fake-access-secret-77c0d4",
            ),
        ]
    )
    facebook_pages: list[FacebookPage] = field(
        default_factory=lambda: [
            FacebookPage(
                "104857600000001", "Gwent Police", "EAAfakepagetoken1A2b3C4d5E", "GwentPolice"
            ),
            FacebookPage(
                "104857600000002", "Heddlu Gwent", "EAAfakepagetoken9Z8y7X6w5V", "HeddluGwent"
            ),
        ]
    )
    facebook_users: list[FacebookUser] = field(
        default_factory=lambda: [
            FacebookUser("10000000000042", "Alex Jones", "EAAfakeusertoken0K1l2M3n4O"),
        ]
    )
    # Posts a user may create per 24 hours (X's per-user posting limit); None: no limit.
    x_daily_limit: int | None = None
    # Whether GET /{page}/feed lists the posts made by POST /{page}/photos (off: a feed
    # that has not shown them yet; find() must then read the photos).
    facebook_feed_shows_photos: bool = True
    mastodon_accounts: list[MastodonAccount] = field(
        default_factory=lambda: [
            MastodonAccount("109000000000000001", "GwentPolice", "fake-masto-token-Qw3rTy7u"),
            MastodonAccount("109000000000000002", "HeddluGwent", "fake-masto-token-As9dF0gh"),
        ]
    )
    mastodon_domain: str = "mastodon.social"
    mastodon_max_characters: int = 500
    # How long Mastodon remembers an Idempotency-Key (an hour).
    mastodon_idempotency_seconds: float = 3600.0
    # Statuses an account may post per 3 hours (Mastodon's default is 300); None: no limit.
    mastodon_status_limit: int | None = None
    # None: an upload is processed at once (200 with its URL). N: /api/v2/media answers 202
    # (url null) and the next N looks (GET /api/v1/media/{id}) answer 206, then 200.
    mastodon_media_processing_polls: int | None = None
    # Limited-federation mode: the instance endpoints need a valid token too.
    mastodon_limited_federation: bool = False

    def x_credentials(self, username: str = "") -> dict[str, str]:
        """The four OAuth 1.0a values this fake accepts for an X user (default: the first)."""
        account = next(
            (
                a
                for a in self.x_accounts
                if a.username.casefold() == username.lstrip("@").casefold()
            ),
            self.x_accounts[0],
        )
        return {
            "consumer_key": self.x_consumer_key,
            "consumer_secret": self.x_consumer_secret,
            "access_token": account.access_token,
            "access_token_secret": account.access_token_secret,
        }

    def fb_credentials(self, page: str = "") -> dict[str, str]:
        """``page_token`` of a Page (by id or username; default: the first)."""
        found = next(
            (p for p in self.facebook_pages if page in (p.id, p.username)), self.facebook_pages[0]
        )
        return {"page_token": found.token}

    def masto_credentials(self, username: str = "") -> dict[str, str]:
        """``access_token`` of a Mastodon account (by username; default: the first)."""
        name = username.lstrip("@").split("@")[0].casefold()
        found = next(
            (a for a in self.mastodon_accounts if a.username.casefold() == name),
            self.mastodon_accounts[0],
        )
        return {"access_token": found.token}

    def secrets(self) -> list[str]:
        """Every credential value this fake knows: none may ever show in a message or log."""
        values = [self.x_consumer_key, self.x_consumer_secret]
        values += [v for a in self.x_accounts for v in (a.access_token, a.access_token_secret)]
        values += [p.token for p in self.facebook_pages]
        values += [u.token for u in self.facebook_users]
        values += [a.token for a in self.mastodon_accounts]
        return values

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> FakeConfig:
        raw = dict(raw)
        if "x_accounts" in raw:
            raw["x_accounts"] = [XAccount(**a) for a in raw["x_accounts"]]
        if "facebook_pages" in raw:
            raw["facebook_pages"] = [FacebookPage(**p) for p in raw["facebook_pages"]]
        if "facebook_users" in raw:
            raw["facebook_users"] = [FacebookUser(**u) for u in raw["facebook_users"]]
        if "mastodon_accounts" in raw:
            raw["mastodon_accounts"] = [MastodonAccount(**a) for a in raw["mastodon_accounts"]]
        return cls(**raw)


@dataclass
class Failure(server.Failure):
    reset_in: int = 900  # rate_limit: seconds until the window resets


class FakePlatform(server.FakeServer[Failure]):
    """The fake networks. ``start()`` serves them; ``url`` is the base URL for both."""

    thread_name = "fake-platform"
    failure_type = Failure

    def __init__(self, config: FakeConfig | None = None) -> None:
        self.config = config or FakeConfig()
        self.latency = 0.0  # seconds every successful POST waits before answering
        # Seconds every POST is held before it is carried out: a create that lands long
        # after it was sent (longer than a lease, in the crash test).
        self.hold_creates = 0.0
        self._x_tokens: dict[str, tuple[int, XAccount]] = {}  # _x_by_token
        self._lock = threading.RLock()
        self.reset()

    # -- control ------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every post, upload, request and pending failure."""
        with self._lock:
            self._ids = itertools.count(1)
            self.failures: list[Failure] = []
            self.holds: list[Hold] = []  # hold_next(path)
            self.requests: list[dict[str, str]] = []
            self._x_posts: dict[str, list[dict[str, Any]]] = {
                a.id: [] for a in self.config.x_accounts
            }
            self._x_media: dict[str, dict[str, Any]] = {}
            self._fb_posts: dict[str, list[dict[str, Any]]] = {
                p.id: [] for p in self.config.facebook_pages
            }
            self._fb_photos: dict[str, list[dict[str, Any]]] = {
                p.id: [] for p in self.config.facebook_pages
            }
            self._fb_calls = 0
            self._md_statuses: dict[str, list[dict[str, Any]]] = {
                a.id: [] for a in self.config.mastodon_accounts
            }
            self._md_media: dict[str, dict[str, Any]] = {}
            self._md_keys: dict[tuple[str, str], tuple[str, float]] = {}
            self._md_working: set[tuple[str, str]] = set()  # keys of creates under way
            self._md_holds: list[Hold] = []

    def hold_next_status(self, timeout: float = 30.0) -> Hold:
        """Keep the next Mastodon status create waiting until ``release()`` (in-process)."""
        hold = Hold(timeout=timeout)
        with self._lock:
            self._md_holds.append(hold)
        return hold

    def x_posts(self, username: str) -> list[dict[str, Any]]:
        """The posts of an X user, oldest first: ``id``, ``text``, ``media_ids``."""
        account = self._x_by_username(username)
        with self._lock:
            return [dict(p) for p in self._x_posts[account.id]]

    def x_media(self, media_id: str) -> dict[str, Any]:
        """An uploaded X image: ``bytes``, ``alt_text``, ``media_category``, ``owner``."""
        with self._lock:
            return dict(self._x_media[media_id])

    def fb_posts(self, page: str) -> list[dict[str, Any]]:
        """A Page's posts, oldest first: ``id``, ``message``, ``link``, ``photo_ids``."""
        page_id = self._fb_page(page).id
        with self._lock:
            return [dict(p) for p in self._fb_posts[page_id]]

    def fb_photos(self, page: str) -> list[dict[str, Any]]:
        """A Page's photos: ``id``, ``bytes``, ``caption``, ``alt_text``, ``published``."""
        page_id = self._fb_page(page).id
        with self._lock:
            return [dict(p) for p in self._fb_photos[page_id]]

    def md_statuses(self, username: str) -> list[dict[str, Any]]:
        """A Mastodon account's statuses, oldest first: ``id``, ``text``, ``content`` (HTML),
        ``language``, ``visibility``, ``visibility_sent`` (None if the request named none),
        ``media_ids``, ``idempotency_key``."""
        account = self._md_by_username(username)
        with self._lock:
            return [dict(s) for s in self._md_statuses[account.id]]

    def md_media(self, media_id: str) -> dict[str, Any]:
        """An uploaded Mastodon attachment: ``bytes``, ``description``, ``owner``,
        ``status_id``, ``processed``, ``uploads`` (how many uploads sent these bytes)."""
        with self._lock:
            return dict(self._md_media[media_id])

    def state(self) -> dict[str, Any]:
        """Everything held, JSON-ready (image bytes as base64)."""

        def clean(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
            return [
                {
                    k: base64.b64encode(v).decode() if isinstance(v, bytes) else v
                    for k, v in item.items()
                }
                for item in items
            ]

        with self._lock:
            return {
                "x": {
                    "posts": {
                        a.username: clean(self._x_posts[a.id]) for a in self.config.x_accounts
                    },
                    "media": {k: clean([v])[0] for k, v in self._x_media.items()},
                },
                "facebook": {
                    "posts": {
                        p.id: clean(self._fb_posts[p.id]) for p in self.config.facebook_pages
                    },
                    "photos": {
                        p.id: clean(self._fb_photos[p.id]) for p in self.config.facebook_pages
                    },
                },
                "mastodon": {
                    "statuses": {
                        a.username: clean(self._md_statuses[a.id])
                        for a in self.config.mastodon_accounts
                    },
                    "media": {k: clean([v])[0] for k, v in self._md_media.items()},
                },
                "requests": list(self.requests),
                "failures_pending": [asdict(f) for f in self.failures],
            }

    # -- the WSGI app -------------------------------------------------------------------

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        response = self._dispatch(request, environ)
        return response(environ, start_response)

    def _dispatch(self, request: Request, environ: dict[str, Any]) -> Response:
        path, method = request.path, request.method
        if path.startswith("/_fake/"):
            return self._control(request)
        with self._lock:
            self.requests.append({"method": method, "path": path})
        failure = self._take(method, path)
        network = "x" if path.startswith("/2/") else "facebook"
        if path.startswith(("/api/v1/", "/api/v2/")):
            network = "mastodon"
        handler = {"x": self._x, "facebook": self._graph, "mastodon": self._mastodon}[network]

        if failure is None:
            if self.hold_creates and method == "POST":
                time.sleep(self.hold_creates)
            answer = handler(request)
            if self.latency and method == "POST":
                time.sleep(self.latency)  # created; the answer takes a while (crash tests)
            return answer
        return self._failed(
            failure,
            environ,
            lambda: handler(request),
            lambda failure: self._failure_answer(failure, network),
        )

    def _failure_answer(self, failure: Failure, network: str) -> Response:
        if failure.kind != "fail_after_create":
            return self._failure_status(failure, network)
        if network == "mastodon":
            return _json(500, {"error": "We're sorry, but something went wrong on our end."})
        if network == "x":
            return _json(500, _x_problem(500, "Internal Server Error", "Internal Server Error"))
        return _json(
            500,
            _graph_error(
                2,
                "An unexpected error has occurred. Please retry your request later.",
                transient=True,
            ),
        )

    def _failure_status(self, failure: Failure, network: str) -> Response:
        if failure.kind == "answer":
            return _json(failure.status or 500, failure.body, failure.headers)
        if network == "mastodon":
            return self._md_failure(failure)
        if failure.kind == "5xx":
            status = failure.status or 503
            if network == "x":
                return _json(
                    status,
                    _x_problem(status, "Service Unavailable", "Service Unavailable"),
                    failure.headers,
                )
            return _json(status, _graph_error(1, "An unknown error occurred"), failure.headers)
        if failure.kind == "expired_token":
            if network == "x":
                return _json(401, _x_problem(401, "Unauthorized", "Unauthorized"))
            return _json(
                400,
                _graph_error(
                    190,
                    "Error validating access token: Session has expired on Friday, "
                    "13-Mar-2026 10:00:00 PDT.",
                    subcode=463,
                ),
            )
        # rate_limit
        reset = int(time.time()) + failure.reset_in
        headers = dict(failure.headers)
        if failure.retry_after is not None:
            headers["Retry-After"] = str(failure.retry_after)
        if network == "x":
            headers.update(
                {
                    "x-rate-limit-limit": "100",
                    "x-rate-limit-remaining": "0",
                    "x-rate-limit-reset": str(reset),
                }
            )
            return _json(429, _x_problem(429, "Too Many Requests", "Too Many Requests"), headers)
        headers["x-app-usage"] = json.dumps(
            {"call_count": 100, "total_cputime": 25, "total_time": 25}
        )
        return _json(
            400, _graph_error(4, "(#4) Application request limit reached", transient=True), headers
        )

    # -- X ------------------------------------------------------------------------------

    def _x(self, request: Request) -> Response:
        account = self._x_authenticate(request)
        if account is None:
            return _json(401, _x_problem(401, "Unauthorized", "Unauthorized"))
        path, method = request.path, request.method
        headers = {"x-access-level": account.access_level}
        if path == "/2/users/me" and method == "GET":
            user = {"id": account.id, "name": account.username, "username": account.username}
            return _json(200, {"data": user}, headers)
        if path == "/2/tweets" and method == "POST":
            return self._x_create(account, request, headers)
        if path == "/2/media/upload" and method == "POST":
            upload = request.files.get("media")
            if upload is None:
                return _json(400, _x_problem(400, "Invalid Request", "media is required"))
            media_id = str(1_700_000_000_000_000_000 + next(self._ids))
            with self._lock:
                self._x_media[media_id] = {
                    "bytes": upload.read(),
                    "alt_text": None,
                    "owner": account.id,
                    "media_category": request.form.get("media_category"),
                    "media_type": request.form.get("media_type"),
                    "filename": upload.filename,
                }
            data = {
                "id": media_id,
                "media_key": f"3_{media_id}",
                "size": len(self._x_media[media_id]["bytes"]),
                "expires_after_secs": 86400,
            }
            return _json(200, {"data": data}, headers)
        if path == "/2/media/metadata" and method == "POST":
            body = request.get_json(silent=True) or {}
            media_id = str(body.get("id", ""))
            alt = ((body.get("metadata") or {}).get("alt_text") or {}).get("text")
            with self._lock:
                media = self._x_media.get(media_id)
                if media is None or media["owner"] != account.id:
                    return _json(
                        400, _x_problem(400, "Invalid Request", f"media id {media_id} is not valid")
                    )
                media["alt_text"] = alt
            return _json(200, {"data": {"id": media_id, "associated_metadata": True}}, headers)
        timeline = re.fullmatch(r"/2/users/(\d+)/tweets", path)
        if timeline and method == "GET":
            return self._x_timeline(timeline.group(1), request, headers)
        return _json(404, _x_problem(404, "Not Found Error", f"no route {method} {path}"))

    def _x_create(self, account: XAccount, request: Request, headers: dict[str, str]) -> Response:
        body = request.get_json(silent=True) or {}
        text = body.get("text")
        media_ids = [str(m) for m in ((body.get("media") or {}).get("media_ids") or [])]
        if not text and not media_ids:
            return _json(
                400,
                _x_problem(
                    400, "Invalid Request", "One or more parameters to your request was invalid."
                ),
            )
        with self._lock:
            posts = self._x_posts[account.id]
            limit = self.config.x_daily_limit
            if limit is not None:
                day_ago = time.time() - 86400
                recent = [p for p in posts if p["created"] > day_ago]
                headers.update(
                    {
                        "x-user-limit-24hour-limit": str(limit),
                        "x-user-limit-24hour-remaining": str(max(0, limit - len(recent))),
                        "x-user-limit-24hour-reset": str(int(time.time()) + 3600),
                    }
                )
                if len(recent) >= limit:
                    headers["x-user-limit-24hour-remaining"] = "0"
                    return _json(
                        429, _x_problem(429, "Too Many Requests", "Too Many Requests"), headers
                    )
            if any(p["text"] == text for p in posts):
                return _json(403, {"detail": X_DUPLICATE, "status": 403}, headers)
            for media_id in media_ids:
                media = self._x_media.get(media_id)
                if media is None or media["owner"] != account.id:
                    return _json(
                        400, _x_problem(400, "Invalid Request", f"media id {media_id} is not valid")
                    )
            post_id = str(1_800_000_000_000_000_000 + next(self._ids))
            posts.append(
                {"id": post_id, "text": text, "media_ids": media_ids, "created": time.time()}
            )
        return _json(
            201,
            {"data": {"id": post_id, "text": text, "edit_history_tweet_ids": [post_id]}},
            headers,
        )

    def _x_timeline(self, user_id: str, request: Request, headers: dict[str, str]) -> Response:
        with self._lock:
            if user_id not in self._x_posts:
                return _json(404, _x_problem(404, "Not Found Error", "user not found"))
            posts = list(reversed(self._x_posts[user_id]))
        username = next(a.username for a in self.config.x_accounts if a.id == user_id)
        limit = int(request.args.get("max_results", "10"))
        if not 5 <= limit <= 100:
            return _json(400, _x_problem(400, "Invalid Request", "max_results must be 5 to 100"))
        start = request.args.get("start_time")
        if start:  # only posts made after it
            since = calendar.timegm(time.strptime(start, "%Y-%m-%dT%H:%M:%SZ"))
            posts = [p for p in posts if p["created"] >= since]
        token = request.args.get("pagination_token", "")
        offset = int(token.removeprefix("page-")) if token.startswith("page-") else 0
        data = [_x_as_served(p, username) for p in posts[offset : offset + limit]]
        meta: dict[str, Any] = {"result_count": len(data)}
        if offset + limit < len(posts):
            meta["next_token"] = f"page-{offset + limit}"
        if data:
            meta.update(newest_id=data[0]["id"], oldest_id=data[-1]["id"])
            return _json(200, {"data": data, "meta": meta}, headers)
        return _json(200, {"meta": meta}, headers)

    def _x_authenticate(self, request: Request) -> XAccount | None:
        """The account whose tokens signed the request (``tests.fakes.oauth1``: the
        HMAC-SHA1 signature proves the client signed the URL it really sent), or None."""
        params = oauth1.authorization_params(request.environ.get("HTTP_AUTHORIZATION", ""))
        if params is None or params.get("oauth_consumer_key") != self.config.x_consumer_key:
            return None
        account = self._x_by_token(params.get("oauth_token", ""))
        if account is None:
            return None
        body = None
        if request.mimetype == "application/x-www-form-urlencoded":
            body = request.get_data(as_text=True)
        if not oauth1.verify(
            request.environ,
            params,
            body,
            self.config.x_consumer_secret,
            account.access_token_secret,
        ):
            return None
        return account

    def _x_by_token(self, token: str) -> XAccount | None:
        """The configured account with this access token. An index (500 accounts in the
        burst's bench), checked on every use against ``config.x_accounts`` as it is now,
        so a test that changes the accounts is served as before."""
        accounts = self.config.x_accounts
        found = self._x_tokens.get(token)
        if found is not None:
            n, account = found
            if n < len(accounts) and accounts[n] is account and account.access_token == token:
                return account
        # Not indexed, or the accounts changed since: index them again.
        self._x_tokens = {a.access_token: (n, a) for n, a in enumerate(accounts)}
        found = self._x_tokens.get(token)
        return None if found is None else found[1]

    def _x_by_username(self, username: str) -> XAccount:
        name = username.lstrip("@").casefold()
        return next(a for a in self.config.x_accounts if a.username.casefold() == name)

    # -- Graph API ----------------------------------------------------------------------

    def _graph(self, request: Request) -> Response:
        match = GRAPH_VERSION.match(request.path)
        if not match:
            return _json(400, _graph_error(2500, "Unknown path components", "OAuthException"))
        parts = request.path[match.end() :].strip("/").split("/")
        token = (
            request.values.get("access_token")
            or request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        )
        with self._lock:
            self._fb_calls += 1
            calls = self._fb_calls
        if not token:
            return _json(
                400, _graph_error(104, "An access token is required to request this resource.")
            )
        page = next((p for p in self.config.facebook_pages if p.token == token), None)
        user = next((u for u in self.config.facebook_users if u.token == token), None)
        if page is None and user is None:
            return _json(
                400, _graph_error(190, "Invalid OAuth access token - Cannot parse access token")
            )
        headers = {
            "x-app-usage": json.dumps(
                {"call_count": min(calls, 100), "total_cputime": 1, "total_time": 1}
            )
        }
        if page is not None:
            headers["x-business-use-case-usage"] = json.dumps(
                {
                    page.id: [
                        {
                            "type": "pages",
                            "call_count": min(calls, 100),
                            "total_cputime": 1,
                            "total_time": 1,
                            "estimated_time_to_regain_access": 0,
                        }
                    ]
                }
            )
        method = request.method

        if parts == ["me"] and method == "GET":
            me: dict[str, Any]
            if page is not None:
                me = {"id": page.id, "name": page.name}
                kind = "page"
            else:
                assert user is not None
                me = {"id": user.id, "name": user.name}
                kind = "user"
            if request.args.get("metadata") == "1":
                me["metadata"] = {"type": kind}
            return _json(200, me, headers)
        target = self._fb_page_or_none(parts[0])
        if target is None:
            return _json(
                404,
                _graph_error(
                    803, f"(#803) Some of the aliases you requested do not exist: {parts[0]}"
                ),
            )
        if len(parts) == 1 and method == "GET":
            return _json(200, {"id": target.id, "name": target.name}, headers)
        if len(parts) == 2 and parts[1] == "feed" and method == "GET":
            if page is None and user is None:
                return _json(400, _graph_error(190, "Invalid OAuth access token"))
            with self._lock:
                posts = list(reversed(self._fb_posts[target.id]))
            if not self.config.facebook_feed_shows_photos:
                posts = [p for p in posts if not p.get("photo_post")]
            data = []
            for post in posts:
                item = {"id": post["id"], "created_time": post["created_time"]}
                if post["message"]:
                    item["message"] = post["message"]
                data.append((post["created"], item))
            return _json(200, _graph_page(data, request), headers)
        if len(parts) == 2 and parts[1] == "photos" and method == "GET":
            with self._lock:
                photos = [p for p in reversed(self._fb_photos[target.id]) if p["published"]]
            if request.args.get("type") != "uploaded":
                photos = []  # the default is the Page's profile pictures
            listed = [
                (
                    p["created"],
                    {"id": p["id"], "name": p["caption"], "created_time": p["created_time"]},
                )
                for p in photos
            ]
            return _json(200, _graph_page(listed, request), headers)
        if len(parts) == 2 and parts[1] in ("feed", "photos") and method == "POST":
            if page is None or page.id != target.id:
                return _json(
                    403,
                    _graph_error(
                        200,
                        "(#200) If posting to a page, requires both pages_read_engagement "
                        "and pages_manage_posts as an admin with sufficient administrative "
                        "permission",
                    ),
                )
            if parts[1] == "feed":
                return self._fb_feed(target, request, headers)
            return self._fb_photo(target, request, headers)
        return _json(
            400, _graph_error(100, f"Unsupported {method.lower()} request.", "GraphMethodException")
        )

    def _fb_feed(self, page: FacebookPage, request: Request, headers: dict[str, str]) -> Response:
        message = request.form.get("message", "")
        attached = []
        for key in sorted(k for k in request.form if k.startswith("attached_media[")):
            try:
                attached.append(str(json.loads(request.form[key])["media_fbid"]))
            except (ValueError, KeyError, TypeError):
                return _json(400, _graph_error(100, f"(#100) param {key} is not valid"))
        if not message and not attached and not request.form.get("link"):
            return _json(400, _graph_error(100, "(#100) Missing message or attachment"))
        with self._lock:
            photos = {p["id"]: p for p in self._fb_photos[page.id]}
            for photo_id in attached:
                if photo_id not in photos or photos[photo_id]["published"]:
                    return _json(
                        400,
                        _graph_error(
                            100, f"(#100) attached_media: {photo_id} is not an unpublished photo"
                        ),
                    )
            if message and any(p["message"] == message for p in self._fb_posts[page.id]):
                return _json(400, _graph_error(506, "Duplicate status message", subcode=1455006))
            post_id = f"{page.id}_{next(self._ids)}"
            self._fb_posts[page.id].append(
                {
                    "id": post_id,
                    "message": message,
                    "link": request.form.get("link"),
                    "photo_ids": attached,
                    "created_time": _graph_time(),
                    "created": time.time(),
                }
            )
            for photo_id in attached:
                photos[photo_id]["post_id"] = post_id
        return _json(200, {"id": post_id}, headers)

    def _fb_photo(self, page: FacebookPage, request: Request, headers: dict[str, str]) -> Response:
        source = request.files.get("source")
        if source is None:
            return _json(400, _graph_error(324, "(#324) Requires upload file"))
        published = request.form.get("published", "true").lower() != "false"
        caption = request.form.get("caption", "")
        with self._lock:
            photo_id = str(2_000_000_000 + next(self._ids))
            photo = {
                "id": photo_id,
                "bytes": source.read(),
                "caption": caption,
                "alt_text": request.form.get("alt_text_custom"),
                "published": published,
                "filename": source.filename,
                "post_id": None,
                "created_time": _graph_time(),
                "created": time.time(),
            }
            self._fb_photos[page.id].append(photo)
            if not published:
                return _json(200, {"id": photo_id}, headers)
            post_id = f"{page.id}_{next(self._ids)}"
            photo["post_id"] = post_id
            self._fb_posts[page.id].append(
                {
                    "id": post_id,
                    "message": caption,
                    "link": None,
                    "photo_ids": [photo_id],
                    "created_time": _graph_time(),
                    "created": time.time(),
                    "photo_post": True,
                }
            )
        return _json(200, {"id": photo_id, "post_id": post_id}, headers)

    def _fb_page_or_none(self, key: str) -> FacebookPage | None:
        return next(
            (p for p in self.config.facebook_pages if key in (p.id, p.username) and key), None
        )

    def _fb_page(self, key: str) -> FacebookPage:
        page = self._fb_page_or_none(key)
        if page is None:
            raise KeyError(key)
        return page

    # -- Mastodon -----------------------------------------------------------------------

    def _md_failure(self, failure: Failure) -> Response:
        if failure.kind == "5xx":
            status = failure.status or 503
            return _json(status, {"error": "Service Unavailable"}, failure.headers)
        if failure.kind == "expired_token":
            return _json(401, {"error": "The access token is invalid"})
        # rate_limit: Mastodon's headers, the reset as an ISO 8601 time
        headers = {**failure.headers, **_md_limit_headers(300, 0, time.time() + failure.reset_in)}
        if failure.retry_after is not None:
            headers["Retry-After"] = str(failure.retry_after)
        return _json(429, {"error": "Too many requests"}, headers)

    def _mastodon(self, request: Request) -> Response:
        path, method = request.path.rstrip("/"), request.method
        headers = _md_limit_headers(300, 299, time.time() + 300)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        account = next((a for a in self.config.mastodon_accounts if a.token == token), None)
        if path in ("/api/v1/instance", "/api/v2/instance") and method == "GET":
            if account is None and self.config.mastodon_limited_federation:
                return _json(401, {"error": "This method requires an authenticated user"})
            return _json(200, self._md_instance(v2=path.startswith("/api/v2")), headers)
        if account is None:
            return _json(401, {"error": "The access token is invalid"})
        if path == "/api/v1/accounts/verify_credentials" and method == "GET":
            return _json(200, {**self._md_account(account), "source": {"note": ""}}, headers)
        if path == "/api/v1/statuses" and method == "POST":
            return self._md_post(account, request, headers)
        if path in ("/api/v1/media", "/api/v2/media") and method == "POST":
            return self._md_upload(account, request, headers, v2=path.startswith("/api/v2"))
        media = re.fullmatch(r"/api/v1/media/(\d+)", path)
        if media and method == "GET":
            return self._md_media_state(account, media.group(1), headers)
        listing = re.fullmatch(r"/api/v1/accounts/(\d+)/statuses", path)
        if listing and method == "GET":
            return self._md_list(listing.group(1), request, headers)
        return _json(404, {"error": "Record not found"})

    def _md_instance(self, v2: bool) -> dict[str, Any]:
        statuses = {
            "max_characters": self.config.mastodon_max_characters,
            "max_media_attachments": 4,
            "characters_reserved_per_url": 23,
        }
        media = {"image_size_limit": 16777216, "description_limit": 1500}
        common = {"title": "Mastodon", "version": "4.3.0", "languages": ["en", "cy"]}
        if v2:
            return {
                **common,
                "domain": self.config.mastodon_domain,
                "api_versions": {"mastodon": 2},
                "configuration": {"statuses": statuses, "media_attachments": media},
            }
        return {
            **common,
            "uri": self.config.mastodon_domain,
            "configuration": {"statuses": statuses, "media_attachments": media},
        }

    def _md_account(self, account: MastodonAccount) -> dict[str, Any]:
        return {
            "id": account.id,
            "username": account.username,
            "acct": account.username,
            "display_name": account.username,
            "url": f"https://{self.config.mastodon_domain}/@{account.username}",
            "created_at": "2023-01-01T00:00:00.000Z",
        }

    def _md_post(
        self, account: MastodonAccount, request: Request, headers: dict[str, str]
    ) -> Response:
        body = request.get_json(silent=True) if request.is_json else None
        values: Any = body if isinstance(body, dict) else request.form
        text = str(values.get("status") or "")
        if isinstance(body, dict):
            media_ids = [str(m) for m in body.get("media_ids") or []]
        else:
            media_ids = request.form.getlist("media_ids[]") or request.form.getlist("media_ids")
        key = request.headers.get("Idempotency-Key", "")
        with self._lock:
            if key:
                # Mastodon: the same key from the same account within the hour answers with
                # the status it already made; nothing is created.
                known = self._md_keys.get((account.id, key))
                if known and time.time() - known[1] < self.config.mastodon_idempotency_seconds:
                    status = next(s for s in self._md_statuses[account.id] if s["id"] == known[0])
                    return _json(200, self._md_served(account, status), headers)
                # ...and a key still being worked on is locked: Mastodon::RaceConditionError.
                if (account.id, key) in self._md_working:
                    return _json(
                        503,
                        {
                            "error": "There was a temporary problem serving your request, "
                            "please try again"
                        },
                    )
                self._md_working.add((account.id, key))
            hold = self._md_holds.pop(0) if self._md_holds else None
        try:
            if hold is not None:
                hold.wait()
            return self._md_create(account, values, text, media_ids, key, headers)
        finally:
            with self._lock:
                self._md_working.discard((account.id, key))

    def _md_create(
        self,
        account: MastodonAccount,
        values: Any,
        text: str,
        media_ids: list[str],
        key: str,
        headers: dict[str, str],
    ) -> Response:
        with self._lock:
            recent = [
                s for s in self._md_statuses[account.id] if s["created"] > time.time() - 3 * 3600
            ]
            limit = self.config.mastodon_status_limit
            if limit is not None:
                reset = (recent[0]["created"] if recent else time.time()) + 3 * 3600
                headers = _md_limit_headers(limit, max(0, limit - len(recent) - 1), reset)
                if len(recent) >= limit:
                    headers["X-RateLimit-Remaining"] = "0"
                    return _json(429, {"error": "Too many requests"}, headers)
            if not text and not media_ids:
                return _json(422, {"error": "Validation failed: Text can't be blank"})
            length = _md_length(text)
            if length > self.config.mastodon_max_characters:
                return _json(
                    422,
                    {
                        "error": "Validation failed: Text character limit of "
                        f"{self.config.mastodon_max_characters} exceeded"
                    },
                )
            if len(media_ids) > 4:
                return _json(
                    422, {"error": "Validation failed: You cannot attach more than 4 images."}
                )
            for media_id in media_ids:
                media = self._md_media.get(media_id)
                if media is None or media["owner"] != account.id or media["status_id"]:
                    return _json(422, {"error": f"Validation failed: media {media_id} not found"})
                if not media["processed"]:
                    return _json(
                        422,
                        {
                            "error": "Cannot attach files that have not finished processing. "
                            "Try again!"
                        },
                    )
            status_id = str(113_000_000_000_000_000 + next(self._ids))
            status = {
                "id": status_id,
                "text": text,
                "content": _md_html(text, self.config.mastodon_domain),
                "language": values.get("language") or None,
                "visibility": values.get("visibility") or account.default_visibility,
                "visibility_sent": values.get("visibility") or None,
                "media_ids": media_ids,
                "idempotency_key": key or None,
                "created": time.time(),
            }
            self._md_statuses[account.id].append(status)
            for media_id in media_ids:
                self._md_media[media_id]["status_id"] = status_id
            if key:
                self._md_keys[(account.id, key)] = (status_id, time.time())
        return _json(200, self._md_served(account, status), headers)

    def _md_upload(
        self, account: MastodonAccount, request: Request, headers: dict[str, str], *, v2: bool
    ) -> Response:
        upload = request.files.get("file")
        if upload is None:
            return _json(422, {"error": "Validation failed: File can't be blank"})
        description = request.form.get("description")
        if description and len(description) > 1500:
            return _json(
                422,
                {
                    "error": "Validation failed: Description is too long (maximum is 1500 characters)"
                },
            )
        polls = self.config.mastodon_media_processing_polls
        later = v2 and polls is not None  # v1 answers only once the file is processed
        data = upload.read()
        with self._lock:
            media_id = str(112_000_000_000_000_000 + next(self._ids))
            self._md_media[media_id] = {
                "bytes": data,
                "description": description,
                "owner": account.id,
                "status_id": None,
                "mimetype": upload.mimetype,
                "filename": upload.filename,
                "processed": not later,
                "polls_left": polls or 0,
                "uploads": 1 + sum(1 for m in self._md_media.values() if m["bytes"] == data),
            }
            return _json(202 if later else 200, self._md_attachment(media_id), headers)

    def _md_media_state(
        self, account: MastodonAccount, media_id: str, headers: dict[str, str]
    ) -> Response:
        """``GET /api/v1/media/:id``: 206 while processing, then 200 with the URL."""
        with self._lock:
            media = self._md_media.get(media_id)
            if media is None or media["owner"] != account.id:
                return _json(404, {"error": "Record not found"})
            if not media["processed"]:
                if media["polls_left"] > 0:
                    media["polls_left"] -= 1
                    return _json(206, self._md_attachment(media_id), headers)
                media["processed"] = True
            return _json(200, self._md_attachment(media_id), headers)

    def _md_attachment(self, media_id: str) -> dict[str, Any]:
        media = self._md_media[media_id]
        url = f"https://files.{self.config.mastodon_domain}/media_attachments/{media_id}.png"
        return {
            "id": media_id,
            "type": "image",
            "url": url if media["processed"] else None,
            "preview_url": url,
            "remote_url": None,
            "description": media["description"],
            "blurhash": None,
            "meta": {},
        }

    def _md_list(self, account_id: str, request: Request, headers: dict[str, str]) -> Response:
        account = next((a for a in self.config.mastodon_accounts if a.id == account_id), None)
        if account is None:
            return _json(404, {"error": "Record not found"})
        limit = min(int(request.args.get("limit", "20")), 40)
        max_id = request.args.get("max_id")
        with self._lock:
            statuses = list(reversed(self._md_statuses[account_id]))
            if max_id:
                statuses = [s for s in statuses if int(s["id"]) < int(max_id)]
            statuses = statuses[:limit]
            return _json(200, [self._md_served(account, s) for s in statuses], headers)

    def _md_served(self, account: MastodonAccount, status: dict[str, Any]) -> dict[str, Any]:
        """A status as Mastodon's API shows it (HTML content, no plain text)."""
        url = f"https://{self.config.mastodon_domain}/@{account.username}/{status['id']}"
        return {
            "id": status["id"],
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(status["created"])),
            "in_reply_to_id": None,
            "in_reply_to_account_id": None,
            "sensitive": False,
            "spoiler_text": "",
            "visibility": status["visibility"],
            "language": status["language"],
            "uri": f"https://{self.config.mastodon_domain}/users/{account.username}/statuses/"
            f"{status['id']}",
            "url": url,
            "replies_count": 0,
            "reblogs_count": 0,
            "favourites_count": 0,
            "content": status["content"],
            "reblog": None,
            "account": self._md_account(account),
            "media_attachments": [self._md_attachment(m) for m in status["media_ids"]],
            "mentions": [],
            "tags": [],
            "emojis": [],
            "card": None,
            "poll": None,
        }

    def _md_by_username(self, username: str) -> MastodonAccount:
        name = username.lstrip("@").split("@")[0].casefold()
        return next(a for a in self.config.mastodon_accounts if a.username.casefold() == name)


# -- answers in each network's shape ---------------------------------------------------


def _md_limit_headers(limit: int, remaining: int, reset: float) -> dict[str, str]:
    """Mastodon's rate-limit headers: the reset is an ISO 8601 time, not Unix seconds."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(reset))
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": f"{stamp}.{int(reset % 1 * 1_000_000):06d}Z",
    }


_MD_HASHTAG = re.compile(r"(?<![\w/&])#(\w*[^\W\d_]\w*)")


def _md_length(text: str) -> int:
    """Mastodon's count: every link 23 characters, the rest by grapheme."""
    return int(grapheme.length(URL.sub("x" * 23, text)))


def _md_html(text: str, domain: str) -> str:
    """Plain text as Mastodon renders it: paragraphs, ``<br />``, links shortened with
    invisible spans, hashtags as links."""

    def link(match: re.Match[str]) -> str:
        url = match.group(0)
        scheme, _, rest = url.partition("://")
        prefix = f"{scheme}://" + ("www." if rest.startswith("www.") else "")
        shown = url[len(prefix) :]
        visible, hidden = shown[:30], shown[30:]
        return (
            f'<a href="{html.escape(url)}" target="_blank" rel="nofollow noopener" translate="no">'
            f'<span class="invisible">{html.escape(prefix)}</span>'
            f'<span class="{"ellipsis" if hidden else ""}">{html.escape(visible)}</span>'
            f'<span class="invisible">{html.escape(hidden)}</span></a>'
        )

    def piece(chunk: str) -> str:
        out = []
        position = 0
        for match in URL.finditer(chunk):
            out.append(_md_tags(html.escape(chunk[position : match.start()]), domain))
            out.append(link(match))
            position = match.end()
        out.append(_md_tags(html.escape(chunk[position:]), domain))
        return "".join(out)

    paragraphs = re.split(r"\n\n+", text.replace("\r\n", "\n").strip())
    return "".join("<p>" + piece(p).replace("\n", "<br />") + "</p>" for p in paragraphs)


def _md_tags(escaped: str, domain: str) -> str:
    return _MD_HASHTAG.sub(
        lambda m: (
            f'<a href="https://{domain}/tags/{m.group(1)}" class="mention hashtag" '
            f'rel="tag">#<span>{m.group(1)}</span></a>'
        ),
        escaped,
    )


def _x_problem(status: int, title: str, detail: str) -> dict[str, Any]:
    return {"title": title, "detail": detail, "type": "about:blank", "status": status}


def _graph_error(
    code: int,
    message: str,
    kind: str = "OAuthException",
    *,
    subcode: int | None = None,
    transient: bool = False,
) -> dict[str, Any]:
    error: dict[str, Any] = {
        "message": message,
        "type": kind,
        "code": code,
        "fbtrace_id": "AfakeTrace" + hashlib.sha1(message.encode()).hexdigest()[:12],
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    if transient:
        error["is_transient"] = True
    return {"error": error}


def _graph_page(items: list[tuple[float, dict[str, Any]]], request: Request) -> dict[str, Any]:
    """A Graph API list page: ``since`` (Unix seconds), ``limit``, the ``after`` cursor, and
    ``paging.next`` only when there is more."""
    since = request.args.get("since")
    if since:
        items = [(created, item) for created, item in items if created >= int(since)]
    limit = int(request.args.get("limit", "25"))
    after = request.args.get("after", "")
    offset = int(after.removeprefix("o")) if after.startswith("o") else 0
    page: dict[str, Any] = {"data": [item for _, item in items[offset : offset + limit]]}
    if offset + limit < len(items):
        page["paging"] = {
            "cursors": {"after": f"o{offset + limit}"},
            "next": f"https://graph.facebook.com/next?after=o{offset + limit}",
        }
    return page


def _graph_time() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime())


def _x_as_served(post: dict[str, Any], username: str) -> dict[str, Any]:
    """A post as X's timeline returns it: links on t.co, HTML entities, an image link."""
    urls = []
    counter = itertools.count(1)

    def shorten(match: re.Match[str]) -> str:
        short = f"https://t.co/{post['id'][-6:]}{next(counter)}"
        urls.append(
            {
                "url": short,
                "expanded_url": match.group(0),
                "display_url": match.group(0).split("://", 1)[1][:25],
            }
        )
        return short

    text = html.escape(URL.sub(shorten, post["text"] or ""), quote=False)
    if post["media_ids"]:
        short = f"https://t.co/{post['id'][-6:]}m"
        text = f"{text} {short}"
        urls.append(
            {
                "url": short,
                "media_key": f"3_{post['media_ids'][0]}",
                "expanded_url": f"https://x.com/{username}/status/{post['id']}/photo/1",
                "display_url": "pic.x.com/fake",
            }
        )
    item: dict[str, Any] = {
        "id": post["id"],
        "text": text,
        "edit_history_tweet_ids": [post["id"]],
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(post["created"])),
    }
    if urls:
        item["entities"] = {"urls": urls}
    return item


def main(argv: list[str] | None = None) -> int:
    """Serve the fake platform until interrupted; print its URL first (for a parent process)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--config", help="JSON file with FakeConfig fields")
    args = parser.parse_args(argv)
    config = FakeConfig()
    if args.config:
        with open(args.config, encoding="utf-8") as raw:
            config = FakeConfig.from_json(json.load(raw))
    platform = FakePlatform(config)
    server = make_server(args.host, args.port, platform.wsgi, threaded=True, request_handler=Quiet)
    print(f"fake platform on http://{args.host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
