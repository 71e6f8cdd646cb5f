"""The example campaign end to end: planned with its X, Facebook, Mastodon, LinkedIn and
Instagram accounts pointed at strict fakes over HTTP (Instagram fetching each image from
the real web app's signed public address) (Bluesky's own end-to-end run is against a
real PDS in tests/channels/test_bluesky.py), approved, published by the worker's
dispatcher through the real channels — and exactly the approved posts arrive, with
images and alt text."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from campaign.expand import expand
from campaign.loader import load_campaign
from channels.registry import channel_for
from core.clock import FakeClock, SystemClock
from core.settings import load_settings
from examples import EXAMPLE_CAMPAIGN as EXAMPLE
from posts import review
from posts.db import Database
from posts.media import get_image
from posts.models import Post
from posts.planning import store_drafts
from schedules.dispatch import Dispatcher
from tests.fakeplatform import FakeConfig, FakePlatform
from tests.fakes import instagram as instagram_fakes
from tests.fakes.instagram import FakeInstagram
from tests.fakes.linkedin import ORGANIZATION as LINKEDIN_ORGANIZATION
from tests.fakes.linkedin import FakeLinkedIn
from tests.helpers import WebServer, who
from web.app import create_app

LIVE = ("gwent-x", "gwent-facebook", "gwent-mastodon", "gwent-linkedin", "gwent-instagram")
MEDIA_KEY = "e2e-media-key-" + "k" * 40


@pytest.fixture
def web() -> Iterator[WebServer]:
    server = WebServer()
    yield server
    server.stop()


def test_example_campaign_reaches_every_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, web: WebServer
) -> None:
    fake = FakeConfig()
    x, page, masto = fake.x_accounts[0], fake.facebook_pages[0], fake.mastodon_accounts[0]
    ig_account = instagram_fakes.DEFAULT_ACCOUNTS[0]
    with FakePlatform(fake) as platform, FakeLinkedIn() as linkedin, FakeInstagram() as ig:
        issued = linkedin.issue()
        (tmp_path / "config.toml").write_text(f"""
[web]
public_url = "{web.url}"
media_key_env = "E2E_MEDIA_KEY"
[accounts.gwent-instagram]
network = "instagram"
handle = "{ig_account.id}"
languages = ["en", "cy"]
dry_run = false
api_base_url = "{ig.url}"
credentials = {{ access_token = "E2E_IG" }}
[accounts.gwent-x]
network = "x"
handle = "@{x.username}"
languages = ["en", "cy"]
dry_run = false
api_base_url = "{platform.url}"
credentials = {{ consumer_key = "E2E_CK", consumer_secret = "E2E_CS", access_token = "E2E_AT", access_token_secret = "E2E_ATS" }}
[accounts.gwent-facebook]
network = "facebook"
handle = "{page.id}"
languages = ["en", "cy"]
dry_run = false
api_base_url = "{platform.url}"
credentials = {{ page_token = "E2E_FB" }}
[accounts.gwent-bluesky]
network = "bluesky"
handle = "gwentpolice.bsky.social"
languages = ["en", "cy"]
[accounts.gwent-mastodon]
network = "mastodon"
handle = "@{masto.username}@{fake.mastodon_domain}"
languages = ["en", "cy"]
dry_run = false
api_base_url = "{platform.url}"
credentials = {{ access_token = "E2E_MASTO" }}
[accounts.gwent-linkedin]
network = "linkedin"
handle = "{LINKEDIN_ORGANIZATION}"
languages = ["en", "cy"]
dry_run = false
api_base_url = "{linkedin.url}"
token_expires_at = 2099-01-01T00:00:00Z
credentials = {{ access_token = "E2E_LI" }}
""")
        environ = {
            "E2E_CK": fake.x_consumer_key,
            "E2E_CS": fake.x_consumer_secret,
            "E2E_AT": x.access_token,
            "E2E_ATS": x.access_token_secret,
            "E2E_FB": page.token,
            "E2E_MASTO": masto.token,
            "E2E_LI": issued.access_token,
            "E2E_IG": ig_account.token,
            "E2E_MEDIA_KEY": MEDIA_KEY,
        }
        settings = load_settings(tmp_path / "config.toml", environ={})
        db = Database(settings.database_url)
        db.ensure_schema()
        # The web app serves the signed image links Instagram fetches (on the wall clock).
        monkeypatch.setenv("E2E_MEDIA_KEY", MEDIA_KEY)
        web.app = create_app(settings, db, SystemClock(), secret_key="s" * 32)
        campaign = load_campaign(EXAMPLE)
        clock = FakeClock(datetime(2027, 3, 1, tzinfo=UTC))
        store_drafts(
            db,
            expand(campaign, settings, date(2027, 3, 17), date(2027, 3, 18)),
            actor=who("author"),
            now=clock.now(),
        )
        with db.transaction() as s:
            posts = list(s.scalars(select(Post).order_by(Post.due_at, Post.id)))
        chosen = [
            p
            for p in posts
            if p.occasion.endswith("2027-03-18") and p.account in LIVE
        ]
        ids = [p.id for p in chosen]
        review.submit(db, ids, actor=who("author"), now=clock.now())
        review.record_previews(db, ids, actor=who("reviewer"), now=clock.now())
        review.approve(db, ids, actor=who("reviewer"), now=clock.now())

        dispatcher = Dispatcher(
            db,
            settings,
            lambda name: channel_for(name, settings.account(name), settings, environ),
            clock,
            owner="e2e",
        )
        try:
            for post in posts:  # walk through the two days at each post's time
                clock.set(max(clock.now(), post.due_at))
                for _ in range(3):
                    dispatcher.run_round()
                    dispatcher.wait()
        finally:
            dispatcher.shutdown()

        on_x = platform.x_posts(x.username)
        on_facebook = platform.fb_posts(page.id)
        expected_x = [p.text for p in chosen if p.account == "gwent-x"]
        expected_fb = [p.text for p in chosen if p.account == "gwent-facebook"]
        assert sorted(p["text"] for p in on_x) == sorted(expected_x)
        assert sorted(p["message"] for p in on_facebook) == sorted(expected_fb)
        on_mastodon = platform.md_statuses(masto.username)
        assert sorted(s["text"] for s in on_mastodon) == sorted(
            p.text for p in chosen if p.account == "gwent-mastodon"
        )
        on_linkedin = linkedin.posts()
        assert sorted(p["text"] for p in on_linkedin) == sorted(
            p.text for p in chosen if p.account == "gwent-linkedin"
        )
        # Child Exploitation Awareness Day carries its image and alt text on both networks.
        cea = [p for p in chosen if p.occasion.startswith("cea-day")]
        assert cea and all(p.media for p in cea)
        # Sent from the media library (planning put the campaign's image there, byte for
        # byte: the example's image carries no metadata).
        assert "path" not in cea[0].media[0]
        library_image = get_image(db, cea[0].media[0]["sha256"])
        assert library_image is not None
        image = library_image.data
        assert image == (EXAMPLE / "images" / "helping-hands.jpg").read_bytes()
        x_media = [platform.x_media(m) for p in on_x for m in p.get("media_ids") or []]
        assert {m["alt_text"] for m in x_media} == {
            p.media[0]["alt_text"] for p in cea if p.account == "gwent-x"
        }
        assert all(m["bytes"] == image for m in x_media)
        photos = platform.fb_photos(page.id)
        assert {ph["alt_text"] for ph in photos} == {
            p.media[0]["alt_text"] for p in cea if p.account == "gwent-facebook"
        }
        masto_media = [platform.md_media(m) for s in on_mastodon for m in s["media_ids"] or []]
        assert {m["description"] for m in masto_media} == {
            p.media[0]["alt_text"] for p in cea if p.account == "gwent-mastodon"
        }
        assert all(m["bytes"] == image for m in masto_media)
        li_media = [p["content"]["media"] for p in on_linkedin if p.get("content")]
        assert {m["altText"] for m in li_media} == {
            p.media[0]["alt_text"] for p in cea if p.account == "gwent-linkedin"
        }
        assert all(linkedin.image(m["id"])["bytes"] == image for m in li_media)
        on_instagram = ig.media(ig_account.id)
        assert sorted(m["caption"] for m in on_instagram) == sorted(
            p.text for p in chosen if p.account == "gwent-instagram"
        )
        assert all(m["images"] == [image] for m in on_instagram)
        assert {a for m in on_instagram for a in m["alt_texts"]} == {
            p.media[0]["alt_text"] for p in cea if p.account == "gwent-instagram"
        }
        with db.transaction() as s:
            states = {p.id: p.state for p in s.scalars(select(Post))}
        assert all(states[i] == "published" for i in ids)
        assert all(state == "draft" for i, state in states.items() if i not in ids)
        # No token anywhere a person or a file could see it: settings, database, previews.
        from posts.textviews import preview

        with db.transaction() as s:
            previews = "\n".join(preview(p, settings) for p in s.scalars(select(Post)))
        db.dispose()
        database = Path(settings.database_url.removeprefix("sqlite:///"))
        seen = [
            (tmp_path / "config.toml").read_bytes(),
            *(f.read_bytes() for f in database.parent.glob(database.name + "*")),  # and -wal
            previews.encode(),
        ]
        for token in environ.values():
            assert not any(token.encode() in blob for blob in seen), token
