"""Tell the next person: a real SMTP server (aiosmtpd, STARTTLS + AUTH LOGIN) and a real
webhook receiver on 127.0.0.1. When a post waits for a stage, each person who may approve
it gets an email with a link; the webhook gets one summary; told once; a daily digest each."""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from campaign.expand import expand
from campaign.loader import load_campaign
from core.settings import load_settings
from ops.service import STAGE_DIGEST_JOB, Operations
from people import users
from posts import review
from posts.db import Database
from posts.models import Post
from posts.planning import store_drafts
from tests.helpers import who, write_campaign
from tests.ops.conftest import SMTP_PASSWORD, SMTP_USER, SmtpServer, WebhookServer

CONFIG = """
state_dir = "state"
[health]
enabled = false
[web]
public_url = "https://publisher.gwent.example"
[notify]
smtp_host = "127.0.0.1"
smtp_port = {port}
smtp_username = "{user}"
smtp_password_env = "TEST_SMTP_PASSWORD"
smtp_ca_file = "ca.pem"
webhook_url_env = "TEST_WEBHOOK_URL"
[accounts.gwent-x]
network = "x"
handle = "@GwentPolice"
languages = ["en", "cy"]
[[signoff.stages]]
name = "Welsh language check"
users = ["ceri"]
languages = ["cy"]
[[signoff.stages]]
name = "sign-off"
roles = ["reviewer"]
[signoff.contacts]
ceri = "ceri@gwent.example"
bob = "bob@gwent.example"
rhys = "rhys@gwent.example"
"""


def _messages(smtp: SmtpServer) -> list[tuple[list[str], str, str]]:
    out = []
    for m in smtp.messages:
        parsed = message_from_bytes(m["content"], policy=policy.default)
        out.append((m["to"], str(parsed["Subject"]), parsed.get_content()))
    return out


@pytest.fixture
def world(tmp_path: Path, smtp_server: SmtpServer, webhook_server: WebhookServer, clock):  # type: ignore[no-untyped-def]
    (tmp_path / "ca.pem").write_bytes(smtp_server.ca_pem)
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(port=smtp_server.port, user=SMTP_USER), "utf-8")
    settings = load_settings(config, environ={})
    db = Database(settings.database_url)
    db.ensure_schema()
    users.use_hasher(PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
    for name, role in (("ceri", "author"), ("bob", "reviewer"), ("rhys", "reviewer")):
        users.add_user(db, name, "x" * 16, role=role, actor=who("test"), now=clock.now())
    env = {"TEST_SMTP_PASSWORD": SMTP_PASSWORD, "TEST_WEBHOOK_URL": webhook_server.url}
    ops = Operations.from_settings(db, settings, environ=env, clock=clock)
    folder = write_campaign(tmp_path / "c", languages='["en", "cy"]')
    store_drafts(db, expand(load_campaign(folder), settings), actor=who("alice"), now=clock.now())
    with db.transaction() as s:
        cy = s.scalars(select(Post).where(Post.language == "cy").order_by(Post.id)).first()
    yield db, settings, ops, cy
    ops.stop()
    users.use_hasher(PasswordHasher())
    db.dispose()


def test_the_next_people_are_told_with_a_link_once(world, smtp_server, webhook_server, clock):  # type: ignore[no-untyped-def]
    db, settings, ops, cy = world
    review.submit(db, [cy.id], actor=who("alice"), now=clock.now())
    ops.watch_stages()
    assert ops.notifications.flush(10)
    (mail,) = _messages(smtp_server)
    assert mail[0] == ["ceri@gwent.example"]  # only the translator: the Welsh check is first
    assert "waits for “Welsh language check”: yours to approve" in mail[1]
    assert f"https://publisher.gwent.example/posts/{cy.id}" in mail[2]
    (hook,) = webhook_server.requests
    assert hook["json"]["stage"] == "Welsh language check" and hook["json"]["people"] == ["ceri"]

    ops.watch_stages()  # nothing new: nobody is told twice
    assert ops.notifications.flush(10) and len(smtp_server.messages) == 1

    review.record_previews(db, [cy.id], actor=who("ceri"), now=clock.now())
    review.approve(db, [cy.id], actor=who("ceri"), now=clock.now(), signoff=settings.signoff)
    ops.watch_stages()
    assert ops.notifications.flush(10)
    to = sorted(m[0][0] for m in _messages(smtp_server)[1:])
    assert to == ["bob@gwent.example", "rhys@gwent.example"]  # every reviewer, now
    assert all("“sign-off”" in m[1] for m in _messages(smtp_server)[1:])
    assert webhook_server.requests[-1]["json"]["people"] == ["bob", "rhys"]
    # A second worker reading the same events tells nobody again.
    again = Operations.from_settings(
        db, settings, environ={"TEST_SMTP_PASSWORD": SMTP_PASSWORD}, clock=clock
    )
    again._seen_events["stage"] = 0
    again.watch_stages()
    assert again.notifications.flush(10) and len(smtp_server.messages) == 3
    again.stop()


def test_a_daily_digest_per_person(world, smtp_server, clock):  # type: ignore[no-untyped-def]
    from apscheduler.schedulers.background import BackgroundScheduler

    db, _settings, ops, cy = world
    with db.transaction() as s:
        en = s.scalars(select(Post).where(Post.language == "en").order_by(Post.id)).first()
    review.submit(db, [cy.id, en.id], actor=who("alice"), now=clock.now())
    ops.send_stage_digests()
    assert ops.notifications.flush(10)
    mails = {m[0][0]: m for m in _messages(smtp_server)}
    assert set(mails) == {"ceri@gwent.example", "bob@gwent.example", "rhys@gwent.example"}
    assert f"post {cy.id}" in mails["ceri@gwent.example"][2]
    assert f"post {en.id}" not in mails["ceri@gwent.example"][2]  # no Welsh check in English
    assert f"post {en.id}" in mails["bob@gwent.example"][2]
    assert f"post {cy.id}" not in mails["bob@gwent.example"][2]  # not his turn yet
    scheduler = BackgroundScheduler()
    ops.start(scheduler)
    assert STAGE_DIGEST_JOB in {job.id for job in scheduler.get_jobs()}
