"""``python -m bench``: every figure, measured in one run on this machine."""

from __future__ import annotations

import os
import platform
import sqlite3
import sys

from . import claim_path, planning


def main() -> None:
    print(
        f"Machine: {platform.machine()} {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
        f"SQLite {sqlite3.sqlite_version}\n"
    )
    planning.run()
    print()
    claim_path.run()


if __name__ == "__main__":
    main()
