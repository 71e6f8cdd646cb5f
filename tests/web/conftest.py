"""The web app on a real SQLite file: the example campaign planned for 17-19 March 2027
(Child Exploitation Awareness Day, with its image), four users, a fake clock."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from campaign.expand import expand
from campaign.loader import load_campaign
from core.clock import FakeClock
from core.settings import Settings
from examples import EXAMPLE_CAMPAIGN as EXAMPLE
from people import users
from people.pacing import FakePacer
from posts import review
from posts.db import Database
from posts.models import Post
from posts.planning import store_drafts
from tests.helpers import who
from web.app import create_app

PASSWORD = "correct horse battery staple"
NASTY = "Stay safe <script>alert(1)</script> and {{ 7*7 }} online.\n\nCall 101, or 999. #StopTalkProtect"
NASTY_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
DAY = date(2027, 3, 18)  # Child Exploitation Awareness Day
FIRST, LAST = date(2027, 3, 17), date(2027, 3, 19)

# name: (role, accounts); no accounts means every account
PEOPLE = {
    "alice": ("author", ()),
    "bob": ("reviewer", ()),
    "carol": ("administrator", ()),
    "dave": ("reviewer", ("gwent-facebook",)),
}


@pytest.fixture(autouse=True)
def cheap_hasher() -> Iterator[None]:
    """argon2id still, with tiny costs: tests sign in many times."""
    users.use_hasher(PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
    yield
    users.use_hasher(PasswordHasher())


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2027, 3, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
def world(db: Database, settings: Settings, clock: FakeClock) -> Database:
    """Planned and submitted by alice; one post's text has HTML and a template in it."""
    drafts = expand(load_campaign(EXAMPLE), settings, FIRST, LAST)
    # The X and Facebook posts: the pages' tests count them.
    drafts = [d for d in drafts if d.account in ("gwent-x", "gwent-facebook")]
    store_drafts(db, drafts, actor=who("alice"), now=clock.now())
    posts = all_posts(db)
    nasty = next(p for p in posts if p.account == "gwent-x" and p.language == "en")
    review.edit(db, nasty.id, actor=who("alice"), now=clock.now(), text=NASTY)
    review.submit(db, [p.id for p in posts], actor=who("alice"), now=clock.now())
    for name, (role, accounts) in PEOPLE.items():
        users.add_user(
            db,
            name,
            PASSWORD,
            role=role,
            accounts=accounts,
            display_name=name.title(),
            actor=who("test"),
            now=clock.now(),
        )
    return db


@pytest.fixture
def app(world: Database, settings: Settings, clock: FakeClock) -> Flask:
    # A fake pacer: refused sign-ins are padded on its clock, not by sleeping.
    flask_app = create_app(
        settings, world, clock, secret_key="test-secret-key", pacer=FakePacer()
    )
    flask_app.testing = True
    return flask_app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def all_posts(db: Database) -> list[Post]:
    with db.transaction() as session:
        return list(session.scalars(select(Post).order_by(Post.id)))


def post_where(db: Database, **match: object) -> Post:
    return next(p for p in all_posts(db) if all(getattr(p, k) == v for k, v in match.items()))


def nasty_post(db: Database) -> Post:
    return next(p for p in all_posts(db) if p.text == NASTY)


def fresh(db: Database, post_id: int) -> Post:
    with db.transaction() as session:
        post = session.get(Post, post_id)
        assert post is not None
        return post


def token(client: FlaskClient) -> str:
    """The session's CSRF token (made here if the session has none yet)."""
    with client.session_transaction() as session:
        return str(session.setdefault("csrf", "test-csrf-token-0123456789"))


def post(client: FlaskClient, url: str, data: dict[str, object] | None = None) -> TestResponse:
    """A form POST with the CSRF token, as the page's form would send it."""
    return client.post(url, data={"csrf_token": token(client), **(data or {})})


def login(client: FlaskClient, name: str, password: str = PASSWORD) -> TestResponse:
    client.get("/login")
    return post(client, "/login", {"username": name, "password": password})


def text_of(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def form_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'name="ids" value="(\d+)"', html)]
