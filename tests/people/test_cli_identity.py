"""How the command line proves who runs it: a personal token, never a name.

The trial of issue 16 first (with no users at all, any made-up name could submit,
preview and approve), then the token's life: the first administrator's bootstrap, tokens
made by an administrator, only their hash stored, replaced, revoked, a disabled user, a
token file, and the service's own identity, which approves nothing.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select, text

from core.errors import NotAllowed
from core.settings import Settings
from people import tokens, users
from people.rights import Actor, allows, check
from posts import review
from posts.compose import Composition, compose
from posts.db import Database
from posts.models import Event, Post
from posts.schema import all_tables
from publisher import cli
from tests.helpers import token_for, who, write_campaign

PASSWORD = "correct horse battery staple"
EN = "Worried about a child online? Call 101, or 999 in an emergency."
CY = "Yn poeni am blentyn ar-lein? Ffoniwch 101, neu 999 mewn argyfwng."


def _run(settings: Settings, *args: str, token: str | None = None, **env: str) -> Result:
    given = {"PUBLISHER_NEW_PASSWORD": PASSWORD, **env}
    given["PUBLISHER_TOKEN"] = token or ""
    return CliRunner().invoke(cli, ["--config", str(settings.config_path), *args], env=given)


def _a_post_in_review(db: Database, settings: Settings) -> int:
    now = datetime(2027, 3, 1, tzinfo=UTC)
    (post,) = compose(
        db,
        settings,
        Composition(
            accounts=["gwent-x"],
            texts={"en": EN, "cy": CY},
            when=datetime(2099, 3, 16, 9, tzinfo=UTC),
            together=True,
        ),
        actor=who("writer"),
        now=now,
        submit=True,
    )
    return post.id


def _rows(db: Database) -> dict[str, list[tuple[object, ...]]]:
    with db.reading() as session:
        return {
            t.name: [tuple(r) for r in session.execute(select(t)).all()]
            for t in all_tables().sorted_tables
        }


def test_the_trial_of_issue_16_made_up_names_do_nothing(db: Database, settings: Settings) -> None:
    post_id = _a_post_in_review(db, settings)
    before = _rows(db)
    for args in (
        ("submit", str(post_id), "--as", "nobody-at-all"),
        ("preview", "--id", str(post_id), "--as", "made-up reviewer"),
        ("approve", str(post_id), "--as", "made-up reviewer"),
    ):
        result = _run(settings, *args)
        assert result.exit_code == 2 and "No such option" in result.output, result.output
        assert "--as" in result.output
    # The old variable is no name either: refused, naming the token it needs.
    result = _run(settings, "approve", str(post_id), PUBLISHER_USER="made-up reviewer")
    assert result.exit_code == 1
    assert "no personal token was given: set PUBLISHER_TOKEN" in result.output
    assert "PUBLISHER_USER is no longer read" in result.output
    # Showing is for anyone; nothing is recorded as previewed without a token.
    shown = _run(settings, "preview", "--id", str(post_id))
    assert shown.exit_code == 0 and "not recorded as previewed" in shown.output
    assert "PUBLISHER_TOKEN" in shown.output
    assert _rows(db) == before


def test_no_token_and_an_unknown_one_are_refused_naming_the_variable(
    db: Database, settings: Settings
) -> None:
    post_id = _a_post_in_review(db, settings)
    before = _rows(db)
    none = _run(settings, "approve", str(post_id))
    assert none.exit_code == 1 and "PUBLISHER_TOKEN" in none.output
    made_up = _run(settings, "approve", str(post_id), token="cpt_" + "a" * 43)
    assert made_up.exit_code == 1
    assert "the token in PUBLISHER_TOKEN is not a live personal token" in made_up.output
    assert _rows(db) == before


def test_the_first_administrator_bootstraps_and_only_a_hash_is_kept(
    db: Database, settings: Settings
) -> None:
    # Before any administrator: only an administrator may be added without a token.
    early = _run(settings, "users", "add", "sian", "--role", "author")
    assert early.exit_code == 1 and "no administrator exists yet" in early.output
    first = _run(settings, "users", "add", "root", "--role", "administrator")
    assert first.exit_code == 0, first.output
    (token,) = [line for line in first.output.splitlines() if line.startswith("cpt_")]
    assert "shown once" in first.output
    # Stored only as its SHA-256: the token is in no table, no audit event.
    dump = repr(_rows(db))
    assert token not in dump and tokens.token_hash(token) in dump
    assert PASSWORD not in dump
    # Now an administrator exists: no more bootstrap, a token is needed.
    again = _run(settings, "users", "add", "mallory", "--role", "administrator")
    assert again.exit_code == 1 and "PUBLISHER_TOKEN" in again.output
    assert "mallory" not in repr(_rows(db))
    # The administrator adds people and makes their tokens.
    added = _run(settings, "users", "add", "bob", "--role", "reviewer", token=token)
    assert added.exit_code == 0 and "cpt_" not in added.output
    made = _run(settings, "users", "token", "bob", token=token)
    assert made.exit_code == 0
    (bob,) = [line for line in made.output.splitlines() if line.startswith("cpt_")]
    assert tokens.identify(db, bob).username == "bob"
    # A reviewer manages no users.
    refused = _run(settings, "users", "token", "root", token=bob)
    assert refused.exit_code == 1 and "bob (reviewer) may not manage users" in refused.output
    with db.reading() as session:
        issued = session.scalars(
            select(Event.actor).where(Event.action == "user_token_issued").order_by(Event.id)
        ).all()
    assert issued == ["root", "root"]


def test_a_new_token_replaces_the_old_and_revoking_ends_it(
    db: Database, settings: Settings
) -> None:
    admin = token_for(db, "carol")
    token_for(db, "bob", role="reviewer")
    first = _run(settings, "users", "token", "bob", token=admin).output.splitlines()[1]
    second = _run(settings, "users", "token", "bob", token=admin).output.splitlines()[1]
    assert first != second
    old = _run(settings, "users", "list", token=first)  # reads need no token: still runs
    assert old.exit_code == 0
    refused = _run(settings, "hold", "--reason", "Incident", token=first)
    assert refused.exit_code == 1 and "not a live personal token" in refused.output
    assert _run(settings, "users", "token", "bob", "--revoke", token=admin).exit_code == 0
    revoked = _run(settings, "hold", "--reason", "Incident", token=second)
    assert revoked.exit_code == 1 and "not a live personal token" in revoked.output


def test_a_disabled_users_token_is_refused(db: Database, settings: Settings) -> None:
    token = token_for(db, "bob", role="reviewer")
    users.set_disabled(db, "bob", True, actor=who("test"), now=datetime.now(UTC))
    result = _run(settings, "hold", "--reason", "Incident", token=token)
    assert result.exit_code == 1
    assert "belongs to bob, who is disabled" in result.output and "PUBLISHER_TOKEN" in result.output


def test_the_token_may_come_from_an_owner_only_file(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    token = token_for(db, "carol")
    file = tmp_path / "token"
    file.write_text(token + "\n")
    file.chmod(0o644)
    loose = _run(settings, "hold", "--reason", "Incident", PUBLISHER_TOKEN_FILE=str(file))
    assert loose.exit_code == 1 and f"chmod 600 {file}" in loose.output
    file.chmod(0o600)
    held = _run(settings, "hold", "--reason", "Incident", PUBLISHER_TOKEN_FILE=str(file))
    assert held.exit_code == 0, held.output
    # The variable wins over the file.
    other = token_for(db, "bob", role="reviewer", accounts=("gwent-facebook",))
    refused = _run(
        settings, "hold", "--reason", "Incident", token=other, PUBLISHER_TOKEN_FILE=str(file)
    )
    assert refused.exit_code == 1 and "bob (reviewer) may not set a hold on every account" in (
        refused.output
    )


def test_the_service_approves_nothing(db: Database, settings: Settings) -> None:
    post_id = _a_post_in_review(db, settings)
    service = Actor.service()
    assert service.name == "worker"
    for action in ("claim", "record_outcome", "mark_stale", "pause", "retention"):
        check(service, action, "gwent-x")
    for action in ("approve", "sign_stage", "preview", "reject", "hold", "release", "submit"):
        assert not allows(service, action, "gwent-x"), action
    before = _rows(db)
    with pytest.raises(NotAllowed, match=r"worker \(service\) may not record a preview"):
        review.record_previews(db, [post_id], actor=service, now=datetime.now(UTC))
    with pytest.raises(NotAllowed, match=r"post \d+: worker \(service\) may not approve posts"):
        review.approve(db, [post_id], actor=service, now=datetime.now(UTC))
    assert _rows(db) == before
    with db.reading() as session:
        assert session.get(Post, post_id).state == "in_review"  # type: ignore[union-attr]


def test_a_refusal_names_who_what_and_which_account(db: Database, settings: Settings) -> None:
    post_id = _a_post_in_review(db, settings)
    token = token_for(db, "dave", role="reviewer", accounts=("gwent-facebook",))
    result = _run(settings, "reject", str(post_id), "--reason", "No", token=token)
    assert result.exit_code == 1
    assert (
        f"post {post_id}: dave (reviewer) may not reject posts of the account gwent-x "
        "(it needs a reviewer's rights on the account; dave's accounts: gwent-facebook)"
    ) in result.output


def test_no_secret_in_the_environment_leaks_into_settings(settings: Settings) -> None:
    """PUBLISHER_TOKEN is not a setting (it would be refused as unknown, or shown)."""
    from core.settings import load_settings

    loaded = load_settings(settings.config_path, environ={"PUBLISHER_TOKEN": "cpt_x"})
    assert "cpt_x" not in repr(loaded)
    assert os.environ.get("PUBLISHER_TOKEN") is None


def test_the_tokens_table_is_in_the_migrations(db: Database) -> None:
    with db.connection() as connection:
        columns = [r[1] for r in connection.execute(text("PRAGMA table_info(user_tokens)"))]
    assert columns == ["id", "user_id", "token_hash", "created_at", "created_by", "revoked_at"]


def test_planning_needs_rights_on_every_account_of_the_campaign(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    """The web's campaign pages ask for rights on every account the campaign names; so do
    `publisher plan` and `publisher campaign import`, before anything is stored."""
    campaign = write_campaign(tmp_path / "c", accounts='["gwent-x", "gwent-facebook"]')
    outsider = token_for(db, "fflur", "author", ("gwent-x",))
    before = _rows(db)
    for args in (("plan", str(campaign)), ("campaign", "import", str(campaign))):
        refused = _run(settings, *args, token=outsider)
        assert refused.exit_code == 1, refused.output
        assert "may not plan or change campaigns of the account gwent-facebook" in refused.output
        assert _rows(db) == before
    insider = token_for(db, "gwen", "author", ("gwent-x", "gwent-facebook"))
    planned = _run(settings, "plan", str(campaign), token=insider)
    assert planned.exit_code == 0, planned.output
    outsider_again = _run(settings, "plan", "test-campaign", token=outsider)
    assert outsider_again.exit_code == 1
    assert "gwent-facebook" in outsider_again.output
