"""`publisher status` and `publisher queue` on a year for 10 accounts (~30,000 posts,
1,000,000 audit events: the data set bench/web_pages.py builds and caches), as a person
runs them (a new process each time), beside a bare Python start-up measured in the same
run. Target (issue 17): each ≤ 0.3 s.

The data set's posts are all ahead of the real clock (it is dated 2027), the worst case
for commands that used to read every future post.

    python -m bench.cli_year                 # this checkout
    python -m bench.cli_year --before DIR    # and another checkout (e.g. main), timed alike
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from .common import row
from .service import time_commands
from .web_pages import data_set

ROOT = Path(__file__).resolve().parent.parent
RUNS = 5
# The console script's own lines, run from a checkout's folder so that its modules are the
# ones imported (the current folder comes first on sys.path).
LAUNCH = "import sys; sys.argv[0] = 'publisher'; from publisher import main; sys.exit(main())"


def cases(config: Path) -> dict[str, list[str]]:
    publisher = [sys.executable, "-c", LAUNCH, "--config", str(config)]
    return {
        "bare `python -c pass`": [sys.executable, "-c", "pass"],
        "publisher --help": [sys.executable, "-c", LAUNCH, "--help"],
        "import floor: SQLAlchemy, models, settings": [sys.executable, "-c", FLOOR],
        "import floor: click, settings, sqlite3": [sys.executable, "-c", READ_FLOOR],
        "publisher status": [*publisher, "status"],
        "publisher queue": [*publisher, "queue"],
        "publisher queue --state approved --account acct-3": [
            *publisher,
            "queue",
            "--state",
            "approved",
            "--account",
            "acct-3",
        ],
    }


# The same command run twice in one process, the second timed: its work once everything
# is imported (what grows with the data), apart from start-up (what does not).
WORK = """
import contextlib, io, sys, time
from publisher import cli
def once():
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            cli(sys.argv[1:], prog_name="publisher")
        except SystemExit:
            pass
once()
started = time.process_time()
once()
print(time.process_time() - started)
"""
# What every command reading the queue through SQLAlchemy imports (the database layer, the
# settings, the models): the floor under their start-up, whatever they do.
FLOOR = "import sqlalchemy.orm, posts.db, posts.models, core.settings"
# What `status` and `queue` import since they read through posts/reader.py (no SQLAlchemy).
READ_FLOOR = "import click, core.settings, sqlite3"


def work(source: Path, config: Path, command: list[str], runs: int) -> float:
    """Median CPU seconds of ``command``'s work in a warm process (imports done)."""
    times = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", WORK, "--config", str(config), *command],
            cwd=source,
            capture_output=True,
            text=True,
            check=True,
        )
        times.append(float(done.stdout.split()[-1]))
    return sorted(times)[len(times) // 2]


def measure(source: Path, config: Path, runs: int) -> dict[str, tuple[float, float]]:
    """Median wall and CPU seconds of each case, run from ``source``'s folder."""
    # One untimed round: the data set's file and the modules into the page cache.
    for argv in cases(config).values():
        subprocess.run(argv, cwd=source, stdout=subprocess.DEVNULL, check=True)
    return time_commands(cases(config), runs, cwd=source)


def run(before: Path | None = None, runs: int = RUNS) -> None:
    print(
        "Command line on a year (~30,000 posts for 10 accounts, 1,000,000 events): "
        f"new processes, median of {runs}, beside bare Python in the same run; load average "
        + " ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    folder = data_set(365)
    try:
        config = folder / "config.toml"
        sources = [("before", before)] if before else []
        sources.append(("this checkout" if before else "", ROOT))
        for label, source in sources:
            timed = measure(source, config, runs)
            bare_wall, bare_cpu = timed["bare `python -c pass`"]
            for name, (wall, cpu) in timed.items():
                target = (
                    "  (target <= 0.3 s)" if name in ("publisher status", "publisher queue") else ""
                )
                row(
                    f"{label + ': ' if label else ''}{name}",
                    f"{wall * 1000:.0f} ms wall, {cpu * 1000:.0f} ms CPU",
                    f"{wall / bare_wall:.1f}x bare wall, {cpu / bare_cpu:.1f}x bare CPU{target}",
                )
            for command in (["status"], ["queue"]):
                spent = work(source, config, command, runs)
                row(
                    f"{label + ': ' if label else ''}publisher {command[0]}, work only",
                    f"{spent * 1000:.0f} ms CPU",
                    "in a warm process: the queries and printing, no imports",
                )
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)


def main(argv: list[str]) -> None:
    before = Path(argv[argv.index("--before") + 1]).resolve() if "--before" in argv else None
    run(before)


if __name__ == "__main__":
    main(sys.argv[1:])
