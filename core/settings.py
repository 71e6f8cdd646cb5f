"""Settings: ``config.toml`` parsed with tomllib into a frozen, validated object.

Look-up order: ``--config PATH``, then ``PUBLISHER_CONFIG``, then ``./config.toml``, then
``/etc/campaign-publisher/config.toml``, then the built-in defaults of the classes below
(SQLite in ``./state``, ``Europe/London``, no accounts).
``PUBLISHER_<KEY>`` or ``PUBLISHER_<SECTION>_<KEY>`` environment variables override a
value, e.g. ``PUBLISHER_DATABASE_URL`` or ``PUBLISHER_WORKER_THREADS``.

Relative paths are relative to the directory of the config file. Secrets never live
here: an account names the environment variables (or a 0600 secrets file) holding them.
"""

from __future__ import annotations

import os
import tomllib
from datetime import datetime, time
from pathlib import Path
from typing import (
    Any,
    Literal,
    TypeVar,
    get_origin,
)
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from channels.networks import NETWORKS
from channels.networks import NetworkName as Network

from .errors import SettingsError
from .records import Field, InvalidSettings, field_check, whole_check
from .records import Record as _Frozen

_R = TypeVar("_R", bound=_Frozen)

# Environment variables with this prefix that are not settings.
# Not settings: who runs a command (PUBLISHER_TOKEN is a secret, read by the command line
# only; PUBLISHER_USER is no longer read), which settings file, a new user's password.
_NOT_SETTINGS = {
    "PUBLISHER_USER",
    "PUBLISHER_TOKEN",
    "PUBLISHER_CONFIG",
    "PUBLISHER_NEW_PASSWORD",
}

class DatabaseSettings(_Frozen):
    # Empty means "publisher.db in the state directory".
    url: str = ""


class WorkerSettings(_Frozen):
    # Safety net for posts approved by another process; same-process approvals re-arm at once.
    fallback_poll_seconds: float = Field(default=5.0, gt=0)
    # A claim is this worker's for lease_seconds; a living worker renews every lease it
    # holds (waiting or in flight) every lease_renew_seconds, so only a worker that died or
    # stalled loses one. Short leases mean a killed worker's posts move on in seconds.
    lease_seconds: float = Field(default=30.0, ge=1)
    lease_renew_seconds: float = Field(default=10.0, gt=0)
    batch_size: int = Field(default=50, ge=1)
    # Sends in flight at once; unset: one per account, since an account's posts go one at
    # a time and different accounts' posts should all be on the wire together.
    threads: int | None = Field(default=None, ge=1)
    max_attempts: int = Field(default=5, ge=1)
    backoff_base_seconds: float = Field(default=30.0, gt=0)
    backoff_cap_seconds: float = Field(default=3600.0, gt=0)
    stale_after_minutes: float = Field(default=120.0, gt=0)
    request_timeout_seconds: float = Field(default=20.0, gt=0)
    # A send in doubt (timeout, 5xx, dropped connection, a worker that died mid-send) is
    # looked up this many seconds after its request could have started, at the latest;
    # only after the last look may a network without idempotency keys be sent to again.
    check_after_seconds: tuple[float, ...] = (30.0, 120.0, 600.0)

    @whole_check
    def _safe(self) -> None:
        """Refuse settings under which a living worker could lose a lease, or a request
        still in flight could be missed by the look-ups."""
        if self.lease_renew_seconds * 3 > self.lease_seconds:
            raise ValueError(
                f"worker.lease_renew_seconds ({self.lease_renew_seconds:g}) must be at most a "
                f"third of worker.lease_seconds ({self.lease_seconds:g}), so that a living "
                "worker renews each lease well before it expires"
            )
        checks = self.check_after_seconds
        if not checks or any(c <= 0 for c in checks) or list(checks) != sorted(set(checks)):
            raise ValueError(
                "worker.check_after_seconds must be increasing positive numbers of seconds"
            )
        if checks[-1] <= self.request_timeout_seconds:
            raise ValueError(
                f"the last of worker.check_after_seconds ({checks[-1]:g}) must be longer than "
                f"worker.request_timeout_seconds ({self.request_timeout_seconds:g}): a request "
                "still in flight would be missed"
            )


class Blackout(_Frozen):
    """A window set in advance (pre-election period, national mourning)."""

    start: datetime
    end: datetime
    reason: str = Field(min_length=1)
    accounts: tuple[str, ...] = ()  # empty: every account

    @field_check("start", "end")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("give a time zone offset, e.g. 2027-05-01T00:00:00+01:00")
        return value


class AccountSettings(_Frozen):
    """One social media account of the force."""

    network: Network
    handle: str = Field(min_length=1)  # @handle, Page id, or user@instance
    display_name: str = ""
    languages: tuple[str, ...] = ("en",)
    # Dry run sends to the outbox instead of the network: the safe default.
    dry_run: bool = True
    # Credential name -> environment variable holding it, e.g. {access_token = "GWENT_X_TOKEN"}.
    credentials: dict[str, str] = Field(default_factory=dict)
    # Optional TOML file of credential name -> value; refused unless its mode is 0600.
    secrets_file: Path | None = None
    # For tests and sandboxes; the network's public API otherwise.
    api_base_url: str | None = None
    # The account's own text limit where it differs from the network's (a Mastodon
    # instance allowing 1000: `publisher accounts check` reports the instance's). Lint
    # and previews count to it; unset means the network's (channels/networks.py).
    text_limit: int | None = Field(default=None, gt=0)
    # Mastodon only: who sees the posts. Always sent, so the account's own default
    # (unlisted on some accounts) never decides.
    visibility: Literal["public", "unlisted", "private"] = "public"
    # When the account's credentials stop working unless a person renews them, with a zone
    # offset (e.g. 2027-01-05T10:00:00+00:00): a LinkedIn access token's 60 days, or with a
    # refresh token the refresh token's year. `publisher doctor` and `accounts check` count
    # down to it (a network that can ask, such as LinkedIn with client_id, asks instead).
    token_expires_at: datetime | None = None

    @field_check("token_expires_at")
    @classmethod
    def _aware_expiry(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a time zone offset, e.g. 2027-01-05T10:00:00+00:00")
        return value


class HealthSettings(_Frozen):
    """The worker's ``/healthz`` and ``/metrics`` (Prometheus)."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=9184, ge=0, le=65535)  # 0: any free port (tests), logged at start
    # /healthz answers 503 when the last dispatch loop is older than this.
    max_loop_age_seconds: float = Field(default=120.0, gt=0)


class NotifySettings(_Frozen):
    """Who is told when something needs a person: email (SMTP) and/or a webhook.

    Secrets are named, never written here: ``smtp_password_env`` and ``webhook_url_env``
    name environment variables (an incoming-webhook URL is itself a secret)."""

    email_to: tuple[str, ...] = ()
    email_from: str = ""
    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str = ""
    smtp_password_env: str = ""
    smtp_starttls: bool = True
    # A PEM file of CA certificates to trust for STARTTLS (a private mail relay).
    smtp_ca_file: Path | None = None
    webhook_url_env: str = ""
    timeout_seconds: float = Field(default=10.0, gt=0)
    # The daily digest of tomorrow's posts still awaiting approval, at this local time.
    daily_digest: bool = True
    digest_time: time = time(16, 0)


class RetentionSettings(_Frozen):
    """Published posts' text is deleted after this many days; the audit record stays."""

    delete_text_after_days: int = Field(default=0, ge=0)  # 0: keep the text for ever
    run_time: time = time(3, 30)  # local time the worker applies it each day


class WebSettings(_Frozen):
    """The install's public face: where a network that fetches images itself (Instagram)
    gets them. ``public_url`` is the HTTPS address of the web app's reverse proxy; only
    ``/media/`` must be open to the internet there (docs/accounts.md, Instagram).

    The key that signs image URLs is named, never written here: ``media_key_env`` names an
    environment variable, or ``media_key_file`` a file readable by its owner only. The
    worker (which signs) and the web app (which checks) need the same key."""

    public_url: str = ""
    media_key_env: str = ""
    media_key_file: Path | None = None
    # How long a signed image URL stays valid: the network fetches it within the send.
    media_url_minutes: float = Field(default=10.0, gt=0, le=60)
    # A signed-in session ends after this long unused, and this long after sign-in.
    session_idle_minutes: float = Field(default=30.0, gt=0, le=24 * 60)
    session_max_hours: float = Field(default=12.0, gt=0, le=24 * 7)
    # Every refused sign-in answers after this long (longer than a password hash takes).
    sign_in_answer_seconds: float = Field(default=1.0, ge=0, le=10)

    @field_check("public_url")
    @classmethod
    def _public(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value:
            return ""
        parts = urlsplit(value)
        local = parts.scheme == "http" and parts.hostname == "127.0.0.1"  # tests only
        if parts.scheme != "https" and not local:
            raise ValueError(
                f"must be an https:// address (the web app's reverse proxy), not {value!r}"
            )
        if not parts.hostname or parts.query or parts.fragment or parts.username:
            raise ValueError(
                "must be a plain address such as https://publisher.force.police.uk "
                "(no user, query or fragment)"
            )
        return value

    @field_check("media_key_env")
    @classmethod
    def _variable(cls, value: str) -> str:
        if value.startswith("PUBLISHER_"):
            raise ValueError(
                f"{value}: variables starting PUBLISHER_ are settings; choose another name, "
                "e.g. MEDIA_SIGNING_KEY"
            )
        return value

    @property
    def media_key_named(self) -> bool:
        return bool(self.media_key_env or self.media_key_file)


RoleName = Literal["author", "reviewer", "administrator"]


def _loopback_or_https(value: str, what: str) -> str:
    """An https:// address, or http://127.0.0.1 (the tests' own servers only)."""
    value = value.strip().rstrip("/")
    if not value:
        return ""
    parts = urlsplit(value)
    local = parts.scheme == "http" and parts.hostname == "127.0.0.1"
    if parts.scheme != "https" and not local:
        raise ValueError(f"{what} must be an https:// address, not {value!r}")
    if not parts.hostname or parts.query or parts.fragment or parts.username:
        raise ValueError(f"{what} must be a plain address (no user, query or fragment)")
    return value


class OidcGroup(_Frozen):
    """What members of one identity-provider group may do here."""

    role: RoleName
    # Accounts they may act on; empty means every account.
    accounts: tuple[str, ...] = ()


class OidcSettings(_Frozen):
    """Sign-in with the force's identity provider (OpenID Connect: Entra ID or any other).

    Off while ``issuer`` is empty. The client secret is named, never written here:
    ``client_secret_env`` names an environment variable, or ``client_secret_file`` a file
    readable by its owner only. ``groups`` maps the provider's group names (Entra ID: the
    group's object id, or an app role's value with ``groups_claim = "roles"``) to a role and
    accounts; someone in none of them is refused."""

    issuer: str = ""
    client_id: str = ""
    client_secret_env: str = ""
    client_secret_file: Path | None = None
    groups_claim: str = "groups"
    # The claim a new user's name is made from (Entra ID: preferred_username, the UPN).
    username_claim: str = "preferred_username"
    scopes: tuple[str, ...] = ("openid", "profile", "email")
    button_label: str = "Sign in with your organisation"
    # Seconds of clock difference allowed when checking the ID token's times.
    leeway_seconds: int = Field(default=60, ge=0, le=300)
    groups: dict[str, OidcGroup] = Field(default_factory=dict)

    @field_check("issuer")
    @classmethod
    def _issuer(cls, value: str) -> str:
        return _loopback_or_https(value, "the issuer")

    @field_check("client_secret_env")
    @classmethod
    def _secret_variable(cls, value: str) -> str:
        if value.startswith("PUBLISHER_"):
            raise ValueError(
                f"{value}: variables starting PUBLISHER_ are settings; choose another name, "
                "e.g. OIDC_CLIENT_SECRET"
            )
        return value

    @whole_check
    def _complete(self) -> None:
        if self.issuer:
            if not self.client_id:
                raise ValueError("oidc.client_id is needed when oidc.issuer is set")
            if not self.groups:
                raise ValueError(
                    "oidc.groups maps no group to a role: nobody could sign in "
                    '(e.g. [oidc.groups."comms-reviewers"] role = "reviewer")'
                )
            if "openid" not in self.scopes:
                raise ValueError('oidc.scopes must include "openid"')

    @property
    def enabled(self) -> bool:
        return bool(self.issuer)


class TwoFactorSettings(_Frozen):
    """Two-factor sign-in (TOTP) for local accounts.

    ``required_roles`` must turn it on before doing anything else (``publisher users
    require-2fa`` adds roles in the database too). TOTP secrets are stored encrypted with a
    key named here (``key_env`` or ``key_file``, owner-only); unset, a key is made once in
    the state directory (``two-factor-key``, mode 0600). Every web host needs the same key."""

    required_roles: tuple[RoleName, ...] = ()
    # The name an authenticator app shows beside the code.
    issuer_name: str = "Campaign Publisher"
    key_env: str = ""
    key_file: Path | None = None

    @field_check("key_env")
    @classmethod
    def _key_variable(cls, value: str) -> str:
        if value.startswith("PUBLISHER_"):
            raise ValueError(
                f"{value}: variables starting PUBLISHER_ are settings; choose another name, "
                "e.g. TWO_FACTOR_KEY"
            )
        return value

class SignoffStage(_Frozen):
    """One stage of sign-off, e.g. "Welsh language check" by a translator, then "sign-off"
    by a reviewer: who may approve it (user names and/or roles; ``external`` lets a partner
    approve through a review link) and whether one of them or all of the named users must."""

    name: str = Field(min_length=1, max_length=100)
    users: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    external: bool = False
    require: Literal["one", "all"] = "one"
    # Only posts in these languages need this stage (e.g. ["cy"]); empty: every post.
    languages: tuple[str, ...] = ()

    @whole_check
    def _someone(self) -> None:
        if not (self.users or self.roles or self.external):
            raise ValueError(
                f"stage {self.name!r}: say who may approve it (users, roles or external = true)"
            )
        if self.require == "all" and (self.roles or self.external or not self.users):
            raise ValueError(
                f"stage {self.name!r}: require = \"all\" needs a list of users (and no roles "
                "or external reviewers, whose number is not known)"
            )


def _distinct_stages(stages: tuple[SignoffStage, ...]) -> tuple[SignoffStage, ...]:
    names = [s.name.casefold() for s in stages]
    twice = sorted({s.name for s in stages if names.count(s.name.casefold()) > 1})
    if twice:
        raise ValueError(f"two stages are called {', '.join(map(repr, twice))}")
    return stages


class SignoffPlan(_Frozen):
    """The stages of one account or campaign, in order."""

    stages: tuple[SignoffStage, ...] = ()

    @field_check("stages")
    @classmethod
    def _distinct(cls, value: tuple[SignoffStage, ...]) -> tuple[SignoffStage, ...]:
        return _distinct_stages(value)


class SignoffSettings(_Frozen):
    """Sign-off in stages (``[[signoff.stages]]``): the default for every post, replaced
    for an account by ``[[signoff.accounts.NAME.stages]]`` and for a campaign by
    ``[[signoff.campaigns.NAME.stages]]`` (campaign first, then account, then default).
    No stages: one approval by a reviewer, as before.

    ``contacts`` maps a user name to the email address told when a post waits for them."""

    stages: tuple[SignoffStage, ...] = ()
    accounts: dict[str, SignoffPlan] = Field(default_factory=dict)
    campaigns: dict[str, SignoffPlan] = Field(default_factory=dict)
    contacts: dict[str, str] = Field(default_factory=dict)
    # The longest an external review link may live.
    review_link_max_days: float = Field(default=30.0, gt=0, le=366)

    @field_check("stages")
    @classmethod
    def _distinct(cls, value: tuple[SignoffStage, ...]) -> tuple[SignoffStage, ...]:
        return _distinct_stages(value)

    @field_check("contacts")
    @classmethod
    def _addresses(cls, value: dict[str, str]) -> dict[str, str]:
        for name, address in value.items():
            if address.count("@") != 1 or any(c.isspace() for c in address):
                raise ValueError(f"{name}: {address!r} is not an email address")
        return value

    @property
    def staged(self) -> bool:
        """Whether any post can have stages (else: one approval by a reviewer)."""
        plans = [*self.accounts.values(), *self.campaigns.values()]
        return bool(self.stages) or any(plan.stages for plan in plans)

    def plan_for(self, *, campaign: str, account: str) -> tuple[SignoffStage, ...]:
        """The stages a post of ``campaign`` on ``account`` needs (before languages)."""
        if campaign in self.campaigns:
            return self.campaigns[campaign].stages
        if account in self.accounts:
            return self.accounts[account].stages
        return self.stages


class Settings(_Frozen):
    config_path: Path | None = None
    state_dir: Path = Path("state")
    timezone: str = "Europe/London"
    graph_api_version: str = "v25.0"
    # LinkedIn's API version (LinkedIn-Version: YYYYMM); LinkedIn retires each about a year
    # after its release, so move it forward when LinkedIn announces a sunset.
    linkedin_version: str = Field(default="202605", pattern=r"^20\d{2}(0[1-9]|1[0-2])$")
    # A file (owner-only) holding the personal token the command line acts with, when
    # PUBLISHER_TOKEN is not set (people/tokens.py).
    token_file: Path | None = None
    database: DatabaseSettings = DatabaseSettings()
    worker: WorkerSettings = WorkerSettings()
    accounts: dict[str, AccountSettings] = Field(default_factory=dict)
    blackouts: tuple[Blackout, ...] = ()
    health: HealthSettings = HealthSettings()
    notify: NotifySettings = NotifySettings()
    retention: RetentionSettings = RetentionSettings()
    web: WebSettings = WebSettings()
    oidc: OidcSettings = OidcSettings()
    two_factor: TwoFactorSettings = TwoFactorSettings()
    signoff: SignoffSettings = SignoffSettings()

    @whole_check
    def _signoff_accounts_exist(self) -> None:
        unknown = sorted(set(self.signoff.accounts) - set(self.accounts))
        if unknown:
            known = ", ".join(sorted(self.accounts)) or "none"
            raise ValueError(
                f"signoff.accounts names unknown account(s) {', '.join(unknown)} "
                f"(configured: {known})"
            )

    @whole_check
    def _images_can_be_fetched(self) -> None:
        """A network that fetches every post's image itself (Instagram) can only publish
        when this install serves them: refused here, before anything is planned or claimed.
        (Threads fetches images too, but takes text posts: its image posts fail before any
        request when [web] is missing.)"""
        for name, account in self.accounts.items():
            row = NETWORKS.get(account.network)
            if account.dry_run or row is None or not (row.fetches_images and row.needs_image):
                continue
            missing = [
                what
                for what, ok in (
                    ("public_url (the https address of the web app)", self.web.public_url),
                    (
                        "media_key_env or media_key_file (the key that signs image links)",
                        self.web.media_key_named,
                    ),
                )
                if not ok
            ]
            if missing:
                raise ValueError(
                    f"account {name!r}: {row.name} fetches every image from a public address, "
                    f"so [web] needs {' and '.join(missing)}; see docs/accounts.md ({row.name})"
                )

    @whole_check
    def _oidc_accounts_known(self) -> None:
        for group, mapping in self.oidc.groups.items():
            unknown = sorted(set(mapping.accounts) - set(self.accounts) - {"*"})
            if unknown:
                raise ValueError(
                    f"oidc.groups.{group}: unknown account(s) {', '.join(unknown)} "
                    f"(configured: {', '.join(sorted(self.accounts)) or 'none'})"
                )

    @field_check("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.state_dir / 'publisher.db'}"

    @property
    def outbox_path(self) -> Path:
        return self.state_dir / "outbox.jsonl"

    def account(self, name: str) -> AccountSettings:
        try:
            return self.accounts[name]
        except KeyError:
            known = ", ".join(sorted(self.accounts)) or "none"
            raise SettingsError(f"unknown account {name!r} (configured: {known})") from None


SYSTEM_CONFIG = Path("/etc/campaign-publisher/config.toml")


def default_config_path(environ: dict[str, str] | None = None) -> Path | None:
    """The settings file the documented look-up finds, or None for the built-in defaults."""
    env = os.environ if environ is None else environ
    explicit = env.get("PUBLISHER_CONFIG")
    if explicit:
        return Path(explicit)
    for candidate in (Path("config.toml"), SYSTEM_CONFIG):
        if candidate.is_file():
            return candidate
    return None


def load_settings(path: Path | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Read settings from ``path`` (or the default look-up) and the environment."""
    env = dict(os.environ if environ is None else environ)
    path = path or default_config_path(env)
    if path is None:
        text, where, base = "", "built-in defaults", Path.cwd()
    else:
        try:
            text = Path(path).read_text("utf-8")
        except OSError as exc:
            raise SettingsError(f"{path}: cannot read settings: {exc.strerror}") from None
        where, base = str(path), Path(path).resolve().parent
    try:
        raw: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{where}: not valid TOML: {exc}") from None
    from_env = _apply_environment(raw, env)
    raw["config_path"] = path
    try:
        settings = Settings(**raw)
    except InvalidSettings as exc:
        raise SettingsError(_describe(exc, where, from_env)) from None
    return _resolve_paths(settings, base)


def _apply_environment(raw: dict[str, Any], env: dict[str, str]) -> dict[tuple[str, ...], str]:
    """Apply ``PUBLISHER_*`` overrides; returns which variable set which setting."""
    sections: dict[str, type[_Frozen]] = {
        "database": DatabaseSettings,
        "worker": WorkerSettings,
        "health": HealthSettings,
        "notify": NotifySettings,
        "retention": RetentionSettings,
        "web": WebSettings,
        "oidc": OidcSettings,
        "two_factor": TwoFactorSettings,
    }
    applied: dict[tuple[str, ...], str] = {}
    for name, value in env.items():
        if not name.startswith("PUBLISHER_") or name in _NOT_SETTINGS:
            continue
        key = name.removeprefix("PUBLISHER_").lower()
        for section, model in sections.items():
            field = key.removeprefix(section + "_")
            if key.startswith(section + "_") and field in model._fields:
                if get_origin(model.field_types()[field]) is tuple:
                    # A list in one variable: PUBLISHER_WORKER_CHECK_AFTER_SECONDS=30,120,600
                    raw.setdefault(section, {})[field] = [v.strip() for v in value.split(",")]
                else:
                    raw.setdefault(section, {})[field] = value
                applied[(section, field)] = name
                break
        else:
            if key in (
                "state_dir",
                "timezone",
                "graph_api_version",
                "linkedin_version",
                "token_file",
            ):
                raw[key] = value
                applied[(key,)] = name
            else:
                raise SettingsError(f"environment variable {name}: not a known setting")
    return applied


def _resolve_paths(settings: Settings, base: Path) -> Settings:
    state_dir = (
        settings.state_dir if settings.state_dir.is_absolute() else base / settings.state_dir
    )
    accounts = {
        name: acc.replace(secrets_file=base / acc.secrets_file)
        if acc.secrets_file and not acc.secrets_file.is_absolute()
        else acc
        for name, acc in settings.accounts.items()
    }
    url = settings.database.url
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
        url = prefix + str(base / url.removeprefix(prefix))
    token_file = settings.token_file
    if token_file is not None and not token_file.is_absolute():
        token_file = base / token_file
    return settings.replace(
        state_dir=state_dir,
        token_file=token_file,
        accounts=accounts,
        database=settings.database.replace(url=url),
        notify=_under(base, settings.notify, "smtp_ca_file"),
        web=_under(base, settings.web, "media_key_file"),
        oidc=_under(base, settings.oidc, "client_secret_file"),
        two_factor=_under(base, settings.two_factor, "key_file"),
    )


def _under(base: Path, section: _R, field: str) -> _R:
    """``section`` with its relative path ``field`` made relative to ``base``."""
    path: Path | None = getattr(section, field)
    if path is None or path.is_absolute():
        return section
    return section.replace(**{field: base / path})


def _describe(exc: InvalidSettings, where: str, from_env: dict[tuple[str, ...], str]) -> str:
    """Each problem named where it came from: the environment variable, else the file."""
    parts = []
    for loc, message in exc.errors:
        variable = from_env.get(loc)
        source = f"environment variable {variable}" if variable else f"{where}: {'.'.join(loc)}"
        if not loc:  # a check across sections (e.g. accounts and [web])
            source = where
        parts.append(f"{source}: {message}")
    return "; ".join(parts)
