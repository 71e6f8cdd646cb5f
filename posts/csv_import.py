"""Bulk import of single posts from a spreadsheet saved as CSV.

Columns (a header row names them, in any order, any case): ``date`` (YYYY-MM-DD or
DD/MM/YYYY), ``time`` (HH:MM, local), ``account``, ``language`` (cy or en), ``text``, and
optionally ``image`` (a library image: its hash, a prefix of it, or its uploaded name) and
``alt text`` (in the row's language; empty takes the library's).

Every row is checked first; errors are listed by row (as the spreadsheet numbers them: the
header is row 1) and column, and nothing is imported unless every row passes. A Welsh row
and an English row with the same date, time and network are a pair: published together,
moved together. The posts are drafts, written by the importer.
"""

from __future__ import annotations

import csv
import io
import secrets
from dataclasses import asdict, dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from campaign.dates import local_to_utc
from campaign.lint import lint_text
from core.errors import QueueError
from core.settings import Settings
from people.rights import Actor, check_accounts

from .compose import SINGLE, _title
from .db import Database
from .journal import record_event
from .media import find_image, network_problems, post_entry
from .models import Post, content_hash
from .states import PostState

COLUMNS = ("date", "time", "account", "language", "text", "image", "alt text")
REQUIRED = ("date", "time", "account", "language", "text")
MAX_ROWS = 5000
_ALIASES = {"alt_text": "alt text", "alt": "alt text", "alttext": "alt text", "lang": "language"}


@dataclass(frozen=True)
class RowProblem:
    row: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}, column {self.column}: {self.message}"


class CsvRefused(QueueError):
    """The file was refused; ``problems`` lists each error by row and column."""

    def __init__(self, problems: list[RowProblem]) -> None:
        shown = "; ".join(str(p) for p in problems[:20])
        more = f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""
        super().__init__(
            f"nothing was imported: {len(problems)} error(s): {shown}{more}. "
            "Fix the file and import it again."
        )
        self.problems = problems


@dataclass
class Row:
    number: int
    due_at: datetime
    account: str
    network: str
    language: str
    text: str
    media: list[dict[str, Any]]
    problems: list[dict[str, Any]]
    local: str  # date and time as written, for pairing


def read_rows(data: bytes | str) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The header and each row (numbered as the spreadsheet does) as {column: value}."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise CsvRefused(
                [
                    RowProblem(
                        1,
                        "(file)",
                        f"not UTF-8 text (byte {exc.start}): save it as "
                        "“CSV UTF-8” from the spreadsheet",
                    )
                ]
            ) from None
    else:
        text = data.removeprefix("\ufeff")
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        lines = list(reader)
    except csv.Error as exc:
        raise CsvRefused([RowProblem(1, "(file)", f"not a CSV file: {exc}")]) from None
    if not lines or not any(cell.strip() for cell in lines[0]):
        raise CsvRefused(
            [
                RowProblem(
                    1,
                    "(header)",
                    "the file is empty: the first row must "
                    f"name the columns ({', '.join(COLUMNS)})",
                )
            ]
        )
    header = [_ALIASES.get(h.strip().lower(), h.strip().lower()) for h in lines[0]]
    problems = [
        RowProblem(1, name, "this column is missing from the header row")
        for name in REQUIRED
        if name not in header
    ]
    problems += [
        RowProblem(1, name or "(blank)", f"unknown column (columns: {', '.join(COLUMNS)})")
        for name in header
        if name not in COLUMNS
    ]
    if problems:
        raise CsvRefused(problems)
    rows = []
    for number, cells in enumerate(lines[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue  # a blank line at the end of a spreadsheet
        if len(cells) > len(header):
            raise CsvRefused(
                [
                    RowProblem(
                        number,
                        "(row)",
                        f"{len(cells)} cells for {len(header)} columns: quote text with commas",
                    )
                ]
            )
        rows.append(
            (number, {h: (cells[i] if i < len(cells) else "") for i, h in enumerate(header)})
        )
    if not rows:
        raise CsvRefused([RowProblem(2, "(file)", "there are no rows to import")])
    if len(rows) > MAX_ROWS:
        raise CsvRefused([RowProblem(MAX_ROWS + 2, "(file)", f"at most {MAX_ROWS} rows at once")])
    return header, rows


def check(db: Database, settings: Settings, data: bytes | str, *, now: datetime) -> list[Row]:
    """Every row checked; ``CsvRefused`` listing every error, else the rows to import."""
    zone = ZoneInfo(settings.timezone)
    _, raw_rows = read_rows(data)
    problems: list[RowProblem] = []
    rows: list[Row] = []
    with db.transaction() as session:
        for number, cells in raw_rows:
            found: list[RowProblem] = []

            def bad(
                column: str, message: str, n: int = number, into: list[RowProblem] = found
            ) -> None:
                into.append(RowProblem(n, column, message))

            day = _date(cells.get("date", ""))
            if day is None:
                bad("date", f"{cells.get('date', '')!r} is not a date (YYYY-MM-DD or DD/MM/YYYY)")
            at = _time(cells.get("time", ""))
            if at is None:
                bad("time", f"{cells.get('time', '')!r} is not a time (HH:MM, 24-hour)")
            due_at = None
            if day is not None and at is not None:
                due_at = local_to_utc(day, at, zone).due_at
                if due_at <= now:
                    bad("time", f"{day} {at:%H:%M} has passed: choose a later time")
            name = cells.get("account", "").strip()
            account = settings.accounts.get(name)
            if account is None:
                known = ", ".join(sorted(settings.accounts)) or "none"
                bad("account", f"unknown account {name!r} (accounts: {known})")
            language = cells.get("language", "").strip().lower()
            if language not in ("cy", "en"):
                bad("language", f"{language!r}: write cy (Welsh) or en (English)")
            elif account is not None and language not in account.languages:
                bad(
                    "language",
                    f"{name} does not post in {language} "
                    f"(it posts in {', '.join(account.languages)})",
                )
            text = cells.get("text", "").replace("\r\n", "\n").strip()
            if not text:
                bad("text", "the text is empty")
            media: list[dict[str, Any]] = []
            ref = cells.get("image", "").strip()
            if ref:
                item = find_image(session, ref)
                if item is None:
                    bad("image", f"no image {ref!r} in the media library: upload it first")
                else:
                    alt = cells.get("alt text", "").strip() or item.alt_text.get(language, "")
                    if not alt:
                        bad("alt text", "write the alt text for the image in the row's language")
                    elif account is not None:
                        for problem in network_problems(item, account.network, alt, 1)[:1]:
                            bad("image", problem)
                    media = [post_entry(item, alt)]
            elif cells.get("alt text", "").strip():
                bad("image", "alt text without an image: name the library image")
            lint: list[dict[str, Any]] = []
            if text and account is not None and language in ("cy", "en"):
                lint = [
                    asdict(p)
                    for p in lint_text(
                        text,
                        networks=[account.network],
                        language=language,
                        media=[(m["name"], m["alt_text"]) for m in media],
                        limits={account.network: account.text_limit} if account.text_limit else {},
                    )
                ]
                for p in lint:
                    if p["level"] == "error":
                        bad("text", str(p["message"]))
            problems += found
            if not found and due_at is not None and account is not None:
                rows.append(
                    Row(
                        number,
                        due_at,
                        name,
                        account.network,
                        language,
                        text,
                        media,
                        lint,
                        f"{day} {at}",
                    )
                )
    if problems:
        raise CsvRefused(problems)
    return rows


def import_csv(
    db: Database, settings: Settings, data: bytes | str, *, actor: Actor, now: datetime
) -> list[Post]:
    """Check every row, then store them all as drafts in one transaction (or nothing);
    refused as a whole unless ``actor`` may write posts on every row's account."""
    rows = check(db, settings, data, now=now)
    check_accounts(actor, "compose", dict.fromkeys(row.account for row in rows))
    batch = secrets.token_hex(4)
    pairs: dict[tuple[str, str], set[str]] = {}
    for row in rows:
        pairs.setdefault((row.local, row.network), set()).add(row.language)
    posts = []
    with db.transaction() as session:
        for row in rows:
            paired = pairs[(row.local, row.network)] >= {"cy", "en"}
            problems = list(row.problems)
            takes_welsh = "cy" in settings.accounts[row.account].languages
            if row.language == "en" and takes_welsh and not paired:
                problems.append(
                    {
                        "rule": "welsh-counterpart",
                        "level": "error",
                        "network": None,
                        "message": "No Welsh version of this post on this network: add a Welsh "
                        "row with the same date and time (Welsh Language Standards).",
                    }
                )
            post = Post(
                campaign=SINGLE,
                occasion=f"csv/{batch}/row-{row.number}",
                account=row.account,
                language=row.language,
                title=_title(row.text)[:200],
                network=row.network,
                due_at=row.due_at,
                text=row.text,
                media=row.media,
                tags=[],
                problems=problems,
                content_hash=content_hash(
                    text=row.text,
                    media=row.media,
                    account=row.account,
                    language=row.language,
                    due_at=row.due_at,
                ),
                state=PostState.DRAFT.value,
                author=actor.name,
                attempt=0,
                pair_key=f"csv:{batch}:{row.local}:{row.network}" if paired else None,
                urgent=False,
                created_at=now,
                updated_at=now,
            )
            session.add(post)
            session.flush()
            record_event(
                session,
                actor=actor.name,
                action="import",
                now=now,
                post=post,
                detail=f"imported from CSV row {row.number}",
            )
            posts.append(post)
    return posts


def _date(value: str) -> date | None:
    value = value.strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    return None


def _time(value: str) -> time | None:
    value = value.strip()
    for fmt in ("%H:%M", "%H:%M:%S"):
        try:
            return datetime.strptime(value, fmt).time()
        except ValueError:
            continue
    return None
