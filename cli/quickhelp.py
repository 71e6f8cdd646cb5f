"""``publisher --help`` without importing click: the same text click would print (the
root's usage, help and options, then every command from cli/table.py), laid out by
click's rules for one-paragraph texts. Importing click alone costs about as much as
starting Python; tests/test_cli_lazy.py checks this text against click's at every
width click uses, so the two cannot drift apart.
"""

from __future__ import annotations

import sys
from textwrap import TextWrapper, shorten

from cli.table import COMMANDS

USAGE = "Usage: publisher [OPTIONS] COMMAND [ARGS]..."
# The root group's help and options (publisher.py), as click renders their help records.
HELP = "Campaign Publisher: plan, review and publish online-safety campaigns, exactly once."
OPTIONS = (
    (
        "--config PATH",
        "Settings file (default: ./config.toml, then /etc/campaign-publisher/config.toml, "
        "then the built-in defaults).",
    ),
    ("-v, --verbose", "Log more, and say which settings and database."),
    (
        "--log-format [text|json]",
        "Logs: one line per event, for people (text) or machines (json). Secrets redacted."
        "  [default: text]",
    ),
    ("-h, --help", "Show this message and exit."),
)


def asked(argv: list[str]) -> bool:
    """Whether the command line asks for the top-level help and nothing else."""
    return len(argv) == 1 and argv[0] in ("--help", "-h")


def width() -> int:
    """click's: the terminal's columns, at most 80, less 2, at least 50."""
    import shutil

    return max(min(shutil.get_terminal_size().columns, 80) - 2, 50)


def render(width: int) -> str:
    out = [USAGE, "", _wrap(HELP, width, "  ", "  "), "", "Options:"]
    out += _dl(OPTIONS, width)
    out += ["", "Commands:"]
    names = sorted(COMMANDS)
    limit = width - 6 - max(len(name) for name in names)
    out += _dl([(name, short_help(COMMANDS[name][1], limit)) for name in names], width)
    return "\n".join(out)


def short_help(first_paragraph: str, limit: int) -> str:
    """click's short help: up to the first sentence's end, shortened to ``limit``."""
    words = first_paragraph.split()
    for i, word in enumerate(words):
        if word.endswith(".") and (i == len(words) - 1 or not words[i + 1][0].islower()):
            words = words[: i + 1]
            break
    text = " ".join(words)
    if len(text) <= limit:
        return text
    if limit < 3:
        return "..."
    return shorten(text, limit, placeholder="...", break_on_hyphens=False)


def _wrap(text: str, width: int, first: str = "", rest: str = "") -> str:
    wrapper = TextWrapper(
        width, initial_indent=first, subsequent_indent=rest, replace_whitespace=False
    )
    return wrapper.fill(text)


def _dl(rows: list[tuple[str, str]] | tuple[tuple[str, str], ...], width: int) -> list[str]:
    """click's definition list, indented 2, for one-paragraph values."""
    first_col = min(max(len(term) for term, _ in rows), 30) + 2
    lines = []
    for term, text in rows:
        wrapped = _wrap(text, max(width - first_col - 2, 10)).splitlines() or [""]
        if len(term) <= first_col - 2:
            lines.append(f"  {term}{' ' * (first_col - len(term))}{wrapped[0]}")
        else:
            lines.append(f"  {term}")
            lines.append(f"{' ' * (first_col + 2)}{wrapped[0]}")
        lines += [f"{' ' * (first_col + 2)}{line}" for line in wrapped[1:]]
    return lines


def print_help() -> None:
    sys.stdout.write(render(width()) + "\n")
