"""The command line (``publisher …``): wiring only. The root group and its options are in
cli/root.py, the commands by topic in the ``cli`` package, each imported only when it runs
(cli/lazy.py), and heavy libraries only inside the commands. ``publisher --help`` alone is
printed without importing click (cli/quickhelp.py), so it starts about as fast as Python.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import click

    cli: click.Group


def __getattr__(name: str) -> Any:
    """``publisher.cli``, the root group, built on first use (tests and tools import it)."""
    if name == "cli":
        from cli.root import cli

        return cli
    raise AttributeError(f"module 'publisher' has no attribute {name!r}")


def main() -> None:
    from cli import quickhelp

    if quickhelp.asked(sys.argv[1:]):
        quickhelp.print_help()
        return
    import warnings

    # twitter-text-parser imports pkg_resources, which warns on every command; the pin in
    # pyproject.toml keeps it working, so the warning says nothing a user can act on.
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
    from cli.root import cli

    cli(prog_name="publisher")


if __name__ == "__main__":
    main()
