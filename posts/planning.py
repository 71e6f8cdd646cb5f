"""Store a campaign's drafts in the queue, idempotently, in one transaction.

The natural key (campaign, occasion, account, language) finds the post. A draft is
updated; a post in review, approved or waiting for a person is rewritten only by an
``edit`` transition, which sends it back to draft, voids any approval and says so in the
event log and in the report; a post that is sending or later is never touched (the
report says what was left alone). Each rewrite is conditional on the post as read, so a
post a worker claims meanwhile is left alone too, never overwritten.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from campaign.expand import Draft

from .db import Database
from .journal import record_event, transition, try_take
from .models import Post, content_hash
from .stages import void_all
from .states import REPLANNABLE, PostState


@dataclass
class PlanReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    # Posts the new content sent back to draft from another state (in review, approved,
    # waiting for a person): each needs a new review.
    to_draft: list[int] = field(default_factory=list)
    voided: list[int] = field(default_factory=list)  # of those, the ones that were approved
    left_alone: list[int] = field(default_factory=list)  # sending or later: not changed

    def summary(self) -> str:
        text = f"{self.created} new, {self.updated} updated, {self.unchanged} unchanged"
        if self.to_draft:
            text += (
                f"; {len(self.to_draft)} post(s) sent back to draft for a new review: "
                f"{_ids(self.to_draft)}"
            )
        if self.voided:
            text += f" (approval voided for {len(self.voided)}: {_ids(self.voided)})"
        if self.left_alone:
            text += (
                f"; {len(self.left_alone)} post(s) already sending or done were not "
                f"changed: {_ids(self.left_alone)}"
            )
        return text


def store_drafts(db: Database, drafts: Sequence[Draft], *, actor: str, now: datetime) -> PlanReport:
    report = PlanReport()
    if not drafts:
        return report
    with db.transaction() as session:
        campaign = drafts[0].campaign
        existing = {
            (p.occasion, p.account, p.language): p
            for p in session.scalars(select(Post).where(Post.campaign == campaign))
        }
        for draft in drafts:
            media = [
                {"path": m.path, "alt_text": m.alt_text, "sha256": m.sha256} for m in draft.media
            ]
            digest = content_hash(
                text=draft.text,
                media=media,
                account=draft.account,
                language=draft.language,
                due_at=draft.due_at,
            )
            values: dict[str, Any] = dict(
                title=draft.title,
                network=draft.network,
                due_at=draft.due_at,
                time_note=draft.note,
                text=draft.text,
                media=media,
                tags=list(draft.tags),
                problems=list(draft.problems),
                content_hash=digest,
                pair_key=draft.pair_key,
                urgent=draft.urgent,
                stale_after_minutes=draft.stale_after_minutes,
            )
            post = existing.get((draft.occasion, draft.account, draft.language))
            if post is None:
                post = Post(
                    campaign=draft.campaign,
                    occasion=draft.occasion,
                    account=draft.account,
                    language=draft.language,
                    state=PostState.DRAFT.value,
                    author=actor,
                    attempt=0,
                    created_at=now,
                    updated_at=now,
                    **values,
                )
                session.add(post)
                session.flush()
                record_event(
                    session,
                    actor=actor,
                    action="plan",
                    now=now,
                    post=post,
                    detail="created by planning",
                )
                report.created += 1
            elif post.content_hash == digest:
                post.problems = list(draft.problems)  # the rules may have changed
                report.unchanged += 1
            elif post.state in REPLANNABLE and try_take(session, post):
                was_approved = post.approved_hash is not None
                was_draft = post.state == PostState.DRAFT.value
                for key, value in values.items():
                    setattr(post, key, value)
                _void_approval(post)
                void_all(session, post, actor=actor, now=now, reason="re-planned")
                transition(
                    session,
                    post,
                    "edit",
                    actor=actor,
                    now=now,
                    detail="re-planned with new content"
                    + ("; approval voided" if was_approved else ""),
                )
                if not was_draft:
                    report.to_draft.append(post.id)
                if was_approved:
                    report.voided.append(post.id)
                report.updated += 1
            else:
                report.left_alone.append(post.id)
        record_event(
            session,
            actor=actor,
            action="plan",
            now=now,
            detail={"campaign": campaign, "summary": report.summary()},
        )
    return report


def _void_approval(post: Post) -> None:
    post.approved_by = None
    post.approved_hash = None
    post.approved_at = None


def _ids(ids: list[int]) -> str:
    shown = ", ".join(str(i) for i in ids[:10])
    return shown + (" …" if len(ids) > 10 else "")
