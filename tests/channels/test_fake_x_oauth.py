"""The fake X checks OAuth 1.0a as X documents it (``tests/fakes/oauth1.py``): requests
signed by the client's own signer (requests-oauthlib) are taken, and any part of a
request changed after signing, a wrong secret or a missing parameter is a 401. On both of
the fake's servers (werkzeug's, and the benchmarks' keep-alive one), whose header parsing
must refuse what is not HTTP."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from urllib.parse import parse_qsl

import pytest
import requests
from oauthlib.oauth1.rfc5849 import signature as oauthlib_signature
from requests_oauthlib import OAuth1

from tests.fakeplatform import FakeConfig, FakePlatform
from tests.fakes import oauth1


@pytest.fixture(params=[False, True], ids=["werkzeug", "keep-alive"])
def fake(request: pytest.FixtureRequest) -> Iterator[FakePlatform]:
    platform = FakePlatform(FakeConfig()).start(keep_alive=request.param)
    try:
        yield platform
    finally:
        platform.stop()


def _auth(config: FakeConfig, **changes: str) -> OAuth1:
    values = {
        "client_key": config.x_consumer_key,
        "client_secret": config.x_consumer_secret,
        "resource_owner_key": config.x_accounts[0].access_token,
        "resource_owner_secret": config.x_accounts[0].access_token_secret,
        **changes,
    }
    return OAuth1(**values)


def _send(
    fake: FakePlatform,
    method: str,
    path: str,
    *,
    auth: OAuth1 | None = None,
    tamper: Callable[[requests.PreparedRequest], None] = lambda prepared: None,
    **kwargs: object,
) -> int:
    """The status of a request signed by ``auth`` (the first account's tokens), changed by
    ``tamper`` after it was signed."""
    prepared = requests.Request(
        method, fake.url + path, auth=auth or _auth(fake.config), **kwargs
    ).prepare()
    tamper(prepared)
    with requests.Session() as session:
        return session.send(prepared, timeout=10).status_code


# A query with what must be percent-encoded: spaces, '+', '~', '&' in a value, non-ASCII.
QUERY = {"max_results": "5", "start_time": "2026-12-01T08:00:00Z", "q": "a b+c~d&e=f ŵ"}
TIMELINE = "/2/users/1500000000000000001/tweets"


def test_a_request_signed_by_the_client_signer_is_taken(fake: FakePlatform) -> None:
    assert _send(fake, "GET", "/2/users/me") == 200
    assert _send(fake, "GET", TIMELINE, params=QUERY) == 200
    # A form-encoded body is signed too (no route for it: 404, not 401).
    assert _send(fake, "POST", "/2/users/me", data={"note": "a b&c ŵ"}) == 404
    assert _send(fake, "POST", "/2/tweets", json={"text": "Signed ~ & ŵ"}) == 201


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda p: setattr(p, "url", p.url.replace("/tweets", "/tweets/")), id="path"),
        pytest.param(lambda p: setattr(p, "url", p.url.replace("max_results=5", "max_results=6")), id="query-value"),
        pytest.param(lambda p: setattr(p, "url", p.url + "&extra=1"), id="query-added"),
        pytest.param(lambda p: p.headers.__setitem__("Host", "127.0.0.1:1"), id="host"),
        pytest.param(lambda p: _header(p, 'oauth_nonce="', 'oauth_nonce="x'), id="nonce"),
        pytest.param(lambda p: _header(p, 'oauth_timestamp="', 'oauth_timestamp="1'), id="timestamp"),
        pytest.param(lambda p: _header(p, "oauth_nonce=", "oauth_nonc="), id="nonce-missing"),
        pytest.param(lambda p: _header(p, "OAuth ", "Bearer "), id="scheme"),
        pytest.param(lambda p: _header(p, "OAuth ", "OAuth junk, "), id="header-syntax"),
    ],
)  # fmt: skip
def test_a_request_changed_after_signing_is_refused(
    fake: FakePlatform, tamper: Callable[[requests.PreparedRequest], None]
) -> None:
    query = {"max_results": "5"}
    assert _send(fake, "GET", TIMELINE, params=query) == 200  # the same request, untouched
    assert _send(fake, "GET", TIMELINE, params=query, tamper=tamper) == 401


def _header(prepared: requests.PreparedRequest, old: str, new: str) -> None:
    header = prepared.headers["Authorization"]
    header = header.decode() if isinstance(header, bytes) else header
    assert old in header
    prepared.headers["Authorization"] = header.replace(old, new, 1)


def test_a_changed_form_body_is_refused(fake: FakePlatform) -> None:
    def tamper(prepared: requests.PreparedRequest) -> None:
        prepared.body = "note=b"
        prepared.headers["Content-Length"] = "6"

    assert _send(fake, "POST", "/2/users/me", data={"note": "a"}, tamper=tamper) == 401


@pytest.mark.parametrize(
    "changes",
    [
        {"client_secret": "not-the-consumer-secret"},
        {"resource_owner_secret": "not-the-token-secret"},
        {"client_key": "another-consumer-key"},
        {"resource_owner_key": "1500000000000000009-unknown"},
        {"signature_method": "PLAINTEXT"},  # a valid signature of another method
    ],
    ids=lambda changes: next(iter(changes)),
)
def test_wrong_credentials_or_method_are_refused(
    fake: FakePlatform, changes: dict[str, str]
) -> None:
    assert _send(fake, "GET", "/2/users/me", auth=_auth(fake.config, **changes)) == 401
    assert fake.x_posts("GwentPolice") == []


def test_the_second_account_signs_with_its_own_secret(fake: FakePlatform) -> None:
    second = fake.config.x_accounts[1]
    own = _auth(
        fake.config,
        resource_owner_key=second.access_token,
        resource_owner_secret=second.access_token_secret,
    )
    crossed = _auth(fake.config, resource_owner_key=second.access_token)  # the first's secret
    assert _send(fake, "POST", "/2/tweets", json={"text": "Hi"}, auth=own) == 201
    assert _send(fake, "POST", "/2/tweets", json={"text": "Hi"}, auth=crossed) == 401
    assert [p["text"] for p in fake.x_posts("HeddluGwent")] == ["Hi"]


def test_an_account_whose_tokens_change_is_checked_against_them(fake: FakePlatform) -> None:
    """The fake indexes the accounts by token; a test that changes them is still served
    by what the configuration says now."""
    first = fake.config.x_accounts[0]

    def signed() -> OAuth1:  # with the first account's tokens as they are now
        return _auth(
            fake.config,
            resource_owner_key=first.access_token,
            resource_owner_secret=first.access_token_secret,
        )

    before = signed()
    assert _send(fake, "GET", "/2/users/me", auth=before) == 200
    first.access_token_secret = "a-new-secret"
    assert _send(fake, "GET", "/2/users/me", auth=before) == 401
    assert _send(fake, "GET", "/2/users/me", auth=signed()) == 200
    old_token = signed()
    first.access_token = "1500000000000000001-newtoken"
    assert _send(fake, "GET", "/2/users/me", auth=old_token) == 401
    assert _send(fake, "GET", "/2/users/me", auth=signed()) == 200
    fake.config.x_accounts.remove(first)
    assert _send(fake, "GET", "/2/users/me", auth=signed()) == 401
    fake.config.x_accounts.append(first)  # at another place now
    assert _send(fake, "GET", "/2/users/me", auth=signed()) == 200


@pytest.mark.parametrize(
    ("method", "url", "form"),
    [
        ("GET", "http://127.0.0.1:8080/2/users/me", None),
        ("get", "HTTP://Example.COM:80/a%20b/c?x=1&x=0&y=a+b&z=", None),
        ("POST", "https://api.x.com:443/2/media/upload?q=%7E%2B%26", "b=2&a=%C5%B5&a=1"),
    ],
)
def test_the_signature_agrees_with_oauthlibs_own_check(
    method: str, url: str, form: str | None
) -> None:
    """The fake's verifier, written from the RFC, and oauthlib's, on the same requests."""
    params = {
        "oauth_consumer_key": "ck",
        "oauth_token": "tok",
        "oauth_signature_method": "HMAC-SHA1",
        "oauth_timestamp": "1764576000",
        "oauth_nonce": "n0nce",
        "oauth_version": "1.0",
    }
    scheme, rest = url.split("://", 1)
    host, _, target = rest.partition("/")
    environ = {
        "REQUEST_METHOD": method.upper(),
        "RAW_URI": "/" + target,
        "HTTP_HOST": host,
        "wsgi.url_scheme": scheme.lower(),
    }
    path, query = oauth1.request_target(environ)
    blank = {"keep_blank_values": True}
    collected = list(params.items()) + parse_qsl(query, **blank) + parse_qsl(form or "", **blank)
    base = oauth1.signature_base_string(
        method, oauth1.base_string_uri(scheme, host, path), collected
    )
    signature = oauth1.hmac_sha1(base, "cs ŵ&", "ts~")
    theirs = SimpleNamespace(
        params=oauthlib_signature.collect_parameters(
            uri_query=query, body=form or [], headers={}, exclude_oauth_signature=True
        )
        + list(params.items()),
        uri=url,
        http_method=method.upper(),
        signature=signature,
    )
    assert oauthlib_signature.verify_hmac_sha1(theirs, "cs ŵ&", "ts~")
    assert oauth1.verify(environ, {**params, "oauth_signature": signature}, form, "cs ŵ&", "ts~")
    assert not oauth1.verify(environ, {**params, "oauth_signature": signature}, form, "cs", "ts~")


def _raw(fake: FakePlatform, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", fake.port), timeout=10) as sock:
        sock.sendall(data)
        return sock.recv(65536)


def test_a_request_that_is_not_http_is_a_400_on_the_keep_alive_server() -> None:
    with FakePlatform(FakeConfig()).start(keep_alive=True) as fake:
        good = b"GET /_fake/state HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        assert _raw(fake, good).startswith(b"HTTP/1.1 200")
        for bad in (
            b"GET /_fake/state HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",
            b"GET /_fake/state HTTP/1.1\r\nHost: x\r\n folded: line\r\n\r\n",
            b"GET /_fake/state HTTP/1.1\r\nHo st: x\r\n\r\n",
        ):
            assert _raw(fake, bad).startswith(b"HTTP/1.1 400"), bad
