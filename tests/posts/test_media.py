"""The media library: real images through Pillow, metadata stripped from the bytes, stored
by hash, and read back from the database by the worker's channels."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from channels.outbox import read_outbox
from channels.registry import channel_for
from core.clock import FakeClock
from core.settings import Settings
from posts import media as library
from posts.compose import Composition, ImageChoice, compose
from posts.db import Database
from posts.media import MediaError, MediaItem
from schedules.dispatch import Dispatcher
from tests.helpers import approve_all, who
from tests.posts.media_helpers import SECRET_MAKE, has_location, photo_with_gps

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
ALT = {"cy": "Llun o ddyn mewn siaced las", "en": "A photo of a man in a blue jacket"}


def _count(db: Database) -> int:
    with db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(MediaItem)) or 0)


def test_gps_and_camera_are_stripped_before_the_bytes_are_stored(db: Database) -> None:
    upload = photo_with_gps()
    assert has_location(upload) and SECRET_MAKE.encode() in upload
    item, new = library.add_image(
        db, upload, filename="scene.jpg", alt_text=ALT, languages=["en", "cy"], actor="alice",
        now=NOW,
    )
    assert new and item.mime == "image/jpeg" and (item.width, item.height) == (64, 48)
    with db.transaction() as session:
        stored = session.scalar(select(MediaItem.data).where(MediaItem.sha256 == item.sha256))
    assert stored is not None
    assert hashlib.sha256(stored).hexdigest() == item.sha256
    assert not has_location(stored)
    assert SECRET_MAKE.encode() not in stored and b"Exif" not in stored
    # The same picture again is the image already there: stored once.
    again, new_again = library.add_image(
        db, upload, filename="copy.jpg", alt_text=ALT, languages=["en", "cy"], actor="bob", now=NOW
    )
    assert not new_again and again.sha256 == item.sha256 and _count(db) == 1


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        (b"", "image", "empty"),
        (b"%PDF-1.4 not an image", "image", "not an image"),
        (photo_with_gps(fmt="TIFF"), "image", "TIFF"),
        (photo_with_gps(size=(8, 8)), "image", "at least 16 pixels"),
        (photo_with_gps()[:200], "image", "damaged"),
    ],
)
def test_bad_uploads_are_refused_by_name_and_nothing_is_stored(
    db: Database, data: bytes, field: str, words: str
) -> None:
    with pytest.raises(MediaError) as refused:
        library.add_image(
            db, data, filename="x", alt_text=ALT, languages=["en", "cy"], actor="a", now=NOW
        )
    assert refused.value.field == field and words in str(refused.value)
    assert _count(db) == 0


def test_alt_text_is_required_in_each_language(db: Database) -> None:
    with pytest.raises(MediaError) as refused:
        library.add_image(
            db, photo_with_gps(), filename="x.jpg", alt_text={"en": "A photo", "cy": " "},
            languages=["en", "cy"], actor="a", now=NOW,
        )
    assert refused.value.field == "alt_cy" and "Welsh" in str(refused.value)
    assert _count(db) == 0


def test_network_limits_name_the_network(db: Database) -> None:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (40, 40), (1, 2, 3)).save(out, "PNG")
    item, _ = library.add_image(
        db, out.getvalue(), filename="p.png", alt_text=ALT, languages=["en"], actor="a", now=NOW
    )
    assert library.network_problems(item, "instagram", "", 1) == [
        "Instagram does not take image/png images (image/jpeg)"
    ]
    assert library.network_problems(item, "x", "", 5)[0].startswith("X takes at most 4 image")
    assert library.network_problems(item, "x", "a" * 1001, 1)[0].endswith("not 1001")


def test_the_worker_sends_library_bytes_from_the_database_and_shows_where_used(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    item, _ = library.add_image(
        db, photo_with_gps(), filename="scene.jpg", alt_text=ALT, languages=["en", "cy"],
        actor="alice", now=NOW,
    )
    clock = FakeClock(NOW)
    posts = compose(
        db,
        settings,
        Composition(
            accounts=["gwent-x"],
            texts={"cy": "Apêl: ydych chi wedi gweld y dyn hwn?", "en": "Appeal: have you seen him?"},
            when=NOW + timedelta(hours=1),
            images=[ImageChoice(item.sha256[:12])],
        ),
        actor=who("alice"),
        now=NOW,
    )
    assert all(p.media[0]["sha256"] == item.sha256 and "path" not in p.media[0] for p in posts)
    assert {p.media[0]["alt_text"] for p in posts} == set(ALT.values())
    uses = library.usage(db)[item.sha256]
    assert sorted(u.post_id for u in uses) == sorted(p.id for p in posts)
    approve_all(db, [p.id for p in posts], NOW)
    clock.set(NOW + timedelta(hours=1, seconds=1))
    dispatcher = Dispatcher(
        db, settings, lambda n: channel_for(n, settings.account(n), settings), clock, owner="t"
    )
    try:
        for _ in range(3):
            dispatcher.run_round()
            dispatcher.wait()
    finally:
        dispatcher.shutdown()
    lines = list(read_outbox(settings.outbox_path))
    assert len(lines) == 2
    assert {m["file"] for line in lines for m in line["media"]} == {item.name}
    assert {m["alt_text"] for line in lines for m in line["media"]} == set(ALT.values())


def test_instagram_fetches_a_library_image_from_the_database(
    db: Database, settings: Settings
) -> None:
    """The signed public route (web/media.py) serves a library image's stored bytes for an
    approved Instagram post: no file on any disk."""
    from web.media import approved_image

    item, _ = library.add_image(
        db, photo_with_gps(), filename="scene.jpg", alt_text=ALT, languages=["en", "cy"],
        actor="alice", now=NOW,
    )
    posts = compose(
        db, settings,
        Composition(accounts=["gwent-instagram"], texts={"cy": "Apêl: ffoniwch 101.",
                                                         "en": "Appeal: call 101."},
                    when=NOW + timedelta(hours=1), images=[ImageChoice(item.sha256)]),
        actor=who("alice"), now=NOW,
    )
    assert approved_image(db, item.sha256) is None  # not approved yet: nothing served
    approve_all(db, [p.id for p in posts], NOW)
    found = approved_image(db, item.sha256)
    assert isinstance(found, tuple) and found[0] == item.name
    assert hashlib.sha256(found[1]).hexdigest() == item.sha256 and not has_location(found[1])
