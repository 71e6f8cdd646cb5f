"""Planning's writes: a plan worked out by ``posts.planning`` stored in a few statements.

New posts go in with one bulk insert (``plan_writes``: COPY on PostgreSQL); each change
to a post the plan read — details, image, new content, cancel — is an update conditional
on the post as read (one statement per kind of change on PostgreSQL, one a post on
SQLite), so a post a worker claimed meanwhile is left alone and reported; every post's
audit event goes in with one bulk insert at the end, in the order the changes were made.
Everything runs in the caller's transaction: an error stores nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .media import store_image
from .plan_writes import POSTS, Writer, insert_events
from .planning import PlanReport, Removed, _detail_changes, _Plan, _Values
from .stages import Signoff
from .states import PostState, next_state

# The campaign's content of a post, in ``_Binder.content``'s order.
_CONTENT = (
    "title",
    "network",
    "due_at",
    "time_note",
    "text",
    "media",
    "tags",
    "problems",
    "content_hash",
    "pair_key",
    "urgent",
    "stale_after_minutes",
)
_NEW = (
    "campaign",
    "occasion",
    "account",
    "language",
    "state",
    "author",
    "attempt",
    "resend_count",
    "created_at",
    "updated_at",
    *_CONTENT,
)
# A rewrite: new content, the approval voided, the new state (and ``take_each``'s
# ``updated_at``).
_REWRITE = (*_CONTENT, "approved_by", "approved_hash", "approved_at", "state")


class _Binder:
    """Python values as the driver takes them, one processor call per distinct value
    where posts share one (the time of the plan, an image, tags, lint findings)."""

    def __init__(self, writer: Writer) -> None:
        self.writer = writer
        self.now = writer.shared(POSTS, "updated_at")
        self.media = writer.shared(POSTS, "media")
        self.tags = writer.shared(POSTS, "tags")
        self.problems = writer.shared(POSTS, "problems")
        self.due_at = writer.shared(POSTS, "due_at")  # the posts of one occasion share it
        self.urgent = writer.bind(POSTS, "urgent")
        self.stale = writer.bind(POSTS, "stale_after_minutes")

    def content(self, v: _Values) -> tuple[Any, ...]:
        """The values of ``_CONTENT``."""
        d = v.draft
        return (
            d.title,
            d.network,
            self.due_at(d.due_at, d.due_at),
            d.note,
            d.text,
            self.media(v.media_key, v.values["media"]),
            self.tags(d.tags, v.values["tags"]),
            # The drafts of one text share its findings (one lint per text and network).
            self.problems(id(d.problems), v.values["problems"]),
            v.digest,
            d.pair_key,
            self.urgent(d.urgent),
            self.stale(d.stale_after_minutes),
        )


def store_plan(
    session: Session,
    plan: _Plan,
    *,
    actor: str,
    now: datetime,
    removed: Removed = "keep",
    why: str = "",
) -> PlanReport:
    """Write ``plan``: new posts, the changes, the removals, and an event for each post
    (in one INSERT at the end, in the order the changes were made)."""
    report = PlanReport()
    for image in plan.images.values():
        store_image(
            session,
            image.clean,
            filename=image.filename,
            alt_text=image.alt_text,
            actor=actor,
            now=now,
        )
    session.flush()  # the images' events before the posts'
    writer = Writer(session)
    bind = _Binder(writer)
    now_bound = bind.now(now, now)
    events: list[tuple[Any, ...]] = []
    draft = PostState.DRAFT.value
    if plan.new:
        rows = [
            (
                v.draft.campaign,
                v.draft.occasion,
                v.draft.account,
                v.draft.language,
                draft,
                actor,
                0,
                0,
                now_bound,
                now_bound,
                *bind.content(v),
            )
            for v in plan.new
        ]
        writer.insert_many(POSTS, _NEW, rows)
        # Ids by the natural key (unique), in one read: the driver's executemany
        # answers no ids.
        ids = {
            (o, a, lang): i
            for i, o, a, lang in writer.select_rows(
                "SELECT id, occasion, account, language FROM posts WHERE campaign = ?",
                (plan.new[0].draft.campaign,),
            )
        }
        for v in plan.new:
            d = v.draft
            events.append(
                (
                    now,
                    actor,
                    "plan",
                    ids[(d.occasion, d.account, d.language)],
                    draft,
                    draft,
                    v.digest,
                    "created by planning",
                )
            )
    report.created = len(plan.new)
    # The lint rules may have changed: findings follow on every post planned again.
    writer.update_many(
        POSTS,
        ("problems",),
        [
            (bind.problems(id(v.draft.problems), v.values["problems"]), post.id)
            for post, v in plan.unchanged
            if post.problems != v.values["problems"]
        ],
    )
    report.unchanged += len(plan.unchanged)
    taken = take_each(
        writer,
        ("title", "tags", "urgent", "stale_after_minutes", "time_note", "pair_key"),
        [
            (
                v.draft.title,
                bind.tags(v.draft.tags, v.values["tags"]),
                bind.urgent(v.draft.urgent),
                bind.stale(v.draft.stale_after_minutes),
                v.draft.note,
                v.draft.pair_key,
                bind.problems(id(v.draft.problems), v.values["problems"]),
                now_bound,
                *_as_read(post),
            )
            for post, v in plan.details
        ],
        extra=("problems", "updated_at"),
    )
    for (post, v), ok in zip(plan.details, taken, strict=True):
        if not ok:
            report.left_alone.append(post.id)
            continue
        changed = ", ".join(_detail_changes(post, v))
        events.append(
            _event(now, actor, "plan_details", post, f"re-planned: {changed} follow the campaign")
        )
        report.details.append(post.id)
        report.unchanged += 1
    skipped = set(report.left_alone)  # a detail refused: the image is left alone too
    moving = [(post, v) for post, v in plan.to_library if post.id not in skipped]
    taken = take_each(
        writer,
        ("media",),
        [(bind.media(v.media_key, v.values["media"]), *_as_read(post)) for post, v in moving],
        extra=(),  # the same content: the post is not marked as updated
    )
    for (post, _v), ok in zip(moving, taken, strict=True):
        if not ok:
            report.left_alone.append(post.id)
            continue
        events.append(
            _event(
                now,
                actor,
                "plan_media",
                post,
                "image now read from the media library (same bytes, approval kept)",
            )
        )
        report.to_library.append(post.id)
    _rewrite(session, writer, bind, plan, report, events, actor=actor, now=now)
    report.left_alone.extend(p.id for p in plan.left_alone)
    _remove(writer, bind, plan, report, events, actor=actor, now=now, removed=removed, why=why)
    insert_events(writer, events)
    return report


def take_each(
    writer: Writer,
    sets: Sequence[str],
    rows: list[tuple[Any, ...]],
    extra: Sequence[str] = ("updated_at",),
) -> list[bool]:
    """``Writer.take_each`` (a module function so that a test can run a worker's claim
    between planning's read and its writes)."""
    return writer.take_each((*sets, *extra), rows) if rows else []


def _as_read(post: Any) -> tuple[Any, ...]:
    return (post.id, post.state, post.attempt, post.content_hash)


def _event(
    now: datetime, actor: str, action: str, post: Any, detail: str, *, to: str | None = None
) -> tuple[Any, ...]:
    return (
        now,
        actor,
        action,
        post.id,
        post.state,
        to or post.state,
        post.content_hash,
        detail,
    )


def _rewrite(
    session: Session,
    writer: Writer,
    bind: _Binder,
    plan: _Plan,
    report: PlanReport,
    events: list[tuple[Any, ...]],
    *,
    actor: str,
    now: datetime,
) -> None:
    """New content: back to draft, approval and sign-offs voided, an ``edit`` each."""
    now_bound = bind.now(now, now)
    states = [next_state(post.state, "edit").value for post, _v in plan.rewrite]
    taken = take_each(
        writer,
        _REWRITE,
        [
            (*bind.content(v), None, None, None, state, now_bound, *_as_read(post))
            for (post, v), state in zip(plan.rewrite, states, strict=True)
        ],
    )
    done = []
    for (post, v), state, ok in zip(plan.rewrite, states, taken, strict=True):
        if ok:
            done.append((post, v, state))
        else:
            report.left_alone.append(post.id)
    stages = _void_signoffs(session, [post.id for post, _v, _s in done], actor=actor, now=now)
    for post, v, state in done:
        was_approved = post.approved_hash is not None
        voided = stages.get(post.id)
        if voided:
            detail = f"re-planned: sign-off voided for {', '.join(voided)}"
            events.append(
                (now, actor, "stages_voided", post.id, post.state, post.state, v.digest, detail)
            )
        events.append(
            (
                now,
                actor,
                "edit",
                post.id,
                post.state,
                state,
                v.digest,
                "re-planned with new content" + ("; approval voided" if was_approved else ""),
            )
        )
        if post.state != PostState.DRAFT.value:
            report.to_draft.append(post.id)
        if was_approved:
            report.voided.append(post.id)
        report.updated += 1


def _void_signoffs(
    session: Session, post_ids: list[int], *, actor: str, now: datetime
) -> dict[int, list[str]]:
    """``stages.void_all`` for many posts: each post's stages voided, sorted."""
    found: dict[int, set[str]] = {}
    for start in range(0, len(post_ids), 500):
        chunk = post_ids[start : start + 500]
        rows = session.execute(
            select(Signoff.id, Signoff.post_id, Signoff.stage).where(
                Signoff.post_id.in_(chunk), Signoff.voided_at.is_(None)
            )
        ).all()
        if rows:
            session.execute(
                update(Signoff)
                .where(Signoff.id.in_([r.id for r in rows]))
                .values(voided_at=now, voided_by=actor, void_reason="re-planned")
            )
        for row in rows:
            found.setdefault(row.post_id, set()).add(row.stage)
    return {post_id: sorted(stages) for post_id, stages in found.items()}


def _remove(
    writer: Writer,
    bind: _Binder,
    plan: _Plan,
    report: PlanReport,
    events: list[tuple[Any, ...]],
    *,
    actor: str,
    now: datetime,
    removed: Removed,
    why: str,
) -> None:
    """Posts no longer in the campaign: cancelled (each as read), or kept and said so."""
    if removed == "keep":
        for post in plan.removed:
            report.kept.append(post.id)
            events.append(_event(now, actor, "plan_kept", post, f"{why}; kept on request"))
        return
    states = [next_state(post.state, "cancel").value for post in plan.removed]
    now_bound = bind.now(now, now)
    taken = take_each(
        writer,
        ("state",),
        [
            (state, now_bound, *_as_read(post))
            for post, state in zip(plan.removed, states, strict=True)
        ],
    )
    for post, state, ok in zip(plan.removed, states, taken, strict=True):
        if ok:
            events.append(_event(now, actor, "cancel", post, why, to=state))
            report.cancelled.append(post.id)
        else:
            report.left_alone.append(post.id)
