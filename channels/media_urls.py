"""Short-lived signed URLs for a post's images, for networks that fetch images themselves.

Instagram takes no image bytes: it fetches each image from a public URL while the
container is made ("We cURL media used in publishing attempts, so the media must be
hosted on a publicly accessible server at the time of the attempt", Content Publishing).
So the install serves them, and only them: the web app answers

    GET {web.public_url}/media/{sha256}?expires={unix seconds}&sig={hex}

with the exact bytes of an image of an approved post (``web/media.py``), where ``sig`` is
HMAC-SHA256 over ``"{sha256}.{expires}"`` with the key ``[web]`` names
(``media_key_env`` or a 0600 ``media_key_file``). The channel signs, the web app checks
(in constant time), and a link lives ``media_url_minutes`` (10 by default): long enough
for the network to fetch it within the send, too short to be worth passing around.

The key is read when it is needed, never at import or settings load: a command that
plans or lints has no use for it. A missing or short key is a ``SettingsError`` naming
the variable or file, never a value.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import time
from collections.abc import Callable, Mapping
from urllib.parse import urlencode

from core.errors import SettingsError
from core.secrets import read_owner_only
from core.settings import WebSettings

from .credentials import register_secret

#: The path under ``public_url`` the web app serves images on (and the only one a force
#: must open to the internet).
PREFIX = "/media/"
MIN_KEY_LENGTH = 32
#: A link's expiry may lie this far past its lifetime (clock differences between the
#: worker that signed it and the web app that checks it).
SKEW_SECONDS = 60.0
_SHA256 = re.compile(r"[0-9a-f]{64}")


def is_sha256(value: str) -> bool:
    return _SHA256.fullmatch(value) is not None


class MediaUrls:
    """Signs and checks image links for one install (its ``[web]`` settings)."""

    def __init__(
        self,
        web: WebSettings,
        environ: Mapping[str, str] | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.web = web
        self.public_url = web.public_url.rstrip("/")
        self.lifetime = web.media_url_minutes * 60
        self._environ = os.environ if environ is None else environ
        self._clock = clock

    def __repr__(self) -> str:  # never the key
        return f"MediaUrls(public_url={self.public_url!r})"

    # -- the key ------------------------------------------------------------------------

    def problem(self) -> str | None:
        """Why links cannot be made or checked now (a sentence), or ``None``."""
        try:
            self._key()
        except SettingsError as exc:
            return str(exc)
        return None

    def _key(self) -> bytes:
        if not self.public_url:
            raise SettingsError(
                "[web] public_url is not set: the https address where the network can fetch "
                "the images (docs/accounts.md, Instagram)"
            )
        web, value, where = self.web, "", ""
        if web.media_key_env:
            value = self._environ.get(web.media_key_env, "").strip()
            where = f"the environment variable {web.media_key_env}"
        if not value and web.media_key_file is not None:
            value = read_owner_only(web.media_key_file, "media key")
            where = str(web.media_key_file)
        if not where:
            raise SettingsError(
                "[web] names no key to sign image links with: set media_key_env (an "
                "environment variable) or media_key_file (a file readable by its owner only)"
            )
        if not value:
            raise SettingsError(f"the key that signs image links is missing: set {where}")
        if len(value) < MIN_KEY_LENGTH:
            raise SettingsError(
                f"the key that signs image links ({where}) is {len(value)} characters; use at "
                f"least {MIN_KEY_LENGTH}, e.g. python3 -c 'import secrets; "
                "print(secrets.token_urlsafe(48))'"
            )
        register_secret(value)
        return value.encode("utf-8")

    # -- links --------------------------------------------------------------------------

    def url(self, sha256: str) -> str:
        """The signed link to the image whose bytes hash to ``sha256`` (``SettingsError``
        when the install cannot serve it)."""
        if not is_sha256(sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        key = self._key()
        expires = int(self._clock() + self.lifetime)
        query = urlencode({"expires": expires, "sig": _signature(key, sha256, expires)})
        return f"{self.public_url}{PREFIX}{sha256}?{query}"

    def where(self, sha256: str) -> str:
        """The link without its query: what a message may show (no signature)."""
        return f"{self.public_url}{PREFIX}{sha256}"

    def verify(self, sha256: str, expires: str, sig: str) -> bool:
        """Whether ``sig`` is ours for ``sha256`` and ``expires`` and still valid: not
        expired, and not valid for longer than a link we make. ``SettingsError`` when no
        key can be read (the web app then serves nothing)."""
        if not is_sha256(sha256) or not expires.isdigit() or len(expires) > 12:
            return False
        key = self._key()
        expected = _signature(key, sha256, int(expires))
        if not hmac.compare_digest(expected.encode("ascii"), sig.encode("utf-8", "replace")):
            return False
        now = self._clock()
        return now <= int(expires) <= now + self.lifetime + SKEW_SECONDS


def _signature(key: bytes, sha256: str, expires: int) -> str:
    return hmac.new(key, f"{sha256}.{expires}".encode("ascii"), hashlib.sha256).hexdigest()
