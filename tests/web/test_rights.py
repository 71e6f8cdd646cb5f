"""Rights are checked on the server: anonymous users, the wrong role, the wrong account,
a form without its CSRF token, and the author approving their own post by a direct POST."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from posts.db import Database
from posts.models import Hold
from tests.helpers import who
from tests.web.conftest import (
    DAY,
    fresh,
    login,
    nasty_post,
    post,
    post_where,
    text_of,
    token,
)
from web.security import PUBLIC_ENDPOINTS

CEA = f"cea-day/{DAY}"
SAMPLE = {
    "post_id": 1,
    "value": DAY.isoformat(),
    "hold_id": 1,
    "index": 0,
    "token": "x",
    "sha256": "0" * 64,
    "name": "test-campaign",
    "number": 1,
    "username": "bob",
    "session_id": 1,
}


def _routes(app: Flask) -> list[tuple[str, str, str]]:
    """(endpoint, method, url) for every route of the app, with sample arguments."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        url = rule.build({k: SAMPLE[k] for k in rule.arguments}, append_unknown=False)[1]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, url))
    return found


def test_the_app_has_the_pages_of_the_issue(app: Flask) -> None:
    endpoints = {e for e, _, _ in _routes(app)}
    assert {
        "auth.login",
        "auth.logout",
        "queue.index",
        "calendar.month",
        "posts.show",
        "posts.approve",
        "posts.reject",
        "posts.edit",
        "posts.cancel",
        "day.show",
        "day.approve",
        "holds.index",
        "holds.set_hold",
        "holds.release",
        "audit.index",
        "audit.export",
    } <= endpoints


def test_every_route_refuses_anonymous_users(app: Flask, client: FlaskClient) -> None:
    checked = 0
    for endpoint, method, url in _routes(app):
        if endpoint in PUBLIC_ENDPOINTS:  # the sign-in steps (tests/people check them)
            continue
        if endpoint.startswith("review_links."):
            # Open to anyone with a valid signed link; anything else is not found.
            response = client.get(url) if method == "GET" else post(client, url)
            assert response.status_code == 404, (endpoint, url)
            assert b"Gwent" not in response.data
            continue
        if method == "GET":
            response = client.get(url)
            assert response.status_code == 302, (endpoint, url)
            assert response.headers["Location"].startswith("/login?next="), endpoint
        else:
            response = post(client, url)  # with a valid token: refused for being anonymous
            assert response.status_code == 401, (endpoint, url)
        assert b"Gwent" not in response.data  # nothing of the queue leaks
        checked += 1
    assert checked >= 15


AUTHOR_REFUSED_GET = ["/holds", "/audit", "/audit.csv"]


def test_authors_get_no_reviewer_pages(client: FlaskClient, world: Database) -> None:
    login(client, "alice")
    for url in AUTHOR_REFUSED_GET:
        response = client.get(url)
        assert response.status_code == 403, url
        assert "reviewers and administrators" in text_of(response)
    for url in ["/queue", "/calendar", f"/day/{DAY}", f"/posts/{nasty_post(world).id}"]:
        assert client.get(url).status_code == 200, url


def test_authors_cannot_do_what_reviewers_do(client: FlaskClient, world: Database) -> None:
    target = post_where(world, account="gwent-facebook", language="en")
    login(client, "alice")
    client.get(f"/posts/{target.id}")
    for url, data in [
        (f"/posts/{target.id}/approve", {}),
        (f"/posts/{target.id}/reject", {"comment": "no"}),
        (f"/posts/{target.id}/confirm", {"reason": "go"}),
        (f"/posts/{target.id}/resolve", {"outcome": "resend", "reason": "go"}),
        (f"/day/{DAY}/approve", {"ids": [target.id]}),
        ("/holds", {"scope": "all", "reason": "incident"}),
        ("/holds/1/release", {}),
    ]:
        assert post(client, url, data).status_code == 403, url
    assert fresh(world, target.id).state == "in_review"


def test_a_reviewer_acts_only_on_their_own_accounts(
    client: FlaskClient, world: Database, clock
) -> None:
    x_post = post_where(world, account="gwent-x", language="cy")
    fb_post = post_where(world, account="gwent-facebook", language="cy")
    login(client, "dave")  # reviewer for gwent-facebook only
    page = text_of(client.get(f"/posts/{x_post.id}"))
    assert "Approve post" not in page and "no rights on the account gwent-x" in page
    assert post(client, f"/posts/{x_post.id}/approve").status_code == 403
    assert post(client, f"/posts/{x_post.id}/edit", {"text": "x"}).status_code == 403
    assert post(client, f"/posts/{x_post.id}/cancel", {"reason": "x"}).status_code == 403
    assert post(client, "/holds", {"scope": "all", "reason": "incident"}).status_code == 403
    assert post(client, "/holds", {"scope": "gwent-x", "reason": "incident"}).status_code == 403
    assert fresh(world, x_post.id).state == "in_review"
    # ...and does approve on their own account, once previewed.
    client.get(f"/posts/{fb_post.id}")
    approve = {"content_hash": fb_post.content_hash}  # the version the page showed
    assert post(client, f"/posts/{fb_post.id}/approve", approve).status_code == 303
    assert fresh(world, fb_post.id).state == "approved"
    assert post(client, "/holds", {"scope": "gwent-facebook", "reason": "local"}).status_code == 303


def test_a_day_approval_with_a_post_of_another_account_is_refused_whole(
    client: FlaskClient, world: Database
) -> None:
    login(client, "dave")
    client.get(f"/day/{DAY}")
    ids = [
        post_where(world, occasion=CEA, account="gwent-facebook", language="en").id,
        post_where(world, occasion=CEA, account="gwent-x", language="en").id,
    ]
    assert post(client, f"/day/{DAY}/approve", {"ids": ids}).status_code == 403
    assert {fresh(world, i).state for i in ids} == {"in_review"}


def test_only_an_administrator_releases_a_global_hold(
    client: FlaskClient, app: Flask, world: Database
) -> None:
    login(client, "bob")
    assert post(client, "/holds", {"scope": "all", "reason": "incident"}).status_code == 303
    with world.transaction() as session:
        hold_id = session.query(Hold.id).scalar()
    assert post(client, f"/holds/{hold_id}/release").status_code == 403
    admin = app.test_client()
    login(admin, "carol")
    assert post(admin, f"/holds/{hold_id}/release").status_code == 303
    with world.transaction() as session:
        assert session.get(Hold, hold_id).released_by == "carol"


@pytest.mark.parametrize("sent", [None, "", "wrong-token"])
def test_a_form_without_its_csrf_token_is_refused(
    client: FlaskClient, world: Database, sent: str | None
) -> None:
    target = post_where(world, occasion=CEA, account="gwent-facebook", language="en")
    login(client, "bob")
    client.get(f"/posts/{target.id}")
    token(client)
    data = {} if sent is None else {"csrf_token": sent}
    for url, extra in [
        (f"/posts/{target.id}/approve", {}),
        (f"/day/{DAY}/approve", {"ids": [target.id]}),
        ("/holds", {"scope": "all", "reason": "incident"}),
        ("/logout", {}),
    ]:
        response = client.post(url, data={**data, **extra})
        assert response.status_code == 400, url
        assert "security token" in text_of(response)
    assert fresh(world, target.id).state == "in_review"
    with world.transaction() as session:
        assert session.query(Hold).count() == 0


def test_sign_in_needs_the_csrf_token_too(client: FlaskClient, world: Database) -> None:
    client.get("/login")
    response = client.post("/login", data={"username": "bob", "password": "x" * 20})
    assert response.status_code == 400


def test_the_author_cannot_approve_their_own_post_by_a_direct_post(
    client: FlaskClient, world: Database, clock
) -> None:
    """Bob is a reviewer; once he edits a post he wrote its content, and four eyes bars him
    from approving it whatever he sends."""
    from posts import review

    target = post_where(world, occasion=CEA, account="gwent-facebook", language="en")
    review.edit(world, target.id, actor=who("bob"), now=clock.now(), text="Diolch. " + target.text)
    review.submit(world, [target.id], actor=who("bob"), now=clock.now())
    login(client, "bob")
    page = text_of(client.get(f"/posts/{target.id}"))  # a preview is recorded...
    assert "You wrote this version, so you cannot approve it" in page
    assert f"/posts/{target.id}/approve" not in page
    response = post(client, f"/posts/{target.id}/approve")  # ...and still refused
    assert response.status_code == 403
    assert "four eyes" in text_of(response)
    day_page = text_of(client.get(f"/day/{DAY}"))
    assert f'name="ids" value="{target.id}"' not in day_page
    response = post(client, f"/day/{DAY}/approve", {"ids": [target.id]})
    assert response.status_code == 403
    assert fresh(world, target.id).state == "in_review"
    assert fresh(world, target.id).approved_by is None


def test_an_author_role_posting_approve_directly_is_refused(
    client: FlaskClient, world: Database
) -> None:
    own = nasty_post(world)
    login(client, "alice")
    assert post(client, f"/posts/{own.id}/approve").status_code == 403
    assert post(client, f"/day/{own.due_at.date()}/approve", {"ids": [own.id]}).status_code == 403
    assert fresh(world, own.id).state == "in_review"


def test_approval_needs_the_page_to_have_been_shown(client: FlaskClient, world: Database) -> None:
    target = post_where(world, account="gwent-x", language="cy")
    login(client, "bob")
    shown = {"content_hash": target.content_hash}
    response = post(client, f"/posts/{target.id}/approve", shown)
    # Refused in a web user's words (not "run publisher preview"): reload and look.
    assert response.status_code == 303 and fresh(world, target.id).approved_by is None
    message = text_of(client.get(response.headers["Location"]))
    assert "changed since you opened it, so nothing was approved — reload" in message
    assert "publisher preview" not in message
    client.get(f"/posts/{target.id}")
    assert post(client, f"/posts/{target.id}/approve", shown).status_code == 303
    assert fresh(world, target.id).approved_by == "bob"
