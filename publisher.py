"""The command line (``publisher …``): one group, its global options, and the wiring to
the commands in the ``cli`` package. A command's module is imported only when that command
runs (cli/lazy.py), and heavy libraries only inside the commands, so ``publisher --help``
starts about as fast as Python itself.
"""

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


def main() -> None:
    import warnings

    # twitter-text-parser imports pkg_resources, which warns on every command; the pin in
    # pyproject.toml keeps it working, so the warning says nothing a user can act on.
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
    cli(prog_name="publisher")


if __name__ == "__main__":
    main()
