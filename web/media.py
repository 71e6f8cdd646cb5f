"""The one public route: ``GET /media/<sha256>?expires=…&sig=…``, an approved post's image
for a network that fetches images itself (Instagram; ``channels/media_urls.py``).

It sits in front of the Flask app as WSGI middleware, so it never touches the session,
the sign-in guard or cookies: a request under ``/media/`` is answered here and nowhere
else. It answers only

- a link signed with the install's key and not expired (else 403, whatever the image);
- for an image of a post that is approved and not yet out (approved, sending, checking,
  waiting to retry), with a valid approval, on a network that fetches images (else 404);
- with the file's exact bytes, checked against the hash in the link and in the approval
  (a file changed since: 404), as the image type its name says, never cached.

GET and HEAD only. This is all a force opens to the internet (docs/accounts.md).
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from werkzeug.wrappers import Request, Response

from channels.media_urls import PREFIX, MediaUrls, is_sha256
from channels.networks import NETWORKS
from core.errors import SettingsError
from posts.db import Database
from posts.models import Post
from posts.states import PostState

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from .security import Services

log = logging.getLogger(__name__)

#: States in which a post's images may still be fetched: approved and not yet out.
SERVED_STATES = (
    PostState.APPROVED,
    PostState.SENDING,
    PostState.CHECKING,
    PostState.RETRY_WAIT,
)
_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Referrer-Policy": "no-referrer",
}


def approved_image(db: Database, sha256: str) -> Path | tuple[str, bytes] | None:
    """The file of an image with this hash in a post that may still be published, with a
    valid approval, on a network that fetches images; ``None`` if there is none. A library
    image (no path) is its name and bytes from the database."""
    networks = [key for key, row in NETWORKS.items() if row.fetches_images]
    query = select(Post.media).where(
        Post.state.in_([state.value for state in SERVED_STATES]),
        Post.approved_hash == Post.content_hash,
        Post.network.in_(networks),
    )
    with db.reading() as session:
        for media in session.scalars(query):
            for item in media or []:
                if isinstance(item, dict) and item.get("sha256") == sha256 and item.get("path"):
                    return Path(str(item["path"]))
                if isinstance(item, dict) and item.get("sha256") == sha256:
                    from posts.media import image_bytes

                    data = image_bytes(session, sha256)
                    if data is not None:
                        return (str(item.get("name") or f"{sha256[:16]}.jpg"), data)
    return None


class PublicMedia:
    """WSGI middleware: ``/media/…`` answered here, everything else passed to ``app``.

    ``find_image`` maps a hash to the file to serve (default: ``approved_image`` on the
    database); the bytes are checked against the hash whatever it returns."""

    def __init__(
        self,
        app: WSGIApplication,
        services: Services | None = None,
        *,
        urls: MediaUrls | None = None,
        find_image: Callable[[str], Path | tuple[str, bytes] | None] | None = None,
    ) -> None:
        self.app = app
        if services is not None:
            s = services
            urls = urls or MediaUrls(s.settings.web, clock=lambda: s.clock.now().timestamp())
            find_image = find_image or (lambda sha256: approved_image(s.db, sha256))
        if urls is None or find_image is None:
            raise ValueError("PublicMedia needs the app's services, or urls and find_image")
        self.urls = urls
        self.find_image = find_image

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if not str(environ.get("PATH_INFO", "")).startswith(PREFIX):
            return self.app(environ, start_response)
        response = self.answer(Request(environ))
        for name, value in _HEADERS.items():
            response.headers.setdefault(name, value)
        return response(environ, start_response)

    def answer(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return _text(405, "Only GET.", Allow="GET, HEAD")
        sha256 = request.path[len(PREFIX) :]
        if not is_sha256(sha256):
            return _text(404, "Not found.")
        try:
            valid = self.urls.verify(
                sha256, request.args.get("expires", ""), request.args.get("sig", "")
            )
        except SettingsError as exc:  # this install cannot check links: it serves nothing
            log.warning("media: cannot check image links: %s", exc)
            return _text(404, "Not found.")
        if not valid:
            return _text(403, "This link is not valid or has expired.")
        found = self.find_image(sha256)
        if found is None:
            log.info("media: %s… is not an image of a post waiting to go out", sha256[:12])
            return _text(404, "Not found.")
        if isinstance(found, tuple):  # a library image, from the database
            name, data = found
        else:
            name = found.name
            try:
                data = found.read_bytes()
            except OSError as exc:
                log.warning("media: cannot read %s: %s", found, exc.strerror)
                return _text(404, "Not found.")
        mime = mimetypes.guess_type(name)[0] or ""
        if hashlib.sha256(data).hexdigest() != sha256 or not mime.startswith("image/"):
            log.warning("media: %s is not the approved image %s…", found, sha256[:12])
            return _text(404, "Not found.")
        log.info("media: served %s… (%s bytes)", sha256[:12], len(data))
        return Response(data, status=200, mimetype=mime)


def _text(status: int, message: str, **headers: Any) -> Response:
    return Response(message + "\n", status=status, mimetype="text/plain", headers=headers)
