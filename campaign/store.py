"""Campaigns in the database: each one is its source — the files of its folder
(``campaign.toml``, ``templates/*.j2``, images) — kept as numbered revisions.

A revision records who made it, when, a summary of what changed and the full file set.
The newest revision is the campaign as it stands, and it is what planning plans.
Import reads a folder into a new revision (none when nothing changed); export writes a
revision's files back byte for byte, so export → import → export is identical. Every
revision is checked by the loader before it is stored: bad input changes nothing.

To plan or render, a revision is written once to ``<state_dir>/campaigns/<digest>/``
(content-addressed, never changed afterwards) and read there by ``campaign.loader``:
the posts' images are read from that folder when they are sent.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.errors import CampaignError, NotFound
from core.settings import Settings
from people.rights import Actor, check_accounts
from posts.db import Database
from posts.journal import record_event
from posts.models import Base, Post, UTCDateTime

from .images import strip_image_metadata
from .loader import Campaign, load_campaign
from .pack import describe_mapping, map_accounts, pack_accounts

CAMPAIGN_FILE = "campaign.toml"
MAX_FILE_BYTES = 6 * 1024 * 1024  # an image at X's limit, with room
MAX_TOTAL_BYTES = 40 * 1024 * 1024
MAX_FILES = 500


class StoredCampaign(Base):
    __tablename__ = "campaigns"
    __table_args__ = (UniqueConstraint("name", name="uq_campaigns_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200), default="")
    current: Mapped[int] = mapped_column(Integer, default=1)  # the newest revision's number
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CampaignRevision(Base):
    __tablename__ = "campaign_revisions"
    __table_args__ = (
        UniqueConstraint("campaign_id", "number", name="uq_campaign_revisions_number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    author: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    summary: Mapped[str] = mapped_column(Text, default="")
    # {path: {"text": str} | {"base64": str}}: text kept readable, anything else as bytes.
    files: Mapped[dict[str, Any]] = mapped_column(JSON)
    digest: Mapped[str] = mapped_column(String(64))


@dataclass(frozen=True)
class Revision:
    """One revision as the library hands it out (no session attached)."""

    campaign: str
    number: int
    author: str
    created_at: datetime
    summary: str
    files: dict[str, bytes]
    digest: str
    current: bool

    def text(self, path: str) -> str:
        return self.files[path].decode("utf-8")


@dataclass(frozen=True)
class Saved:
    campaign: str
    number: int
    changed: bool  # False: the files were those of the current revision; nothing stored
    summary: str


@dataclass(frozen=True)
class CampaignRow:
    """A line of the campaigns page."""

    name: str
    title: str
    revision: int
    updated_at: datetime
    start: Any
    end: Any
    timezone: str
    accounts: list[str]
    languages: list[str]
    bilingual: str
    counts: dict[str, int]  # post state -> how many


# --- files ------------------------------------------------------------------------------


def read_folder(folder: str | Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones excepted), by its relative POSIX path.

    A symlink is refused, wherever it points: a campaign is its own files."""
    root = Path(folder)
    if root.is_file() and root.name == CAMPAIGN_FILE:
        root = root.parent
    if not (root / CAMPAIGN_FILE).is_file():
        raise CampaignError(str(root), f"no {CAMPAIGN_FILE} in this folder")
    files: dict[str, bytes] = {}
    total = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(dirpath)
        for name in list(dirnames):
            if name.startswith(".") or name == "__pycache__" or (base / name).is_symlink():
                if (base / name).is_symlink():
                    raise CampaignError(str(base / name), "a symlink is not allowed in a campaign")
                dirnames.remove(name)
        for name in sorted(filenames):
            path = base / name
            if name.startswith("."):
                continue
            if path.is_symlink():
                raise CampaignError(str(path), "a symlink is not allowed in a campaign")
            if not path.is_file():
                raise CampaignError(str(path), "not a regular file")
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                raise CampaignError(
                    str(path), f"{size // 1024} KB is too large for a campaign file"
                )
            total += size
            if total > MAX_TOTAL_BYTES or len(files) >= MAX_FILES:
                raise CampaignError(str(root), "the campaign folder is too large")
            files[path.relative_to(root).as_posix()] = path.read_bytes()
    return files


def read_zip(data: bytes, label: str = "the zip file") -> dict[str, bytes]:
    """A campaign pack (a zip of the folder, as the web's export makes) as its files. One
    top folder around ``campaign.toml`` is taken off; hidden files are left out."""
    import io
    import zipfile

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = [i for i in archive.infolist() if not i.is_dir()]
    except zipfile.BadZipFile:
        raise CampaignError(label, "not a zip file") from None
    if len(entries) > MAX_FILES or sum(i.file_size for i in entries) > MAX_TOTAL_BYTES:
        raise CampaignError(label, "the campaign pack is too large")
    tops = [i.filename for i in entries if i.filename.rsplit("/", 1)[-1] == CAMPAIGN_FILE]
    if not tops:
        raise CampaignError(label, f"no {CAMPAIGN_FILE} in the zip file")
    prefix = min(tops, key=len)[: -len(CAMPAIGN_FILE)]
    files: dict[str, bytes] = {}
    for info in entries:
        if not info.filename.startswith(prefix):
            raise CampaignError(f"{label}: {info.filename}", "outside the campaign's folder")
        path = info.filename[len(prefix) :]
        if any(part.startswith(".") for part in path.split("/")):
            continue
        if info.file_size > MAX_FILE_BYTES:
            raise CampaignError(f"{label}: {path}", "too large for a campaign file")
        files[_check_path(path)] = archive.read(info)
    return files


def _check_path(path: str) -> str:
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts or "\\" in path:
        raise CampaignError(path, "a campaign file must be a relative path inside the campaign")
    return pure.as_posix()


def files_digest(files: Mapping[str, bytes]) -> str:
    h = hashlib.sha256()
    for path in sorted(files):
        h.update(path.encode() + b"\0" + hashlib.sha256(files[path]).digest())
    return h.hexdigest()


def _encode(files: Mapping[str, bytes]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path, data in sorted(files.items()):
        try:
            out[path] = {"text": data.decode("utf-8")}
        except UnicodeDecodeError:
            out[path] = {"base64": base64.b64encode(data).decode("ascii")}
    return out


def _decode(stored: Mapping[str, Any]) -> dict[str, bytes]:
    return {
        path: value["text"].encode("utf-8")
        if "text" in value
        else base64.b64decode(value["base64"])
        for path, value in stored.items()
    }


def write_files(files: Mapping[str, bytes], folder: Path) -> None:
    for path, data in files.items():
        target = folder / _check_path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def materialize(files: Mapping[str, bytes], state_dir: Path) -> Path:
    """The revision's files in a folder of their own (made once, by digest)."""
    folder = Path(state_dir).resolve() / "campaigns" / files_digest(files)
    if folder.is_dir():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".new-", dir=folder.parent))
    try:
        write_files(files, work)
        os.replace(work, folder)
    except OSError:
        shutil.rmtree(work, ignore_errors=True)
        if not folder.is_dir():  # another process made it first otherwise
            raise
    return folder


@contextmanager
def scratch_campaign(files: Mapping[str, bytes]) -> Iterator[Campaign]:
    """The files loaded by the loader from a scratch folder, for as long as the block
    runs (render from it there). Errors name the file as the campaign knows it."""
    for path in files:
        _check_path(path)
    if CAMPAIGN_FILE not in files:
        raise CampaignError(CAMPAIGN_FILE, "the campaign has no campaign.toml")
    with tempfile.TemporaryDirectory(prefix="campaign-") as scratch:
        write_files(files, Path(scratch))
        try:
            yield load_campaign(Path(scratch))
        except CampaignError as exc:
            where = exc.where.replace(scratch + "/", "").replace(scratch, "campaign")
            raise CampaignError(where, exc.message) from None


def check_files(files: Mapping[str, bytes], settings: Settings | None = None) -> Campaign:
    """Load the files with the loader: the errors it raises name the campaign file and
    line. With ``settings``, the first post of every series and occasion is rendered too,
    on every account and language (a template error, an unknown account). Use the
    result's spec only: its folder is gone."""
    with scratch_campaign(files) as loaded:
        if settings is not None:
            sample_drafts(loaded, settings)
        return loaded


def first_dates(loaded: Campaign, after: date | None = None) -> dict[str, date]:
    """The first local date of each series and occasion, on or after ``after``."""
    from .dates import expand_rule, yearly_dates

    info = loaded.spec.campaign
    lo = max(after or info.start, info.start)
    found: dict[str, date] = {}
    for index, series in enumerate(loaded.spec.series):
        try:
            days = expand_rule(series.rule, info.start, info.end, series.time)
        except (ValueError, TypeError) as exc:
            raise CampaignError(
                f"{loaded.file}, key series[{index}].rule",
                f"the date rule {series.rule!r} does not parse: {exc}",
            ) from None
        day = next((d for d in days if d >= lo), None)
        if day is not None:
            found[series.id] = day
    for occasion in loaded.spec.occasions:
        if occasion.yearly:
            days = list(yearly_dates(occasion.yearly, lo, info.end))
        else:
            days = sorted(d for d in occasion.dates if lo <= d <= info.end)
        if days:
            found[occasion.id] = days[0]
    return found


def sample_drafts(loaded: Campaign, settings: Settings, after: date | None = None) -> list[Any]:
    """The drafts of the first date of each series and occasion (on or after ``after``):
    every template in every language on every account, without rendering the year."""
    from .expand import expand

    drafts = []
    for day in sorted(set(first_dates(loaded, after).values())):
        drafts.extend(expand(loaded, settings, day, day))
    return drafts


def load_revision(revision: Revision, state_dir: Path) -> Campaign:
    """The revision as a loaded ``Campaign``, for expanding and rendering."""
    return load_campaign(materialize(revision.files, state_dir))


# --- revisions --------------------------------------------------------------------------


def describe_changes(old: Mapping[str, bytes] | None, new: Mapping[str, bytes]) -> str:
    if old is None:
        return f"created with {len(new)} file(s)"
    parts = []
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    changed = sorted(p for p in set(new) & set(old) if new[p] != old[p])
    if changed:
        named = [
            f"{p} ({_toml_changes(old[p], new[p])})" if p == CAMPAIGN_FILE else p for p in changed
        ]
        parts.append("changed " + ", ".join(named))
    if added:
        parts.append("added " + ", ".join(added))
    if removed:
        parts.append("removed " + ", ".join(removed))
    return "; ".join(parts) or "no change"


def _toml_changes(old: bytes, new: bytes) -> str:
    """What changed inside campaign.toml, by key, for a person reading the history."""
    import tomllib

    try:
        a = tomllib.loads(old.decode("utf-8"))
        b = tomllib.loads(new.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return "not readable"
    out: list[str] = []
    for table in ("campaign", "vars", "lint"):
        was, now = _flat(a.get(table, {})), _flat(b.get(table, {}))
        out += [f"{table}.{k}" for k in sorted(set(was) | set(now)) if was.get(k) != now.get(k)]
    for kind in ("series", "occasions"):
        x: dict[Any, Any] = {e.get("id"): e for e in a.get(kind, []) if isinstance(e, dict)}
        y: dict[Any, Any] = {e.get("id"): e for e in b.get(kind, []) if isinstance(e, dict)}
        out += [f"{kind} {i} added" for i in y if i not in x]
        out += [f"{kind} {i} removed" for i in x if i not in y]
        for i in (i for i in y if i in x and x[i] != y[i]):
            keys = sorted(
                k for k in set(x[i]) | set(y[i]) if k != "items" and x[i].get(k) != y[i].get(k)
            )
            old_items, new_items = x[i].get("items", []), y[i].get("items", [])
            rows = [
                str(n + 1)
                for n in range(max(len(old_items), len(new_items)))
                if (old_items[n] if n < len(old_items) else None)
                != (new_items[n] if n < len(new_items) else None)
            ]
            what = keys + ([f"item {', '.join(rows)}"] if rows else [])
            out.append(f"{kind} {i}: {', '.join(what)}")
    if not out:
        return "layout or comments only"
    return "; ".join(out[:12]) + (" …" if len(out) > 12 else "")


def _flat(table: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(table, dict):
        return {prefix.rstrip("."): table}
    out: dict[str, Any] = {}
    for key, value in table.items():
        out.update(
            _flat(value, f"{prefix}{key}.") if isinstance(value, dict) else {prefix + key: value}
        )
    return out


def save_revision(
    db: Database,
    files: Mapping[str, bytes],
    *,
    actor: Actor,
    now: datetime,
    summary: str = "",
    expect_name: str | None = None,
    based_on: int | None = None,
    settings: Settings | None = None,
    accounts: Mapping[str, str | None] | None = None,
) -> Saved:
    """Store ``files`` as the campaign's next revision (the campaign is made on first use).

    ``expect_name``: the campaign being edited; a file naming another is refused.
    ``based_on``: the revision the editor started from; if another was saved since, the
    edit is refused rather than silently overwriting it.
    ``accounts``: a pack's accounts this force calls otherwise (or leaves out, ``None``),
    as ``campaign.pack.map_accounts``; the revision stores this force's names.

    ``actor`` needs rights on every account the campaign names, now and in the revision it
    replaces (planning it would change or cancel those accounts' posts)."""
    if settings is not None:
        files = map_accounts(files, accounts or {}, settings)
    elif accounts:
        raise CampaignError("account mapping", "mapping accounts needs the force's settings")
    # Where a photo was taken must never reach the public: cleaned before it is stored.
    files, cleaned = strip_image_metadata(files)
    loaded = check_files(files, settings)
    name = loaded.name
    if expect_name is not None and name != expect_name:
        raise CampaignError(
            f"{CAMPAIGN_FILE}, key campaign.name",
            f"the campaign is {expect_name!r}; a new name ({name!r}) makes a new campaign — "
            "export and import it instead",
        )
    digest = files_digest(files)
    title = loaded.spec.campaign.title
    with db.transaction() as session:
        row = session.scalars(select(StoredCampaign).where(StoredCampaign.name == name)).first()
        if row is None:
            row = StoredCampaign(
                name=name,
                title=title,
                current=0,
                created_by=actor.name,
                created_at=now,
                updated_at=now,
            )
            previous = None
        else:
            previous = _revision_row(session, row, row.current)
        old_files = _decode(previous.files) if previous is not None else None
        named = pack_accounts(files) + (pack_accounts(old_files) if old_files else [])
        check_accounts(actor, "plan", dict.fromkeys(named), what=f"campaign {name}")
        if previous is None:
            session.add(row)
            session.flush()
        else:
            if based_on is not None and based_on != row.current:
                raise CampaignError(
                    name,
                    f"revision {row.current} was saved (by {previous.author}) after the "
                    f"revision {based_on} you edited; nothing was changed. Open the campaign "
                    "again and redo your change.",
                )
            if previous.digest == digest:
                return Saved(name, row.current, False, "no change")
        what = describe_changes(old_files, files)
        if accounts:
            what += "; the pack's accounts mapped: " + describe_mapping(accounts)
        if cleaned:
            what += "; location and camera details removed from " + ", ".join(cleaned)
        number = row.current + 1
        session.add(
            CampaignRevision(
                campaign_id=row.id,
                number=number,
                author=actor.name,
                created_at=now,
                summary=(summary + ": " if summary else "") + what,
                files=_encode(files),
                digest=digest,
            )
        )
        row.current = number
        row.title = title
        row.updated_at = now
        record_event(
            session,
            actor=actor.name,
            action="campaign_revision",
            now=now,
            detail={"campaign": name, "revision": number, "summary": summary or what},
        )
    return Saved(name, number, True, (summary + ": " if summary else "") + what)


def import_folder(
    db: Database,
    folder: str | Path,
    *,
    actor: Actor,
    now: datetime,
    settings: Settings | None = None,
    accounts: Mapping[str, str | None] | None = None,
) -> Saved:
    """Read a campaign folder into a new revision (none if it has not changed), its
    accounts mapped to this force's by ``accounts`` (see ``save_revision``)."""
    path = Path(folder)
    label = path.parent.name if path.name == CAMPAIGN_FILE else path.name
    return save_revision(
        db,
        read_folder(folder),
        actor=actor,
        now=now,
        summary=f"imported from {label}",
        settings=settings,
        accounts=accounts,
    )


def export_campaign(
    db: Database, name: str, folder: str | Path, *, number: int | None = None
) -> Revision:
    """Write the revision's files into ``folder``, which must be empty or not exist yet."""
    revision = get_revision(db, name, number)
    target = Path(folder)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise CampaignError(str(target), "export needs an empty or new folder; nothing was written")
    target.mkdir(parents=True, exist_ok=True)
    write_files(revision.files, target)
    return revision


def restore_revision(
    db: Database,
    name: str,
    number: int,
    *,
    actor: Actor,
    now: datetime,
    settings: Settings | None = None,
) -> Saved:
    """A new revision with the files of revision ``number``: history is never rewritten."""
    old = get_revision(db, name, number)
    return save_revision(
        db,
        old.files,
        actor=actor,
        now=now,
        summary=f"restored revision {number}",
        expect_name=name,
        settings=settings,
    )


def _revision_row(session: Session, row: StoredCampaign, number: int) -> CampaignRevision:
    found = session.scalars(
        select(CampaignRevision).where(
            CampaignRevision.campaign_id == row.id, CampaignRevision.number == number
        )
    ).first()
    if found is None:
        raise NotFound(f"campaign {row.name!r} has no revision {number}")
    return found


def _campaign_row(session: Session, name: str) -> StoredCampaign:
    row = session.scalars(select(StoredCampaign).where(StoredCampaign.name == name)).first()
    if row is None:
        raise NotFound(f"no campaign named {name!r}")
    return row


def get_revision(db: Database, name: str, number: int | None = None) -> Revision:
    """Revision ``number`` of the campaign, or its current one."""
    with db.reading() as session:
        row = _campaign_row(session, name)
        rev = _revision_row(session, row, number or row.current)
        return Revision(
            campaign=row.name,
            number=rev.number,
            author=rev.author,
            created_at=rev.created_at,
            summary=rev.summary,
            files=_decode(rev.files),
            digest=rev.digest,
            current=rev.number == row.current,
        )


def list_revisions(db: Database, name: str) -> list[Revision]:
    """Newest first; the files are left out (empty) to keep the list light."""
    with db.reading() as session:
        row = _campaign_row(session, name)
        rows = session.execute(
            select(
                CampaignRevision.number,
                CampaignRevision.author,
                CampaignRevision.created_at,
                CampaignRevision.summary,
                CampaignRevision.digest,
            )
            .where(CampaignRevision.campaign_id == row.id)
            .order_by(CampaignRevision.number.desc())
        ).all()
        return [
            Revision(
                row.name,
                r.number,
                r.author,
                r.created_at,
                r.summary,
                {},
                r.digest,
                r.number == row.current,
            )
            for r in rows
        ]


def campaign_names(db: Database) -> list[str]:
    with db.reading() as session:
        return list(session.scalars(select(StoredCampaign.name).order_by(StoredCampaign.name)))


def list_campaigns(db: Database) -> list[CampaignRow]:
    """Every campaign with its dates, accounts, languages and its posts by state."""
    out: list[CampaignRow] = []
    with db.reading() as session:
        rows = list(session.scalars(select(StoredCampaign).order_by(StoredCampaign.name)))
        counts: dict[str, dict[str, int]] = {}
        for campaign, state, n in session.execute(
            select(Post.campaign, Post.state, func.count()).group_by(Post.campaign, Post.state)
        ):
            counts.setdefault(campaign, {})[state] = n
        current = {r.id: _revision_row(session, r, r.current) for r in rows}
    for row in rows:
        files = _decode(current[row.id].files)
        info = _campaign_table(files)
        out.append(
            CampaignRow(
                name=row.name,
                title=row.title,
                revision=row.current,
                updated_at=row.updated_at,
                start=info.get("start"),
                end=info.get("end"),
                timezone=str(info.get("timezone", "Europe/London")),
                accounts=list(info.get("accounts", [])),
                languages=list(info.get("languages", [])),
                bilingual=str(info.get("bilingual", "separate")),
                counts=counts.get(row.name, {}),
            )
        )
    return out


def _campaign_table(files: Mapping[str, bytes]) -> dict[str, Any]:
    import tomllib

    try:
        raw = tomllib.loads(files[CAMPAIGN_FILE].decode("utf-8"))
    except (KeyError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}
    table = raw.get("campaign", {})
    return table if isinstance(table, dict) else {}


def revision_json(revision: Revision) -> str:
    """The file set as JSON (what the table stores), for a person to download."""
    return json.dumps(_encode(revision.files), ensure_ascii=False, indent=1)
