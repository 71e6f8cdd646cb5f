"""Every action × every door × every kind of person: the same rules from each door.

Doors: the library called directly, the command line (click's CliRunner, a personal token
in PUBLISHER_TOKEN) and the web app (Flask's test client, signed in). People: an
administrator, a reviewer, an author with rights on the post's account, an author and a
reviewer with rights on another account only, a disabled user, no token (anonymous on the
web), an unknown token, and the service itself (library only). An allowed action succeeds
and changes the post (or hold); a refused one fails and changes nothing: every row of the
posts, holds, sign-offs and the audit log is as before.

The expected answers are written out here (``ALLOWED``), not asked of people/rights.py.
Every case runs on SQLite and on the real PostgreSQL server: a refusal must leave nothing
behind on either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import select, update

from core.clock import FakeClock
from core.errors import PermissionDenied
from core.settings import Settings
from people import tokens, users
from people.rights import Actor
from posts import holds, review
from posts.compose import Composition, compose
from posts.db import Database
from posts.models import Event, Hold, Post
from posts.reschedule import reschedule
from posts.stages import Signoff
from publisher import cli
from tests import pg
from tests.helpers import who
from tests.web.conftest import login, post
from web.app import create_app

PASSWORD = "correct horse battery staple"
ACCOUNT = "gwent-x"
OTHER = "gwent-facebook"
WHEN = datetime(2099, 3, 16, 9, 0, tzinfo=UTC)
EN = "Worried about a child online? Call 101, or 999 in an emergency."
CY = "Yn poeni am blentyn ar-lein? Ffoniwch 101, neu 999 mewn argyfwng."

# kind of person -> (user name, role, accounts); None: no registered person at all
PEOPLE: dict[str, tuple[str, str, tuple[str, ...]] | None] = {
    "administrator": ("carol", "administrator", ()),
    "reviewer": ("bob", "reviewer", ()),
    "author": ("alice", "author", ()),
    "author-other-account": ("erin", "author", (OTHER,)),
    "reviewer-other-account": ("dave", "reviewer", (OTHER,)),
    "disabled": ("vic", "reviewer", ()),
    "no-token": None,
    "unknown-token": None,
    "service": None,
}

ACTIONS = (
    "preview",
    "submit",
    "approve",
    "reject",
    "edit",
    "cancel",
    "urgent",
    "confirm",
    "resolve",
    "hold",
    "release",
    "reschedule",
    "compose",
)
# Not preview: a look counts as a preview for approval only for those who may approve.
AUTHORS_MAY = {"submit", "edit", "cancel", "urgent", "reschedule", "compose"}
ALLOWED: dict[str, set[str]] = {
    "administrator": set(ACTIONS),
    "reviewer": set(ACTIONS),
    "author": AUTHORS_MAY,
}

WEB_ACTIONS = tuple(a for a in ACTIONS if a != "urgent")  # urgent: compose's box only
DOOR_PEOPLE = {
    "library": [k for k in PEOPLE if k not in ("disabled", "no-token", "unknown-token")],
    "cli": [k for k in PEOPLE if k != "service"],
    "web": [k for k in PEOPLE if k not in ("service", "unknown-token")],
}
CASES = [
    (door, action, kind)
    for door in ("library", "cli", "web")
    for action in (WEB_ACTIONS if door == "web" else ACTIONS)
    for kind in DOOR_PEOPLE[door]
]


# The web door signs in (and the disabled user is enabled to sign in, then disabled):
# these are the log's words for that, not for the action under test.
SIGN_IN_EVENTS = (
    "login",
    "session_started",
    "session_ended",
    "sessions_ended",
    "user_enabled",
    "user_disabled",
)


class World:
    """One database: the people, a post in each state an action starts from, a hold."""

    def __init__(self, db: Database, settings: Settings, clock: FakeClock) -> None:
        self.db, self.settings, self.clock = db, settings, clock
        # The command line finds the database from the settings file, this overriding it.
        self.cli_env = {"PUBLISHER_DATABASE_URL": db.url}
        self.tokens: dict[str, str] = {}
        now = clock.now()
        for kind, person in PEOPLE.items():
            if person is None:
                continue
            name, role, accounts = person
            users.add_user(
                db, name, PASSWORD, role=role, accounts=accounts, actor=who("test"), now=now
            )
            self.tokens[kind] = tokens.issue(db, name, actor=who("test"), now=now)
        writer = who("writer")  # the author of every post: nobody above wrote them

        def new_post() -> int:
            (made,) = compose(
                db,
                settings,
                Composition(accounts=[ACCOUNT], texts={"en": EN, "cy": CY}, when=WHEN, together=True),
                actor=writer,
                now=now,
            )
            return made.id

        self.draft = new_post()
        self.in_review = new_post()
        review.submit(db, [self.in_review], actor=writer, now=now)
        everyone = [p[0] for p in PEOPLE.values() if p is not None]
        for name in everyone:  # previewed by all: a refusal is about rights, not the preview
            review.record_previews(db, [self.in_review], actor=who(name), now=now)
        self.stale = new_post()
        self.unknown = new_post()
        with db.transaction() as session:
            session.execute(update(Post).where(Post.id == self.stale).values(state="stale"))
            session.execute(update(Post).where(Post.id == self.unknown).values(state="unknown"))
        self.hold_reason = "Critical incident"
        self.disable()

    def disable(self) -> None:
        users.set_disabled(self.db, "vic", True, actor=who("test"), now=self.clock.now())

    def target(self, action: str) -> int:
        return {
            "approve": self.in_review,
            "reject": self.in_review,
            "confirm": self.stale,
            "resolve": self.unknown,
        }.get(action, self.draft)

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of what an action may change. The web door's own sign-in (and the
        disabled user's set-up) are in the log too, and are left out here."""
        with self.db.reading() as session:
            rows = {
                model.__tablename__: [
                    tuple(row) for row in session.execute(select(model.__table__)).all()
                ]
                for model in (Post, Hold, Signoff)
            }
            rows["events"] = [
                tuple(row)
                for row in session.execute(
                    select(Event.__table__).where(
                        Event.action.not_in(SIGN_IN_EVENTS)
                    )
                ).all()
            ]
            return rows


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, settings: Settings, clock: FakeClock) -> Iterator[World]:
    with pg.database(request.param, settings.database_url) as database:
        yield World(database, settings, clock)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2027, 3, 1, 9, 0, tzinfo=UTC))


def _set_hold_first(world: World) -> None:
    holds.set_hold(
        world.db, actor=who("carol"), reason=world.hold_reason, now=world.clock.now(), account=ACCOUNT
    )


# -- the doors -------------------------------------------------------------------------


def _library(world: World, action: str, kind: str) -> bool:
    """True if the library did it; False if it refused with a PermissionDenied."""
    if kind == "service":
        actor = Actor.service()
    else:
        person = PEOPLE[kind]
        assert person is not None
        found = next(p for p in users.list_users(world.db) if p.username == person[0])
        actor = Actor.of(found)
    db, now, post_id = world.db, world.clock.now(), world.target(action)
    calls: dict[str, Callable[[], object]] = {
        "preview": lambda: review.record_previews(db, [post_id], actor=actor, now=now),
        "submit": lambda: review.submit(db, [post_id], actor=actor, now=now),
        "approve": lambda: review.approve(db, [post_id], actor=actor, now=now),
        "reject": lambda: review.reject(db, [post_id], actor=actor, reason="No", now=now),
        "edit": lambda: review.edit(db, post_id, actor=actor, now=now, text=EN + " Thanks."),
        "cancel": lambda: review.cancel(db, [post_id], actor=actor, reason="No", now=now),
        "urgent": lambda: review.mark_urgent(db, post_id, actor=actor, reason="Safety", now=now),
        "confirm": lambda: review.confirm(db, [post_id], actor=actor, reason="Still", now=now),
        "resolve": lambda: review.resolve(
            db, post_id, actor=actor, now=now, reason="Not there", resend=True
        ),
        "hold": lambda: holds.set_hold(
            db, actor=actor, reason="Incident", now=now, account=ACCOUNT
        ),
        "release": lambda: holds.release(db, actor=actor, now=now, account=ACCOUNT),
        "reschedule": lambda: reschedule(
            db, post_id, WHEN.replace(day=20), actor=actor, now=now
        ),
        "compose": lambda: compose(
            db,
            world.settings,
            Composition(accounts=[ACCOUNT], texts={"en": EN, "cy": CY}, when=WHEN, together=True),
            actor=actor,
            now=now,
        ),
    }
    try:
        calls[action]()
    except PermissionDenied:
        return False
    return True


def _cli(world: World, action: str, kind: str) -> bool:
    """True if the command exited 0 (for preview: if it recorded the preview)."""
    given = {"no-token": "", "unknown-token": "cpt_" + "x" * 43}
    token = given[kind] if kind in given else world.tokens[kind]
    post = str(world.target(action))
    args = {
        "preview": ["preview", "--id", post],
        "submit": ["submit", post],
        "approve": ["approve", post],
        "reject": ["reject", post, "--reason", "No"],
        "edit": ["edit", post, "--text", EN + " Thanks."],
        "cancel": ["cancel", post, "--reason", "No"],
        "urgent": ["urgent", post, "--reason", "Safety"],
        "confirm": ["confirm", post, "--reason", "Still"],
        "resolve": ["resolve", post, "--resend", "--reason", "Not there"],
        "hold": ["hold", "--reason", "Incident", "--account", ACCOUNT],
        "release": ["release", "--account", ACCOUNT],
        "reschedule": ["reschedule", post, "--at", "2099-03-20 10:00"],
        "compose": [
            "compose", "--account", ACCOUNT, "--en", EN, "--cy", CY, "--together",
            "--at", "2099-03-16 09:00",
        ],
    }[action]  # fmt: skip
    result = CliRunner().invoke(
        cli,
        ["--config", str(world.settings.config_path), *args],
        # PUBLISHER_USER is the old way to say who: ignored.
        env={"PUBLISHER_TOKEN": token, "PUBLISHER_USER": "carol", **world.cli_env},
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    if kind in ("no-token", "unknown-token", "disabled") and action != "preview":
        assert "PUBLISHER_TOKEN" in result.output, result.output
    return result.exit_code == 0


def _web(world: World, action: str, kind: str) -> bool:
    """True if the app did it (303 to a page saying so); False for a 401/403 (or the
    compose form's 400 naming the missing right)."""
    app = create_app(world.settings, world.db, world.clock, secret_key="matrix-secret")
    app.testing = True
    client: FlaskClient = app.test_client()
    person = PEOPLE[kind]
    if person is not None:
        if kind == "disabled":  # signed in while enabled, disabled since
            users.set_disabled(world.db, "vic", False, actor=who("test"), now=world.clock.now())
        signed = login(client, person[0], PASSWORD)
        assert signed.status_code == 303, signed.get_data(as_text=True)
        if kind == "disabled":
            world.disable()
    post_id = world.target(action)
    with world.db.reading() as session:
        content = session.get(Post, post_id).content_hash  # type: ignore[union-attr]
    forms: dict[str, tuple[str, dict[str, str]]] = {
        "submit": (f"/posts/{post_id}/submit", {}),
        "approve": (f"/posts/{post_id}/approve", {"content_hash": content}),
        "reject": (f"/posts/{post_id}/reject", {"comment": "No"}),
        "edit": (f"/posts/{post_id}/edit", {"text": EN + " Thanks.", "content_hash": content}),
        "cancel": (f"/posts/{post_id}/cancel", {"reason": "No"}),
        "confirm": (f"/posts/{post_id}/confirm", {"reason": "Still"}),
        "resolve": (
            f"/posts/{post_id}/resolve", {"outcome": "resend", "reason": "Not there"}
        ),
        "hold": ("/holds", {"scope": ACCOUNT, "reason": "Incident"}),
        "release": ("/holds/1/release", {}),
        "reschedule": (f"/posts/{post_id}/move", {"at": "2099-03-20T10:00"}),
        "compose": (
            "/compose",
            {"accounts": ACCOUNT, "text_en": EN, "text_cy": CY, "together": "1",
             "when": "2099-03-16T09:00"},
        ),
    }  # fmt: skip
    if action == "preview":  # a reviewer's look at the post's page records the preview
        response = client.get(f"/posts/{post_id}")
        return response.status_code == 200
    url, data = forms[action]
    response = post(client, url, data)
    if response.status_code == 303:
        flashed = client.get(response.headers["Location"]).get_data(as_text=True)
        assert "error" not in _flashes(client, flashed), flashed
        return True
    assert response.status_code in (400, 401, 403), (response.status_code, url)
    return False


def _flashes(client: FlaskClient, page: str) -> str:
    import re

    return " ".join(re.findall(r'class="flash flash-(\w+)"', page))


DOORS = {"library": _library, "cli": _cli, "web": _web}


@pytest.mark.parametrize(("door", "action", "kind"), CASES)
def test_every_action_from_every_door(world: World, door: str, action: str, kind: str) -> None:
    if action == "release":
        _set_hold_first(world)
    before = world.snapshot()
    done = DOORS[door](world, action, kind)
    after = world.snapshot()
    if action == "preview" and door != "library":
        # Showing a post is for anyone (the command line's preview, the web's post page);
        # what counts is whether the look was recorded as a preview for approval.
        done = done and after != before
    allowed = action in ALLOWED.get(kind, set())
    if allowed:
        assert done, f"{kind} should be able to {action} from the {door}"
        assert after != before, f"{kind}'s {action} from the {door} changed nothing"
    else:
        assert not done, f"{kind} should not be able to {action} from the {door}"
        assert after == before, f"{kind}'s refused {action} from the {door} changed something"


def test_the_matrix_covers_every_action_door_and_person() -> None:
    assert {d for d, _, _ in CASES} == {"library", "cli", "web"}
    assert {a for _, a, _ in CASES} == set(ACTIONS)
    assert {k for _, _, k in CASES} == set(PEOPLE)
    assert len(CASES) == 13 * 6 + 13 * 8 + 12 * 7  # each on both databases
