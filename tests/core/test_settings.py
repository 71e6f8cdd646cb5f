"""core/settings.py without pydantic: what its constructor converts and refuses, the
environment's overrides, paths made absolute, frozen objects and ``replace``."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, timezone
from pathlib import Path

import pytest

from core.errors import SettingsError
from core.settings import (
    AccountSettings,
    InvalidSettings,
    Settings,
    SignoffSettings,
    WorkerSettings,
    load_settings,
)


def _load(tmp_path: Path, text: str, **environ: str) -> Settings:
    config = tmp_path / "config.toml"
    config.write_text(text, encoding="utf-8")
    return load_settings(config, environ=environ)


def test_environment_values_become_the_settings_types(tmp_path: Path) -> None:
    s = _load(
        tmp_path,
        "[worker]\nthreads = 2\n",
        PUBLISHER_WORKER_THREADS="4",
        PUBLISHER_WORKER_STALE_AFTER_MINUTES="90.5",
        PUBLISHER_WORKER_CHECK_AFTER_SECONDS="30, 120,900",
        PUBLISHER_HEALTH_ENABLED="off",
        PUBLISHER_NOTIFY_SMTP_STARTTLS="Yes",
        PUBLISHER_NOTIFY_EMAIL_TO="a@example.org,b@example.org",
        PUBLISHER_NOTIFY_DIGEST_TIME="17:45",
        PUBLISHER_TWO_FACTOR_REQUIRED_ROLES="reviewer,administrator",
        PUBLISHER_TIMEZONE="Europe/Dublin",
        PUBLISHER_TOKEN="not a setting: the command line's own",
    )
    assert s.worker.threads == 4 and s.worker.stale_after_minutes == 90.5
    assert s.worker.check_after_seconds == (30.0, 120.0, 900.0)
    assert s.health.enabled is False and s.notify.smtp_starttls is True
    assert s.notify.email_to == ("a@example.org", "b@example.org")
    assert s.notify.digest_time == time(17, 45)
    assert s.two_factor.required_roles == ("reviewer", "administrator")
    assert s.timezone == "Europe/Dublin"


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("PUBLISHER_WORKER_BATCH_SIZE", "4.5", "must be a whole number, not '4.5'"),
        ("PUBLISHER_HEALTH_ENABLED", "maybe", "must be true or false"),
        ("PUBLISHER_NOTIFY_DIGEST_TIME", "teatime", "must be a time of day"),
        ("PUBLISHER_HEALTH_PORT", "70000", "must be at most 65535"),
        ("PUBLISHER_TWO_FACTOR_REQUIRED_ROLES", "reviewer,boss", "not 'boss'"),
    ],
)
def test_a_bad_environment_value_names_the_variable_and_why(
    tmp_path: Path, variable: str, value: str, reason: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        _load(tmp_path, "", **{variable: value})
    message = str(caught.value)
    assert reason in message
    # A list's item is named by its place in the file's terms; a value by its variable.
    assert f"environment variable {variable}: " in message or "required_roles.1" in message


def test_every_problem_is_named_with_its_file_and_place(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        _load(
            tmp_path,
            "colour = 'blue'\n[worker]\nthreads = 0\nbatch_size = 'many'\n"
            '[accounts.m]\nnetwork = "nextdoor"\nhandle = ""\n',
        )
    config = tmp_path / "config.toml"
    problems = str(caught.value).split("; ")
    assert problems == [
        f"{config}: worker.batch_size: must be a whole number, not 'many'",
        f"{config}: worker.threads: must be at least 1",
        f"{config}: accounts.m.network: must be one of 'x', 'facebook', 'bluesky', "
        "'mastodon', 'linkedin', 'threads', 'instagram', not 'nextdoor'",
        f"{config}: accounts.m.handle: must not be empty",
        f"{config}: colour: not a known setting",
    ]


def test_relative_paths_are_relative_to_the_settings_file(tmp_path: Path) -> None:
    s = _load(
        tmp_path,
        'token_file = "token"\n[database]\nurl = "sqlite:///db/q.db"\n'
        '[notify]\nsmtp_ca_file = "ca.pem"\n[web]\nmedia_key_file = "/etc/key"\n'
        '[oidc]\nclient_secret_file = "oidc.secret"\n[two_factor]\nkey_file = "2fa.key"\n'
        '[accounts.x]\nnetwork = "x"\nhandle = "@G"\nsecrets_file = "x.toml"\n',
        PUBLISHER_STATE_DIR="queue",
    )
    assert s.state_dir == tmp_path / "queue" and s.token_file == tmp_path / "token"
    assert s.database_url == f"sqlite:///{tmp_path / 'db' / 'q.db'}"
    assert s.notify.smtp_ca_file == tmp_path / "ca.pem"
    assert s.web.media_key_file == Path("/etc/key")  # absolute: as written
    assert s.oidc.client_secret_file == tmp_path / "oidc.secret"
    assert s.two_factor.key_file == tmp_path / "2fa.key"
    assert s.accounts["x"].secrets_file == tmp_path / "x.toml"


def test_a_table_becomes_the_nested_settings_and_text_the_fields_types() -> None:
    s = Settings(
        state_dir="state",
        worker={"threads": "3", "check_after_seconds": [40, 120]},
        accounts={"x": {"network": "x", "handle": "@G", "token_expires_at": "2027-01-05T00:00Z"}},
        blackouts=[
            {
                "start": datetime(2027, 5, 1, tzinfo=UTC),
                "end": "2027-05-02T00:00:00+01:00",
                "reason": "Election",
            }
        ],
    )
    assert isinstance(s.worker, WorkerSettings) and s.worker.threads == 3
    assert s.worker.check_after_seconds == (40.0, 120.0) and s.state_dir == Path("state")
    assert s.accounts["x"].token_expires_at == datetime(2027, 1, 5, tzinfo=UTC)
    (blackout,) = s.blackouts
    assert blackout.end.utcoffset() == timedelta(hours=1)
    assert s.worker.lease_seconds == 30.0  # a default, untouched
    assert s.signoff == SignoffSettings() and isinstance(s.blackouts, tuple)


def test_settings_are_frozen_and_replace_checks_like_the_constructor() -> None:
    worker = WorkerSettings(threads=2)
    with pytest.raises(AttributeError, match="frozen"):
        worker.threads = 3  # type: ignore[misc]
    assert worker.replace(threads="5").threads == 5 and worker.threads == 2
    with pytest.raises(InvalidSettings, match=r"^threads: must be at least 1$"):
        worker.replace(threads=0)
    with pytest.raises(InvalidSettings, match="lease_renew_seconds"):
        worker.replace(lease_renew_seconds=20)  # the check across fields, run again
    with pytest.raises(InvalidSettings, match="nope: not a known setting"):
        worker.replace(nope=1)
    with pytest.raises(InvalidSettings, match="handle: is required"):
        AccountSettings(network="x")  # type: ignore[call-arg]


def test_equal_settings_compare_and_hash_alike() -> None:
    assert WorkerSettings(threads=2) == WorkerSettings(threads="2")
    assert WorkerSettings(threads=2) != WorkerSettings(threads=3)
    assert hash(WorkerSettings(threads=2)) == hash(WorkerSettings(threads=2.0))
    london = timezone(timedelta(0))
    assert AccountSettings(network="x", handle="@G", token_expires_at="2027-01-05T00:00Z") == (
        AccountSettings(
            network="x", handle="@G", token_expires_at=datetime(2027, 1, 5, tzinfo=london)
        )
    )
    assert "threads=2" in repr(WorkerSettings(threads=2))


def test_a_bad_value_in_code_is_a_value_error_and_a_settings_error() -> None:
    """As pydantic's was a ValueError; a SettingsError too, so commands print it plainly."""
    with pytest.raises(ValueError, match="time zone offset") as caught:
        AccountSettings(network="x", handle="@G", token_expires_at=datetime(2027, 1, 5))
    assert isinstance(caught.value, SettingsError)
    assert caught.value.errors == [
        (("token_expires_at",), "give a time zone offset, e.g. 2027-01-05T10:00:00+00:00")
    ]
