"""One group whose commands are imported only when one of them runs.

``publisher --help`` lists every command from COMMANDS (name, where it lives, its help's
first paragraph) without importing the command modules, so it starts about as fast as
Python does; tests/test_cli_lazy.py checks the table against the real commands, so the two
cannot drift apart.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

import click

from cli.table import COMMANDS

__all__ = ["COMMANDS", "LazyGroup"]


class LazyGroup(click.Group):
    """A click group that knows its commands by COMMANDS and imports one when asked for it
    (running it, or its own ``--help``). The pattern click documents as lazily loading
    subcommands, with the listing in ``--help`` taken from the table too."""

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            module, _, attribute = self.lazy[cmd_name][0].partition(":")
            command = getattr(import_module(module), attribute)
            if not isinstance(command, click.Command):  # a wrong table, found by the tests
                raise TypeError(f"{module}:{attribute} is not a click command")
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As click's own, with each command's short help made from the table by click's
        own rule (a stand-in command holding the same first paragraph)."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            if name in self.lazy and name not in self.commands:
                command: click.Command = click.Command(name, help=self.lazy[name][1])
            else:
                found = self.get_command(ctx, name)
                if found is None or found.hidden:
                    continue
                command = found
            rows.append((name, command.get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
