"""An installation nobody can break by accident: settings found in a documented order,
no command acting on a database it silently created, a demo that deletes only its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.errors import DemoRefused, SettingsError
from core.settings import load_settings
from examples.demo import MARKER, prepare_state_dir
from publisher import cli

ROOT = Path(__file__).resolve().parent.parent


def _run_in(folder: Path, *args: str, env: dict[str, str] | None = None):
    """The command line as a user runs it from ``folder``, with no PUBLISHER_* variable."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")}
    return subprocess.run(
        [sys.executable, "-m", "publisher", *args],
        cwd=folder,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_command_from_another_folder_refuses_instead_of_making_a_database(
    tmp_path: Path,
) -> None:
    for args in (
        ("status",),
        ("hold", "--reason", "Critical incident"),
        ("queue",),
    ):
        # A token, so that the hold gets as far as the database (it finds none).
        result = _run_in(tmp_path, *args, env={"PUBLISHER_TOKEN": "cpt_not-checked-yet"})
        assert result.returncode == 1, result.stdout + result.stderr
        assert "no Campaign Publisher database at" in result.stderr
        assert str(tmp_path / "state" / "publisher.db") in result.stderr
        assert "publisher db upgrade" in result.stderr
        assert "Hold" not in result.stdout
    assert list(tmp_path.iterdir()) == []  # nothing was created


def test_db_upgrade_creates_and_status_says_which_settings_and_database(tmp_path: Path) -> None:
    config = tmp_path / "force.toml"
    config.write_text('state_dir = "queue"\n', encoding="utf-8")
    assert _run_in(tmp_path, "--config", str(config), "db", "upgrade").returncode == 0
    status = _run_in(tmp_path, "--config", str(config), "status")
    assert status.returncode == 0, status.stderr
    assert f"Settings: {config}" in status.stdout
    assert f"Database: {tmp_path / 'queue' / 'publisher.db'}" in status.stdout


def test_settings_are_found_in_the_documented_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "config.toml").write_text('timezone = "Europe/Dublin"\n', encoding="utf-8")
    named = tmp_path / "named.toml"
    named.write_text('timezone = "Europe/Paris"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert load_settings(environ={}).timezone == "Europe/Dublin"
    assert load_settings(environ={"PUBLISHER_CONFIG": str(named)}).timezone == "Europe/Paris"
    (tmp_path / "config.toml").unlink()
    defaults = load_settings(environ={})
    assert defaults.accounts == {} and defaults.config_path is None


def test_a_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[worker]\nthreads = 2\n", encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        load_settings(config, environ={"PUBLISHER_WORKER_THREADS": "many"})
    assert "environment variable PUBLISHER_WORKER_THREADS" in str(caught.value)
    assert str(config) not in str(caught.value)
    config.write_text("[worker]\nthreads = 0\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=rf"{config}: worker.threads"):
        load_settings(config, environ={})


def test_the_checkout_config_is_a_real_file_that_loads() -> None:
    config = ROOT / "config.toml"
    assert config.is_file() and not config.is_symlink()
    settings = load_settings(config, environ={})
    assert settings.state_dir == ROOT / "state"
    assert all(account.dry_run for account in settings.accounts.values())


def test_the_demo_deletes_only_a_folder_it_made(tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "evidence.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(DemoRefused, match="did not make"):
        prepare_state_dir(precious)
    assert (precious / "evidence.txt").read_text(encoding="utf-8") == "keep me"
    a_file = tmp_path / "a-file"
    a_file.write_text("x", encoding="utf-8")
    with pytest.raises(DemoRefused):
        prepare_state_dir(a_file)

    made = prepare_state_dir(tmp_path / "demo")
    (made / "publisher.db").write_text("old run", encoding="utf-8")
    again = prepare_state_dir(tmp_path / "demo")  # its own folder: emptied and remade
    assert (again / MARKER).is_file() and not (again / "publisher.db").exists()


def test_the_demo_command_refuses_a_folder_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep me", encoding="utf-8")
    result = CliRunner().invoke(cli, ["demo", "--state-dir", str(tmp_path)])
    assert result.exit_code == 1 and "did not make" in result.output
    assert (tmp_path / "notes.txt").exists()


def test_the_package_licence_is_a_plain_spdx_string() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "MIT"  # the table form stops building in February 2027
