"""The fake X's check of an OAuth 1.0a request (RFC 5849, HMAC-SHA1), as X documents it.

Written from the RFC, not with oauthlib: the client signs with oauthlib (through tweepy and
requests-oauthlib), and a check made of the signer's own code would share its mistakes.
It is also what the benchmarks' fake spends least on per request: the HMAC key of a pair
of secrets is made once (``_key``), and the request is read straight from the WSGI
environment (the request line as sent, not a URL rebuilt from it).

- §3.5.1: the ``Authorization: OAuth ...`` header's parameters, percent-decoded.
- §3.4.1.2: the base string URI: scheme and host in lowercase, the port only when it is
  not the scheme's default, the path as it was sent; no query.
- §3.4.1.3: the parameters: the query's, the header's (without ``realm`` and
  ``oauth_signature``), and a form-encoded body's; each name and value encoded (§3.6),
  sorted by name then value.
- §3.4.2: HMAC-SHA1 of the base string with ``encode(consumer secret) & encode(token
  secret)``, base64; compared in constant time.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

#: What a request must carry (§3.1); the fake X takes only HMAC-SHA1, like X.
REQUIRED = (
    "oauth_consumer_key",
    "oauth_token",
    "oauth_signature_method",
    "oauth_timestamp",
    "oauth_nonce",
    "oauth_signature",
)
# name="value" pairs, comma-separated, with optional white space (§3.5.1).
_PARAM = re.compile(r'\s*([^\s=,]+)="([^"]*)"\s*(?:,|$)')
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def encode(value: str) -> str:
    """§3.6: UTF-8, then every byte but the unreserved characters (ALPHA, DIGIT, ``-._~``)
    as ``%XX`` in upper case. ``quote`` keeps exactly those when ``safe`` is empty."""
    return quote(value, safe="")


def authorization_params(header: str) -> dict[str, str] | None:
    """The parameters of an ``OAuth`` Authorization header, decoded; None if it is not one
    (another scheme, or text that is not ``name="value"`` pairs)."""
    scheme, _, rest = header.partition(" ")
    if scheme != "OAuth":
        return None
    params: dict[str, str] = {}
    end = 0
    for match in _PARAM.finditer(rest):
        if match.start() != end:
            return None
        params[match.group(1)] = unquote(match.group(2))
        end = match.end()
    return params if end == len(rest) else None


def base_string_uri(scheme: str, host: str, path: str) -> str:
    """§3.4.1.2, from the request's scheme, its Host header and the path it was sent to."""
    scheme, host = scheme.lower(), host.lower()
    name, colon, port = host.rpartition(":")
    if colon and "]" not in port and port == _DEFAULT_PORTS.get(scheme):
        host = name
    return f"{scheme}://{host}{path or '/'}"


def signature_base_string(method: str, uri: str, params: list[tuple[str, str]]) -> str:
    """§3.4.1.1 with the parameters normalised as §3.4.1.3.2 says."""
    pairs = sorted((encode(name), encode(value)) for name, value in params)
    normalised = "&".join(f"{name}={value}" for name, value in pairs)
    return f"{method.upper()}&{encode(uri)}&{encode(normalised)}"


@functools.lru_cache(maxsize=4096)
def _key(consumer_secret: str, token_secret: str) -> bytes:
    """§3.4.2's key: the same for every request of an account, so made once."""
    return f"{encode(consumer_secret)}&{encode(token_secret)}".encode()


def hmac_sha1(base_string: str, consumer_secret: str, token_secret: str) -> str:
    """§3.4.2: the signature of a base string, base64."""
    digest = hmac.digest(_key(consumer_secret, token_secret), base_string.encode(), hashlib.sha1)
    return base64.b64encode(digest).decode()


def request_target(environ: Mapping[str, Any]) -> tuple[str, str]:
    """The path and query the request line named, as the client sent them (and signed
    them); absolute-form (``GET http://host/path``) too."""
    target = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if not target:  # not from werkzeug's server: rebuilt as requests would send it
        target = quote(environ.get("PATH_INFO", "/"), safe="/%:@!$&'()*+,;=-._~")
        if environ.get("QUERY_STRING"):
            target += "?" + environ["QUERY_STRING"]
    if not target.startswith("/"):
        parts = urlsplit(target)
        return parts.path, parts.query
    path, _, query = target.partition("?")
    return path, query


def verify(
    environ: Mapping[str, Any],
    params: Mapping[str, str],
    form_body: str | None,
    consumer_secret: str,
    token_secret: str,
) -> bool:
    """Whether a request (its WSGI ``environ``, its header ``params`` as
    ``authorization_params`` gave them, its body if form-encoded) carries every required
    parameter and a valid HMAC-SHA1 signature for these secrets."""
    if any(not params.get(name) for name in REQUIRED):
        return False
    if (
        params["oauth_signature_method"] != "HMAC-SHA1"
        or params.get("oauth_version", "1.0") != "1.0"
    ):
        return False
    path, query = request_target(environ)
    collected = [(k, v) for k, v in params.items() if k not in ("realm", "oauth_signature")]
    if query:
        collected += parse_qsl(query, keep_blank_values=True)
    if form_body:
        collected += parse_qsl(form_body, keep_blank_values=True)
    host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
    uri = base_string_uri(environ.get("wsgi.url_scheme", "http"), host, path)
    expected = hmac_sha1(
        signature_base_string(environ["REQUEST_METHOD"], uri, collected),
        consumer_secret,
        token_secret,
    )
    return hmac.compare_digest(expected, params["oauth_signature"])
