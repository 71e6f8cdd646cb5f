"""A campaign's images go into the media library when it is planned: a worker on any host
reads their bytes from the database, not from the planning host's disk."""

from __future__ import annotations

import hashlib
import shutil
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from campaign import store
from channels.fake import FakeChannel
from core.clock import FakeClock
from core.settings import Settings
from examples import EXAMPLE_CAMPAIGN as EXAMPLE
from posts.db import Database
from posts.media import MediaItem, get_image, has_metadata, usage
from posts.models import Post, content_hash
from posts.planning import plan_campaign, preview_campaign
from schedules.dispatch import Dispatcher
from tests.helpers import approve_all, who
from tests.posts.media_helpers import photo_with_gps

NAME = "stop-talk-protect"
# Safer Internet Day (9 February 2027) and Child Exploitation Awareness Day (18 March):
# the example's two occasions with an image.
START, END = date(2027, 2, 8), date(2027, 3, 19)


def _plan(db: Database, settings: Settings, clock: FakeClock) -> None:
    plan_campaign(db, settings, NAME, START, END, actor=who("alice"), now=clock.now())


def _image_posts(db: Database) -> list[Post]:
    with db.transaction() as session:
        posts = list(session.scalars(select(Post).order_by(Post.due_at, Post.id)))
    return [p for p in posts if p.media]


def test_planned_images_are_sent_from_the_library_with_the_files_gone(
    db: Database, settings: Settings, clock: FakeClock
) -> None:
    store.import_folder(db, EXAMPLE, actor=who("alice"), now=clock.now(), settings=settings)
    _plan(db, settings, clock)
    posts = _image_posts(db)
    assert {p.occasion.split("/")[0] for p in posts} == {"safer-internet-day", "cea-day"}
    assert all("path" not in m and m["name"] and m["mime"] for p in posts for m in p.media)
    approve_all(db, [p.id for p in posts], clock.now())
    # Another host: none of the planning host's files.
    shutil.rmtree(Path(settings.state_dir) / "campaigns")
    fake = FakeChannel()
    dispatcher = Dispatcher(db, settings, lambda account: fake, clock, owner="other-host")
    try:
        clock.set(posts[0].due_at)
        for _ in range(6):  # one send in flight per account: a round each
            dispatcher.run_round()
            dispatcher.wait()
    finally:
        dispatcher.shutdown()
    assert fake.sent
    for sent in fake.sent:
        [image] = sent.media
        stored = get_image(db, image.sha256)
        assert stored is not None and image.data == stored.data
        # Byte for byte the example's file: an image without metadata goes in unchanged.
        assert image.data == (EXAMPLE / "images" / "safer-internet.jpg").read_bytes()
    with db.transaction() as session:
        sent_ids = [p.id for p in posts if p.due_at == posts[0].due_at]
        states = {p.id: p.state for p in session.scalars(select(Post))}
    assert [states[i] for i in sent_ids] == ["published"] * len(sent_ids)
    assert len(fake.sent) == len(sent_ids)
    # The library says where each campaign image is used.
    uses = usage(db)
    for post in posts:
        assert post.id in [u.post_id for u in uses[post.media[0]["sha256"]]]


def _as_planned_before(db: Database, state_dir: Path, reseal: bool) -> list[int]:
    """Give the image posts the entry planning stored before images went into the library
    (the file's path on this host), and approve them; ``reseal``: recompute the content
    hash from that entry (the file's own hash)."""
    with db.transaction() as session:
        session.execute(delete(MediaItem))
        posts = [p for p in session.scalars(select(Post).order_by(Post.id)) if p.media]
        files = {
            path.name: path for path in (state_dir / "campaigns").rglob("images/*") if path.is_file()
        }
        for post in posts:
            cea = post.occasion.startswith("cea-day")
            path = files["helping-hands.jpg" if cea else "safer-internet.jpg"]
            entry = {
                "path": str(path),
                "alt_text": post.media[0]["alt_text"],
                "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            }
            post.media = [entry]
            if reseal:
                post.content_hash = content_hash(
                    text=post.text or "",
                    media=post.media,
                    account=post.account,
                    language=post.language,
                    due_at=post.due_at,
                )
        return [p.id for p in posts]


def test_an_approved_post_planned_with_a_path_moves_to_the_library_keeping_its_approval(
    db: Database, settings: Settings, clock: FakeClock
) -> None:
    store.import_folder(db, EXAMPLE, actor=who("alice"), now=clock.now(), settings=settings)
    _plan(db, settings, clock)
    ids = _as_planned_before(db, Path(settings.state_dir), reseal=False)
    approve_all(db, ids, clock.now())
    _, preview = preview_campaign(db, settings, NAME, START, END)
    assert preview.to_library == len(ids)
    assert not preview.to_draft and not preview.updated and not preview.voided
    _, report = plan_campaign(db, settings, NAME, START, END, actor=who("alice"), now=clock.now())
    assert sorted(report.to_library) == sorted(ids) and not report.voided
    assert "media library (same bytes, approvals kept)" in report.summary()
    with db.transaction() as session:
        posts = [session.get(Post, i) for i in ids]
        for post in posts:
            assert post is not None and post.state == "approved"
            assert post.approved_hash == post.content_hash
            assert "path" not in post.media[0]
            assert session.scalar(
                select(MediaItem.id).where(MediaItem.sha256 == post.media[0]["sha256"])
            )
    # The next plan has nothing left to move.
    _, again = preview_campaign(db, settings, NAME, START, END)
    assert again.to_library == 0 and not again.changes_anything


def test_an_image_with_metadata_from_an_old_revision_is_cleaned_and_the_preview_names_the_voided(
    db: Database, settings: Settings, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / NAME
    shutil.copytree(EXAMPLE, folder)
    (folder / "images" / "helping-hands.jpg").write_bytes(photo_with_gps((200, 120)))
    # A revision stored before images were cleaned on save.
    monkeypatch.setattr(store, "strip_image_metadata", lambda files: (dict(files), []))
    store.import_folder(db, folder, actor=who("alice"), now=clock.now(), settings=settings)
    monkeypatch.undo()
    _plan(db, settings, clock)
    ids = _as_planned_before(db, Path(settings.state_dir), reseal=True)
    approve_all(db, ids, clock.now())
    cea = [i for i in ids if _post(db, i).occasion.startswith("cea-day")]
    _, preview = preview_campaign(db, settings, NAME, START, END)
    voided = {line.post_id: line for line in preview.voided}
    assert set(voided) == set(cea)  # named, with what changes
    assert all("image" in voided[i].changes for i in cea)
    _, report = plan_campaign(db, settings, NAME, START, END, actor=who("alice"), now=clock.now())
    assert sorted(report.voided) == sorted(cea)
    post = _post(db, cea[0])
    stored = get_image(db, post.media[0]["sha256"])
    assert stored is not None and not has_metadata(stored.data)
    assert b"PoliceCam" not in stored.data


def _post(db: Database, post_id: int) -> Post:
    with db.transaction() as session:
        post = session.get(Post, post_id)
        assert post is not None
        session.expunge(post)
        return post


def test_an_image_the_library_cannot_read_stops_the_plan_by_name(
    db: Database, settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    folder = tmp_path / NAME
    shutil.copytree(EXAMPLE, folder)
    # Starts like a JPEG (the loader's check), but is not one.
    (folder / "images" / "helping-hands.jpg").write_bytes(b"\xff\xd8\xff" + b"0" * 64)
    store.import_folder(db, folder, actor=who("alice"), now=clock.now(), settings=settings)
    with pytest.raises(Exception, match=r"images/helping-hands\.jpg") as refused:
        _plan(db, settings, clock)
    assert "nothing was planned" in str(refused.value)
    with db.transaction() as session:
        assert session.scalar(select(Post.id)) is None
        assert session.scalar(select(MediaItem.id)) is None
