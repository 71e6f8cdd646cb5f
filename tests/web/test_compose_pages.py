"""The compose, images, import and move pages through Flask's test client: bad input is
named by field and stores nothing; the pages render; only our own scripts may run."""

from __future__ import annotations

import io

from flask.testing import FlaskClient
from sqlalchemy import func, select

from posts.db import Database
from posts.media import MediaItem
from posts.models import Post
from tests.posts.media_helpers import photo_with_gps
from tests.web.conftest import login, post, text_of, token

ALT = {"alt_cy": "Llun o ddyn mewn siaced las", "alt_en": "A photo of a man in a blue jacket"}


def _count(db: Database, table: type) -> int:
    with db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_pages_render_and_allow_only_scripts_from_this_site(client: FlaskClient, world: Database) -> None:
    login(client, "alice")
    for url in ("/compose", "/media-library", "/import", "/calendar?month=2027-03",
                "/calendar/week?start=2027-03-15"):
        response = client.get(url)
        assert response.status_code == 200, url
    compose = client.get("/compose")
    assert "script-src 'self'" in compose.headers["Content-Security-Policy"]
    assert "unsafe" not in compose.headers["Content-Security-Policy"]


def test_upload_strips_gps_and_a_missing_alt_text_is_named(
    client: FlaskClient, world: Database
) -> None:
    login(client, "alice")
    # The world's campaign images are in the library already (planning put them there).
    before = _count(world, MediaItem)
    refused = client.post(
        "/media-library",
        data={"csrf_token": token(client), "alt_en": ALT["alt_en"], "alt_cy": "",
              "image": (io.BytesIO(photo_with_gps()), "scene.jpg")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 400 and "alt_cy" in text_of(refused)
    assert _count(world, MediaItem) == before
    done = client.post(
        "/media-library",
        data={"csrf_token": token(client), **ALT,
              "image": (io.BytesIO(photo_with_gps()), "scene.jpg")},
        content_type="multipart/form-data",
    )
    assert done.status_code == 303 and _count(world, MediaItem) == before + 1
    page = text_of(client.get("/media-library"))
    assert "scene.jpg" in page and "Not used on any post yet." in page


def test_compose_refuses_by_field_and_stores_nothing(client: FlaskClient, world: Database) -> None:
    login(client, "alice")
    before = _count(world, Post)
    response = post(client, "/compose", {"accounts": "gwent-x", "text_cy": "", "text_en": "",
                                          "action": "submit"})
    assert response.status_code == 400
    assert 'aria-invalid="true"' in text_of(response) and "text_cy" in text_of(response)
    assert _count(world, Post) == before
    preview = post(client, "/compose/preview", {"accounts": "gwent-x", "text_en": "Hi #a",
                                                 "text_cy": "Helo"})
    answer = preview.get_json()
    assert answer["error"] is None and answer["count"] == 2
    assert "X length:" in answer["html"]


def test_an_image_larger_than_a_form_may_be_is_taken(client: FlaskClient, world: Database) -> None:
    """Forms are capped at 512 KiB; the image upload (checked before the form is read for
    its CSRF token) takes a real photo's size."""
    import os

    from PIL import Image

    noisy = Image.frombytes("RGB", (700, 700), os.urandom(700 * 700 * 3))
    out = io.BytesIO()
    noisy.save(out, "PNG")
    assert len(out.getvalue()) > 1024 * 1024
    login(client, "alice")
    before = _count(world, MediaItem)
    done = client.post(
        "/media-library",
        data={"csrf_token": token(client), **ALT, "image": (io.BytesIO(out.getvalue()), "n.png")},
        content_type="multipart/form-data",
    )
    assert done.status_code == 303 and _count(world, MediaItem) == before + 1
    # Every other form keeps the app's limit.
    big = post(client, "/compose", {"text_en": "x" * (600 * 1024)})
    assert big.status_code == 413
