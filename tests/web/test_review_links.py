"""External review links: signed, expiring, revocable; a read-only preview with a comment
box; every view and comment in the audit log; approve only where a stage allows an
external reviewer, and only that stage, bound to the content shown."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from core.errors import QueueError
from core.settings import Settings, SignoffSettings
from posts import review, review_links
from posts.db import Database
from posts.models import Event
from tests.helpers import token_for, who
from tests.web.conftest import DAY, fresh, login, post, post_where, text_of
from web.app import create_app

CEA_DAY = f"cea-day/{DAY}"
SECRET = "test-secret-key"  # the app fixture's


def _link(world: Database, settings: Settings, clock, post_id: int, **kw) -> str:  # type: ignore[no-untyped-def]
    _, token = review_links.create(
        world,
        post_id,
        actor=who("bob"),
        now=clock.now(),
        expires_in=kw.pop("expires_in", timedelta(days=3)),
        label=kw.pop("label", "PCC office"),
        secret=SECRET,
        signoff=kw.pop("signoff", settings.signoff),
    )
    return token


def _events(db: Database, post_id: int, action: str) -> list[Event]:
    with db.transaction() as s:
        return list(
            s.scalars(select(Event).where(Event.post_id == post_id, Event.action == action))
        )


def test_a_partner_views_and_comments_and_both_are_in_the_audit_log(
    client: FlaskClient, world: Database, settings: Settings, clock
) -> None:
    target = post_where(world, occasion=CEA_DAY, account="gwent-x", language="cy")
    token = _link(world, settings, clock, target.id)
    page = client.get(f"/review/{token}")  # no sign-in
    assert page.status_code == 200
    html = text_of(page)
    assert "You were asked to review this post as <strong>PCC office</strong>" in html
    assert "Send comment" in html and "approves nothing" not in html
    assert "the team approves the post" in html and '<button type="submit">Approve' not in html
    assert "Queue</a>" not in html  # nothing of the app beyond this post
    (view,) = _events(world, target.id, "review_link_view")
    assert view.actor == "external: PCC office (link 1)"
    sent = post(client, f"/review/{token}/comment", {"comment": "Please add the helpline."})
    assert sent.status_code == 303
    (comment,) = _events(world, target.id, "review_link_comment")
    assert comment.detail == "Please add the helpline." and comment.actor == view.actor
    # Approving is refused: no stage allows an external reviewer.
    refused = post(client, f"/review/{token}/approve", {"content_hash": target.content_hash})
    assert refused.status_code == 403 and "approves nothing" in text_of(refused)
    assert fresh(world, target.id).state == "in_review"


def test_a_forged_expired_or_revoked_link_opens_nothing(
    client: FlaskClient, world: Database, settings: Settings, clock
) -> None:
    target = post_where(world, occasion=CEA_DAY, account="gwent-x", language="cy")
    token = _link(world, settings, clock, target.id, expires_in=timedelta(hours=2))
    payload, signature = token.rsplit(".", 1)
    forged = f"{payload}.{'A' * len(signature)}"
    assert client.get(f"/review/{forged}").status_code == 404
    other_key = create_app(settings, world, clock, secret_key="another-key")
    assert other_key.test_client().get(f"/review/{token}").status_code == 404
    clock.advance(timedelta(hours=2))
    expired = client.get(f"/review/{token}")
    assert expired.status_code == 403 and "expired" in text_of(expired)
    fresh_token = _link(world, settings, clock, target.id)
    assert client.get(f"/review/{fresh_token}").status_code == 200
    assert review_links.revoke(world, target.id, actor=who("bob"), now=clock.now()) == [1, 2]
    revoked = client.get(f"/review/{fresh_token}")
    assert revoked.status_code == 403 and "withdrawn" in text_of(revoked)
    assert post(client, f"/review/{fresh_token}/comment", {"comment": "hi"}).status_code == 403
    assert "Gwent" not in text_of(revoked) and target.text not in text_of(revoked)


def test_link_life_is_limited_and_durations_are_checked(
    world: Database, settings: Settings, clock
) -> None:
    target = post_where(world, occasion=CEA_DAY, account="gwent-x", language="cy")
    with pytest.raises(QueueError, match="at most 30 days"):
        _link(world, settings, clock, target.id, expires_in=timedelta(days=31))
    assert review_links.parse_duration("3d") == timedelta(days=3)
    for bad in ("3", "d", "-1d", "3w", "1.5d", "99999d"):
        with pytest.raises(QueueError, match="--expires"):
            review_links.parse_duration(bad)


@pytest.fixture
def external_app(world: Database, settings: Settings, clock) -> Flask:
    staged = settings.replace(
        signoff=SignoffSettings(
            stages=[
                {"name": "PCC office", "external": True},
                {"name": "sign-off", "roles": ["reviewer"]},
            ]
        )
    )
    app = create_app(staged, world, clock, secret_key=SECRET)
    app.testing = True
    return app


def test_an_external_stage_is_approved_through_the_link_only_for_that_stage(
    external_app: Flask, world: Database, clock
) -> None:
    signoff = external_app.extensions["publisher"].settings.signoff
    target = post_where(world, occasion=CEA_DAY, account="gwent-x", language="cy")
    _, token = review_links.create(
        world, target.id, actor=who("bob"), now=clock.now(), expires_in=timedelta(days=3),
        label="PCC office", secret=SECRET, signoff=signoff,
    )  # fmt: skip
    partner = external_app.test_client()
    html = text_of(partner.get(f"/review/{token}"))
    assert "Approve “PCC office”" in html
    shown = re.search(r'name="content_hash" value="([0-9a-f]{64})"', html)
    assert shown and shown.group(1) == target.content_hash
    # A newer version since the page was shown: refused, in a partner's words.
    review.edit(world, target.id, actor=who("alice"), now=clock.now(), text="Diolch. " + target.text)
    review.submit(world, [target.id], actor=who("alice"), now=clock.now())
    stale = post(partner, f"/review/{token}/approve", {"content_hash": shown.group(1)})
    assert "changed since you opened it" in text_of(partner.get(stale.headers["Location"]))
    html = text_of(partner.get(f"/review/{token}"))
    new_hash = re.search(r'name="content_hash" value="([0-9a-f]{64})"', html).group(1)  # type: ignore[union-attr]
    assert post(partner, f"/review/{token}/approve", {"content_hash": new_hash}).status_code == 303
    after = fresh(world, target.id)
    assert after.state == "in_review"  # the reviewer's sign-off still waits
    (signed,) = _events(world, target.id, "stage_signoff")
    assert (
        signed.actor == "external: PCC office (link 1)"
        and "as an external reviewer" in signed.detail
    )
    # The link approves nothing more: the next stage is not an external one.
    assert "Approve “" not in text_of(partner.get(f"/review/{token}"))
    refused = post(partner, f"/review/{token}/approve", {"content_hash": new_hash})
    assert refused.status_code == 403
    # The reviewer finishes it in the app.
    reviewer = external_app.test_client()
    login(reviewer, "bob")
    page = text_of(reviewer.get(f"/posts/{target.id}"))
    assert "signed by external: PCC office (link 1)" in page and "Sign “sign-off”" in page
    done = post(
        reviewer, f"/posts/{target.id}/approve", {"content_hash": new_hash, "stage": "sign-off"}
    )
    assert done.status_code == 303 and fresh(world, target.id).state == "approved"


def test_reviewers_make_and_revoke_links_on_the_post_page(
    client: FlaskClient, world: Database
) -> None:
    target = post_where(world, occasion=CEA_DAY, account="gwent-x", language="cy")
    login(client, "bob")
    made = post(client, f"/posts/{target.id}/review-links", {"label": "NSPCC", "expires": "1d"})
    page = text_of(client.get(made.headers["Location"]))
    url = re.search(r'<code class="review-link">http://localhost(/review/[^<]+)</code>', page)
    assert url and "Link 1 for NSPCC: until" in page
    assert url.group(1) not in text_of(client.get(f"/posts/{target.id}"))  # shown once
    assert client.application.test_client().get(url.group(1)).status_code == 200
    post(client, f"/posts/{target.id}/review-links", {"revoke": "1"})
    assert client.application.test_client().get(url.group(1)).status_code == 403
    author = client.application.test_client()
    login(author, "alice")  # an author makes no links
    assert post(author, f"/posts/{target.id}/review-links", {"label": "x"}).status_code == 403


def test_the_command_line_makes_and_revokes_a_link_the_web_app_opens(
    world: Database, settings: Settings, clock
) -> None:
    from click.testing import CliRunner

    from core.clock import SystemClock
    from publisher import cli
    from web.app import load_secret_key

    target = post_where(world, occasion=CEA_DAY, account="gwent-x", language="cy")
    runner = CliRunner()
    bob = token_for(world, "bob")

    def run(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(
            cli, ["--config", str(settings.config_path), *args], env={"PUBLISHER_TOKEN": bob}
        )

    made = run("review-link", str(target.id), "--expires", "2d", "--for", "NSPCC")
    assert made.exit_code == 0, made.output
    path = re.search(r"(/review/\S+)", made.output)
    assert path and "Link 1 for NSPCC, until" in made.output
    # The app the service runs signs with the same key (kept in the state directory); the
    # command line keeps the real time, so the app does too here.
    app = create_app(settings, world, SystemClock(), secret_key=load_secret_key(settings.state_dir))
    assert app.test_client().get(path.group(1)).status_code == 200
    assert run("review-link", str(target.id), "--expires", "2 weeks").exit_code == 1
    assert "Revoked 1 link(s)" in run("review-link", str(target.id), "--revoke").output
    assert app.test_client().get(path.group(1)).status_code == 403
    shown = run("show", str(target.id)).output
    assert "review link 1 for NSPCC: revoked" in shown


def test_only_a_reviewer_on_the_posts_account_makes_or_revokes_links(
    world: Database, settings: Settings, clock
) -> None:  # type: ignore[no-untyped-def]
    """The library checks, whatever the door: an author, or a reviewer of another account,
    is refused and nothing is written."""
    from core.errors import NotAllowed

    target = post_where(world, occasion=CEA_DAY, account="gwent-x", language="cy")
    _link(world, settings, clock, target.id)
    with world.reading() as session:
        before = session.scalars(select(Event.id)).all()
    for outsider in (who("alice", "author"), who("dave", "reviewer", ("gwent-facebook",))):
        with pytest.raises(NotAllowed, match="account gwent-x"):
            review_links.create(
                world, target.id, actor=outsider, now=clock.now(), expires_in=timedelta(days=1),
                label="PCC office", secret=SECRET, signoff=settings.signoff,
            )  # fmt: skip
        with pytest.raises(NotAllowed, match="account gwent-x"):
            review_links.revoke(world, target.id, actor=outsider, now=clock.now())
    with world.reading() as session:
        assert session.scalars(select(Event.id)).all() == before
    assert [link.revoked_at for link in review_links.links_for(world, target.id)] == [None]
