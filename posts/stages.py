"""Sign-off in stages: which stages a post needs, who has signed which, who is next.

The settings (``[[signoff.stages]]``, per account or campaign) list the stages in order,
each with who may approve it. A signature (``Signoff``) is bound to the content hash the
signer previewed; an edit voids every signature of the post, recorded and named in the
audit log. ``review.approve`` asks ``sign`` what an approval completes: the post moves to
``approved`` only when the last stage is done (the state table in ``posts.states`` is
still the one that moves it).

Who may approve a stage is decided in one function, ``may_sign`` (after
``people.rights`` has checked the signer's rights on the post's account).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.errors import PermissionDenied, QueueError
from core.settings import SignoffSettings, SignoffStage

from .db import Database
from .journal import record_event
from .models import Base, Post, UTCDateTime
from .states import PostState

EXTERNAL_ROLE = "external"


class Signoff(Base):
    """One person's approval of one stage of one post's content."""

    __tablename__ = "signoffs"
    __table_args__ = (Index("ix_signoffs_post", "post_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"))
    stage: Mapped[str] = mapped_column(String(100))
    signer: Mapped[str] = mapped_column(String(200))
    external: Mapped[bool] = mapped_column(Boolean, default=False)
    content_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    voided_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    void_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


@dataclass(frozen=True)
class Signer:
    """Who is signing: a user's name and role, or an external reviewer (a review link)."""

    name: str
    role: str | None = None
    external: bool = False


@dataclass(frozen=True)
class StageProgress:
    stage: SignoffStage
    signed_by: tuple[str, ...]
    waiting_for: tuple[str, ...]  # "all" stages: the named users who have not signed

    @property
    def done(self) -> bool:
        if self.stage.require == "all":
            return not self.waiting_for
        return bool(self.signed_by)

    @property
    def who(self) -> str:
        """Who may approve it, in words."""
        parts = list(self.stage.users)
        parts += [f"any {role}" for role in self.stage.roles]
        if self.stage.external:
            parts.append("an external reviewer with a review link")
        joined = ", ".join(parts)
        return f"all of {joined}" if self.stage.require == "all" else joined


@dataclass(frozen=True)
class Progress:
    stages: tuple[StageProgress, ...]

    @property
    def current(self) -> StageProgress | None:
        """The first stage not done: the one that waits (stages go in order)."""
        return next((s for s in self.stages if not s.done), None)

    @property
    def complete(self) -> bool:
        return self.current is None

    def summary(self) -> str:
        """One line, e.g. "Welsh language check ✓ ceri; sign-off: waiting for any reviewer"."""
        if not self.stages:
            return ""
        parts = []
        for s in self.stages:
            if s.done:
                parts.append(f"{s.stage.name} ✓ {', '.join(s.signed_by)}")
            elif s is self.current:
                parts.append(f"{s.stage.name}: waiting for {s.who}")
            else:
                parts.append(f"{s.stage.name}: later")
        return "; ".join(parts)


def stages_for(post: Post, signoff: SignoffSettings) -> tuple[SignoffStage, ...]:
    """The stages ``post`` needs, in order (a stage may be for some languages only)."""
    return tuple(
        stage
        for stage in signoff.plan_for(campaign=post.campaign, account=post.account)
        if not stage.languages or post.language in stage.languages
    )


def may_sign(stage: SignoffStage, signer: Signer) -> bool:
    """May ``signer`` approve ``stage``? The one place this is decided."""
    if signer.external:
        return stage.external
    return signer.name in stage.users or (signer.role is not None and signer.role in stage.roles)


def valid_signoffs(session: Session, post: Post) -> list[Signoff]:
    """Signatures that still count: of the current content, not voided."""
    return list(
        session.scalars(
            select(Signoff)
            .where(
                Signoff.post_id == post.id,
                Signoff.voided_at.is_(None),
                Signoff.content_hash == post.content_hash,
            )
            .order_by(Signoff.id)
        )
    )


def progress(session: Session, post: Post, signoff: SignoffSettings) -> Progress:
    rows = valid_signoffs(session, post)
    out = []
    for stage in stages_for(post, signoff):
        signed = tuple(r.signer for r in rows if r.stage == stage.name)
        waiting = tuple(u for u in stage.users if u not in signed) if stage.require == "all" else ()
        out.append(StageProgress(stage=stage, signed_by=signed, waiting_for=waiting))
    return Progress(tuple(out))


def sign(
    session: Session,
    post: Post,
    signer: Signer,
    *,
    signoff: SignoffSettings,
    now: datetime,
    stage: str | None = None,
) -> bool:
    """Record ``signer``'s approval of ``stage`` (default: the stage that waits) and say
    whether the post's sign-off is now complete. Refuses a stage out of order, one the
    signer may not approve, and a second signature by the same person.

    The caller has checked four eyes and the preview, and moves the post when complete."""
    now_progress = progress(session, post, signoff)
    if not now_progress.stages:
        if stage is not None:
            raise QueueError(f"post {post.id} has no sign-off stages; approve it without --stage")
        return True  # one approval, as without stages
    current = now_progress.current
    if current is None:  # cannot happen in review: a complete post is approved
        raise QueueError(f"post {post.id}: every stage is already signed")
    if stage is not None:
        named = next(
            (s for s in now_progress.stages if s.stage.name.casefold() == stage.casefold()), None
        )
        if named is None:
            names = ", ".join(repr(s.stage.name) for s in now_progress.stages)
            raise QueueError(f"post {post.id} has no stage {stage!r} (its stages: {names})")
        if named.done:
            raise QueueError(f"post {post.id}: the stage {named.stage.name!r} is already signed")
        if named is not current:
            raise QueueError(
                f"post {post.id}: the stage {named.stage.name!r} comes after "
                f"{current.stage.name!r}, which is not signed yet (stages go in order)"
            )
    if not may_sign(current.stage, signer):
        raise PermissionDenied(
            f"post {post.id}: {signer.name} may not approve the stage "
            f"{current.stage.name!r} (who may: {current.who})"
        )
    if signer.name in current.signed_by:
        raise QueueError(f"post {post.id}: {signer.name} already signed {current.stage.name!r}")
    session.add(
        Signoff(
            post_id=post.id,
            stage=current.stage.name,
            signer=signer.name,
            external=signer.external,
            content_hash=post.content_hash,
            at=now,
        )
    )
    session.flush()
    after = progress(session, post, signoff)
    done = after.stages[now_progress.stages.index(current)].done
    record_event(
        session,
        actor=signer.name,
        action="stage_signoff",
        now=now,
        post=post,
        detail=(
            f"signed “{current.stage.name}” for content {post.content_hash[:12]}"
            + (" as an external reviewer" if signer.external else "")
            + ("" if done else "; the stage waits for more signatures")
            + (f"; next: {after.current.stage.name}" if after.current else "; every stage signed")
        ),
    )
    return after.complete


def void_all(session: Session, post: Post, *, actor: str, now: datetime, reason: str) -> list[str]:
    """Void every signature of ``post`` (an edit): returns the stages voided, for the
    audit log's words. Recorded on the signatures too, so none can count again."""
    rows = list(
        session.scalars(
            select(Signoff).where(Signoff.post_id == post.id, Signoff.voided_at.is_(None))
        )
    )
    for row in rows:
        row.voided_at, row.voided_by, row.void_reason = now, actor, reason
    stages = sorted({r.stage for r in rows})
    if stages:
        record_event(
            session,
            actor=actor,
            action="stages_voided",
            now=now,
            post=post,
            detail=f"{reason}: sign-off voided for {', '.join(stages)}",
        )
    return stages


def progress_of(
    session: Session, posts: Sequence[Post], signoff: SignoffSettings
) -> dict[int, Progress]:
    return {p.id: progress(session, p, signoff) for p in posts}


def progress_for(
    db: Database, post_ids: Sequence[int], signoff: SignoffSettings
) -> dict[int, Progress]:
    """Each post's stage progress (empty for a post with no stages)."""
    with db.reading() as session:
        posts = session.scalars(select(Post).where(Post.id.in_(list(post_ids))))
        return {p.id: progress(session, p, signoff) for p in posts}


def lone_halves(db: Database, post_ids: Sequence[int]) -> list[tuple[int, int, str]]:
    """Posts sent for review without their Welsh/English counterpart: (post, counterpart,
    its language) for each counterpart still a draft and not among ``post_ids``. A pair is
    published together or not at all, so the author is warned before sending one half."""
    ids = set(post_ids)
    out = []
    with db.reading() as session:
        posts = list(session.scalars(select(Post).where(Post.id.in_(list(ids)))))
        keys = {p.pair_key for p in posts if p.pair_key}
        if not keys:
            return []
        partners = list(
            session.scalars(
                select(Post).where(Post.pair_key.in_(keys), Post.state == PostState.DRAFT.value)
            )
        )
        for post in sorted(posts, key=lambda p: p.id):
            for other in partners:
                if other.pair_key == post.pair_key and other.id not in ids:
                    out.append((post.id, other.id, other.language))
    return out
