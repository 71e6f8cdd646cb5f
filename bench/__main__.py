"""``python -m bench``: every figure, measured in one run on this machine."""

from __future__ import annotations

import os
import platform
import sqlite3
import sys

from . import claim_path, cli_year, plan_page, planning, service, signin, web_pages


def main() -> None:
    print(
        f"Machine: {platform.machine()} {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
        f"SQLite {sqlite3.sqlite_version}\n"
    )
    for step in (
        planning.run,
        plan_page.run,
        claim_path.run,
        service.lateness,
        service.morning_burst,
        service.idle_worker,
        service.cli_startup,
        cli_year.run,
        web_pages.run,
        signin.run,
    ):
        step()
        print()


if __name__ == "__main__":
    main()
