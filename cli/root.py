"""The command line's root: its global options, and the App every command gets. Its
commands are found in cli/table.py and imported only when one runs (cli/lazy.py)."""

from __future__ import annotations

from pathlib import Path

import click

from cli.lazy import COMMANDS, LazyGroup


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(
    "--config",
    type=click.Path(path_type=Path),
    envvar="PUBLISHER_CONFIG",
    help="Settings file (default: ./config.toml, then /etc/campaign-publisher/config.toml, "
    "then the built-in defaults).",
)
@click.option(
    "-v", "--verbose", is_flag=True, help="Log more, and say which settings and database."
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Logs: one line per event, for people (text) or machines (json). Secrets redacted.",
)
@click.pass_context
def cli(ctx: click.Context, config: Path | None, verbose: bool, log_format: str) -> None:
    """Campaign Publisher: plan, review and publish online-safety campaigns, exactly once."""
    from cli.common import App
    from ops.logs import configure_logging

    configure_logging(log_format, verbose=verbose)
    ctx.obj = App(config, verbose=verbose)
