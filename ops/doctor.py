"""``publisher doctor``: is this installation ready to publish? One line per check.

Each check answers ``ok``, ``warn`` (works, but someone should look) or ``FAIL`` (will
not work); any ``FAIL`` makes the command exit 1. The checks have no side effects beyond
a temporary file in the state directory and the channels' read-only identity look-ups:
doctor never migrates, publishes or creates a database. docs/service.md explains every
line and what to do about it.
"""

from __future__ import annotations

import contextlib
import errno
import importlib.metadata
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from channels.credentials import redact
from core.clock import Clock, SystemClock, utc
from core.errors import AuthenticationError, PublisherError
from core.settings import Settings

Status = Literal["ok", "warn", "FAIL"]
MIN_FREE_BYTES = 100 * 1024 * 1024  # below this: FAIL
LOW_FREE_BYTES = 1024 * 1024 * 1024  # below this: warn
CLOCK_TOLERANCE = timedelta(seconds=60)
#: An account whose credentials run out sooner than this is a warning (a person must renew
#: them: docs/accounts.md); once they have run out, a failure.
TOKEN_WARNING = timedelta(days=14)


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str

    @property
    def failed(self) -> bool:
        return self.status == "FAIL"

    def line(self) -> str:
        return f"{self.status:<4}  {self.name:<22} {self.detail}"


ChannelFactory = Callable[[str], Any]


def run_doctor(
    config: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    clock: Clock | None = None,
    channel_for: ChannelFactory | None = None,
) -> list[Check]:
    """Every check, in order. ``channel_for`` replaces the real channel registry (tests)."""
    from core.settings import load_settings

    from .logs import register_configured_secrets

    env = dict(os.environ if environ is None else environ)
    now = (clock or SystemClock()).now()
    checks: list[Check] = []
    try:
        settings = load_settings(config, environ=env)
    except PublisherError as exc:
        checks.append(Check("settings", "FAIL", str(exc)))
        checks.append(check_sqlite_version(None))
        checks.append(Check("other checks", "FAIL", "skipped: the settings must load first"))
        return checks
    register_configured_secrets(settings, env)
    checks.append(check_settings(settings))
    checks.append(check_sqlite_version(settings))
    database_check, newest_event = check_database(settings)
    checks.append(database_check)
    checks.extend(check_accounts(settings, env, channel_for, now=now))
    checks.append(check_clock(settings, now, newest_event))
    checks.append(check_timezone(settings, now))
    checks.append(check_disk(settings))
    checks.append(check_state_dir(settings))
    checks.append(check_notifications(settings, env))
    checks.append(check_health_settings(settings))
    return checks


def check_settings(settings: Settings) -> Check:
    source = str(settings.config_path) if settings.config_path else "the built-in defaults"
    live = [n for n, a in settings.accounts.items() if not a.dry_run]
    return Check(
        "settings",
        "ok",
        f"{source}: {len(settings.accounts)} account(s) ({len(live)} live), "
        f"time zone {settings.timezone}, state in {settings.state_dir}",
    )


def check_sqlite_version(settings: Settings | None) -> Check:
    from posts.db import MIN_SQLITE

    version = sqlite3.sqlite_version
    needed = ".".join(str(n) for n in MIN_SQLITE[:2])
    uses_sqlite = settings is None or settings.database_url.startswith("sqlite")
    if sqlite3.sqlite_version_info >= MIN_SQLITE:
        return Check("sqlite", "ok", f"SQLite {version} ({needed} or newer needed)")
    if not uses_sqlite:
        return Check("sqlite", "ok", f"SQLite {version} is too old, but not used (PostgreSQL)")
    return Check(
        "sqlite",
        "FAIL",
        f"SQLite {version} is too old: {needed} or newer is needed (UPDATE … RETURNING); "
        "use a newer Python build or PostgreSQL",
    )


def _shown_url(url: str) -> str:
    if url.startswith("sqlite"):
        return url.split("///", 1)[-1] or url
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparsable URL)"


def check_database(settings: Settings) -> tuple[Check, datetime | None]:
    """Reachable, and at the newest migration. Never creates or migrates anything."""
    from sqlalchemy import func, select

    from posts.db import Database
    from posts.models import Event

    url = settings.database_url
    shown = _shown_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:" and not Path(path).exists():
            return Check(
                "database",
                "FAIL",
                f"no database at {path} yet: run `publisher db upgrade` to create it",
            ), None
    db: Database | None = None
    try:
        db = Database(url)
        current, head = db.migration_level()
        newest = None
        if current is not None:
            with db.transaction() as session:
                newest = session.scalar(select(func.max(Event.at)))
    except Exception as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return Check("database", "FAIL", f"{shown} unreachable: {redact(message)}"), None
    finally:
        if db is not None:
            db.dispose()
    if current is None:
        return Check(
            "database",
            "FAIL",
            f"{shown} is reachable but has no schema: run `publisher db upgrade`",
        ), None
    if current != head:
        return Check(
            "database",
            "FAIL",
            f"{shown} is at migration {current}, the newest is {head}: run `publisher db upgrade`",
        ), newest
    return Check("database", "ok", f"{shown} reachable, migration {current} (the newest)"), newest


def check_accounts(
    settings: Settings,
    environ: Mapping[str, str],
    channel_for: ChannelFactory | None,
    only: Sequence[str] = (),
    now: datetime | None = None,
) -> list[Check]:
    """One check per account, or per account named in ``only`` (an unknown name raises
    ``SettingsError`` naming the configured ones); and a ``token`` line after an account
    whose credentials have a known expiry (``check_token_expiry``)."""
    for name in only:  # every name first: a typo checks nothing
        settings.account(name)
    if not settings.accounts:
        return [Check("accounts", "warn", "no accounts configured: nothing can be published")]
    checks = []
    for name in list(dict.fromkeys(only)) or sorted(settings.accounts):
        account = settings.accounts[name]
        label = f"account {name}"
        if account.dry_run:
            checks.append(
                Check(
                    label,
                    "ok",
                    f"dry run, no credentials needed (posts go to {settings.outbox_path})",
                )
            )
            continue
        channel = None
        try:
            if channel_for is not None:
                channel = channel_for(name)
            else:
                from channels.registry import channel_for as registry_channel_for

                channel = registry_channel_for(name, account, settings, environ)
            identity = channel.check()
            checks.append(Check(label, "ok", f"{account.network}: credentials work as {identity}"))
        except PublisherError as exc:
            checks.append(Check(label, "FAIL", f"{account.network}: {redact(str(exc))}"))
        except Exception as exc:  # a bug must not hide the other lines
            checks.append(
                Check(
                    label,
                    "FAIL",
                    f"{account.network}: unexpected {type(exc).__name__}: {redact(str(exc))}",
                )
            )
        finally:
            if channel is not None:
                token = check_token_expiry(name, channel, now or SystemClock().now())
                if token is not None:
                    checks.append(token)
                with contextlib.suppress(Exception):
                    channel.close()
    return checks


def check_token_expiry(name: str, channel: Any, now: datetime) -> Check | None:
    """``token NAME``: ok, ``warn`` within ``TOKEN_WARNING`` of ``channel.expires_at()``,
    ``FAIL`` once past it or when the network says the token is refused; ``None`` when the
    channel knows no expiry."""
    label = f"token {name}"
    try:
        expires = channel.expires_at()
    except AuthenticationError as exc:
        return Check(label, "FAIL", redact(str(exc)))
    except PublisherError as exc:
        return Check(label, "warn", f"expiry unknown: {redact(str(exc))}")
    except Exception as exc:  # a bug must not hide the other lines
        return Check(label, "warn", f"expiry unknown: unexpected {type(exc).__name__}")
    if expires is None:
        return None
    shown = describe_expiry(expires, now)
    if expires <= now:
        return Check(label, "FAIL", f"{shown}: renew it now (docs/accounts.md)")
    if expires - now < TOKEN_WARNING:
        return Check(label, "warn", f"{shown}: renew it before then (docs/accounts.md)")
    return Check(label, "ok", shown)


def describe_expiry(expires: datetime, now: datetime) -> str:
    """``token expires in 43 days (2027-01-05 10:00 UTC)``, or ``token expired …``."""
    when = f"{utc(expires):%Y-%m-%d %H:%M} UTC"
    left = utc(expires) - now
    if left <= timedelta(0):
        return f"token expired on {when}"
    if left < timedelta(days=1):
        hours = int(left.total_seconds() // 3600)
        return f"token expires in {hours} hour{'s' * (hours != 1)} ({when})"
    return f"token expires in {left.days} day{'s' * (left.days != 1)} ({when})"


@dataclass(frozen=True)
class TokenExpiry:
    account: str
    network: str
    expires_at: datetime


def expiring_tokens(
    settings: Settings,
    environ: Mapping[str, str],
    now: datetime,
    *,
    within: timedelta = TOKEN_WARNING,
    channel_for: ChannelFactory | None = None,
) -> list[TokenExpiry]:
    """The live accounts whose credentials run out within ``within`` of ``now`` (or have
    already), soonest first: for a notice days before (the daily digest can call it). An
    account whose channel cannot be built or cannot tell is left out: ``publisher doctor``
    names those."""
    from channels.registry import channel_for as registry_channel_for

    found = []
    for name, account in sorted(settings.accounts.items()):
        if account.dry_run:
            continue
        channel = None
        try:
            if channel_for is not None:
                channel = channel_for(name)
            else:
                channel = registry_channel_for(name, account, settings, environ)
            expires = channel.expires_at()
        except Exception:  # doctor reports why; a notice is about what is known
            expires = None
        finally:
            if channel is not None:
                with contextlib.suppress(Exception):
                    channel.close()
        if expires is not None and utc(expires) - now < within:
            found.append(TokenExpiry(name, account.network, utc(expires)))
    return sorted(found, key=lambda t: t.expires_at)


def _ntp_synchronised() -> bool | None:
    """True/False from systemd's timedatectl, None when that cannot be asked."""
    if shutil.which("timedatectl") is None:
        return None
    try:
        answer = subprocess.run(
            ["timedatectl", "show", "--property=NTPSynchronized", "--value"],
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    value = answer.stdout.strip().lower()
    return {"yes": True, "no": False}.get(value) if answer.returncode == 0 else None


def check_clock(settings: Settings, now: datetime, newest_event: datetime | None) -> Check:
    zone = ZoneInfo(settings.timezone)
    shown = f"{now:%Y-%m-%d %H:%M:%S} UTC ({now.astimezone(zone):%H:%M %Z} local)"
    if newest_event is not None and utc(newest_event) > now + CLOCK_TOLERANCE:
        behind = (utc(newest_event) - now).total_seconds()
        return Check(
            "clock",
            "FAIL",
            f"{shown} is {behind:.0f} s behind the newest audit event: posts would go out "
            "late; fix the clock (NTP) before running the worker",
        )
    synced = _ntp_synchronised()
    if synced is False:
        return Check("clock", "warn", f"{shown}; the system says NTP is not synchronised")
    return Check("clock", "ok", shown + ("; NTP synchronised" if synced else ""))


def _tzdata_version() -> str:
    try:
        return f"tzdata package {importlib.metadata.version('tzdata')}"
    except importlib.metadata.PackageNotFoundError:
        pass
    for base in ("/usr/share/zoneinfo", "/usr/lib/zoneinfo"):
        try:
            with open(os.path.join(base, "tzdata.zi"), encoding="ascii") as handle:
                first = handle.readline().strip()
            if first.startswith("# version"):
                return f"system tzdata {first.removeprefix('# version').strip()}"
        except OSError:
            continue
    return "tzdata version unknown"


def check_timezone(settings: Settings, now: datetime) -> Check:
    try:
        zone = ZoneInfo(settings.timezone)
    except Exception as exc:
        return Check("time zone data", "FAIL", f"{settings.timezone}: {exc}; install tzdata")
    year = now.astimezone(zone).year
    winter = datetime(year, 1, 15, 12, tzinfo=UTC).astimezone(zone)
    summer = datetime(year, 7, 15, 12, tzinfo=UTC).astimezone(zone)
    names = (
        winter.tzname()
        if winter.tzname() == summer.tzname()
        else (f"{winter.tzname()}/{summer.tzname()}")
    )
    return Check("time zone data", "ok", f"{settings.timezone} ({names}), {_tzdata_version()}")


def _existing(path: Path) -> Path:
    path = path.resolve()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_disk(settings: Settings) -> Check:
    places = {settings.state_dir}
    url = settings.database_url
    if url.startswith("sqlite"):
        places.add(Path(url.split("///", 1)[-1]).parent)
    worst: tuple[int, Path] | None = None
    for place in places:
        try:
            free = shutil.disk_usage(_existing(place)).free
        except OSError as exc:
            return Check("free disk", "FAIL", f"{place}: {exc.strerror}")
        if worst is None or free < worst[0]:
            worst = (free, place)
    assert worst is not None
    free, place = worst
    shown = f"{free / 1024**3:.1f} GiB free at {_existing(place)}"
    if free < MIN_FREE_BYTES:
        return Check("free disk", "FAIL", f"{shown}: the database and logs need room")
    if free < LOW_FREE_BYTES:
        return Check("free disk", "warn", f"{shown}: running low")
    return Check("free disk", "ok", shown)


def check_state_dir(settings: Settings) -> Check:
    state = settings.state_dir
    try:
        state.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=state, prefix=".doctor-", delete=True) as probe:
            probe.write(b"ok")
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as exc:
        return Check(
            "state directory",
            "FAIL",
            f"{state} is not writable: {exc.strerror or exc} (the service's user must own it)",
        )
    return Check("state directory", "ok", f"{state} is writable")


def check_notifications(settings: Settings, environ: Mapping[str, str]) -> Check:
    from .notify import build_notifiers

    notifiers, problems = build_notifiers(settings, environ)
    if problems:
        return Check("notifications", "FAIL", "; ".join(problems))
    if not notifiers:
        return Check(
            "notifications",
            "warn",
            "none configured ([notify]): problems are only logged, nobody is told",
        )
    return Check(
        "notifications",
        "ok",
        "; ".join(n.describe() for n in notifiers) + " (configured; not sent by doctor)",
    )


def check_health_settings(settings: Settings) -> Check:
    health = settings.health
    if not health.enabled:
        return Check("health and metrics", "warn", "off ([health] enabled = false)")
    port = health.port or "(any free port)"
    where = f"http://{health.host}:{port}/healthz and /metrics while the worker runs"
    if health.port:
        taken = _health_port(health.host, health.port, where)
        if taken is not None:
            return taken
    if health.host not in ("127.0.0.1", "::1", "localhost"):
        return Check("health and metrics", "warn", f"{where}: reachable beyond this machine")
    return Check("health and metrics", "ok", where)


def _health_port(host: str, port: int, where: str) -> Check | None:
    """None when the worker could listen on ``host:port``; else why not, or that a
    running worker already serves it."""
    name = "health and metrics"
    # Bind as ops.health.HealthServer does (an IPv4 socket, SO_REUSEADDR), then let go.
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
        return None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno == errno.EACCES:
            return Check(name, "warn", f"{where}: this user may not listen on port {port}")
        if exc.errno != errno.EADDRINUSE:
            return Check(name, "FAIL", f"{where}: cannot listen on {host}:{port}: {reason}")
    answer = _worker_health(host, port)
    if answer is not None:
        return Check(name, "ok", f"{where}: the worker is serving it ({answer})")
    return Check(
        name,
        "FAIL",
        f"port {port} on {host} is taken by another process: the worker cannot serve "
        f"/healthz and /metrics there (see which with `ss -ltnp 'sport = :{port}'`, or "
        "choose another [health] port)",
    )


def _worker_health(host: str, port: int) -> str | None:
    """The status a Campaign Publisher worker answers on ``host:port``, or None when
    whatever listens there is not one."""
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy
    try:
        with direct.open(f"http://{host}:{port}/healthz", timeout=3) as reply:
            server, body = reply.headers.get("Server", ""), reply.read(65536)
    except urllib.error.HTTPError as reply:  # 503: a worker that is unhealthy
        server, body = reply.headers.get("Server", ""), reply.read(65536)
    except (OSError, ValueError):
        return None
    try:
        health = json.loads(body)
    except ValueError:
        return None
    if not server.startswith("campaign-publisher") or not isinstance(health, dict):
        return None
    if "last_dispatch_loop" not in health:
        return None
    problems = "; ".join(str(p) for p in health.get("problems") or [])
    return f"status {health.get('status')}" + (f": {problems}" if problems else "")
