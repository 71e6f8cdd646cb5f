"""Sign-in with a real OpenID Connect provider (panva's oidc-provider on 127.0.0.1): the
whole flow over HTTP with ``requests``, the groups mapped to roles and accounts, and every
way the answer can be wrong (state, nonce, signature, audience, expiry) refused."""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey
from sqlalchemy import select

from core.clock import FakeClock
from core.errors import LoginFailed, SettingsError
from core.settings import Settings, load_settings
from people import oidc, users
from posts.db import Database
from posts.models import Event
from tests.helpers import WebServer, who
from tests.oidc.provider import CLIENT_ID, CLIENT_SECRET, OidcProvider, login_with_requests
from tests.oidc.provider import unavailable as provider_unavailable
from web.app import create_app

ACCOUNTS = {
    "sian": {
        "name": "Sian Jones",
        "preferred_username": "sian.jones@gwent.police.uk",
        "email": "sian.jones@gwent.police.uk",
        "groups": ["comms-reviewers", "all-staff"],
    },
    "rhys": {
        "name": "Rhys Evans",
        "preferred_username": "rhys.evans@gwent.police.uk",
        "groups": ["comms-authors", "comms-admins"],
    },
    "outsider": {"name": "Not Comms", "groups": ["all-staff"]},
}
GROUPS = """
[oidc.groups."comms-reviewers"]
role = "reviewer"
accounts = ["gwent-x"]
[oidc.groups."comms-authors"]
role = "author"
accounts = ["gwent-facebook"]
[oidc.groups."comms-admins"]
role = "administrator"
"""


@dataclass
class Setup:
    server: WebServer
    provider: OidcProvider
    tmp: Path


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    why = provider_unavailable()
    if why:
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    server = WebServer()
    provider = OidcProvider.start([server.url + "/login/oidc/callback"], ACCOUNTS)
    yield Setup(server, provider, tmp_path_factory.mktemp("oidc"))
    provider.stop()
    server.stop()


@dataclass
class World:
    url: str
    settings: Settings
    db: Database
    clock: FakeClock
    issuer: str

    def person(self, username: str) -> users.Person:
        return next(p for p in users.list_users(self.db) if p.username == username)

    def events(self, action: str) -> list[Any]:
        """The details of the audit log's events of ``action``, oldest first."""
        with self.db.transaction() as session:
            rows = session.scalars(select(Event).where(Event.action == action).order_by(Event.id))
            return [json.loads(e.detail) if e.detail else {} for e in rows]


def make_settings(folder: Path, issuer: str, groups: str = GROUPS, extra: str = "") -> Settings:
    folder.mkdir(parents=True, exist_ok=True)
    secret = folder / "oidc-secret"
    secret.write_text(CLIENT_SECRET + "\n")
    secret.chmod(0o600)
    config = folder / "config.toml"
    config.write_text(
        f"""
state_dir = "state"
[accounts.gwent-x]
network = "x"
handle = "@GwentPolice"
[accounts.gwent-facebook]
network = "facebook"
handle = "GwentPolice"
[oidc]
issuer = "{issuer}"
client_id = "{CLIENT_ID}"
client_secret_file = "oidc-secret"
button_label = "Sign in with Microsoft"
{extra}
{groups}
""",
        encoding="utf-8",
    )
    return load_settings(config, environ={})


@pytest.fixture
def world(setup: Setup, tmp_path: Path) -> Iterator[World]:
    settings = make_settings(tmp_path, setup.provider.issuer)
    db = Database(settings.database_url)
    db.ensure_schema()
    # The provider signs with the real time; the app checks with its own clock.
    clock = FakeClock(datetime.now(UTC))
    setup.server.app = create_app(settings, db, clock, secret_key="test-secret-key")
    yield World(setup.server.url, settings, db, clock, setup.provider.issuer)
    db.dispose()


def begin(world: World, http: requests.Session) -> str:
    """Press the button: the app sends the browser to the provider."""
    started = http.get(world.url + "/login/oidc", allow_redirects=False, timeout=10)
    assert started.status_code == 303
    return started.headers["Location"]


def sign_in(world: World, login: str) -> tuple[requests.Session, requests.Response]:
    http = requests.Session()
    callback = login_with_requests(http, begin(world, http), login)
    return http, http.get(callback, allow_redirects=False, timeout=10)


def test_the_login_page_offers_the_provider(world: World) -> None:
    page = requests.get(world.url + "/login", timeout=10).text
    assert "Sign in with Microsoft" in page
    assert 'href="/login/oidc?next=/queue"' in page


def test_first_sign_in_creates_the_user_from_the_groups(world: World) -> None:
    http = requests.Session()
    authorize = begin(world, http)
    query = parse_qs(urlsplit(authorize).query)
    assert authorize.startswith(world.issuer)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["state"][0] and query["nonce"][0] and query["response_type"] == ["code"]
    assert "code_verifier" not in query  # the secret half of PKCE never leaves the app

    callback = login_with_requests(http, authorize, "sian")
    assert callback.startswith(world.url + "/login/oidc/callback?code=")
    done = http.get(callback, allow_redirects=False, timeout=10)
    assert done.status_code == 303 and done.headers["Location"] == "/queue"
    queue = http.get(world.url + "/queue", timeout=10)
    assert queue.status_code == 200
    assert "Sian Jones" in queue.text and "reviewer; gwent-x" in queue.text

    sian = world.person("sian.jones-gwent.police.uk")
    assert (sian.role.value, sorted(sian.accounts)) == ("reviewer", ["gwent-x"])
    assert sian.display_name == "Sian Jones"
    assert world.events("login")[-1] == {"via": "oidc"}
    # The same server-side session start as a password sign-in (web/auth.py start_session).
    from people.sessions import WebSession

    with world.db.transaction() as session:
        started = [(r.user_id, r.how) for r in session.scalars(select(WebSession))]
    assert started == [(sian.id, "oidc")]
    assert world.events("session_started")[-1]["how"] == "oidc"
    # The client secret is in no page and no audit record.
    with world.db.transaction() as session:
        details = json.dumps([e.detail for e in session.scalars(select(Event))], default=str)
    assert CLIENT_SECRET not in details and CLIENT_SECRET not in queue.text


def test_highest_role_and_every_account_of_the_groups(world: World) -> None:
    _, done = sign_in(world, "rhys")
    assert done.status_code == 303
    rhys = world.person("rhys.evans-gwent.police.uk")
    assert rhys.role.value == "administrator" and rhys.all_accounts


def test_role_and_accounts_follow_the_groups_at_each_sign_in(
    world: World, setup: Setup, tmp_path: Path
) -> None:
    sign_in(world, "sian")
    assert world.person("sian.jones-gwent.police.uk").role.value == "reviewer"
    # The force moves comms-reviewers' rights: the next sign-in follows.
    moved = GROUPS.replace(
        'role = "reviewer"\naccounts = ["gwent-x"]',
        'role = "author"\naccounts = ["gwent-facebook"]',
    )
    settings = make_settings(tmp_path / "moved", world.issuer, moved)
    setup.server.app = create_app(settings, world.db, world.clock, secret_key="test-secret-key")
    _, done = sign_in(world, "sian")
    assert done.status_code == 303
    sian = world.person("sian.jones-gwent.police.uk")
    assert (sian.role.value, sorted(sian.accounts)) == ("author", ["gwent-facebook"])
    assert len(users.list_users(world.db)) == 1  # the same user, found by issuer and subject
    changed = world.events("user_role_set")[-1]
    assert changed == {
        "user": "sian.jones-gwent.police.uk",
        "from": "reviewer",
        "to": "author",
        "via": "oidc groups",
    }


def test_someone_in_no_mapped_group_is_refused_with_a_clear_page(world: World) -> None:
    http, done = sign_in(world, "outsider")
    assert done.status_code == 403
    assert "you are in none of the groups that may use Campaign Publisher" in done.text
    assert users.list_users(world.db) == []
    assert http.get(world.url + "/queue", allow_redirects=False, timeout=10).status_code == 302
    assert world.events("login_failed")[-1]["why"] == "in no group mapped to a role"


def test_an_answer_for_another_sign_in_is_refused_state(world: World) -> None:
    http = requests.Session()
    first = begin(world, http)
    begin(world, http)  # a second start replaces the first one's state
    callback = login_with_requests(http, first, "sian")
    done = http.get(callback, allow_redirects=False, timeout=10)
    assert done.status_code == 403 and "its state does not match" in done.text
    assert users.list_users(world.db) == []


def test_a_callback_with_no_sign_in_started_is_refused(world: World) -> None:
    done = requests.get(world.url + "/login/oidc/callback?code=x&state=y", timeout=10)
    assert done.status_code == 403 and "was not started here" in done.text


def test_a_token_for_another_nonce_is_refused(world: World) -> None:
    http = requests.Session()
    authorize = begin(world, http)
    # Someone swaps the nonce on the way to the provider (injecting a token they hold).
    swapped = authorize.replace("nonce=", "nonce=attacker", 1)
    callback = login_with_requests(http, swapped, "sian")
    done = http.get(callback, allow_redirects=False, timeout=10)
    assert done.status_code == 403 and "its nonce does not match" in done.text
    assert users.list_users(world.db) == []


def test_a_provider_that_cannot_be_reached_is_said_plainly(
    world: World, tmp_path: Path, setup: Setup
) -> None:
    settings = make_settings(tmp_path / "down", "http://127.0.0.1:9")
    setup.server.app = create_app(settings, world.db, world.clock, secret_key="k")
    done = requests.get(world.url + "/login/oidc", allow_redirects=False, timeout=10)
    assert done.status_code == 502 and "could not be reached" in done.text


# -- the ID token itself ------------------------------------------------------------------


def real_id_token(world: World) -> tuple[str, str]:
    """An ID token the provider issued for this client, and its nonce."""
    redirect = world.url + "/login/oidc/callback"
    url, pending = oidc.begin(world.settings.oidc, redirect, now=world.clock.now())
    http = requests.Session()
    callback = login_with_requests(http, url, "sian")
    code = parse_qs(urlsplit(callback).query)["code"][0]
    with oidc._client(world.settings.oidc, redirect) as client:
        token = client.fetch_token(
            oidc.provider(world.issuer).config()["token_endpoint"],
            grant_type="authorization_code",
            code=code,
            code_verifier=pending.verifier,
        )
    return str(token["id_token"]), pending.nonce


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(raw: str) -> dict[str, Any]:
    payload = raw.split(".")[1]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded


def test_the_real_token_passes_and_every_tampered_one_is_refused(world: World) -> None:
    raw, nonce = real_id_token(world)
    s, now = world.settings.oidc, world.clock.now()
    claims = oidc.validate_id_token(s, raw, nonce=nonce, now=now)
    assert claims["groups"] == ["comms-reviewers", "all-staff"] and claims["aud"] == CLIENT_ID

    def refused(token: str, **kw: Any) -> str:
        with pytest.raises(oidc.OidcRefused) as caught:
            oidc.validate_id_token(
                kw.get("settings", s), token, nonce=kw.get("nonce", nonce), now=kw.get("now", now)
            )
        return str(caught.value)

    header, payload, signature = raw.split(".")
    richer = {**_claims(raw), "groups": ["comms-admins"]}
    assert "signature is not right" in refused(f"{header}.{_b64(richer)}.{signature}")
    assert "signature is not right" in refused(f"{header}.{payload}.{signature[:-4]}AAAA")
    unsigned = _b64({"alg": "none", "typ": "JWT"})
    assert "signature is not right" in refused(f"{unsigned}.{_b64(richer)}.")
    # Signed with a key of the same id that is not the provider's.
    kid = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]
    other = RSAKey.generate_key(2048, parameters={"kid": kid})
    assert "signature is not right" in refused(
        jwt.encode({"alg": "RS256", "kid": kid}, richer, other)
    )
    # A key id the provider does not publish: its keys are fetched again, and it is refused.
    stranger = RSAKey.generate_key(2048, parameters={"kid": "not-published"})
    assert "signature is not right" in refused(
        jwt.encode({"alg": "RS256", "kid": "not-published"}, richer, stranger)
    )
    # HMAC keyed with the client secret: valid for some providers, never accepted here.
    hmac_key = OctKey.import_key(CLIENT_SECRET)
    assert "signature is not right" in refused(
        jwt.encode({"alg": "HS256"}, richer, hmac_key, algorithms=["HS256"])
    )
    assert "nonce does not match" in refused(raw, nonce="another")
    assert "aud" in refused(raw, settings=s.replace(client_id="someone-else"))
    late = now + timedelta(hours=2)
    assert "expired" in refused(raw, now=late).lower()
    early = now - timedelta(hours=1)  # issued "in the future" by our clock
    assert "issued in the future" in refused(raw, now=early)
    # Within the leeway a slightly slow clock still works.
    oidc.validate_id_token(s, raw, nonce=nonce, now=now - timedelta(seconds=30))


# -- who the user is -------------------------------------------------------------------------


def test_a_local_user_of_that_name_is_not_taken_over(world: World) -> None:
    users.add_user(
        world.db,
        "sian.jones-gwent.police.uk",
        "a long local password",
        role="author",
        actor=who("test"),
        now=world.clock.now(),
    )
    _, done = sign_in(world, "sian")
    assert done.status_code == 403 and "already a local user called" in done.text
    assert world.person("sian.jones-gwent.police.uk").role.value == "author"


def test_a_disabled_user_is_refused(world: World) -> None:
    sign_in(world, "sian")
    users.set_disabled(
        world.db, "sian.jones-gwent.police.uk", True, actor=who("admin"), now=world.clock.now()
    )
    _, done = sign_in(world, "sian")
    assert done.status_code == 403 and "disabled" in done.text


def test_an_identity_provider_user_cannot_sign_in_with_a_password(world: World) -> None:
    sign_in(world, "sian")
    with pytest.raises(LoginFailed):  # a random password nobody was told
        users.authenticate(world.db, "sian.jones-gwent.police.uk", "", now=world.clock.now())
    assert oidc.linked(world.db, world.person("sian.jones-gwent.police.uk").id)


def test_rights_from_groups() -> None:
    s = make_settings(
        Path(os.environ.get("TMPDIR", "/tmp")) / f"cp-oidc-{os.getpid()}",
        "https://login.microsoftonline.com/tenant/v2.0",
    ).oidc
    assert oidc.rights_from_groups(s, ["comms-reviewers"]) == (users.Role.REVIEWER, ["gwent-x"])
    both = oidc.rights_from_groups(s, ["comms-reviewers", "comms-authors"])
    assert both == (users.Role.REVIEWER, ["gwent-facebook", "gwent-x"])
    assert oidc.rights_from_groups(s, ["comms-admins"]) == (users.Role.ADMINISTRATOR, ["*"])
    assert oidc.rights_from_groups(s, ["nobody"]) is None
    assert oidc.rights_from_groups(s, None) is None
    assert oidc.rights_from_groups(s, "comms-authors") == (users.Role.AUTHOR, ["gwent-facebook"])


@pytest.mark.parametrize(
    ("oidc_toml", "message"),
    [
        ('issuer = "http://login.example.com"\nclient_id = "x"', "must be an https:// address"),
        ('issuer = "https://login.example.com"', "client_id is needed"),
        ('issuer = "https://login.example.com"\nclient_id = "x"', "maps no group"),
        (
            'issuer = "https://l.example.com"\nclient_id = "x"\n[oidc.groups.g]\nrole = "reviewer"\n'
            'accounts = ["gwent-nowhere"]',
            "unknown account(s) gwent-nowhere",
        ),
        ('client_secret_env = "PUBLISHER_OIDC_SECRET"', "choose another name"),
    ],
)
def test_settings_are_checked(tmp_path: Path, oidc_toml: str, message: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[accounts.gwent-x]\nnetwork = "x"\nhandle = "@G"\n[oidc]\n{oidc_toml}\n')
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings(config, environ={})


def test_the_secret_file_must_be_owner_only(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, "https://login.example.com")
    assert oidc.client_secret(settings.oidc) == CLIENT_SECRET
    assert settings.oidc.client_secret_file is not None
    settings.oidc.client_secret_file.chmod(0o644)
    with pytest.raises(SettingsError, match="readable by its owner only"):
        oidc.client_secret(settings.oidc)


def test_entra_groups_overage_is_explained(world: World) -> None:
    """Entra ID sends ``_claim_names`` instead of groups for a member of too many."""
    claims = {
        "sub": "many-groups",
        "preferred_username": "busy@gwent.police.uk",
        "_claim_names": {"groups": "src1"},
        "_claim_sources": {"src1": {}},
    }
    with pytest.raises(oidc.OidcRefused, match="Groups assigned to the application"):
        oidc.sign_in(world.settings.oidc, world.db, claims, now=world.clock.now())
    assert users.list_users(world.db) == []


def test_cancel_at_the_provider_is_said_plainly(world: World) -> None:
    http = requests.Session()
    form = http.get(begin(world, http), timeout=10)
    cancel = re.search(r'href="([^"]*/abort)"', form.text)
    assert cancel, form.text[:500]
    location = http.get(
        urljoin(form.url, cancel.group(1)), allow_redirects=False, timeout=10
    ).headers["Location"]
    while not location.startswith(world.url):
        location = http.get(urljoin(form.url, location), allow_redirects=False, timeout=10).headers[
            "Location"
        ]
    done = http.get(location, allow_redirects=False, timeout=10)
    assert done.status_code == 403
    assert "The identity provider did not sign you in: End-User aborted interaction" in done.text


def test_a_provider_name_never_becomes_the_services_own() -> None:
    from people.oidc import _username

    assert _username({"preferred_username": "Worker"}, "preferred_username", "s1") == "oidc-worker"
    assert _username({"preferred_username": "sian"}, "preferred_username", "s2") == "sian"
