"""Read a campaign folder (``campaign.toml`` + ``templates/`` + images) into a validated
``Campaign``. Every error names the file and the line or key; nothing is half-read.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from core.errors import CampaignError

from .dates import RuleError, expand_rule_times, yearly_dates
from .model import CampaignFile, Image

# Formats every network takes, by their first bytes; X's image limit is the smallest.
_IMAGE_MAGIC = {b"\x89PNG\r\n\x1a\n": "png", b"\xff\xd8\xff": "jpeg", b"GIF8": "gif"}
MAX_IMAGE_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class CheckedImage:
    path: Path
    alt: dict[str, str]
    sha256: str


@dataclass(frozen=True)
class Campaign:
    folder: Path
    file: Path
    spec: CampaignFile
    zone: ZoneInfo
    images: dict[str, CheckedImage]  # by the path written in the file

    @property
    def name(self) -> str:
        return self.spec.campaign.name

    def variables(self, language: str) -> dict[str, Any]:
        """Shared [vars] with the language's own table merged over them."""
        languages = set(self.spec.campaign.languages)
        shared = {
            k: v for k, v in self.spec.vars.items() if not (k in languages and isinstance(v, dict))
        }
        own = self.spec.vars.get(language, {})
        return {**shared, **(own if isinstance(own, dict) else {})}


def load_campaign(location: str | Path) -> Campaign:
    """Load a campaign from its folder or its ``campaign.toml``."""
    path = Path(location)
    file = path / "campaign.toml" if path.is_dir() else path
    try:
        data = read_limited(file, MAX_TEXT_BYTES)
    except OSError as exc:
        raise CampaignError(str(file), f"cannot read the campaign file: {exc.strerror}") from None
    except ValueError as exc:
        raise CampaignError(str(file), str(exc)) from None
    text = decode_utf8(data, file)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CampaignError(str(file), f"not valid TOML: {exc}") from None
    try:
        spec = CampaignFile.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = _key_path(err["loc"])
        line = _line_for(text, err["loc"])
        where = f"{file}, line {line}" if line else str(file)
        more = f" (and {len(exc.errors()) - 1} more problems)" if len(exc.errors()) > 1 else ""
        raise CampaignError(where, f"{key}: {err['msg']}{more}") from None
    try:
        zone = ZoneInfo(spec.campaign.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise CampaignError(
            f"{file}, key campaign.timezone", f"unknown time zone {spec.campaign.timezone!r}"
        ) from None
    _check_references(file, spec)
    _check_dates(file, spec, zone)
    images = _check_images(file, spec)
    return Campaign(folder=file.parent, file=file, spec=spec, zone=zone, images=images)


def _check_references(file: Path, spec: CampaignFile) -> None:
    ids = [s.id for s in spec.series] + [o.id for o in spec.occasions]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise CampaignError(str(file), f"id {sorted(dupes)[0]!r} is used twice")
    for index, series in enumerate(spec.series):
        for n, item in enumerate(series.items):
            for language in spec.campaign.languages:
                try:
                    item.text(language)
                except KeyError:
                    raise CampaignError(
                        f"{file}, key series[{index}].items[{n}]",
                        f"the item has no {language!r} text",
                    ) from None


MAX_TEXT_BYTES = 1024 * 1024  # a campaign file or template; far above any real one


def read_limited(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes.

    Raises ``ValueError`` for anything else: ``/dev/zero`` or a FIFO would be read forever,
    a directory or a huge file is a mistake. ``OSError`` when it cannot be opened.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise ValueError(f"{path.name} is not a regular file")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{path.name} is larger than {limit // 1024} KB")
    return data


def decode_utf8(data: bytes, file: Path) -> str:
    """``data`` as UTF-8 text, or a ``CampaignError`` naming the file, line and column."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise CampaignError(
            f"{file}, line {line}",
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} at column {column}): save the file "
            "as UTF-8",
        ) from None


def inside(folder: Path, relative: str) -> Path | None:
    """``folder / relative`` with every link resolved, or None when it leads outside
    ``folder`` (``../x.png``, an absolute path, a symbolic link out)."""
    root = folder.resolve()
    path = (folder / relative).resolve()
    return path if path.is_relative_to(root) else None


def _check_dates(file: Path, spec: CampaignFile, zone: ZoneInfo) -> None:
    """Refuse a rule that does not parse or gives no post at all between start and end."""
    info = spec.campaign
    span = f"between {info.start} and {info.end}"
    for index, series in enumerate(spec.series):
        where = f"{file}, key series[{index}].rule ({series.id})"
        try:
            moments = expand_rule_times(series.rule, info.start, info.end, series.time, zone)
        except RuleError as exc:
            raise CampaignError(
                where, f"the date rule {series.rule!r} does not parse: {exc}"
            ) from None
        if not moments:
            raise CampaignError(where, f"the date rule {series.rule!r} gives no post {span}")
    for index, occasion in enumerate(spec.occasions):
        if occasion.yearly:
            if not any(yearly_dates(occasion.yearly, info.start, info.end)):
                extra = (
                    " (29 February: no leap day in that range)"
                    if occasion.yearly == "02-29"
                    else ""
                )
                raise CampaignError(
                    f"{file}, key occasions[{index}].yearly ({occasion.id})",
                    f"{occasion.yearly} gives no post {span}{extra}",
                )
        elif not any(info.start <= day <= info.end for day in occasion.dates):
            raise CampaignError(
                f"{file}, key occasions[{index}].dates ({occasion.id})",
                f"none of the dates is {span}",
            )


def _check_images(file: Path, spec: CampaignFile) -> dict[str, CheckedImage]:
    found: list[tuple[str, Image]] = []
    for kind, entries in (("series", spec.series), ("occasions", spec.occasions)):
        for index, entry in enumerate(entries):
            if entry.image:
                found.append((f"{kind}[{index}].image", entry.image))
    for index, series in enumerate(spec.series):
        for n, item in enumerate(series.items):
            if item.image:
                found.append((f"series[{index}].items[{n}].image", item.image))
    checked: dict[str, CheckedImage] = {}
    for key, image in found:
        where = f"{file}, key {key}"
        path = inside(file.parent, image.path)
        if path is None:
            raise CampaignError(
                where, f"{image.path} is outside the campaign folder; put images in images/"
            )
        try:
            data = read_limited(path, MAX_IMAGE_BYTES)
        except OSError as exc:
            raise CampaignError(where, f"cannot read image {image.path}: {exc.strerror}") from None
        except ValueError:
            if not path.is_file():
                raise CampaignError(where, f"{image.path} is not a regular file") from None
            raise CampaignError(
                where,
                f"{image.path} is {path.stat().st_size // 1024} KB; the limit is "
                f"{MAX_IMAGE_BYTES // 1024} KB (X's image limit)",
            ) from None
        if not any(data.startswith(magic) for magic in _IMAGE_MAGIC):
            raise CampaignError(where, f"{image.path} is not a PNG, JPEG or GIF image")
        for language in spec.campaign.languages:
            if not image.alt.get(language, "").strip():
                raise CampaignError(where, f"alt text in {language!r} is required for {image.path}")
        checked[image.path] = CheckedImage(path, dict(image.alt), hashlib.sha256(data).hexdigest())
    return checked


def _key_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line_for(text: str, loc: tuple[Any, ...]) -> int | None:
    """Best effort: the line of the table (or array-of-tables entry) the error is in."""
    lines = text.splitlines()
    if not loc:
        return None
    head = str(loc[0])
    if len(loc) > 1 and isinstance(loc[1], int):
        pattern = re.compile(rf"^\s*\[\[\s*{re.escape(head)}\s*\]\]")
        hits = [n for n, line in enumerate(lines, 1) if pattern.match(line)]
        start = hits[loc[1]] if loc[1] < len(hits) else None
        key = loc[2] if len(loc) > 2 else None
    else:
        pattern = re.compile(rf"^\s*\[\s*{re.escape(head)}\s*\]")
        hits = [n for n, line in enumerate(lines, 1) if pattern.match(line)]
        start = hits[0] if hits else None
        key = loc[1] if len(loc) > 1 else None
    if start is None:
        return None
    if isinstance(key, str):
        key_pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
        for n in range(start, len(lines)):
            if lines[n].lstrip().startswith("["):
                break
            if key_pattern.match(lines[n]):
                return n + 1
    return start
