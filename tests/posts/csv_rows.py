"""A 50-row spreadsheet for the import tests: 25 days of tips, Welsh and English."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta


def tips_csv(first: date, *, image: str = "", bad_row: int | None = None) -> str:
    """50 rows (25 Welsh/English pairs on gwent-x), one per day at 09:00. ``bad_row`` (as
    the spreadsheet numbers it: the header is row 1) gets an impossible time."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["date", "time", "account", "language", "text", "image", "alt text"])
    row = 1
    for n in range(25):
        day = (first + timedelta(days=n)).isoformat()
        for language, text, alt in (
            ("cy", f"Awgrym {n + 1}: siaradwch â'ch plentyn am ei fywyd ar-lein.",
             "Llun o riant a phlentyn yn siarad"),
            ("en", f"Tip {n + 1}: talk to your child about their life online.",
             "A photo of a parent and child talking"),
        ):
            row += 1
            time = "25:00" if row == bad_row else "09:00"
            writer.writerow([day, time, "gwent-x", language, text, image if n == 0 else "",
                             alt if image and n == 0 else ""])
    return out.getvalue()
