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
