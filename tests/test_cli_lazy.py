"""The command line's lazy table (cli/lazy.py) against the real commands: the same names,
the same short help, the same ``--help``; and ``--help`` imports none of the commands."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from cli import quickhelp
from cli.lazy import COMMANDS, LazyGroup
from publisher import cli
from tests.helpers import publisher_imports

ROOT = Path(__file__).resolve().parent.parent


def _real_commands() -> dict[str, click.Command]:
    """Every command the modules of ``cli/`` define at their top level (not subcommands),
    found by reading the files, not by trusting the table."""
    found: dict[str, click.Command] = {}
    for path in sorted((ROOT / "cli").glob("*.py")):
        if path.stem == "root":  # the group itself
            continue
        module = importlib.import_module(f"cli.{path.stem}")
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if not isinstance(node, ast.FunctionDef):
                continue
            value = getattr(module, node.name, None)
            if isinstance(value, click.Command) and not _is_subcommand(module, value):
                assert value.name is not None
                found[value.name] = value
    return found


def _is_subcommand(module: object, command: click.Command) -> bool:
    groups = [v for v in vars(module).values() if isinstance(v, click.Group)]
    return any(command in g.commands.values() for g in groups)


def test_the_table_names_every_command_and_where_it_lives() -> None:
    real = _real_commands()
    assert sorted(COMMANDS) == sorted(real)
    for name, (where, _) in COMMANDS.items():
        module, _, attribute = where.partition(":")
        assert getattr(importlib.import_module(module), attribute) is real[name], name


@pytest.mark.parametrize("limit", [0, 3, 10, 30, 45, 60, 200])
def test_the_tables_help_is_each_commands_own(limit: int) -> None:
    real = _real_commands()
    for name, (_, first) in COMMANDS.items():
        stand_in = click.Command(name, help=first)
        assert stand_in.get_short_help_str(limit) == real[name].get_short_help_str(limit), name
        assert quickhelp.short_help(first, limit) == real[name].get_short_help_str(limit), name


@pytest.mark.parametrize("width", range(50, 121))
def test_the_quick_help_is_what_click_prints(width: int) -> None:
    """click's widths are 50 to 78 (a terminal's columns, at most 80, less 2); wider too."""
    real = CliRunner().invoke(cli, ["--help"], terminal_width=width, prog_name="publisher")
    assert real.exit_code == 0
    assert quickhelp.render(width) + "\n" == real.output


def test_only_the_top_level_help_alone_is_quick() -> None:
    assert quickhelp.asked(["--help"]) and quickhelp.asked(["-h"])
    for argv in ([], ["status"], ["queue", "--help"], ["--help", "status"], ["-v", "--help"]):
        assert not quickhelp.asked(argv), argv


def test_help_lists_what_the_real_commands_would_list() -> None:
    """The lazy group's ``--help`` against an ordinary group holding the real commands,
    with the same options and docstring."""
    eager = click.Group(
        cli.name,
        params=cli.params,
        help=cli.help,
        context_settings={"help_option_names": ["-h", "--help"]},
        commands=_real_commands(),
    )
    runner = CliRunner()
    for width in (80, 120):
        lazy = runner.invoke(cli, ["--help"], terminal_width=width, prog_name="publisher")
        real = runner.invoke(eager, ["--help"], terminal_width=width, prog_name="publisher")
        assert lazy.exit_code == 0 and "Commands:" in lazy.output
        assert lazy.output == real.output


def test_every_command_runs_its_own_help() -> None:
    runner = CliRunner()
    for name in COMMANDS:
        result = runner.invoke(cli, [name, "--help"], prog_name="publisher")
        assert result.exit_code == 0, result.output
        assert f"Usage: publisher {name}" in result.output


def test_an_unknown_command_is_refused_by_name() -> None:
    result = CliRunner().invoke(cli, ["nonsense"])
    assert result.exit_code == 2 and "No such command 'nonsense'" in result.output


def test_a_table_entry_that_is_no_command_is_refused() -> None:
    group = LazyGroup("g", lazy={"x": ("cli.lazy:COMMANDS", "Not a command.")})
    with pytest.raises(TypeError, match=r"cli\.lazy:COMMANDS is not a click command"):
        group.get_command(click.Context(group), "x")


def test_help_imports_no_command_module_nor_heavy_library() -> None:
    heavy = ("click", "sqlalchemy", "pydantic", "core.settings", "posts", "cli.common",
             "cli.review", "cli.ops", "jinja2", "flask")  # fmt: skip
    printed, imported = publisher_imports(["--help"], heavy, {"COLUMNS": "80"})
    assert imported == []
    clicks = CliRunner().invoke(cli, ["--help"], terminal_width=78, prog_name="publisher")
    assert "\n".join(printed) + "\n" == clicks.output


@pytest.mark.parametrize(
    "args", [["worker", "--stop-after", "1"], ["status"], ["queue"]], ids=" ".join
)
def test_the_worker_and_the_quick_reads_import_no_pydantic(db, settings, args) -> None:
    """Issue 17: pydantic was 9 MB of an idle worker's memory and ~100 ms of
    `status` and `queue`; the settings are read without it (campaigns still use it)."""
    assert settings.config_path is not None
    printed, imported = publisher_imports(
        args, ("pydantic", "pydantic_core"), {"PUBLISHER_CONFIG": str(settings.config_path)}
    )
    assert imported == [], (args, printed)


def test_a_worker_without_the_health_server_imports_no_prometheus_client(db, settings) -> None:
    """Nobody can read the metrics without ``/metrics``: 1.2 MB less (issue 17)."""
    assert settings.config_path is not None
    environ = {"PUBLISHER_CONFIG": str(settings.config_path), "PUBLISHER_HEALTH_ENABLED": "false"}
    _, imported = publisher_imports(
        ["worker", "--stop-after", "1"], ("prometheus_client",), environ
    )
    assert imported == []
