"""What people are told, and in what words: notices for send outcomes, stale posts, holds
set or released (read from the audit log, so a hold set from the web app or another
machine is reported too), and the daily digest of tomorrow's posts awaiting approval.

Each notice says what happened, what it means for the public, and the command that
settles it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, bindparam, case, func, null, select, text
from sqlalchemy.orm import Session

from core.settings import Settings
from posts.db import Database
from posts.journal import WORKER
from posts.models import Event, Post
from posts.states import PostState
from schedules.dispatch import Outcome

from .notify import Notice

# The event recording that a hold event was told (its detail: that event's id).
TOLD = "hold_told"
# ... and that an account's expiring token was told today (its detail: "account:day").
TOKEN_TOLD = "token_told"
HOLD_ACTIONS = (
    "hold_set",
    "hold_released",
    "blackout_set",
    "blackout_released",
    "pause_set",
    "pause_released",
)
AWAITING_APPROVAL = (PostState.DRAFT.value, PostState.IN_REVIEW.value)
NEEDS_A_PERSON = (PostState.UNKNOWN.value, PostState.STALE.value, PostState.FAILED.value)


def local(when: datetime | None, settings: Settings) -> str:
    if when is None:
        return "?"
    return when.astimezone(ZoneInfo(settings.timezone)).strftime("%a %d %b %Y %H:%M %Z")


def snippet(text: str | None, width: int = 80) -> str:
    if not text:
        return "(no text)"
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= width else first[: width - 1] + "…"


def notice_for_outcome(outcome: Outcome, settings: Settings, now: datetime) -> Notice | None:
    """The notice a send outcome calls for, if any (success and retries need nobody)."""
    post, account = outcome.post_id, outcome.account
    about = (
        f"Post {post} to {account}, due {local(outcome.due_at, settings)}:\n"
        f"  {snippet(outcome.text)}\n"
    )
    if outcome.outcome == "authentication":
        return Notice(
            kind="authentication_failure",
            subject=f"Account {account} paused: its credentials were refused",
            body=(
                f"{about}\nThe network refused the account's credentials: {outcome.message}\n\n"
                f"Nothing was published. The account is paused: nothing more is sent to "
                f"it until someone resumes it.\n\nWhat to do: renew the credentials, check "
                f"them with `publisher doctor`, then `publisher resume {account} --as YOUR_NAME`."
            ),
            at=now,
            account=account,
            post_ids=(post,),
        )
    if outcome.state == PostState.UNKNOWN.value:
        return Notice(
            kind="unknown_outcome",
            subject=f"Post {post} to {account}: not known whether it was published",
            body=(
                f"{about}\nThe send may or may not have reached the network: "
                f"{outcome.message}\n\nThe worker will not send it again on its own.\n\n"
                f"What to do: look at the account. If the post is there, run `publisher "
                f"resolve {post} --published URL --reason '…'`; if it is not, `publisher "
                f"resolve {post} --resend --reason '…'`."
            ),
            at=now,
            account=account,
            post_ids=(post,),
        )
    if outcome.state == PostState.FAILED.value:
        return Notice(
            kind="permanent_failure",
            subject=f"Post {post} to {account} failed and was not published",
            body=(
                f"{about}\nThe network refused it: {outcome.message}\n\n"
                f"What to do: fix the post with `publisher edit {post}` (it then needs "
                f"approval again), or send it unchanged with `publisher resolve {post} "
                f"--resend --reason '…'` once the cause is fixed, or `publisher cancel {post}`."
            ),
            at=now,
            account=account,
            post_ids=(post,),
        )
    return None


def stale_notice(
    db: Database, post_ids: Sequence[int], settings: Settings, now: datetime
) -> Notice | None:
    if not post_ids:
        return None
    with db.transaction() as session:
        posts = list(session.scalars(select(Post).where(Post.id.in_(post_ids)).order_by(Post.id)))
    lines = [
        f"- post {p.id} to {p.account} ({p.language}), due {local(p.due_at, settings)}: "
        f"{snippet(p.text)}"
        for p in posts
    ]
    ids = " ".join(str(p.id) for p in posts)
    return Notice(
        kind="stale",
        subject=f"{len(posts)} post(s) missed their time and wait for a person",
        body=(
            "These approved posts were not sent on time (a hold, an outage, a paused "
            "account) and are now past their staleness limit, so they will not go out "
            "late on their own:\n\n" + "\n".join(lines) + "\n\nWhat to do: send them now "
            f"with `publisher confirm {ids} --reason '…'`, or `publisher cancel {ids}`."
        ),
        at=now,
        account=posts[0].account if len({p.account for p in posts}) == 1 else None,
        post_ids=tuple(p.id for p in posts),
    )


def newest_event_id(db: Database) -> int:
    """The audit log's newest event id, read without the write lock."""
    return news_since(db, 0, ())[0]


def news_since(db: Database, after_id: int, actions: Sequence[str]) -> tuple[int, bool]:
    """The audit log's newest event id (``after_id`` if none came since), and whether an
    event with one of ``actions`` came after ``after_id``. One read of the events since,
    without the write lock: the worker asks after every round, and in a morning burst
    every round follows new events, hardly ever a hold's."""
    with db.engine.connect() as connection:
        connection.execution_options(read_only=True)
        newest, relevant = connection.execute(
            _news_statement(tuple(actions)), {"after": after_id}
        ).one()
    return max(after_id, int(newest or 0)), relevant is not None


@functools.cache
def _news_statement(actions: tuple[str, ...]) -> Select[int, Any]:
    """Built once per set of actions (it runs after every round)."""
    relevant = case((Event.action.in_(actions), Event.id)) if actions else null()
    return select(func.max(Event.id), func.max(relevant)).where(Event.id > bindparam("after"))


def untold_events(
    session: Session, after_id: int, actions: Collection[str], told: str
) -> tuple[list[Event], int]:
    """The events of ``actions`` after ``after_id`` that no worker has told yet (an event
    ``told`` names each one told), locked so another worker skips them; and the newest
    event id, so the next look starts after it."""
    events = list(
        session.scalars(
            select(Event)
            .where(Event.id > after_id, Event.action.in_(actions))
            .order_by(Event.id)
            .with_for_update(skip_locked=True)
        )
    )
    done = set(
        session.scalars(
            select(Event.detail).where(
                Event.action == told, Event.detail.in_([str(e.id) for e in events])
            )
        )
    )
    newest = int(session.scalar(select(func.max(Event.id))) or after_id)
    return [e for e in events if str(e.id) not in done], max(newest, after_id)


def hold_notices(
    db: Database, after_id: int, settings: Settings, now: datetime
) -> tuple[list[Notice], int]:
    """Notices for holds set or released since event ``after_id``; and the newest id seen.

    With several workers each fact is told once: the hold events are locked (skipping
    those another worker is telling) and a ``told`` event records which were told.
    A pause the worker set itself is reported as the authentication failure instead."""
    with db.transaction() as session:
        events, newest = untold_events(session, after_id, HOLD_ACTIONS, TOLD)
        notices = []
        for event in events:
            if event.action == "pause_set" and event.actor == WORKER:
                continue
            notices.append(_hold_notice(event, settings))
            session.add(Event(at=now, actor=WORKER, action=TOLD, detail=str(event.id)))
    return notices, newest


def _hold_notice(event: Event, settings: Settings) -> Notice:
    try:
        detail = json.loads(event.detail) if event.detail else {}
    except ValueError:
        detail = {}
    if not isinstance(detail, dict):
        detail = {}
    kind, _, change = event.action.rpartition("_")
    scope = detail.get("account") or "all accounts"
    scope_text = "every account" if scope == "all accounts" else f"account {scope}"
    word = {"hold": "Hold", "blackout": "Blackout", "pause": "Pause"}.get(kind, kind.title())
    if change == "set":
        ends = detail.get("ends_at")
        until = ""
        if ends and ends != "None":
            try:
                until = f" until {local(datetime.fromisoformat(str(ends)), settings)}"
            except ValueError:
                until = f" until {ends}"
        subject = f"{word} set on {scope_text} by {event.actor}"
        body = (
            f"{word} {detail.get('hold', '')} set on {scope_text}{until} by {event.actor} at "
            f"{local(event.at, settings)}.\nReason: {detail.get('reason', '')}\n\n"
            "Nothing it covers will be sent (urgent posts excepted) until it "
            + ("ends or " if until else "")
            + "is released."
        )
    else:
        subject = f"{word} released on {scope_text} by {event.actor}"
        body = (
            f"{word} {detail.get('hold', '')} on {scope_text} released by {event.actor} at "
            f"{local(event.at, settings)}.\n\nPosts due while it lasted are not flushed: "
            "those past their staleness limit wait for `publisher confirm` or "
            "`publisher cancel`."
        )
    return Notice(
        kind=event.action,
        subject=subject,
        body=body,
        at=event.at,
        account=None if scope == "all accounts" else str(scope),
        needs_action=False,
    )


def digest_notice(db: Database, settings: Settings, now: datetime) -> Notice:
    """Tomorrow's (local) posts still awaiting approval, and what waits for a person."""
    from posts.review import day_bounds  # here: an idle worker need not load the pages' queries

    zone = ZoneInfo(settings.timezone)
    tomorrow = (now.astimezone(zone) + timedelta(days=1)).date()
    start, end = day_bounds(tomorrow, zone)
    with db.transaction() as session:
        day = list(
            session.scalars(
                select(Post)
                .where(Post.due_at >= start, Post.due_at < end, Post.state != "cancelled")
                .order_by(Post.due_at, Post.account, Post.language, Post.id)
            )
        )
        waiting = dict(
            session.execute(
                select(Post.state, func.count())
                .where(Post.state.in_(NEEDS_A_PERSON))
                .group_by(Post.state)
            ).all()
        )
    awaiting = [p for p in day if p.state in AWAITING_APPROVAL]
    label = f"{tomorrow:%a} {tomorrow.day} {tomorrow:%b %Y}"
    if awaiting:
        subject = f"Tomorrow ({label}): {len(awaiting)} post(s) still awaiting approval"
        lines = [
            f"- post {p.id} at {p.due_at.astimezone(zone):%H:%M} to {p.account} "
            f"({p.language}), {p.state.replace('_', ' ')}: {snippet(p.text)}"
            for p in awaiting
        ]
        body = (
            f"{len(awaiting)} of tomorrow's {len(day)} post(s) are not approved yet and will "
            "not go out until they are:\n\n" + "\n".join(lines) + "\n\nReview them with "
            f"`publisher preview --day {tomorrow:%Y-%m-%d} --as YOUR_NAME`, then "
            f"`publisher approve --day {tomorrow:%Y-%m-%d} --as YOUR_NAME`."
        )
    else:
        subject = f"Tomorrow ({label}): nothing awaiting approval"
        body = f"All {len(day)} of tomorrow's post(s) are approved or settled."
    if waiting:
        counts = ", ".join(f"{n} {state}" for state, n in sorted(waiting.items()))
        body += f"\n\nAlso waiting for a person: {counts} (see `publisher status`)."
    return Notice(
        kind="daily_digest",
        subject=subject,
        body=body,
        at=now,
        post_ids=tuple(p.id for p in awaiting),
        needs_action=bool(awaiting or waiting),
    )


def token_notices(
    db: Database, expiring: Sequence[Any], settings: Settings, now: datetime
) -> list[Notice]:
    """One notice a day per account whose credentials run out soon (``expiring``: the
    ``ops.doctor.TokenExpiry`` list), however many workers send it: a ``token_told`` event
    per account and local day records that it was told."""
    day = now.astimezone(ZoneInfo(settings.timezone)).date().isoformat()
    notices = []
    with db.transaction() as session:
        if session.get_bind().dialect.name == "postgresql":  # one worker at a time
            session.execute(text("SELECT pg_advisory_xact_lock(84263117)"))
        for item in expiring:
            marker = f"{item.account}:{day}"
            told = session.scalar(
                select(func.count()).where(Event.action == TOKEN_TOLD, Event.detail == marker)
            )
            if told:
                continue
            left = item.expires_at - now
            when = local(item.expires_at, settings)
            subject = (
                f"Account {item.account}: its access token has expired"
                if left.total_seconds() <= 0
                else f"Account {item.account}: its access token expires in {left.days} day(s)"
            )
            notices.append(
                Notice(
                    kind="token_expiring",
                    subject=subject,
                    body=(
                        f"The {item.network} token of account {item.account} runs out on "
                        f"{when}. After that nothing is published to it: the account is "
                        "paused.\n\nWhat to do: renew the token (docs/accounts.md), put "
                        "it where the settings name it, and check it with `publisher "
                        f"accounts check {item.account}`."
                    ),
                    at=now,
                    account=item.account,
                )
            )
            session.add(Event(at=now, actor=WORKER, action=TOKEN_TOLD, detail=marker))
    return notices
