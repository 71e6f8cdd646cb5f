"""``publisher doctor``: one line per check, exit 1 when any fails."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.clock import FakeClock
from ops.doctor import run_doctor
from posts.db import Database
from posts.models import Event
from publisher import cli
from tests.fakeplatform import FakeConfig, FakePlatform

X_ENV = {
    "consumer_key": "DOC_X_CONSUMER_KEY",
    "consumer_secret": "DOC_X_CONSUMER_SECRET",
    "access_token": "DOC_X_ACCESS_TOKEN",
    "access_token_secret": "DOC_X_ACCESS_TOKEN_SECRET",
}


def doctor(config: Path, env: dict[str, str] | None = None) -> tuple[int, list[str]]:
    result = CliRunner().invoke(cli, ["--config", str(config), "doctor"], env=env or {})
    return result.exit_code, result.output.splitlines()


def line(lines: list[str], name: str) -> str:
    (found,) = [entry for entry in lines if entry[6:].startswith(name + " ")]
    return found


def test_a_ready_installation_passes(db: Database, settings) -> None:
    code, lines = doctor(settings.config_path)
    assert code == 0, "\n".join(lines)
    for name in ("settings", "sqlite", "database", "time zone data", "state directory"):
        assert line(lines, name).startswith("ok ")
    for name in ("clock", "free disk"):  # this machine's NTP and disk may only warn
        assert not line(lines, name).startswith("FAIL")
    assert "migration 0" in line(lines, "database") and "(the newest)" in line(lines, "database")
    assert line(lines, "account gwent-x").endswith(
        f"dry run, no credentials needed (posts go to {settings.outbox_path})"
    )
    assert "Europe/London (GMT/BST)" in line(lines, "time zone data")
    assert line(lines, "notifications").startswith("warn")
    assert re.fullmatch(r"All \d+ checks passed \(\d warning\(s\)\)\.", lines[-1])


def test_failures_are_each_named_and_exit_1(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the state directory should be")
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
state_dir = "{blocker}"
[database]
url = "sqlite:///{tmp_path / 'missing.db'}"
[notify]
webhook_url_env = "DOC_WEBHOOK_URL"
[accounts.gwent-x]
network = "x"
handle = "@GwentPolice"
dry_run = false
credentials = {{ consumer_key = "DOC_X_CONSUMER_KEY", consumer_secret = "DOC_X_CONSUMER_SECRET", access_token = "DOC_X_ACCESS_TOKEN", access_token_secret = "DOC_X_ACCESS_TOKEN_SECRET" }}
[accounts.gwent-facebook]
network = "facebook"
handle = "GwentPolice"
""",
        encoding="utf-8",
    )
    code, lines = doctor(config)
    assert code == 1
    assert line(lines, "database").startswith("FAIL") and "publisher db upgrade" in line(
        lines, "database"
    )
    assert line(lines, "account gwent-x").startswith("FAIL")
    assert "DOC_X_CONSUMER_KEY" in line(lines, "account gwent-x")  # names the variable
    assert line(lines, "account gwent-facebook").startswith("ok")  # dry run
    assert line(lines, "state directory").startswith("FAIL")
    assert line(lines, "notifications").startswith("FAIL")
    assert "DOC_WEBHOOK_URL" in line(lines, "notifications")
    assert line(lines, "clock").startswith("ok")  # the others still ran
    assert lines[-1] == f"4 of {len(lines) - 1} checks failed."


def test_broken_settings_fail_first(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("timezone = 'Europe/Lundun'\n", encoding="utf-8")
    code, lines = doctor(config)
    assert code == 1
    assert line(lines, "settings").startswith("FAIL") and "Europe/Lundun" in lines[0]


def test_a_database_without_schema_fails(tmp_path: Path, settings) -> None:
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    Database(settings.database_url).engine.connect().close()  # an empty SQLite file
    code, lines = doctor(settings.config_path)
    assert code == 1
    assert "has no schema: run `publisher db upgrade`" in line(lines, "database")


def test_an_unreachable_postgresql_fails(tmp_path: Path) -> None:
    pytest.importorskip("psycopg")
    from tests.ops.conftest import free_port

    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "postgresql://publisher:pg-Secret-99@127.0.0.1:{free_port()}/x"\n',
        encoding="utf-8",
    )
    code, lines = doctor(config)
    assert code == 1
    database = line(lines, "database")
    assert database.startswith("FAIL") and "unreachable" in database
    assert "pg-Secret-99" not in "\n".join(lines)


def test_live_credentials_are_checked_against_the_network(tmp_path: Path, db, settings) -> None:
    fake = FakeConfig()
    config = tmp_path / "live.toml"
    with FakePlatform(fake) as platform:
        config.write_text(
            f"""
state_dir = "{settings.state_dir}"
[accounts.gwent-x]
network = "x"
handle = "@GwentPolice"
dry_run = false
api_base_url = "{platform.url}"
credentials = {{ {", ".join(f'{k} = "{v}"' for k, v in X_ENV.items())} }}
""",
            encoding="utf-8",
        )
        creds = fake.x_credentials("GwentPolice")
        env = {X_ENV[name]: value for name, value in creds.items()}
        code, lines = doctor(config, env)
        assert code == 0, "\n".join(lines)
        assert "@GwentPolice" in line(lines, "account gwent-x")

        env[X_ENV["access_token_secret"]] = "wrong-secret-0000"
        code, lines = doctor(config, env)
    assert code == 1
    assert line(lines, "account gwent-x").startswith("FAIL")
    output = "\n".join(lines)
    assert all(secret not in output for secret in [*creds.values(), "wrong-secret-0000"])


def test_a_clock_behind_the_audit_log_fails(db: Database, settings) -> None:
    now = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)
    with db.transaction() as session:
        session.add(Event(at=now + timedelta(hours=1), actor="x", action="plan", detail=""))
    checks = {c.name: c for c in run_doctor(settings.config_path, environ={},
                                            clock=FakeClock(now))}
    assert checks["clock"].failed and "3600 s behind the newest audit event" in (
        checks["clock"].detail
    )
    later = run_doctor(settings.config_path, environ={},
                       clock=FakeClock(now + timedelta(hours=2)))
    assert not [c for c in later if c.name == "clock" and c.failed]


def test_accounts_check_takes_the_account_names_docs_accounts_md_uses(
    tmp_path: Path, settings
) -> None:
    fake = FakeConfig()
    config = tmp_path / "live.toml"
    with FakePlatform(fake) as platform:
        config.write_text(
            f"""
state_dir = "{settings.state_dir}"
[accounts.gwent-x]
network = "x"
handle = "@GwentPolice"
dry_run = false
api_base_url = "{platform.url}"
credentials = {{ {", ".join(f'{k} = "{v}"' for k, v in X_ENV.items())} }}
[accounts.gwent-facebook]
network = "facebook"
handle = "GwentPolice"
dry_run = false
api_base_url = "{platform.url}"
credentials = {{ page_token = "DOC_FB_PAGE_TOKEN_UNSET" }}
[accounts.gwent-bluesky]
network = "bluesky"
handle = "gwentpolice.bsky.social"
""",
            encoding="utf-8",
        )
        env = {X_ENV[name]: value for name, value in fake.x_credentials("GwentPolice").items()}

        def check(*names: str) -> tuple[int, list[str]]:
            result = CliRunner().invoke(
                cli, ["--config", str(config), "accounts", "check", *names], env=env
            )
            return result.exit_code, result.output.splitlines()

        code, lines = check("gwent-x")  # as docs/accounts.md writes it
        assert code == 0, lines
        assert len(lines) == 1 and "credentials work as @GwentPolice" in line(
            lines, "account gwent-x"
        )
        code, lines = check("gwent-x", "gwent-bluesky")
        assert code == 0 and [entry[6:].split("  ")[0].strip() for entry in lines] == [
            "account gwent-x",
            "account gwent-bluesky",
        ]
        code, lines = check("gwent-facebook")
        assert code == 1 and line(lines, "account gwent-facebook").startswith("FAIL")
        code, lines = check()  # every account: the Facebook one fails
        assert code == 1 and len(lines) == 3
        code, lines = check("gwent-x", "gwent-twitter")  # a typo checks nothing
        assert code == 1
        assert lines == [
            "error: unknown account 'gwent-twitter' "
            "(configured: gwent-bluesky, gwent-facebook, gwent-x)"
        ]


def _with_health_port(settings, port: int) -> Path:
    config = settings.config_path.with_name("health.toml")
    text = settings.config_path.read_text(encoding="utf-8")
    assert "port = 0" in text
    config.write_text(text.replace("port = 0", f"port = {port}"), encoding="utf-8")
    return config


def test_doctor_says_when_another_process_has_the_health_port(db: Database, settings) -> None:
    import socket
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Other(BaseHTTPRequestHandler):  # another program's web server
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "6")
            self.end_headers()
            self.wfile.write(b"hello\n")

        def log_message(self, format: str, *args: object) -> None:
            pass

    other = ThreadingHTTPServer(("127.0.0.1", 0), Other)
    thread = threading.Thread(target=other.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        port = other.server_address[1]
        code, lines = doctor(_with_health_port(settings, port))
    finally:
        other.shutdown()
        other.server_close()
    assert code == 1
    health = line(lines, "health and metrics")
    assert health.startswith("FAIL")
    assert f"port {port} on 127.0.0.1 is taken by another process" in health

    # A socket that listens and never answers (any program at all) is taken too.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        code, lines = doctor(_with_health_port(settings, silent.getsockname()[1]))
    assert code == 1 and "taken by another process" in line(lines, "health and metrics")

    # Once it is free again, the port is fine.
    code, lines = doctor(_with_health_port(settings, port))
    assert code == 0, lines
    assert line(lines, "health and metrics").startswith("ok ")


def test_doctor_recognises_the_running_worker_on_the_health_port(db: Database, settings) -> None:
    from prometheus_client import CollectorRegistry

    from ops.health import HealthServer, check_health

    now = datetime.now(UTC)
    worker = HealthServer(
        "127.0.0.1", 0, CollectorRegistry(), lambda: check_health(db, None, now, 120)
    )
    worker.start()
    try:
        code, lines = doctor(_with_health_port(settings, worker.port))
    finally:
        worker.stop()
    assert code == 0, lines
    health = line(lines, "health and metrics")
    assert health.startswith("ok ") and "the worker is serving it (status unhealthy: " in health
    assert "no dispatch loop has run yet" in health


def test_doctor_and_accounts_check_count_down_to_a_linkedin_token(
    tmp_path: Path, db: Database, settings
) -> None:
    """A token that expires within 14 days is a warning on its own line, one already
    expired a failure; ``expiring_tokens`` lists them for a notice."""
    from core.settings import load_settings
    from ops.doctor import expiring_tokens
    from tests.fakes.linkedin import ORGANIZATION, FakeLinkedIn

    with FakeLinkedIn() as fake:
        soon = fake.issue(expires_in=timedelta(days=10, hours=1))
        later = fake.issue(expires_in=timedelta(days=40, hours=1))
        config = tmp_path / "linkedin.toml"
        config.write_text(
            f"""
state_dir = "{settings.state_dir}"
[accounts.gwent-linkedin]
network = "linkedin"
handle = "{ORGANIZATION}"
dry_run = false
api_base_url = "{fake.url}"
credentials = {{ access_token = "DOC_LI_TOKEN", client_id = "DOC_LI_ID", client_secret = "DOC_LI_SECRET" }}
[accounts.gwent-x]
network = "x"
handle = "@GwentPolice"
""",
            encoding="utf-8",
        )
        env = {
            "DOC_LI_TOKEN": soon.access_token,
            "DOC_LI_ID": fake.client_id,
            "DOC_LI_SECRET": fake.client_secret,
        }
        code, lines = doctor(config, env)
        assert code == 0, "\n".join(lines)
        assert line(lines, "account gwent-linkedin").startswith("ok ")
        token = line(lines, "token gwent-linkedin")
        assert token.startswith("warn") and "token expires in 10 days (" in token
        assert token.endswith("renew it before then (docs/accounts.md)")
        assert not [entry for entry in lines if "token gwent-x" in entry]  # no expiry known
        loaded = load_settings(config, environ=env)
        now = datetime.now(UTC)
        [notice] = expiring_tokens(loaded, env, now)
        assert (notice.account, notice.network) == ("gwent-linkedin", "linkedin")
        assert timedelta(days=10) < notice.expires_at - now < timedelta(days=10, hours=1)

        env["DOC_LI_TOKEN"] = later.access_token
        result = CliRunner().invoke(
            cli, ["--config", str(config), "accounts", "check", "gwent-linkedin"], env=env
        )
        assert result.exit_code == 0, result.output
        checked = result.output.splitlines()
        assert len(checked) == 2 and line(checked, "token gwent-linkedin").startswith("ok ")
        assert "token expires in 40 days (" in line(checked, "token gwent-linkedin")
        assert expiring_tokens(loaded, env, now) == []
        assert expiring_tokens(loaded, env, now, within=timedelta(days=41)) != []

        fake.expire(later.access_token)
        code, lines = doctor(config, env)
    assert code == 1
    assert line(lines, "account gwent-linkedin").startswith("FAIL")
    assert "the access token has expired" in line(lines, "account gwent-linkedin")
    token = line(lines, "token gwent-linkedin")
    assert token.startswith("FAIL") and "token expired on " in token
    output = "\n".join(lines)
    assert all(s not in output for s in (soon.access_token, later.access_token, fake.client_secret))
