"""A strict fake of the Threads API (graph.threads.net, ``v1.0``), served over real HTTP on
127.0.0.1 by werkzeug in a thread.

It checks what the documentation asks of a client (see ``channels/threads.py`` for the
pages): every call carries a known, unexpired ``access_token`` (query, or form body of a
POST); a container is ``POST /{user}/threads`` with ``media_type`` ``TEXT`` (``text``
required, no ``alt_text``) or ``IMAGE`` (``image_url`` required, which the fake fetches
over HTTP as Threads does: JPEG or PNG, at most 8 MB); text of at most 500 as Threads
counts it (emoji as their UTF-8 bytes, counted here independently of ``networks.py``) and
at most 5 different links; only a ``FINISHED`` container of the caller's profile can be
published, once; ``threads_publish`` enforces the profile's publishing limit (250 in
24 hours unless configured), and ``threads_publishing_limit`` reports it. Errors are Graph
API errors (190 for a bad or expired token, 10 for a missing permission, 100 for a bad
parameter).

Tests steer it with ``fail_next(kind, path=…, method=…)`` (``path``: a part of the path,
matched as a whole name) (kinds as ``tests.fakeplatform``:
``5xx``, ``answer``, ``rate_limit``, ``slow``, ``drop``, ``expired_token``,
``fail_after_create``) and ``hold_next(path)`` (a request kept waiting until released,
then carried out: a publish that lands late). ``host_image(data, mime)`` serves bytes at a
public-looking URL on the same server (standing in for the force's signed media address).
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import grapheme
import requests
from werkzeug.wrappers import Request, Response

from tests.fakes import server
from tests.fakes.server import json_response as _json

VERSION = "/v1.0/"
MAX_TEXT = 500
MAX_LINKS = 5
MAX_IMAGE_BYTES = 8_000_000
IMAGE_TYPES = ("image/jpeg", "image/png")
PAGE_MAX = 100
SINCE_MIN = 1688540400  # the documented earliest ``since``
_URL = re.compile(r"(?:https?://|www\.)[^\s]+", re.IGNORECASE)


@dataclass
class Profile:
    id: str
    username: str
    token: str
    scopes: tuple[str, ...] = ("threads_basic", "threads_content_publish")
    #: Unix seconds; 0: the token does not expire
    expires_at: float = field(default_factory=lambda: time.time() + 50 * 86400)
    #: a tester of the app: debug_token answers for its token
    tester: bool = True
    #: the token was revoked (debug_token says is_valid false; every call 190)
    revoked: bool = False


class Failure(server.Failure):
    def matches(self, method: str, path: str) -> bool:
        return _on(self.path, path) and (not self.method or self.method.upper() == method)


class FakeThreads(server.FakeServer[Failure]):
    """The fake Threads API. ``start()`` (or ``with``) serves it; ``url`` is its base URL."""

    thread_name = "fake-threads"
    failure_type = Failure

    def __init__(self, profiles: Iterable[Profile] | None = None) -> None:
        self.profiles = list(profiles or default_profiles())
        self.quota_total = 250
        self.quota_duration = 86400
        #: how many status reads an image container stays IN_PROGRESS before FINISHED
        self.image_processing_reads = 1
        self._lock = threading.RLock()
        self.reset()

    # -- control ------------------------------------------------------------------------

    def reset(self) -> None:
        with self._lock:
            self._ids = itertools.count(17_890_000_000_000_001)
            self.failures: list[Failure] = []
            self.holds: list[server.Hold] = []
            self.requests: list[dict[str, str]] = []
            self.containers: dict[str, dict[str, Any]] = {}
            self.posts: list[dict[str, Any]] = []  # every profile's, oldest first
            self.images: dict[str, tuple[bytes, str]] = {}

    def host_image(self, data: bytes, mime: str = "image/png") -> str:
        """A public URL serving ``data`` (the force's signed media address, in the tests)."""
        with self._lock:
            key = f"m{next(self._ids)}"
            self.images[key] = (data, mime)
        return f"{self.url}/_public/{key}"

    def profile(self, username: str) -> Profile:
        return next(p for p in self.profiles if p.username == username)

    def threads_of(self, username: str) -> list[dict[str, Any]]:
        """A profile's published posts, oldest first: ``id``, ``text``, ``media_type``,
        ``image`` (bytes), ``alt_text``, ``container``, ``created`` (Unix seconds)."""
        owner = self.profile(username).id
        with self._lock:
            return [dict(p) for p in self.posts if p["owner"] == owner]

    def add_thread(self, username: str, text: str, *, age: float = 0.0, api: bool = True) -> str:
        """A post made ``age`` seconds ago (in the app when not ``api``: not counted)."""
        with self._lock:
            return self._store(self.profile(username), text, "TEXT_POST", None, "", "", api, age)

    def usage(self, username: str) -> int:
        """API-published posts of the profile in the limit's window."""
        owner = self.profile(username).id
        since = time.time() - self.quota_duration
        with self._lock:
            return sum(
                1 for p in self.posts if p["owner"] == owner and p["api"] and p["created"] >= since
            )

    # -- the WSGI app -------------------------------------------------------------------

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        return self._dispatch(request, environ)(environ, start_response)

    def _dispatch(self, request: Request, environ: dict[str, Any]) -> Response:
        path, method = request.path, request.method
        if path.startswith("/_public/"):
            return self._public(path.removeprefix("/_public/"))
        with self._lock:
            self.requests.append({"method": method, "path": path})
        failure = self._take(method, path)
        if failure is None:
            return self._api(request)
        return self._failed(failure, environ, lambda: self._api(request), self._failure_answer)

    def _on(self, part: str, path: str) -> bool:
        return _on(part, path)

    def _failure_answer(self, failure: Failure) -> Response:
        if failure.kind == "answer":
            return _json(failure.status or 500, failure.body, failure.headers)
        if failure.kind == "5xx":
            return _json(
                failure.status or 503, _error(1, "An unknown error occurred"), failure.headers
            )
        if failure.kind == "expired_token":
            return _json(400, _expired())
        if failure.kind == "rate_limit":
            headers = dict(failure.headers)
            if failure.retry_after is not None:
                headers["Retry-After"] = str(failure.retry_after)
            return _json(400, _error(4, "(#4) Application request limit reached", True), headers)
        return _json(500, _error(2, "An unexpected error has occurred. Please retry.", True))

    def _public(self, key: str) -> Response:
        with self._lock:
            found = self.images.get(key)
        if found is None:
            return Response("not found", status=404)
        data, mime = found
        return Response(data, status=200, content_type=mime)

    def _api(self, request: Request) -> Response:
        if not request.path.startswith(VERSION):
            return _json(400, _error(2500, "Unknown path components", "OAuthException"))
        parts = request.path[len(VERSION) :].strip("/").split("/")
        values = {**request.args.to_dict(), **request.form.to_dict()}
        token = values.pop("access_token", "")
        if not token:
            return _json(400, _error(104, "An access token is required to request this resource."))
        caller = next((p for p in self.profiles if p.token == token), None)
        if caller is None or caller.revoked:
            return _json(400, _error(190, "Invalid OAuth access token - Cannot parse access token"))
        if caller.expires_at and caller.expires_at <= time.time():
            return _json(400, _expired())
        method = request.method
        if parts == ["debug_token"] and method == "GET":
            return self._debug_token(caller, values)
        if parts == ["me"] and method == "GET":
            return _json(200, _fields({"id": caller.id, "username": caller.username}, values))
        if len(parts) == 2:
            target, edge = parts
            if target not in ("me", caller.id):
                return _json(
                    400, _error(100, "Unsupported request: the object does not belong to you")
                )
            if edge == "threads" and method == "POST":
                return self._create(caller, values)
            if edge == "threads" and method == "GET":
                return self._list(caller, values)
            if edge == "threads_publish" and method == "POST":
                return self._publish(caller, values)
            if edge == "threads_publishing_limit" and method == "GET":
                return self._limit(caller, values)
        if len(parts) == 1 and method == "GET":
            return self._object(caller, parts[0], values)
        return _json(
            400, _error(100, f"Unsupported {method.lower()} request.", "GraphMethodException")
        )

    # -- endpoints ----------------------------------------------------------------------

    def _debug_token(self, caller: Profile, values: dict[str, str]) -> Response:
        if not caller.tester:
            return _json(
                400, _error(100, "(#100) The access_token must belong to a Threads tester")
            )
        inspected = next((p for p in self.profiles if p.token == values.get("input_token")), None)
        if inspected is None:
            return _json(200, {"data": {"is_valid": False, "scopes": []}})
        valid = not inspected.revoked and not (
            inspected.expires_at and inspected.expires_at <= time.time()
        )
        return _json(
            200,
            {
                "data": {
                    "type": "USER",
                    "application": "Campaign Publisher test",
                    "expires_at": int(inspected.expires_at),
                    "is_valid": valid,
                    "issued_at": int(time.time()) - 86400,
                    "scopes": list(inspected.scopes),
                    "user_id": inspected.id,
                }
            },
        )

    def _create(self, caller: Profile, values: dict[str, str]) -> Response:
        if "threads_content_publish" not in caller.scopes:
            return _json(
                403, _error(10, "(#10) Application does not have permission for this action")
            )
        media_type = values.get("media_type", "")
        text = values.get("text", "")
        if media_type not in ("TEXT", "IMAGE"):
            return _json(
                400, _error(100, f"Param media_type must be TEXT or IMAGE, not {media_type!r}")
            )
        if values.get("is_carousel_item", "false") != "false":
            return _json(400, _error(100, "is_carousel_item is not taken for a single post"))
        if media_type == "TEXT" and not text:
            return _json(400, _error(100, "Param text is required for media_type=TEXT"))
        if media_type == "TEXT" and ("image_url" in values or "alt_text" in values):
            return _json(400, _error(100, "image_url and alt_text are for IMAGE and VIDEO posts"))
        if threads_length(text) > MAX_TEXT:
            return _json(400, _error(100, f"Param text must be at most {MAX_TEXT} characters long"))
        if len(set(_URL.findall(text))) > MAX_LINKS:
            return _json(400, _error(100, "THREADS_API__LINK_LIMIT_EXCEEDED"))
        container: dict[str, Any] = {
            "owner": caller.id,
            "media_type": media_type,
            "text": text,
            "alt_text": values.get("alt_text", ""),
            "image": None,
            "status": "FINISHED",
            "error_message": None,
            "reads_left": 0,
        }
        if media_type == "IMAGE":
            url = values.get("image_url", "")
            if not url:
                return _json(400, _error(100, "Param image_url is required for media_type=IMAGE"))
            image = _fetch(url)  # Threads retrieves the image from the URL, as here
            if image is None:
                container.update(status="ERROR", error_message="UNKNOWN")
            else:
                container.update(image=image, status="IN_PROGRESS")
                container["reads_left"] = self.image_processing_reads
        with self._lock:
            container_id = str(next(self._ids))
            self.containers[container_id] = container
        return _json(200, {"id": container_id})

    def _publish(self, caller: Profile, values: dict[str, str]) -> Response:
        if "threads_content_publish" not in caller.scopes:
            return _json(
                403, _error(10, "(#10) Application does not have permission for this action")
            )
        container_id = values.get("creation_id", "")
        with self._lock:
            container = self.containers.get(container_id)
            if container is None or container["owner"] != caller.id:
                return _json(
                    400,
                    _error(100, f"Param creation_id {container_id!r} is not a container of yours"),
                )
            if container["status"] != "FINISHED":
                return _json(
                    400,
                    _error(9007, f"The container is {container['status']}: it cannot be published"),
                )
            if self.usage(caller.username) >= self.quota_total:
                return _json(
                    400, _error(9, "The profile has reached its publishing limit for 24 hours")
                )
            kind = "TEXT_POST" if container["media_type"] == "TEXT" else "IMAGE"
            media_id = self._store(
                caller, container["text"], kind, container["image"], container["alt_text"],
                container_id, True, 0.0,
            )  # fmt: skip
            container["status"] = "PUBLISHED"
        return _json(200, {"id": media_id})

    def _limit(self, caller: Profile, values: dict[str, str]) -> Response:
        entry = {
            "quota_usage": self.usage(caller.username),
            "config": {"quota_total": self.quota_total, "quota_duration": self.quota_duration},
        }
        return _json(200, {"data": [_fields(entry, values)]})

    def _list(self, caller: Profile, values: dict[str, str]) -> Response:
        since, until = values.get("since"), values.get("until")
        now = time.time()
        if since is not None and (not since.isdigit() or not SINCE_MIN <= int(since) < now):
            return _json(400, _error(100, "Param since must be a Unix time from 1688540400 to now"))
        if until is not None and (not until.isdigit() or int(until) > now):
            return _json(400, _error(100, "Param until must be a Unix time no later than now"))
        limit = int(values.get("limit", "25"))
        if not 0 < limit <= PAGE_MAX:
            return _json(400, _error(100, f"Param limit must be at most {PAGE_MAX}"))
        with self._lock:
            mine = [p for p in reversed(self.posts) if p["owner"] == caller.id]
        if since is not None:
            mine = [p for p in mine if p["created"] >= int(since)]
        if until is not None:
            mine = [p for p in mine if p["created"] <= int(until)]
        after = values.get("after", "")
        offset = int(after.removeprefix("o")) if after.startswith("o") else 0
        page = mine[offset : offset + limit]
        body: dict[str, Any] = {"data": [_fields(_served(p, caller), values) for p in page]}
        body["paging"] = {"cursors": {"before": f"o{offset}", "after": f"o{offset + len(page)}"}}
        if offset + limit < len(mine):
            body["paging"]["next"] = (
                f"https://graph.threads.net/v1.0/{caller.id}/threads?after=o{offset + limit}"
            )
        return _json(200, body)

    def _object(self, caller: Profile, object_id: str, values: dict[str, str]) -> Response:
        with self._lock:
            container = self.containers.get(object_id)
            if container is not None and container["owner"] == caller.id:
                if container["status"] == "IN_PROGRESS":
                    if container["reads_left"] <= 0:
                        container["status"] = "FINISHED"
                    container["reads_left"] -= 1
                served = {"id": object_id, "status": container["status"]}
                if container["error_message"]:
                    served["error_message"] = container["error_message"]
                return _json(200, _fields(served, values))
            post = next((p for p in self.posts if p["id"] == object_id), None)
        if post is not None and post["owner"] == caller.id:
            return _json(200, _fields(_served(post, caller), values))
        return _json(400, _error(100, f"Object with ID '{object_id}' does not exist"))

    def _store(
        self,
        profile: Profile,
        text: str,
        kind: str,
        image: bytes | None,
        alt_text: str,
        container: str,
        api: bool,
        age: float,
    ) -> str:
        media_id = str(next(self._ids))
        self.posts.append(
            {
                "id": media_id,
                "owner": profile.id,
                "text": text,
                "media_type": kind,
                "image": image,
                "alt_text": alt_text,
                "container": container,
                "api": api,
                "created": time.time() - age,
            }
        )
        self.posts.sort(key=lambda p: p["created"])
        return media_id


# -- helpers --------------------------------------------------------------------------------


def _on(part: str, path: str) -> bool:
    """Whether ``part`` is in ``path`` as a whole name: ``threads_publish`` is not in
    ``…/threads_publishing_limit``, ``/threads`` not in ``…/threads_publish``."""
    return re.search(re.escape(part) + r"(?![A-Za-z_])", path) is not None


def default_profiles() -> list[Profile]:
    return [
        Profile("24000000000000001", "gwentpolice", "THQVJGwentPoliceLongLivedToken0001"),
        Profile("24000000000000002", "dyfedpowyspolice", "THQVJDyfedPowysLongLivedToken0002"),
    ]


def threads_length(text: str) -> int:
    """Threads' count, done here without ``channels.networks``: graphemes, an emoji (any
    grapheme with a character from the emoji blocks, U+FE0F or a keycap) as its UTF-8 bytes."""

    def is_emoji(cluster: str) -> bool:
        return any(
            ord(ch) >= 0x1F000 or 0x2600 <= ord(ch) <= 0x27BF or ch in "\ufe0f\u20e3"
            for ch in cluster
        )

    return sum(len(c.encode()) if is_emoji(c) else 1 for c in grapheme.graphemes(text))


def _fetch(url: str) -> bytes | None:
    try:
        response = requests.get(url, timeout=5)
    except requests.RequestException:
        return None
    mime = response.headers.get("content-type", "").split(";")[0].strip()
    if response.status_code != 200 or mime not in IMAGE_TYPES:
        return None
    if len(response.content) > MAX_IMAGE_BYTES:
        return None
    return response.content


def _served(post: dict[str, Any], owner: Profile) -> dict[str, Any]:
    shortcode = f"C{int(post['id']) % 10**10:x}"
    served = {
        "id": post["id"],
        "media_product_type": "THREADS",
        "media_type": post["media_type"],
        "permalink": f"https://www.threads.com/@{owner.username}/post/{shortcode}",
        "username": owner.username,
        "text": post["text"],
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(post["created"])),
        "shortcode": shortcode,
    }
    if post["alt_text"]:
        served["alt_text"] = post["alt_text"]
    return served


def _fields(item: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    """Only the fields asked for (``id`` always), as the Graph API answers."""
    wanted = {f.strip() for f in values.get("fields", "id").split(",")} | {"id"}
    return {k: v for k, v in item.items() if k in wanted}


def _error(
    code: int, message: str, transient: bool | str = False, *, subcode: int | None = None
) -> dict[str, Any]:
    kind = transient if isinstance(transient, str) else "OAuthException"
    error: dict[str, Any] = {
        "message": message,
        "type": kind,
        "code": code,
        "fbtrace_id": "AThreadsFake1",
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    if transient is True:
        error["is_transient"] = True
    return {"error": error}


def _expired() -> dict[str, Any]:
    return _error(
        190,
        "Error validating access token: Session has expired on Friday, 13-Mar-2026 10:00:00 PDT.",
        subcode=463,
    )
