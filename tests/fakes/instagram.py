"""A strict fake of the Instagram Platform's content publishing API, on 127.0.0.1.

A small WSGI app (werkzeug) in a thread, answering the way the Instagram Platform
documents (see ``channels/instagram.py`` for the sources), and refusing what it does not:

- every path is versioned (``/v25.0/…``); the token comes as ``Authorization: Bearer`` (or
  ``access_token``), must be a configured one and may only touch its own account (another
  id: code 100, subcode 33); an expired or revoked token is code 190 (subcode 463);
- ``POST /{ig-user-id}/media`` (JSON or form) takes only ``image_url``, ``caption``,
  ``alt_text``, ``is_carousel_item``, ``media_type=CAROUSEL`` and ``children``. Like
  Instagram, it **fetches the image now**, anonymously, from ``image_url`` (no redirects):
  anything but a 200 with JPEG bytes is code 9004, subcode 2207052 ("Media download has
  failed"), and no container is made; over 8 MiB is 36000/2207004. ``alt_text`` only on
  an image; a caption over 2,200 characters or 30 hashtags is 36004/2207010; a carousel
  takes 2 to 10 finished carousel items of the account (else 100/2207028);
- ``GET /{container-id}?fields=status_code,status``: ``IN_PROGRESS`` for the first
  ``processing_polls`` reads of a new container, then ``FINISHED`` (or what
  ``container_outcome`` says), ``PUBLISHED`` once published;
- ``POST /{ig-user-id}/media_publish`` with ``creation_id``: a finished container of the
  account, published once (not finished: 9007/2207027; expired: -2/2207020); at the
  account's ``quota_total`` posts in 24 hours, 9/2207042 and nothing is published;
- ``GET /{ig-user-id}/content_publishing_limit?fields=config,quota_usage``;
- ``GET /{ig-user-id}/media`` newest first, ``limit`` (at most 100) and the ``after``
  cursor, ``paging.next`` only when there is more; ``GET /{media-id}?fields=permalink``;
  ``GET /{ig-user-id}?fields=id,username``.

Failures on demand (``fail_next(kind, path=…, method=…)``, the next matching request):
``5xx`` (HTTP 500, code 2, nothing done), ``answer`` (exactly ``status``/``body``/
``headers``), ``rate_limit`` (code 80002 with ``X-Business-Use-Case-Usage``, and
``Retry-After`` if ``retry_after``), ``expired_token``, ``slow`` (done, answered after
``delay`` s), ``drop`` (connection closed; ``create=True``: after doing it),
``fail_after_create`` (done, then HTTP 500 code 2). ``hold_next(path)`` keeps the next
matching request waiting, not yet done, until ``release()``: a request still in flight.
``hold_creates`` holds every ``media_publish`` that many seconds before doing it, and
``latency`` that many seconds after (a slow network, for crash tests).

From another process: ``python -m tests.fakes.instagram --port 0`` prints
``fake instagram on http://127.0.0.1:N``; ``GET /_fake/state`` gives every account's posts
(without image bytes) and the fetches; ``POST /_fake/control`` takes
``{"action": "fail_next", "kind": …, …}``, ``{"action": "reset"}`` or
``{"action": "set", "quota_total": …, "hold_creates": …, "latency": …,
"processing_polls": …}``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import itertools
import json
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.fakes import server
from tests.fakes.server import Quiet as _Quiet
from tests.fakes.server import json_response as _json

MAX_IMAGE_BYTES = 8 * 1024 * 1024
MAX_CAPTION = 2200
MAX_HASHTAGS = 30
FIELDS = {"image_url", "caption", "alt_text", "is_carousel_item", "media_type", "children"}
_VERSION = re.compile(r"^/v\d+\.\d+/")
_HASHTAG = re.compile(r"(?<![\w&])#\w*[^\W\d_]\w*")


@dataclass(frozen=True)
class IgAccount:
    id: str
    username: str
    token: str


@dataclass
class Failure(server.Failure):
    minutes: int = 15  # rate_limit: estimated_time_to_regain_access


class _Refused(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__("refused")
        self.response = response


DEFAULT_ACCOUNTS = (
    IgAccount("17841400000000001", "gwentpolice", "IGAAgwent-token-0123456789abcdef"),
    IgAccount("17841400000000002", "dyfedpowyspolice", "IGAAdyfed-token-0123456789abcdef"),
)


class FakeInstagram(server.FakeServer[Failure]):
    """The fake. ``start()`` serves it; ``url`` is the base URL (``api_base_url``)."""

    thread_name = "fake-ig"
    poll_interval = 0.05
    failure_type = Failure
    settable = frozenset({"quota_total", "hold_creates", "latency", "processing_polls"})

    def __init__(
        self,
        accounts: Iterable[IgAccount] = DEFAULT_ACCOUNTS,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.accounts = {a.id: a for a in accounts}
        self.clock = clock
        self._lock = threading.RLock()
        self.reset()

    # -- control ------------------------------------------------------------------------

    def reset(self) -> None:
        with self._lock:
            self._ids = itertools.count(1)
            self.failures: list[Failure] = []
            self.holds: list[server.Hold] = []
            self.requests: list[dict[str, Any]] = []
            self.fetches: list[dict[str, Any]] = []
            self.containers: dict[str, dict[str, Any]] = {}
            self._media: dict[str, list[dict[str, Any]]] = {a: [] for a in self.accounts}
            self._published_at: dict[str, list[float]] = {a: [] for a in self.accounts}
            self.revoked: set[str] = set()
            #: posts an account may publish through the API in 24 hours
            self.quota_total = 100
            #: reads of a new container's status that answer IN_PROGRESS
            self.processing_polls = 0
            #: (status_code, status) a new container ends in instead of FINISHED
            self.container_outcome: tuple[str, str] | None = None
            #: seconds every media_publish waits before it is done / before it is answered
            self.hold_creates = 0.0
            self.latency = 0.0

    def media(self, account_id: str) -> list[dict[str, Any]]:
        """The account's published posts, oldest first: ``id``, ``caption``, ``images``
        (bytes), ``alt_texts``, ``media_type``, ``timestamp``, ``permalink``."""
        with self._lock:
            return [dict(m) for m in self._media[account_id]]

    def add_media(self, account_id: str, caption: str, *, at: float) -> str:
        """A post made elsewhere (the app) at ``at`` (Unix seconds): not counted in the quota."""
        with self._lock:
            return self._new_media(account_id, caption, [], [], "IMAGE", at)["id"]

    def publish_at(self, account_id: str, *times: float) -> None:
        """Count API publishes at these times against the account's quota."""
        with self._lock:
            self._published_at[account_id].extend(times)

    # -- the app ------------------------------------------------------------------------

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        return self._dispatch(request, environ)(environ, start_response)

    def state(self) -> dict[str, Any]:
        """Everything held, JSON-ready (no image bytes: their sizes and hashes)."""

        def clean(media: dict[str, Any]) -> dict[str, Any]:
            images = [
                {"bytes": len(b), "sha256": hashlib.sha256(b).hexdigest()} for b in media["images"]
            ]
            return {**{k: v for k, v in media.items() if k != "images"}, "images": images}

        with self._lock:
            return {
                "media": {
                    a.username: [clean(m) for m in self._media[a.id]]
                    for a in self.accounts.values()
                },
                "fetches": [dict(f) for f in self.fetches],
                "failures_pending": [f.kind for f in self.failures],
            }

    def _dispatch(self, request: Request, environ: dict[str, Any]) -> Response:
        path, method = request.path, request.method
        if path.startswith("/_fake/"):
            return self._control(request)
        with self._lock:
            self.requests.append(
                {
                    "method": method,
                    "path": path,
                    "query": request.query_string.decode(),
                    "bearer": request.headers.get("Authorization", "").startswith("Bearer "),
                }
            )
        failure = self._take(method, path)
        if failure is None:
            publishing = method == "POST" and path.endswith("/media_publish")
            if publishing and self.hold_creates:
                time.sleep(self.hold_creates)
            answer = self._handle(request)
            if publishing and self.latency:
                time.sleep(self.latency)  # done; the answer takes a while
            return answer
        return self._failed(failure, environ, lambda: self._handle(request), self._failure_answer)

    def _failure_answer(self, failure: Failure) -> Response:
        if failure.kind == "answer":
            return _json(failure.status or 500, failure.body, failure.headers)
        if failure.kind == "5xx":
            return _json(failure.status or 500, _error(2, "Service temporarily unavailable"))
        if failure.kind == "expired_token":
            return _json(400, _expired())
        if failure.kind == "rate_limit":
            usage = {
                next(iter(self.accounts)): [
                    {
                        "type": "instagram",
                        "call_count": 100,
                        "total_cputime": 20,
                        "total_time": 20,
                        "estimated_time_to_regain_access": failure.minutes,
                    }
                ]
            }
            headers = {"X-Business-Use-Case-Usage": json.dumps(usage)}
            if failure.retry_after is not None:
                headers["Retry-After"] = str(failure.retry_after)
            message = "There have been too many calls to this Instagram account."
            return _json(400, _error(80002, message), headers)
        return _json(500, _error(2, "An unexpected error has occurred. Please retry."))

    def _handle(self, request: Request) -> Response:
        if not _VERSION.match(request.path):
            return _json(400, _error(100, "Unknown path components: the API version is missing"))
        parts = request.path.split("/")[2:]
        try:
            account = self._authenticate(request)
            with self._lock:
                return self._route(request, account, parts)
        except _Refused as refused:
            return refused.response

    def _authenticate(self, request: Request) -> IgAccount:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        token = (
            token
            or request.args.get("access_token", "")
            or _fields(request).get("access_token", "")
        )
        if not token:
            raise _Refused(_json(400, _error(190, "An active access token must be used")))
        if token in self.revoked:
            raise _Refused(_json(400, _expired()))
        found = next((a for a in self.accounts.values() if a.token == token), None)
        if found is None:
            raise _Refused(_json(400, _error(190, "Invalid OAuth access token data.")))
        return found

    def _route(self, request: Request, account: IgAccount, parts: list[str]) -> Response:
        method = request.method
        if len(parts) == 2 and parts[0] in self.accounts:
            self._own(account, parts[0])
            edge = parts[1]
            if edge == "media" and method == "POST":
                return self._create_container(account, _fields(request))
            if edge == "media" and method == "GET":
                return self._list_media(account, request)
            if edge == "media_publish" and method == "POST":
                return self._publish(account, _fields(request))
            if edge == "content_publishing_limit" and method == "GET":
                used = self._usage(account.id)
                row = {
                    "quota_usage": used,
                    "config": {"quota_total": self.quota_total, "quota_duration": 86400},
                }
                return _json(200, {"data": [row]})
        if len(parts) == 1 and method == "GET":
            node = parts[0]
            if node in self.accounts:
                self._own(account, node)
                return _json(200, {"id": node, "username": self.accounts[node].username})
            container = self.containers.get(node)
            if container is not None and container["owner"] == account.id:
                return self._status(container, request)
            for media in self._media[account.id]:
                if media["id"] == node:
                    return _json(200, {"id": node, "permalink": media["permalink"]})
            return _json(400, _unsupported(node))
        return _json(400, _error(100, f"Unsupported {method} request."))

    def _own(self, account: IgAccount, node: str) -> None:
        if node != account.id:
            raise _Refused(_json(400, _unsupported(node)))

    # -- containers ---------------------------------------------------------------------

    def _create_container(self, account: IgAccount, fields: dict[str, str]) -> Response:
        unknown = sorted(set(fields) - FIELDS - {"access_token"})
        if unknown:
            return _json(400, _error(100, f"(#100) Param {unknown[0]} is not a valid parameter"))
        caption = fields.get("caption", "")
        if len(caption) > MAX_CAPTION or len(_HASHTAG.findall(caption)) > MAX_HASHTAGS:
            return _json(400, _error(36004, "The caption is too long.", subcode=2207010))
        if fields.get("media_type", "") == "CAROUSEL":
            return self._create_carousel(account, fields)
        if fields.get("media_type"):
            return _json(400, _error(100, "The fake takes images and carousels only"))
        if fields.get("children"):
            return _json(400, _error(100, "(#100) children is only for media_type=CAROUSEL"))
        url = fields.get("image_url", "")
        if not url:
            return _json(400, _error(100, "(#100) The parameter image_url is required"))
        item = fields.get("is_carousel_item", "false") in ("true", "True", "1")
        if item and caption:
            return _json(400, _error(100, "(#100) A carousel item takes no caption"))
        data, refusal = self._fetch(url)
        if refusal is not None:
            return refusal
        container = self._new_container(account, "CAROUSEL_ITEM" if item else "IMAGE")
        container.update(
            image_url=url,
            images=[data],
            alt_texts=[fields.get("alt_text", "")],
            caption=caption,
            fields=dict(fields),
        )
        return _json(200, {"id": container["id"]})

    def _create_carousel(self, account: IgAccount, fields: dict[str, str]) -> Response:
        if "alt_text" in fields or "image_url" in fields:
            return _json(400, _error(100, "(#100) alt_text and image_url are for images"))
        ids = [c.strip() for c in fields.get("children", "").split(",") if c.strip()]
        children = [self.containers.get(i) for i in ids]
        if not 2 <= len(ids) <= 10 or any(
            c is None
            or c["owner"] != account.id
            or c["kind"] != "CAROUSEL_ITEM"
            or self._code(c) != "FINISHED"
            for c in children
        ):
            return _json(
                400, _error(100, "The carousel's children are not valid.", subcode=2207028)
            )
        container = self._new_container(account, "CAROUSEL")
        container.update(
            children=ids,
            images=[d for c in children if c for d in c["images"]],
            alt_texts=[t for c in children if c for t in c["alt_texts"]],
            caption=fields.get("caption", ""),
            fields=dict(fields),
        )
        return _json(200, {"id": container["id"]})

    def _new_container(self, account: IgAccount, kind: str) -> dict[str, Any]:
        container_id = str(17_800_000_000_000_000 + next(self._ids))
        container = {
            "id": container_id,
            "owner": account.id,
            "kind": kind,
            "polls_left": self.processing_polls,
            "outcome": self.container_outcome,
            "published": False,
            "created": self.clock(),
        }
        self.containers[container_id] = container
        return container

    def _fetch(self, url: str) -> tuple[bytes, Response | None]:
        """Fetch an image as Instagram does (a public URL, no cookies, no redirects)."""
        record: dict[str, Any] = {"url": url, "ok": False}
        self.fetches.append(record)
        if not url.startswith(("https://", "http://")):
            return b"", _json(400, _download_failed(url))
        self._lock.release()  # the fetch may take a while; others go on
        try:
            answer = requests.get(url, timeout=5, allow_redirects=False)
        except requests.RequestException:
            return b"", _json(400, _download_failed(url))
        finally:
            self._lock.acquire()
        data = answer.content
        record.update(
            status=answer.status_code,
            content_type=answer.headers.get("Content-Type", ""),
            set_cookie=answer.headers.get("Set-Cookie"),
            bytes=len(data),
        )
        if len(data) > MAX_IMAGE_BYTES:
            return b"", _json(400, _error(36000, "The image size is too large.", subcode=2207004))
        jpeg = answer.headers.get("Content-Type", "").startswith("image/jpeg")
        if answer.status_code != 200 or not jpeg or not data.startswith(b"\xff\xd8\xff"):
            return b"", _json(400, _download_failed(url))
        record["ok"] = True
        return data, None

    def _code(self, container: dict[str, Any]) -> str:
        if container["published"]:
            return "PUBLISHED"
        if self.clock() - container["created"] > 86400:
            return "EXPIRED"
        if container["polls_left"] > 0:
            return "IN_PROGRESS"
        return container["outcome"][0] if container["outcome"] else "FINISHED"

    def _status(self, container: dict[str, Any], request: Request) -> Response:
        fields = request.args.get("fields", "status_code").split(",")
        code = self._code(container)
        if code == "IN_PROGRESS":
            container["polls_left"] -= 1
        answer: dict[str, Any] = {"id": container["id"]}
        if "status_code" in fields:
            answer["status_code"] = code
        if "status" in fields:
            answer["status"] = (
                container["outcome"][1] if container["outcome"] and code != "FINISHED" else code
            )
        return _json(200, answer)

    # -- publishing ---------------------------------------------------------------------

    def _usage(self, account_id: str) -> int:
        now = self.clock()
        return sum(1 for t in self._published_at[account_id] if now - 86400 < t <= now)

    def _publish(self, account: IgAccount, fields: dict[str, str]) -> Response:
        container = self.containers.get(fields.get("creation_id", ""))
        if container is None or container["owner"] != account.id:
            return _json(400, _unsupported(fields.get("creation_id", "")))
        if container["kind"] == "CAROUSEL_ITEM":
            return _json(400, _error(100, "A carousel item is published in its carousel"))
        if self._usage(account.id) >= self.quota_total:
            message = (
                "You reached maximum number of posts that is allowed to be published by "
                "Content Publishing API."
            )
            return _json(400, _error(9, message, subcode=2207042))
        code = self._code(container)
        if code == "EXPIRED":
            message = "The media you are trying to access has expired. Please try to upload again."
            return _json(400, _error(-2, message, subcode=2207020))
        if code == "PUBLISHED":
            return _json(400, _error(100, "This container has already been published"))
        if code != "FINISHED":
            return _json(400, _error(9007, "Media ID is not available", subcode=2207027))
        container["published"] = True
        now = self.clock()
        self._published_at[account.id].append(now)
        kind = "CAROUSEL_ALBUM" if container["kind"] == "CAROUSEL" else "IMAGE"
        media = self._new_media(
            account.id, container["caption"], container["images"], container["alt_texts"], kind, now
        )
        media["container"] = container["id"]
        return _json(200, {"id": media["id"]})

    def _new_media(
        self,
        account_id: str,
        caption: str,
        images: list[bytes],
        alt_texts: list[str],
        kind: str,
        at: float,
    ) -> dict[str, Any]:
        media_id = str(17_900_000_000_000_000 + next(self._ids))
        shortcode = base64.urlsafe_b64encode(hashlib.sha256(media_id.encode()).digest()[:8])
        media = {
            "id": media_id,
            "caption": caption,
            "images": images,
            "alt_texts": alt_texts,
            "media_type": kind,
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(at)),
            "at": at,
            "permalink": f"https://www.instagram.com/p/{shortcode.decode().rstrip('=')}/",
        }
        self._media[account_id].append(media)
        self._media[account_id].sort(key=lambda m: m["at"])
        return media

    def _list_media(self, account: IgAccount, request: Request) -> Response:
        try:
            limit = int(request.args.get("limit", "25"))
        except ValueError:
            limit = -1
        if not 1 <= limit <= 100:
            return _json(400, _error(100, "(#100) limit must be between 1 and 100"))
        newest_first = list(reversed(self._media[account.id]))
        start = _offset(request.args.get("after"))
        if start is None:
            return _json(400, _error(100, "(#100) Invalid cursor"))
        page = newest_first[start : start + limit]
        fields = [f for f in request.args.get("fields", "id").split(",") if f]
        data = [{k: m[k] for k in ("id", *fields) if k in m} for m in page]
        cursors = {"before": _cursor(start), "after": _cursor(start + len(page))}
        paging: dict[str, Any] = {"cursors": cursors}
        if start + limit < len(newest_first):
            paging["next"] = f"{self.url}{request.path}?after={cursors['after']}&limit={limit}"
        return _json(200, {"data": data, "paging": paging})


_shared: FakeInstagram | None = None
_shared_media: LocalMedia | None = None
_shared_lock = threading.Lock()


def shared() -> FakeInstagram:
    """One started fake for the whole test process (emptied by each user with ``reset``)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = FakeInstagram().start()
        return _shared


def shared_media(folder: Path) -> LocalMedia:
    """One started ``LocalMedia`` for the whole test process, now serving ``folder``."""
    global _shared_media
    with _shared_lock:
        if _shared_media is None:
            _shared_media = LocalMedia(folder)
        _shared_media.folder = folder
        return _shared_media


def jpeg_bytes(seed: str, size: int = 300) -> bytes:
    """JPEG-looking bytes (SOI, a JFIF header, EOI), different for each ``seed``: what the
    fake (and Instagram's first check) looks at."""
    body = (hashlib.sha256(seed.encode()).digest() * (size // 32 + 1))[:size]
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00" + body + b"\xff\xd9"


def real_jpeg(seed: str) -> bytes:
    """A real JPEG, different for each ``seed``: a campaign's image goes through the media
    library when it is planned, which decodes it (``jpeg_bytes`` only looks like one)."""
    import io

    from PIL import Image

    digest = hashlib.sha256(seed.encode()).digest()
    image = Image.new("RGB", (32, 32), (digest[0], digest[1], digest[2]))
    image.putpixel((digest[3] % 32, digest[4] % 32), (digest[5], digest[6], digest[7]))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


class LocalMedia:
    """What a force's install offers Instagram, for channel tests: the real signed-media
    middleware (``web.media.PublicMedia``) on 127.0.0.1, serving the files in ``folder``
    by the hash of their bytes (the full chain, with the database, is in
    ``tests/channels/test_instagram.py``)."""

    KEY_VARIABLE = "TEST_INSTAGRAM_MEDIA_KEY"

    def __init__(self, folder: Path, key: str = "k" * 48) -> None:
        from channels.media_urls import MediaUrls
        from core.settings import WebSettings
        from web.media import PublicMedia

        self.folder = folder
        self.key = key
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True, request_handler=_Quiet)
        threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="ig-media", daemon=True
        ).start()
        port = self._server.server_port
        web = WebSettings(public_url=f"http://127.0.0.1:{port}", media_key_env=self.KEY_VARIABLE)
        #: what the channel signs with; ``serving`` checks with its own (normally the same)
        self.urls = MediaUrls(web, {self.KEY_VARIABLE: key})
        self.serving = PublicMedia(_not_found, urls=self.urls, find_image=self._find)

    def _find(self, sha256: str) -> Path | None:
        for path in sorted(self.folder.rglob("*")):
            if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == sha256:
                return path
        return None

    def _app(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        return self.serving(environ, start_response)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _not_found(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found\n"]


# -- answers --------------------------------------------------------------------------------


def _fields(request: Request) -> dict[str, str]:
    """A POST's parameters: a JSON body, a form, or the query (the Graph API takes all)."""
    found: dict[str, str] = dict(request.args)
    body = request.get_json(silent=True) if request.is_json else None
    if isinstance(body, dict):
        found.update({k: _text(v) for k, v in body.items()})
    else:
        found.update(request.form.to_dict())
    return found


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _offset(cursor: str | None) -> int | None:
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        return int(text.removeprefix("offset:"))
    except (ValueError, UnicodeDecodeError):
        return None


def _error(code: int, message: str, *, subcode: int | None = None, **extra: Any) -> dict[str, Any]:
    error: dict[str, Any] = {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "AfakeIG" + hashlib.sha1(message.encode()).hexdigest()[:12],
        **extra,
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


def _expired() -> dict[str, Any]:
    return _error(
        190,
        "Error validating access token: Session has expired on Friday, 13-Mar-2026 10:00:00 PDT.",
        subcode=463,
    )


def _unsupported(node: str) -> dict[str, Any]:
    return _error(
        100,
        f"Unsupported get request. Object with ID '{node}' does not exist, cannot be loaded "
        "due to missing permissions, or does not support this operation.",
        subcode=33,
    )


def _download_failed(url: str) -> dict[str, Any]:
    return _error(
        9004,
        "Only photo or video can be accepted as media type.",
        subcode=2207052,
        is_transient=False,
        error_user_title="Media download has failed.",
        error_user_msg=f"The media could not be fetched from this uri: {url}",
    )


def main(argv: list[str] | None = None) -> int:
    """Serve the fake until interrupted; print its URL first (for a parent process)."""
    parser = argparse.ArgumentParser(description="A strict fake of Instagram's publishing API")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    args = parser.parse_args(argv)
    fake = FakeInstagram()
    server = make_server("127.0.0.1", args.port, fake.wsgi, threaded=True, request_handler=_Quiet)
    fake._server = server  # for ``url`` in paging links
    print(f"fake instagram on http://127.0.0.1:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
