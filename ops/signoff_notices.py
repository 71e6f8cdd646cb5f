"""Tell the next person: when a post waits for a sign-off stage, the people who may
approve it are told (an email each, to the address ``[signoff.contacts]`` gives them, and
one summary to the webhook and the team's list) with a link to the post; and once a day
each of them gets a digest of every post waiting for them.

Read from the audit log as the hold notices are (``ops.alerts``): the worker looks at the
submissions and stage signatures since the last round, and a ``stage_told`` event records
each one told, so several workers tell each fact once.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.settings import Settings, SignoffStage
from posts import stages
from posts.db import Database
from posts.journal import WORKER
from posts.models import Event, Post
from posts.states import PostState

from .alerts import snippet, untold_events
from .notify import Notice

TOLD = "stage_told"
WATCHED = ("submit", "stage_signoff")


def approvers(session: Session, stage: SignoffStage, post: Post) -> list[str]:
    """Everyone who may sign ``stage`` of ``post`` (by ``stages.may_sign``), the author
    of its content excepted."""
    from people.users import User

    names = set(stage.users)
    for user in session.scalars(select(User).where(User.disabled.is_(False))):
        if stages.may_sign(stage, stages.Signer(user.username, user.role)):
            names.add(user.username)
    return sorted(n for n in names if n != post.author)


def post_link(settings: Settings, post_id: int) -> str:
    if settings.web.public_url:
        return f"{settings.web.public_url}/posts/{post_id}"
    return f"post {post_id} in the web app (or `publisher show {post_id}`)"


def waiting_notices(
    db: Database, after_id: int, settings: Settings, now: datetime
) -> tuple[list[Notice], int]:
    """Notices for posts that came to wait for a stage since event ``after_id``."""
    signoff, zone = settings.signoff, ZoneInfo(settings.timezone)
    notices: list[Notice] = []
    with db.transaction() as session:
        events, newest = untold_events(session, after_id, WATCHED, TOLD)
        for event in events:
            if event.post_id is None:
                continue
            post = session.get(Post, event.post_id)
            if post is None or post.state != PostState.IN_REVIEW.value:
                continue
            if post.content_hash != event.content_hash:
                continue  # edited since: its own submission will tell
            current = stages.progress(session, post, signoff).current
            if current is None:
                continue
            people = [
                p for p in approvers(session, current.stage, post) if p not in current.signed_by
            ]
            link = post_link(settings, post.id)
            when = post.due_at.astimezone(zone)
            subject = f"Post {post.id} waits for “{current.stage.name}”"
            about = (
                f"Post {post.id} to {post.account} ({post.language}) at {when:%a %d %b %H:%M}: "
                f"{snippet(post.text)}"
            )
            for person in people:
                address = signoff.contacts.get(person)
                if address:
                    notices.append(
                        Notice(
                            kind="stage_waiting",
                            subject=f"{subject}: yours to approve",
                            body=f"{about}\n\nIt waits for the stage “{current.stage.name}”, "
                            f"which you may approve. Look at it and approve it: {link}",
                            at=now,
                            account=post.account,
                            post_ids=(post.id,),
                            to=(address,),
                        )
                    )
            notices.append(
                Notice(
                    kind="stage_waiting",
                    subject=subject,
                    body=f"{about}\n\nIt waits for {current.who}"
                    + (f" ({', '.join(people)})" if people else "")
                    + f": {link}",
                    at=now,
                    account=post.account,
                    post_ids=(post.id,),
                    extra={"stage": current.stage.name, "people": people, "link": link},
                )
            )
            session.add(Event(at=now, actor=WORKER, action=TOLD, detail=str(event.id)))
    return notices, newest


def digest_notices(db: Database, settings: Settings, now: datetime) -> list[Notice]:
    """One email per person with an address: every post waiting for a stage they may sign."""
    signoff, zone = settings.signoff, ZoneInfo(settings.timezone)
    waiting: dict[str, list[tuple[Post, str]]] = defaultdict(list)
    with db.transaction() as session:
        posts = session.scalars(
            select(Post).where(Post.state == PostState.IN_REVIEW.value).order_by(Post.due_at)
        )
        for post in posts:
            current = stages.progress(session, post, signoff).current
            if current is None:
                continue
            for person in approvers(session, current.stage, post):
                if person not in current.signed_by:
                    waiting[person].append((post, current.stage.name))
    notices = []
    for person, items in sorted(waiting.items()):
        address = signoff.contacts.get(person)
        if not address:
            continue
        lines = [
            f"- post {p.id}, {p.due_at.astimezone(zone):%a %d %b %H:%M}, {p.account} "
            f"({p.language}), stage “{stage}”: {snippet(p.text)}\n  {post_link(settings, p.id)}"
            for p, stage in items
        ]
        notices.append(
            Notice(
                kind="stage_digest",
                subject=f"{len(items)} post(s) wait for your approval",
                body="These posts wait for a stage you may approve, soonest first:\n\n"
                + "\n".join(lines),
                at=now,
                post_ids=tuple(p.id for p, _ in items),
                to=(address,),
            )
        )
    return notices
