"""The media library: images in the database, content-addressed, metadata stripped.

An upload is opened with Pillow (a real decoder, not the file name), checked (type, size,
dimensions), and **re-encoded from its pixels only**: EXIF (camera, time, GPS position),
XMP, IPTC, comments and ICC profiles are not carried over, so a police photo never tells
where or when it was taken. Only the re-encoded bytes are stored, hashed (SHA-256) and
sent; the bytes the person uploaded are never kept. The same picture uploaded twice is
stored once (same pixels, same bytes, same hash).

A post refers to a library image by its hash (``{"sha256", "alt_text", "name"}`` in
``Post.media``, no ``path``): a worker on any host reads the bytes from the database.
A campaign's images are put in the library when it is planned (``posts.planning``), byte
for byte when they carry no metadata; posts planned before that may still have ``path``
entries, read from the disk of the host that planned them, as before.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, LargeBinary, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from channels.networks import NETWORKS, display_name
from core.errors import QueueError

from .db import Database
from .journal import record_event
from .models import Base, Post, UTCDateTime

#: The most bytes an upload may have before it is even decoded.
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
#: The most pixels an image may have: LinkedIn's documented limit (36,152,320), the lowest
#: of the networks'; above it Pillow's own decompression-bomb guard would also stop it.
MAX_PIXELS = 36_152_320
#: The smallest side we accept: networks refuse (or blur) tiny images.
MIN_SIDE = 16
#: What Pillow reads and we store: (Pillow's format, MIME type, extension).
FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "GIF": ("image/gif", "gif"),
    "WEBP": ("image/webp", "webp"),
}
#: Languages an image's alt text is written in (Welsh first: Welsh Language Standards).
ALT_LANGUAGES = ("cy", "en")
LANGUAGE_NAMES = {"cy": "Welsh", "en": "English"}
# Pillow's names for metadata that can say who, where or when (not colour or resolution).
_METADATA_KEYS = frozenset(
    {"exif", "xmp", "XML:com.adobe.xmp", "comment", "photoshop", "iptc", "Comment"}
)


class MediaError(QueueError):
    """An image or its alt text was refused. ``field`` names the form field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class MediaItem(Base):
    """One image of the library: the cleaned bytes, keyed by their SHA-256."""

    __tablename__ = "media"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    mime: Mapped[str] = mapped_column(String(40))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    filename: Mapped[str] = mapped_column(String(200))  # the uploaded name, for people
    # Alt text by language ({"cy": …, "en": …}): the default a post starts from.
    alt_text: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    uploaded_by: Mapped[str] = mapped_column(String(100))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())

    @property
    def extension(self) -> str:
        return next((ext for mime, ext in FORMATS.values() if mime == self.mime), "bin")

    @property
    def name(self) -> str:
        """A file name for the networks and the outbox: the hash, never the upload's name
        (which may say more than the picture should)."""
        return f"{self.sha256[:16]}.{self.extension}"


@dataclass(frozen=True)
class CleanImage:
    data: bytes
    mime: str
    width: int
    height: int

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def clean_image(data: bytes, *, field: str = "image") -> CleanImage:
    """The image's pixels re-encoded with no metadata, or ``MediaError`` saying why not."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not data:
        raise MediaError(field, "the file is empty: choose an image")
    if len(data) > MAX_UPLOAD_BYTES:
        raise MediaError(
            field,
            f"the file is {len(data):,} bytes; the library takes images of at most "
            f"{MAX_UPLOAD_BYTES:,} bytes",
        )
    try:
        with Image.open(io.BytesIO(data)) as opened:
            kind = opened.format or ""
            if kind not in FORMATS:
                raise MediaError(
                    field,
                    f"this is a {kind or 'file of an unknown type'}, not an image the networks "
                    "take: use JPEG, PNG, GIF or WEBP",
                )
            width, height = opened.size
            if width * height > MAX_PIXELS:
                raise MediaError(
                    field,
                    f"the image is {width}×{height} pixels ({width * height:,}); the most any "
                    f"network takes is {MAX_PIXELS:,} pixels: make it smaller",
                )
            if min(width, height) < MIN_SIDE:
                raise MediaError(
                    field,
                    f"the image is {width}×{height} pixels; use one at least "
                    f"{MIN_SIDE} pixels on each side",
                )
            opened.load()
            # The camera's orientation tag is metadata too: apply it to the pixels first,
            # so that the picture still stands the right way up without it.
            upright = ImageOps.exif_transpose(opened)
            pixels = _pixels_only(upright, kind)
    except MediaError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError):
        raise MediaError(
            field, "this file is not an image the library can read: use JPEG, PNG, GIF or WEBP"
        ) from None
    except (OSError, ValueError, SyntaxError) as exc:  # truncated or corrupt
        raise MediaError(field, f"the image cannot be read (it may be damaged): {exc}") from None
    out = io.BytesIO()
    if kind == "JPEG":
        pixels.save(out, "JPEG", quality=90, optimize=True)
    elif kind == "WEBP":
        pixels.save(out, "WEBP", quality=90)
    else:
        pixels.save(out, kind, optimize=True)
    mime = FORMATS[kind][0]
    return CleanImage(out.getvalue(), mime, pixels.width, pixels.height)


def _pixels_only(image: Any, kind: str) -> Any:
    """A new image holding only the pixels (and a palette): no ``info``, no EXIF."""
    from PIL import Image

    mode = image.mode
    if kind == "JPEG" and mode not in ("RGB", "L"):
        image, mode = image.convert("RGB"), "RGB"
    elif kind != "JPEG" and mode not in ("RGB", "RGBA", "L", "LA", "P"):
        image, mode = image.convert("RGBA"), "RGBA"
    fresh = Image.frombytes(mode, image.size, image.tobytes())
    if mode == "P":
        palette = image.getpalette()
        if palette:
            fresh.putpalette(palette)
        if "transparency" in image.info and isinstance(image.info["transparency"], int):
            fresh.info["transparency"] = image.info["transparency"]
    return fresh


def required_alt_languages(languages: Iterable[str]) -> list[str]:
    """The languages an image's alt text must be written in, Welsh first."""
    wanted = set(languages)
    return [lang for lang in ALT_LANGUAGES if lang in wanted] or ["en"]


def check_alt_texts(
    alt_text: Mapping[str, str], languages: Iterable[str], *, prefix: str = "alt_"
) -> dict[str, str]:
    """The alt texts, stripped, one per language; ``MediaError`` naming the first missing."""
    cleaned = {lang: (alt_text.get(lang) or "").strip() for lang in languages}
    for lang, text in cleaned.items():
        if not text:
            raise MediaError(
                f"{prefix}{lang}",
                f"write the alt text in {LANGUAGE_NAMES.get(lang, lang)}: a person who cannot "
                "see the image reads it instead",
            )
    return cleaned


def add_image(
    db: Database,
    data: bytes,
    *,
    filename: str,
    alt_text: Mapping[str, str],
    languages: Iterable[str],
    actor: str,
    now: datetime,
) -> tuple[MediaItem, bool]:
    """Clean and store an upload. Returns (the library's image, whether it is new): the same
    picture uploaded again is the image already there (its alt text kept)."""
    alts = check_alt_texts(alt_text, required_alt_languages(languages))
    clean = clean_image(data)
    with db.transaction() as session:
        item, new = store_image(
            session, clean, filename=filename, alt_text=alts, actor=actor, now=now
        )
        session.expunge(item)
        return item, new


def store_image(
    session: Session,
    clean: CleanImage,
    *,
    filename: str,
    alt_text: Mapping[str, str],
    actor: str,
    now: datetime,
) -> tuple[MediaItem, bool]:
    """Store already-cleaned bytes in ``session`` (the image already there if the same
    bytes are), recording who added it. The caller checked the alt text."""
    name = (filename or "image").replace("\\", "/").rsplit("/", 1)[-1][:200] or "image"
    existing = session.scalar(select(MediaItem).where(MediaItem.sha256 == clean.sha256))
    if existing is not None:
        return existing, False
    item = MediaItem(
        sha256=clean.sha256,
        mime=clean.mime,
        width=clean.width,
        height=clean.height,
        size=len(clean.data),
        data=clean.data,
        filename=name,
        alt_text=dict(alt_text),
        uploaded_by=actor,
        uploaded_at=now,
    )
    session.add(item)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="media_add",
        now=now,
        detail={"sha256": clean.sha256, "file": name, "bytes": len(clean.data)},
    )
    return item, True


def has_metadata(data: bytes) -> bool:
    """Whether the image carries EXIF, XMP, IPTC, a comment or PNG text. An image Pillow
    cannot open is left to the caller's own checks (False)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            if len(image.getexif()) or _METADATA_KEYS & set(image.info):
                return True
            return bool(getattr(image, "text", None))  # PNG tEXt/iTXt/zTXt chunks
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return False


def keep_or_clean(data: bytes, *, field: str = "image") -> CleanImage:
    """An image already without metadata, as it is (byte for byte, so its hash — and an
    approval bound to it — stays the same), after the same checks as an upload; one with
    metadata re-encoded from its pixels (``clean_image``)."""
    if has_metadata(data):
        return clean_image(data, field=field)
    from PIL import Image, UnidentifiedImageError

    cleaned = clean_image(data, field=field)  # the checks: type, size, dimensions
    try:
        with Image.open(io.BytesIO(data)) as opened:
            width, height = opened.size
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):  # pragma: no cover
        return cleaned
    return CleanImage(bytes(data), cleaned.mime, width, height)


def find_image(session: Session, ref: str) -> MediaItem | None:
    """The library's image by its hash (or a prefix of 8+ characters) or uploaded name."""
    ref = ref.strip()
    if not ref:
        return None
    lowered = ref.lower()
    if len(lowered) >= 8 and all(c in "0123456789abcdef" for c in lowered):
        found = list(
            session.scalars(select(MediaItem).where(MediaItem.sha256.startswith(lowered)).limit(2))
        )
        if len(found) == 1:
            return found[0]
    by_name = list(session.scalars(select(MediaItem).where(MediaItem.filename == ref).limit(2)))
    return by_name[0] if len(by_name) == 1 else None


def get_image(db: Database, sha256: str) -> MediaItem | None:
    with db.transaction() as session:
        item = session.scalar(select(MediaItem).where(MediaItem.sha256 == sha256))
        if item is not None:
            session.expunge(item)
        return item


def image_bytes(session: Session, sha256: str) -> bytes | None:
    """The stored bytes of a library image (checked against the hash), or ``None``."""
    data = session.scalar(select(MediaItem.data).where(MediaItem.sha256 == sha256))
    if data is None or hashlib.sha256(data).hexdigest() != sha256:
        return None
    return bytes(data)


def library(db: Database) -> list[MediaItem]:
    """Every image, newest first, without loading their bytes into the page."""
    with db.transaction() as session:
        items = list(session.scalars(select(MediaItem).order_by(MediaItem.uploaded_at.desc())))
        for item in items:
            session.expunge(item)
        return items


@dataclass(frozen=True)
class Use:
    post_id: int
    account: str
    language: str
    state: str
    due_at: datetime


def usage(db: Database) -> dict[str, list[Use]]:
    """Where each image is used: hash -> the posts that carry it."""
    found: dict[str, list[Use]] = {}
    with db.transaction() as session:
        rows = session.execute(
            select(Post.id, Post.account, Post.language, Post.state, Post.due_at, Post.media)
            .where(Post.media.is_not(None))
            .order_by(Post.due_at, Post.id)
        )
        for post_id, account, language, state, due_at, media in rows:
            for entry in media or []:
                if isinstance(entry, dict) and entry.get("sha256"):
                    found.setdefault(str(entry["sha256"]), []).append(
                        Use(post_id, account, language, state, due_at)
                    )
    return found


def post_entry(item: MediaItem, alt_text: str) -> dict[str, Any]:
    """What a post stores for a library image: the hash, a name, the alt text, no path."""
    return {"sha256": item.sha256, "alt_text": alt_text, "name": item.name, "mime": item.mime}


def entry_for(clean: CleanImage, alt_text: str) -> dict[str, Any]:
    """``post_entry`` for an image about to be stored (the same shape, the same name)."""
    ext = next((ext for mime, ext in FORMATS.values() if mime == clean.mime), "bin")
    return {
        "sha256": clean.sha256,
        "alt_text": alt_text,
        "name": f"{clean.sha256[:16]}.{ext}",
        "mime": clean.mime,
    }


def network_problems(item: MediaItem, network: str, alt_text: str, count: int) -> list[str]:
    """Why ``network`` would refuse this image on a post of ``count`` images ([] if fine)."""
    row = NETWORKS[network]
    limits, name = row.images, display_name(network)
    problems = []
    if limits.count is not None and count > limits.count:
        problems.append(f"{name} takes at most {limits.count} image(s) a post, not {count}")
    if not limits.accepts(item.mime):
        problems.append(f"{name} does not take {item.mime} images ({', '.join(limits.types)})")
    if limits.bytes is not None and item.size > limits.bytes:
        problems.append(
            f"{name} takes images of at most {limits.bytes:,} bytes; this one is {item.size:,}"
        )
    if limits.alt_text is not None and len(alt_text) > limits.alt_text:
        problems.append(
            f"{name} takes alt text of at most {limits.alt_text} characters, not {len(alt_text)}"
        )
    return problems


def fits(item: MediaItem) -> dict[str, list[str]]:
    """For the library page: each network's objections to the image alone."""
    return {key: network_problems(item, key, "", 1) for key in NETWORKS}
