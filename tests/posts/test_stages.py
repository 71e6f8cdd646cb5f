"""Sign-off in stages, on SQLite and PostgreSQL: in order, by the people each stage names,
never by the author, bound to the previewed content; any edit voids every stage."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from campaign.expand import expand
from campaign.loader import load_campaign
from core.clock import FakeClock
from core.errors import (
    ChangedSinceOpened,
    NotIdentified,
    NotPreviewed,
    PermissionDenied,
    QueueError,
    SettingsError,
)
from core.settings import Settings, SignoffSettings, load_settings
from people import tokens, users
from people.rights import Actor
from posts import review, stages
from posts.db import Database
from posts.models import Event, Post
from posts.planning import store_drafts
from tests.helpers import token_for, who, write_campaign

TWO_STAGES = SignoffSettings(
    stages=[
        {"name": "Welsh language check", "users": ["ceri"], "languages": ["cy"]},
        {"name": "sign-off", "roles": ["reviewer", "administrator"]},
    ]
)


# The roles the ``people`` fixture registers: the library acts with the same.
ROLES = {"alice": "author", "ceri": "author", "bob": "reviewer"}


def as_(name: str) -> Actor:
    return who(name, ROLES.get(name, "administrator"))


@pytest.fixture(autouse=True)
def cheap_hasher() -> Iterator[None]:
    users.use_hasher(PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
    yield
    users.use_hasher(PasswordHasher())


@pytest.fixture
def people(db: Database, clock: FakeClock) -> Database:
    for name, role in (("alice", "author"), ("ceri", "author"), ("bob", "reviewer")):
        users.add_user(db, name, "x" * 16, role=role, actor=who("test"), now=clock.now())
    return db


def _welsh_post(db: Database, settings: Settings, tmp: Path, clock: FakeClock) -> Post:
    folder = write_campaign(tmp / "c", languages='["en", "cy"]')
    store_drafts(db, expand(load_campaign(folder), settings), actor=who("alice"), now=clock.now())
    with db.transaction() as s:
        post = s.scalars(select(Post).where(Post.language == "cy").order_by(Post.id)).first()
        assert post is not None
    review.submit(db, [post.id], actor=as_("alice"), now=clock.now())
    return post


def _fresh(db: Database, post_id: int) -> Post:
    with db.transaction() as s:
        post = s.get(Post, post_id)
        assert post is not None
        return post


def _approve(db: Database, post_id: int, name: str, clock: FakeClock, **kw: object) -> None:
    review.record_previews(db, [post_id], actor=as_(name), now=clock.now(), signoff=TWO_STAGES)
    review.approve(db, [post_id], actor=as_(name), now=clock.now(), signoff=TWO_STAGES, **kw)  # type: ignore[arg-type]


def _progress(db: Database, post_id: int) -> stages.Progress:
    with db.transaction() as s:
        return stages.progress(s, s.get(Post, post_id), TWO_STAGES)  # type: ignore[arg-type]


def test_two_stages_in_order_then_approved(db, people, settings, clock, tmp_path) -> None:
    post = _welsh_post(db, settings, tmp_path, clock)
    assert _progress(db, post.id).current.stage.name == "Welsh language check"

    # The reviewer cannot jump the Welsh check, by default or by name.
    with pytest.raises(PermissionDenied, match="may not approve the stage 'Welsh language check'"):
        _approve(db, post.id, "bob", clock)
    with pytest.raises(QueueError, match="comes after 'Welsh language check'"):
        _approve(db, post.id, "bob", clock, stage="sign-off")
    assert _fresh(db, post.id).state == "in_review"

    _approve(db, post.id, "ceri", clock)
    after_first = _fresh(db, post.id)
    assert after_first.state == "in_review" and after_first.approved_by is None
    progress = _progress(db, post.id)
    assert progress.current.stage.name == "sign-off"
    assert "Welsh language check ✓ ceri" in progress.summary()

    _approve(db, post.id, "bob", clock, stage="sign-off")
    done = _fresh(db, post.id)
    assert done.state == "approved" and done.approved_by == "bob" and done.approval_valid
    with db.transaction() as s:
        details = s.scalars(
            select(Event.detail).where(Event.post_id == post.id, Event.action == "stage_signoff")
        ).all()
    assert details[0].startswith("signed “Welsh language check” for content")
    assert details[0].endswith("; next: sign-off") and details[1].endswith("every stage signed")


def test_an_edit_voids_every_stage_and_says_which(db, people, settings, clock, tmp_path) -> None:
    post = _welsh_post(db, settings, tmp_path, clock)
    _approve(db, post.id, "ceri", clock)
    review.edit(db, post.id, actor=as_("alice"), now=clock.now(), text="Testun newydd. Ffoniwch 999 neu 101.")
    with db.transaction() as s:
        edit = s.scalars(
            select(Event.detail).where(Event.post_id == post.id, Event.action == "edit")
        ).all()[-1]
        voided = s.scalars(select(stages.Signoff).where(stages.Signoff.post_id == post.id)).all()
    assert "sign-off voided for Welsh language check" in edit
    assert [v.voided_by for v in voided] == ["alice"]
    review.submit(db, [post.id], actor=as_("alice"), now=clock.now())
    assert _progress(db, post.id).current.stage.name == "Welsh language check"
    assert _progress(db, post.id).stages[0].signed_by == ()


def test_a_rejection_voids_the_stages_too(db, people, settings, clock, tmp_path) -> None:
    post = _welsh_post(db, settings, tmp_path, clock)
    _approve(db, post.id, "ceri", clock)
    review.reject(db, [post.id], actor=as_("bob"), reason="Wrong number", now=clock.now())
    review.submit(db, [post.id], actor=as_("alice"), now=clock.now())
    assert _progress(db, post.id).stages[0].signed_by == ()


def test_a_disabled_user_signs_no_stage(db, people, settings, clock, tmp_path) -> None:
    """A disabled person gets no Actor at all: their token (and their web session) stop."""
    token = token_for(db, "ceri")
    users.set_disabled(db, "ceri", True, actor=who("test"), now=clock.now())
    with pytest.raises(NotIdentified, match="belongs to ceri, who is disabled"):
        tokens.identify(db, token)


def test_the_author_signs_no_stage(db, people, settings, clock, tmp_path) -> None:
    post = _welsh_post(db, settings, tmp_path, clock)
    review.edit(db, post.id, actor=as_("ceri"), now=clock.now(), text="Ceri a ysgrifennodd. 999 neu 101.")
    review.submit(db, [post.id], actor=as_("ceri"), now=clock.now())
    with pytest.raises(PermissionDenied, match="ceri wrote this content"):
        _approve(db, post.id, "ceri", clock)


def test_a_stage_needs_the_preview_of_this_content(db, people, settings, clock, tmp_path) -> None:
    post = _welsh_post(db, settings, tmp_path, clock)
    with pytest.raises(NotPreviewed):
        review.approve(db, [post.id], actor=as_("ceri"), now=clock.now(), signoff=TWO_STAGES)
    review.record_previews(db, [post.id], actor=as_("ceri"), now=clock.now(), signoff=TWO_STAGES)
    with pytest.raises(ChangedSinceOpened, match="changed since you opened it"):
        review.approve(
            db,
            [post.id],
            actor=as_("ceri"),
            now=clock.now(),
            signoff=TWO_STAGES,
            expected_hash="0" * 64,
        )
    assert _progress(db, post.id).stages[0].signed_by == ()


def test_all_of_them_must_sign(db, people, settings, clock, tmp_path) -> None:
    signoff = SignoffSettings(
        stages=[{"name": "legal", "users": ["bob", "ceri"], "require": "all"}]
    )
    post = _welsh_post(db, settings, tmp_path, clock)
    for name in ("bob", "ceri"):
        review.record_previews(db, [post.id], actor=as_(name), now=clock.now(), signoff=signoff)
    review.approve(db, [post.id], actor=as_("bob"), now=clock.now(), signoff=signoff)
    assert _fresh(db, post.id).state == "in_review"
    with pytest.raises(QueueError, match="already signed"):
        review.approve(db, [post.id], actor=as_("bob"), now=clock.now(), signoff=signoff)
    review.approve(db, [post.id], actor=as_("ceri"), now=clock.now(), signoff=signoff)
    assert _fresh(db, post.id).state == "approved"


def test_a_stage_for_welsh_only_skips_english(db, people, settings, clock, tmp_path) -> None:
    folder = write_campaign(tmp_path / "c", languages='["en", "cy"]')
    store_drafts(db, expand(load_campaign(folder), settings), actor=who("alice"), now=clock.now())
    with db.transaction() as s:
        english = s.scalars(select(Post).where(Post.language == "en")).first()
    review.submit(db, [english.id], actor=as_("alice"), now=clock.now())
    _approve(db, english.id, "bob", clock)
    assert _fresh(db, english.id).state == "approved"


def test_no_stages_is_one_approval_as_before(db, people, settings, clock, tmp_path) -> None:
    post = _welsh_post(db, settings, tmp_path, clock)
    review.record_previews(db, [post.id], actor=as_("bob"), now=clock.now())
    review.approve(db, [post.id], actor=as_("bob"), now=clock.now())
    assert _fresh(db, post.id).state == "approved"


def test_may_sign_is_the_one_rule() -> None:
    welsh, final = TWO_STAGES.stages
    assert stages.may_sign(welsh, stages.Signer("ceri", "author"))
    assert not stages.may_sign(welsh, stages.Signer("bob", "reviewer"))
    assert stages.may_sign(final, stages.Signer("bob", "reviewer"))
    assert not stages.may_sign(final, stages.Signer("made-up reviewer"))  # no such user
    assert not stages.may_sign(final, stages.Signer("x", external=True))


def _load(tmp_path: Path, body: str) -> Settings:
    path = tmp_path / "c.toml"
    path.write_text('[accounts.gwent-x]\nnetwork = "x"\nhandle = "@G"\n' + body, "utf-8")
    return load_settings(path, environ={})


def test_settings_per_account_and_campaign(tmp_path: Path) -> None:
    s = _load(
        tmp_path,
        """
[[signoff.stages]]
name = "sign-off"
roles = ["reviewer"]
[[signoff.accounts.gwent-x.stages]]
name = "Welsh language check"
users = ["ceri"]
[[signoff.campaigns.pcc.stages]]
name = "PCC office"
external = true
""",
    )
    assert [x.name for x in s.signoff.plan_for(campaign="c", account="gwent-x")] == [
        "Welsh language check"
    ]
    assert [x.name for x in s.signoff.plan_for(campaign="pcc", account="gwent-x")] == ["PCC office"]
    assert [x.name for x in s.signoff.plan_for(campaign="c", account="other")] == ["sign-off"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[[signoff.stages]]\nname = "x"\n', r"signoff\.stages\.0: .*say who may approve it"),
        (
            '[[signoff.stages]]\nname = "x"\nroles = ["reviewer"]\nrequire = "all"\n',
            r"signoff\.stages\.0: .*needs a list of users",
        ),
        (
            '[[signoff.stages]]\nname = "a"\nusers=["b"]\n[[signoff.stages]]\nname = "A"\nusers=["c"]\n',
            r"signoff\.stages: .*two stages are called",
        ),
        ('[[signoff.stages]]\nname = ""\nusers=["b"]\n', r"signoff\.stages\.0\.name"),
        (
            '[[signoff.stages]]\nname = "a"\nusers=["b"]\nrequire = "most"\n',
            r"signoff\.stages\.0\.require",
        ),
        (
            '[[signoff.accounts.nope.stages]]\nname = "a"\nusers=["b"]\n',
            r"signoff\.accounts names unknown account",
        ),
        ('[signoff.contacts]\nceri = "not an address"\n', r"signoff\.contacts: .*ceri"),
    ],
)
def test_bad_signoff_settings_name_the_field(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        _load(tmp_path, body)


# -- the command line ------------------------------------------------------------------


STAGES_TOML = """
[[signoff.stages]]
name = "Welsh language check"
users = ["ceri"]
languages = ["cy"]
[[signoff.stages]]
name = "sign-off"
roles = ["reviewer"]
"""


def test_command_line_stages_queue_show_and_pair_warning(
    settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from publisher import cli

    config = settings.config_path
    assert config is not None
    config.write_text(config.read_text("utf-8") + STAGES_TOML, "utf-8")
    db = Database(load_settings(config, environ={}).database_url)
    db.ensure_schema()
    for name, role in (("ceri", "author"), ("bob", "reviewer")):
        users.add_user(db, name, "x" * 16, role=role, actor=who("test"), now=clock.now())
    runner = CliRunner()

    def run(*args: str, user: str = "alice", stdin: str | None = None):  # type: ignore[no-untyped-def]
        return runner.invoke(
            cli,
            ["--config", str(config), *args],
            env={"PUBLISHER_TOKEN": token_for(db, user)},
            input=stdin,
            catch_exceptions=False,
        )

    folder = write_campaign(tmp_path / "c", languages='["en", "cy"]')
    assert run("plan", str(folder)).exit_code == 0
    with db.transaction() as s:
        cy = s.scalars(select(Post).where(Post.language == "cy").order_by(Post.id)).first()
        en = s.scalar(select(Post).where(Post.pair_key == cy.pair_key, Post.id != cy.id))

    # One half of a pair: warned, and asked; "no" sends nothing.
    refused = run("submit", str(cy.id), stdin="n\n")
    assert f"without its counterpart, post {en.id} (en)" in refused.output
    assert refused.exit_code == 1 and _fresh(db, cy.id).state == "draft"
    assert run("submit", str(cy.id), str(en.id)).exit_code == 0  # the pair: no question

    run("preview", "--id", str(cy.id), user="bob")
    out = run("approve", str(cy.id), user="bob")
    assert out.exit_code == 1 and "may not approve the stage 'Welsh language check'" in out.output
    run("preview", "--id", str(cy.id), user="ceri")
    signed = run("approve", str(cy.id), user="ceri")
    assert f"Post {cy.id}: signed; Welsh language check ✓ ceri" in signed.output
    queue = run("queue", "--state", "in_review").output
    assert (
        f"{cy.id:>5}  stages: Welsh language check ✓ ceri; sign-off: waiting for any reviewer"
        in queue
    )
    shown = run("show", str(cy.id)).output
    assert "sign-off: waiting for any reviewer" in shown and "stage_signoff" in shown
    assert (
        f"Approved 1 post(s): {cy.id}"
        in run("approve", str(cy.id), "--stage", "sign-off", user="bob").output
    )
    assert run("show", "99999999999999999999").exit_code == 1
    db.dispose()
