"""Sign-in with the force's identity provider: OpenID Connect (Entra ID or any other).

The authorization code flow with PKCE (S256), ``state`` and ``nonce``:

1. ``begin`` makes a fresh state, nonce and PKCE verifier (the web app keeps them in the
   user's session cookie) and the provider's authorization address.
2. The provider sends the browser back with ``code`` and ``state``; ``complete`` checks the
   state, exchanges the code (with the verifier and the client secret) at the token
   endpoint, and checks the ID token: its signature against the provider's published keys
   (JWKS; an unknown key id fetches them again once, for key rotation), issuer, audience
   (and ``azp`` when there are several), expiry, issue time and the nonce, against the
   app's clock.
3. The token's groups (``[oidc] groups_claim``) pick the role and accounts from
   ``[oidc.groups]``: the highest role of the groups that match, the union of their
   accounts. No match is refused with ``OidcRefused``. The user is found by the provider's
   (issuer, subject) pair, never by name; a first sign-in creates them, and each sign-in
   sets their role and accounts from the groups again.

Authlib's OAuth2 client makes the requests (PKCE, client authentication); joserfc (by the
same author) checks the token. Secrets are never logged or shown.
"""

from __future__ import annotations

import hmac
import re
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc6749.errors import OAuth2Error
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import ForeignKey, String, UniqueConstraint, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.errors import LoginFailed, PublisherError
from core.secrets import named_secret
from core.settings import OidcSettings
from posts.db import Database
from posts.journal import record_event
from posts.models import Base, UTCDateTime

from .users import (
    ALL_ACCOUNTS,
    RESERVED_NAMES,
    Person,
    Role,
    User,
    UserAccount,
    _person,
    hash_password,
)

# Asymmetric algorithms only: "none" and HMAC (keyed with the client secret) are refused.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
TIMEOUT_SECONDS = 10.0
DISCOVERY_TTL_SECONDS = 3600.0
JWKS_MIN_REFRESH_SECONDS = 60.0
PENDING_SECONDS = 600  # a sign-in not finished in ten minutes starts again
_RANK = {Role.AUTHOR: 0, Role.REVIEWER: 1, Role.ADMINISTRATOR: 2}
_USERNAME_BAD = re.compile(r"[^A-Za-z0-9._-]+")


class OidcRefused(LoginFailed):
    """The identity provider's answer was refused; the message says why, for a person."""


class OidcUnavailable(PublisherError):
    """The identity provider could not be reached or answered nonsense."""


class OidcIdentity(Base):
    """Which user a provider's (issuer, subject) pair is."""

    __tablename__ = "oidc_identities"
    __table_args__ = (UniqueConstraint("user_id", name="uq_oidc_identities_user"),)

    issuer: Mapped[str] = mapped_column(String(300), primary_key=True)
    subject: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())


@dataclass(frozen=True)
class Pending:
    """What the browser's session keeps between ``begin`` and ``complete``."""

    state: str
    nonce: str
    verifier: str
    started: int  # unix seconds, the app's clock

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "nonce": self.nonce,
            "verifier": self.verifier,
            "started": self.started,
        }

    @classmethod
    def from_dict(cls, raw: object) -> Pending | None:
        if not isinstance(raw, dict):
            return None
        try:
            return cls(
                str(raw["state"]), str(raw["nonce"]), str(raw["verifier"]), int(raw["started"])
            )
        except (KeyError, TypeError, ValueError):
            return None


# -- the provider's published configuration and keys --------------------------------------


class Provider:
    """Discovery document and JWKS of one issuer, fetched on first use and cached."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer
        self._lock = threading.Lock()
        self._config: dict[str, Any] | None = None
        self._config_at = 0.0
        self._keys: KeySet | None = None
        self._keys_at = 0.0

    def config(self) -> dict[str, Any]:
        with self._lock:
            if self._config is None or time.monotonic() - self._config_at > DISCOVERY_TTL_SECONDS:
                found = _get_json(self.issuer + "/.well-known/openid-configuration")
                if found.get("issuer") != self.issuer:
                    raise OidcUnavailable(
                        f"the identity provider says its issuer is {found.get('issuer')!r}, "
                        f"not {self.issuer!r} as [oidc] issuer says"
                    )
                for needed in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                    if not isinstance(found.get(needed), str):
                        raise OidcUnavailable(f"the identity provider publishes no {needed}")
                self._config, self._config_at, self._keys = found, time.monotonic(), None
            return self._config

    def keys(self, refresh: bool = False) -> KeySet:
        """The provider's keys; ``refresh`` fetches them again, at most once a minute, so
        a stream of forged tokens cannot make us hammer the provider."""
        config = self.config()
        with self._lock:
            may_refresh = time.monotonic() - self._keys_at > JWKS_MIN_REFRESH_SECONDS
            if self._keys is None or (refresh and may_refresh):
                raw = _get_json(config["jwks_uri"])
                try:
                    self._keys = KeySet.import_key_set(raw)  # type: ignore[arg-type]
                    self._keys_at = time.monotonic()
                except (JoseError, ValueError, TypeError, KeyError) as exc:
                    raise OidcUnavailable(
                        f"the identity provider's keys could not be read ({type(exc).__name__})"
                    ) from None
            return self._keys


_providers: dict[str, Provider] = {}
_providers_lock = threading.Lock()


def provider(issuer: str) -> Provider:
    with _providers_lock:
        return _providers.setdefault(issuer, Provider(issuer))


def forget_providers() -> None:
    """Drop every cached discovery document and key set (tests start providers anew,
    and a port can come back with another provider behind it)."""
    with _providers_lock:
        _providers.clear()


def _get_json(url: str) -> dict[str, Any]:
    try:
        response = requests.get(url, timeout=TIMEOUT_SECONDS)
        response.raise_for_status()
        found = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise OidcUnavailable(
            f"the identity provider could not be reached at {url} ({type(exc).__name__})"
        ) from None
    if not isinstance(found, dict):
        raise OidcUnavailable(f"the identity provider's answer at {url} is not a JSON object")
    return found


def client_secret(settings: OidcSettings) -> str | None:
    return named_secret(
        "OpenID Connect client secret", settings.client_secret_env, settings.client_secret_file
    )


def _client(settings: OidcSettings, redirect_uri: str) -> OAuth2Session:
    secret = client_secret(settings)
    methods = (
        provider(settings.issuer)
        .config()
        .get("token_endpoint_auth_methods_supported", ["client_secret_basic"])
    )
    if secret is None:
        method = "none"  # a public client: PKCE alone
    elif "client_secret_basic" in methods:
        method = "client_secret_basic"
    else:
        method = "client_secret_post"
    return OAuth2Session(
        client_id=settings.client_id,
        client_secret=secret,
        scope=" ".join(settings.scopes),
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method=method,
    )


# -- the flow --------------------------------------------------------------------------------


def begin(settings: OidcSettings, redirect_uri: str, *, now: datetime) -> tuple[str, Pending]:
    """The provider's sign-in address to send the browser to, and what to keep."""
    pending = Pending(
        state=secrets.token_urlsafe(32),
        nonce=secrets.token_urlsafe(32),
        verifier=secrets.token_urlsafe(64),  # 86 characters: RFC 7636 allows 43-128
        started=int(now.timestamp()),
    )
    with _client(settings, redirect_uri) as client:
        url, _ = client.create_authorization_url(
            provider(settings.issuer).config()["authorization_endpoint"],
            state=pending.state,
            code_verifier=pending.verifier,
            nonce=pending.nonce,
        )
    return str(url), pending


def complete(
    settings: OidcSettings,
    db: Database,
    params: Mapping[str, str],
    pending: Pending | None,
    redirect_uri: str,
    *,
    now: datetime,
    known_accounts: Mapping[str, object] | None = None,
) -> Person:
    """The signed-in person for the provider's answer ``params`` (the callback's query)."""
    if pending is None:
        raise OidcRefused(
            "This sign-in was not started here, or it was started in another browser tab "
            "or window. Start again from the sign-in page."
        )
    given = params.get("state", "")
    if not hmac.compare_digest(given.encode(), pending.state.encode()):
        raise OidcRefused(
            "This answer from the identity provider does not belong to the sign-in started "
            "in this browser (its state does not match). Start again from the sign-in page."
        )
    if int(now.timestamp()) - pending.started > PENDING_SECONDS:
        raise OidcRefused("This sign-in took too long. Start again from the sign-in page.")
    if "error" in params:
        why = params.get("error_description") or params["error"]
        raise OidcRefused(f"The identity provider did not sign you in: {why[:300]}")
    code = params.get("code", "")
    if not code:
        raise OidcRefused("The identity provider's answer has no code. Start again.")
    with _client(settings, redirect_uri) as client:
        try:
            token = client.fetch_token(
                provider(settings.issuer).config()["token_endpoint"],
                grant_type="authorization_code",
                code=code,
                code_verifier=pending.verifier,
                timeout=TIMEOUT_SECONDS,
            )
        except OAuth2Error as exc:
            raise OidcRefused(
                f"The identity provider refused the sign-in code ({exc.error})."
            ) from None
        except requests.RequestException as exc:
            raise OidcUnavailable(
                f"the identity provider's token endpoint could not be reached "
                f"({type(exc).__name__})"
            ) from None
    raw = token.get("id_token")
    if not isinstance(raw, str):
        raise OidcRefused("The identity provider sent no ID token.")
    claims = validate_id_token(settings, raw, nonce=pending.nonce, now=now)
    return sign_in(settings, db, claims, now=now, known_accounts=known_accounts)


def validate_id_token(
    settings: OidcSettings, raw: str, *, nonce: str, now: datetime
) -> dict[str, Any]:
    """The claims of ``raw`` if it is a good ID token for us, else ``OidcRefused``."""
    source = provider(settings.issuer)
    try:
        token = jwt.decode(raw, source.keys(), algorithms=list(ALGORITHMS))
    except (JoseError, ValueError) as exc:
        if not _unknown_key(exc):
            raise OidcRefused(_bad_token(exc)) from None
        try:  # the provider may have rotated its keys since we fetched them
            token = jwt.decode(raw, source.keys(refresh=True), algorithms=list(ALGORITHMS))
        except (JoseError, ValueError) as again:
            raise OidcRefused(_bad_token(again)) from None
    claims: dict[str, Any] = dict(token.claims)
    registry = jwt.JWTClaimsRegistry(
        now=int(now.timestamp()),
        leeway=settings.leeway_seconds,
        iss={"essential": True, "value": settings.issuer},
        aud={"essential": True, "value": settings.client_id},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
    )
    try:
        registry.validate(claims)
    except JoseError as exc:
        raise OidcRefused(
            f"The identity provider's ID token was refused: {exc.description or exc.error}."
        ) from None
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != settings.client_id:
        raise OidcRefused("The ID token was issued to another application (azp).")
    if not hmac.compare_digest(str(claims.get("nonce", "")).encode(), nonce.encode()):
        raise OidcRefused(
            "The ID token does not belong to the sign-in started in this browser (its nonce "
            "does not match). Start again from the sign-in page."
        )
    return claims


def _unknown_key(exc: Exception) -> bool:
    return type(exc).__name__ in ("InvalidKeyIdError", "MissingKeyError", "ValueError")


def _bad_token(exc: Exception) -> str:
    what = getattr(exc, "description", "") or type(exc).__name__
    return f"The identity provider's ID token was refused: its signature is not right ({what})."


# -- groups to role and accounts ---------------------------------------------------------------


def rights_from_groups(settings: OidcSettings, groups: object) -> tuple[Role, list[str]] | None:
    """The highest role of the groups that match, and the union of their accounts."""
    names = [groups] if isinstance(groups, str) else groups if isinstance(groups, list) else []
    matched = [settings.groups[g] for g in names if isinstance(g, str) and g in settings.groups]
    if not matched:
        return None
    role = max((Role(m.role) for m in matched), key=_RANK.__getitem__)
    accounts: set[str] = set()
    for mapping in matched:
        if not mapping.accounts or ALL_ACCOUNTS in mapping.accounts:
            return role, [ALL_ACCOUNTS]
        accounts.update(mapping.accounts)
    return role, sorted(accounts)


def sign_in(
    settings: OidcSettings,
    db: Database,
    claims: Mapping[str, Any],
    *,
    now: datetime,
    known_accounts: Mapping[str, object] | None = None,
) -> Person:
    """Find or create the user of these (already validated) claims and set their rights."""
    issuer, subject = settings.issuer, str(claims["sub"])
    overage = claims.get("_claim_names")
    if isinstance(overage, dict) and settings.groups_claim in overage:
        # Entra ID leaves the groups out of a token when a user is in too many (over 200)
        # and points to Microsoft Graph instead; we ask for no Graph rights, so say how to
        # fix it rather than guess the person's groups.
        raise OidcRefused(
            "Your organisation's sign-in sent no list of your groups (you are in too many "
            "to fit in the token). An administrator can fix this: in the app registration, "
            'send only "Groups assigned to the application".'
        )
    rights = rights_from_groups(settings, claims.get(settings.groups_claim))
    wanted_name = _username(claims, settings.username_claim, subject)
    refusal: OidcRefused | None = None
    with db.transaction() as session:
        link = session.get(OidcIdentity, (issuer, subject))
        user = session.get(User, link.user_id) if link is not None else None
        if rights is None:
            record_event(
                session,
                actor=user.username if user else "anonymous",
                action="login_failed",
                now=now,
                detail={"via": "oidc", "user": wanted_name, "why": "in no group mapped to a role"},
            )
            refusal = OidcRefused(
                "You signed in with your organisation, but you are in none of the groups "
                "that may use Campaign Publisher. Ask an administrator to add you to the "
                "right group."
            )
        elif user is not None and user.disabled:
            record_event(
                session,
                actor=user.username,
                action="login_failed",
                now=now,
                detail={"via": "oidc", "why": "disabled"},
            )
            refusal = OidcRefused("This user is disabled here. Ask an administrator.")
        else:
            role, accounts = rights
            if known_accounts is not None:
                accounts = [a for a in accounts if a == ALL_ACCOUNTS or a in known_accounts]
            if user is None:
                user = _new_user(session, wanted_name, claims, now)
                if user is None:
                    record_event(
                        session,
                        actor="anonymous",
                        action="login_failed",
                        now=now,
                        detail={
                            "via": "oidc",
                            "user": wanted_name,
                            "why": "a local user has that name",
                        },
                    )
                    refusal = OidcRefused(
                        f"There is already a local user called {wanted_name!r} here, not "
                        "linked to your organisation's sign-in. Ask an administrator."
                    )
                else:
                    session.add(
                        OidcIdentity(
                            issuer=issuer,
                            subject=subject,
                            user_id=user.id,
                            first_seen_at=now,
                            last_seen_at=now,
                        )
                    )
            if user is not None and refusal is None:
                _follow_groups(session, user, role, accounts, now)
                if link is not None:
                    link.last_seen_at = now
                user.last_login_at = now
                record_event(
                    session, actor=user.username, action="login", now=now, detail={"via": "oidc"}
                )
                session.flush()
                return _person(session, user)
    assert refusal is not None
    raise refusal


def _username(claims: Mapping[str, Any], claim: str, subject: str) -> str:
    for value in (claims.get(claim), claims.get("email"), "oidc-" + subject):
        if isinstance(value, str) and value.strip():
            name = _USERNAME_BAD.sub("-", value.strip().lower()).strip("-._")
            if name in RESERVED_NAMES:
                name = "oidc-" + name  # never the service's own name
            if len(name) >= 2:
                return name[:100]
    return ("oidc-" + _USERNAME_BAD.sub("-", subject))[:100]


def _new_user(
    session: Session, username: str, claims: Mapping[str, Any], now: datetime
) -> User | None:
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        return None
    display = claims.get("name")
    user = User(
        username=username,
        display_name=display[:200] if isinstance(display, str) else "",
        role=Role.AUTHOR.value,  # set from the groups just after
        # A random password nobody knows: the user signs in through the provider only,
        # and a password attempt for this name costs the same as for any other user.
        password_hash=hash_password(secrets.token_urlsafe(32)),
        disabled=False,
        created_at=now,
        updated_at=now,
    )
    session.add(user)
    session.flush()
    record_event(
        session,
        actor="oidc",
        action="user_added",
        now=now,
        detail={"user": username, "via": "oidc"},
    )
    return user


def _follow_groups(
    session: Session, user: User, role: Role, accounts: list[str], now: datetime
) -> None:
    """Set the role and accounts the groups give, recording each change; a change ends
    the user's other sessions (this sign-in starts a new one)."""
    from .sessions import end_for_user

    if user.role != role.value:
        end_for_user(session, user.id)
        record_event(
            session,
            actor="oidc",
            action="user_role_set",
            now=now,
            detail={
                "user": user.username,
                "from": user.role,
                "to": role.value,
                "via": "oidc groups",
            },
        )
        user.role, user.updated_at = role.value, now
    held = sorted(
        session.scalars(select(UserAccount.account).where(UserAccount.user_id == user.id))
    )
    if held != sorted(accounts):
        end_for_user(session, user.id)
        session.execute(delete(UserAccount).where(UserAccount.user_id == user.id))
        session.add_all(UserAccount(user_id=user.id, account=a) for a in accounts)
        record_event(
            session,
            actor="oidc",
            action="user_accounts_set",
            now=now,
            detail={"user": user.username, "accounts": accounts, "via": "oidc groups"},
        )
        user.updated_at = now
    session.flush()


def linked(db: Database, user_id: int) -> bool:
    """Whether this user signs in through the identity provider."""
    with db.transaction() as session:
        found = session.scalar(select(OidcIdentity.user_id).where(OidcIdentity.user_id == user_id))
        return found is not None
