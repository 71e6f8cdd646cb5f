"""Issue 14, through the web door: an edit in the page re-checks the post, so a post the
edit made too long for X shows the error and cannot be sent for review; fixing it clears
the error. (tests/campaign/test_edit_recheck.py covers the library and the command line.)"""

from __future__ import annotations

from flask.testing import FlaskClient

from posts.db import Database
from tests.web.conftest import DAY, fresh, login, post, post_where, text_of

LONG = "Talk to your child about the apps they use. " * 8 + "Call 101, or 999."


def test_an_edit_in_the_page_is_rechecked_and_a_too_long_post_cannot_go_for_review(
    client: FlaskClient, world: Database
) -> None:
    target = post_where(world, occasion=f"cea-day/{DAY}", account="gwent-x", language="en")
    assert not [p for p in target.problems or [] if p.get("rule") == "length"]
    login(client, "alice")
    response = post(
        client, f"/posts/{target.id}/edit", {"text": LONG, "content_hash": target.content_hash}
    )
    assert response.status_code == 303
    edited = fresh(world, target.id)
    assert edited.text == LONG and edited.state == "draft"
    length = [p for p in edited.problems or [] if p.get("rule") == "length"]
    assert length and length[0]["level"] == "error"
    assert "Too long for X" in text_of(client.get(f"/posts/{target.id}"))
    response = post(client, f"/posts/{target.id}/submit")
    assert "Too long for X" in text_of(client.get(response.headers["Location"]))
    assert fresh(world, target.id).state == "draft"  # refused: nothing changed
    # Fixed in the page, the old error goes.
    post(
        client,
        f"/posts/{target.id}/edit",
        {"text": "Know the signs. Call 101, or 999.", "content_hash": edited.content_hash},
    )
    assert not [p for p in fresh(world, target.id).problems or [] if p.get("rule") == "length"]
