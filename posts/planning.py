"""Store a campaign's drafts in the queue, idempotently, in one transaction — and say
beforehand what that will do.

The natural key (campaign, occasion, account, language) finds the post. A draft is
updated; a post in review, approved or waiting for a person is rewritten only by an
``edit`` transition, which sends it back to draft, voids any approval and says so in the
event log and in the report; a post that is sending or later is never touched (the
report says what was left alone). Each rewrite is conditional on the post as read, so a
post a worker claims meanwhile is left alone too, never overwritten.

A campaign's images are put in the media library (``posts.media``) as the plan is
stored, and a post refers to its image by hash, with no path: a worker on any host reads
the bytes from the database. An image without metadata goes in byte for byte, so its hash
— and an approval, which covers the hash and alt text, not the path — stays the same; a
post planned earlier with a ``path`` entry has it replaced by the library entry on the
next plan with its approval kept (the report says how many). An image that still carries
metadata (a revision stored before images were cleaned on save) is re-encoded: new bytes,
a new hash, so its posts are listed as changed ("image") and their approvals voided.

Details that are not content — title, tags, ``urgent`` (which lets a post pass holds),
``stale_after_minutes`` — follow the campaign on every re-plan without a new review.

``preview_plan`` lists what ``apply_plan`` will do, including the posts **no longer in
the campaign** within the planned range: ``apply_plan`` cancels them with a reason, or
keeps them only when asked to explicitly. ``plan_campaign`` does it all for a campaign
stored in the database (``campaign.store``).

This module works out what a plan does (reading the campaign's posts as rows, not ORM
objects); ``posts.plan_store`` writes it, a year in a few statements.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Any, Literal, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session

from campaign.expand import Draft
from core.errors import QueueError
from people.rights import Actor, check_accounts

from .db import Database
from .journal import record_event
from .media import CleanImage, MediaError, entry_for, keep_or_clean
from .models import Post
from .plan_writes import digest_payload, media_json
from .states import REPLANNABLE, TRANSITIONS, PostState

Removed = Literal["cancel", "keep"]

# Posts that may still go out, hence may be cancelled when they leave the campaign.
CANCELLABLE = tuple(src.value for (src, action) in TRANSITIONS if action == "cancel")
# Non-content fields that follow the campaign without a new review, with their labels.
DETAILS = {
    "title": "title",
    "tags": "tags",
    "urgent": "urgent",
    "stale_after_minutes": "stale after",
    "time_note": "time note",
    "pair_key": "pairing",
}


@dataclass(frozen=True)
class PlannedPost:
    """One line of a plan preview."""

    occasion: str
    account: str
    language: str
    title: str
    due_at: datetime
    post_id: int | None = None
    state: str | None = None
    approved_by: str | None = None  # whose approval this plan voids
    changes: tuple[str, ...] = ()  # what changes: text, time, image, title, tags, urgent…


@dataclass
class PlanPreview:
    campaign: str
    start: date | None
    end: date | None
    new: list[PlannedPost] = field(default_factory=list)
    updated: list[PlannedPost] = field(default_factory=list)  # drafts with new content
    to_draft: list[PlannedPost] = field(default_factory=list)  # back to draft, new review
    details: list[PlannedPost] = field(default_factory=list)  # title, tags, urgent… only
    removed: list[PlannedPost] = field(default_factory=list)  # no longer in the campaign
    left_alone: list[PlannedPost] = field(default_factory=list)  # sending or done
    unchanged: int = 0
    # Posts whose image moves from this host's disk to the media library: same bytes,
    # same content hash, approval kept.
    to_library: int = 0

    @property
    def voided(self) -> list[PlannedPost]:
        return [p for p in self.to_draft if p.approved_by]

    @property
    def changes_anything(self) -> bool:
        return bool(self.new or self.updated or self.to_draft or self.details or self.removed)


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
    details: list[int] = field(default_factory=list)  # title, tags, urgent… followed
    cancelled: list[int] = field(default_factory=list)  # no longer in the campaign
    kept: list[int] = field(default_factory=list)  # no longer in the campaign, kept on request
    to_library: list[int] = field(default_factory=list)  # image moved to the library

    def summary(self) -> str:
        text = f"{self.created} new, {self.updated} updated, {self.unchanged} unchanged"
        if self.to_draft:
            text += (
                f"; {len(self.to_draft)} post(s) sent back to draft for a new review: "
                f"{_ids(self.to_draft)}"
            )
        if self.voided:
            text += f" (approval voided for {len(self.voided)}: {_ids(self.voided)})"
        if self.details:
            text += (
                f"; title, tags, urgency or staleness followed the campaign on "
                f"{len(self.details)} post(s)"
            )
        if self.to_library:
            text += (
                f"; the image of {len(self.to_library)} post(s) now comes from the media "
                "library (same bytes, approvals kept)"
            )
        if self.cancelled:
            text += (
                f"; {len(self.cancelled)} post(s) no longer in the campaign were cancelled: "
                f"{_ids(self.cancelled)}"
            )
        if self.kept:
            text += (
                f"; {len(self.kept)} post(s) no longer in the campaign were KEPT as asked "
                f"and will still publish: {_ids(self.kept)}"
            )
        if self.left_alone:
            text += (
                f"; {len(self.left_alone)} post(s) already sending, done or cancelled were not "
                f"changed: {_ids(self.left_alone)}"
            )
        return text


class _Values(NamedTuple):
    """A draft's values as stored. A tuple, not a dataclass: a year makes thousands, and
    every object the collector tracks makes its full passes come sooner."""

    draft: Draft
    digest: str
    values: dict[str, Any]
    media_key: tuple[tuple[str, str], ...]  # (file's SHA-256, alt text) of each image


class _Shared:
    """What the drafts of one plan share, made once: an image's library entries and their
    JSON (by image and alt text), a list of tags, a list of findings (the drafts of one
    text share its findings' tuple). Shared lists are never changed in place."""

    def __init__(self, images: dict[str, _LibraryImage]) -> None:
        self.images = images
        self.media: dict[tuple[tuple[str, str], ...], tuple[list[dict[str, Any]], str]] = {}
        self.tags: dict[tuple[str, ...], list[str]] = {}
        # By the tuple's id: the drafts (hence their tuples) live as long as the plan.
        self.problems: dict[int, list[dict[str, str | None]]] = {}


@dataclass(frozen=True)
class _LibraryImage:
    """A campaign image as the media library stores it."""

    clean: CleanImage
    filename: str
    alt_text: dict[str, str]


# Checking (and, with metadata, re-encoding) an image takes Pillow a moment: a preview
# and the plan that follows it use the same images. Keyed by the file's SHA-256.
_IMAGES: dict[str, CleanImage] = {}
_IMAGES_LOCK = threading.Lock()
_IMAGES_SIZE = 32


def _library_images(campaign: str, drafts: Sequence[Draft]) -> dict[str, _LibraryImage]:
    """Each image of the drafts (by the SHA-256 of its file) as the library stores it."""
    out: dict[str, _LibraryImage] = {}
    for draft in drafts:
        for m in draft.media:
            if m.sha256 in out:
                continue
            with _IMAGES_LOCK:
                clean = _IMAGES.get(m.sha256)
            if clean is None:
                try:
                    data = Path(m.path).read_bytes()
                except OSError as exc:
                    raise QueueError(
                        f"image {m.file or m.path} of {campaign!r} cannot be read: "
                        f"{exc.strerror}; nothing was planned"
                    ) from None
                if hashlib.sha256(data).hexdigest() != m.sha256:
                    raise QueueError(
                        f"image {m.file or m.path} of {campaign!r} changed while it was "
                        "planned; nothing was planned. Plan again."
                    )
                try:
                    clean = keep_or_clean(data, field=m.file or m.path)
                except MediaError as exc:
                    raise QueueError(
                        f"image {m.file or m.path} of {campaign!r} cannot go in the media "
                        f"library: {exc}; nothing was planned"
                    ) from None
                with _IMAGES_LOCK:
                    _IMAGES[m.sha256] = clean
                    while len(_IMAGES) > _IMAGES_SIZE:
                        _IMAGES.pop(next(iter(_IMAGES)))
            name = f"{campaign}/{m.file}" if m.file else Path(m.path).name
            out[m.sha256] = _LibraryImage(clean, name, dict(m.alts))
    return out


def _values(draft: Draft, shared: _Shared) -> _Values:
    key = tuple((m.sha256, m.alt_text) for m in draft.media)
    known = shared.media.get(key)
    if known is None:  # once per image and alt text, not once per post
        entries = [entry_for(shared.images[sha].clean, alt) for sha, alt in key]
        known = shared.media[key] = (
            entries,
            media_json((e["sha256"], e["alt_text"]) for e in entries),
        )
    media, encoded = known
    tags = shared.tags.get(draft.tags)
    if tags is None:
        tags = shared.tags[draft.tags] = list(draft.tags)
    problems = shared.problems.get(id(draft.problems))
    if problems is None:
        problems = shared.problems[id(draft.problems)] = list(draft.problems)
    # The same digest as posts.models.content_hash, without json.dumps (tests keep them equal).
    digest = hashlib.sha256(
        digest_payload(draft.text, encoded, draft.account, draft.language, draft.due_at).encode()
    ).hexdigest()
    values: dict[str, Any] = {
        "title": draft.title,
        "network": draft.network,
        "due_at": draft.due_at,
        "time_note": draft.note,
        "text": draft.text,
        "media": media,  # shared by the posts with this image: never changed in place
        "tags": tags,
        "problems": problems,
        "content_hash": digest,
        "pair_key": draft.pair_key,
        "urgent": draft.urgent,
        "stale_after_minutes": draft.stale_after_minutes,
    }
    return _Values(draft, digest, values, key)


def _content_changes(post: Any, v: _Values) -> tuple[str, ...]:
    out = []
    if post.text != v.values["text"]:
        out.append("text")
    if post.due_at != v.values["due_at"]:
        out.append("time")
    old_media = [(m.get("sha256"), m.get("alt_text")) for m in post.media or []]
    new_media = [(m["sha256"], m["alt_text"]) for m in v.values["media"]]
    if old_media != new_media:
        out.append("image")
    return tuple(out) or ("content",)


_DETAIL_OF_POST = attrgetter(*DETAILS)
_DETAIL_OF_VALUES = itemgetter(*DETAILS)


def _detail_changes(post: Any, v: _Values) -> tuple[str, ...]:
    # Most posts planned again have none: one comparison of the six, then each if not.
    if _DETAIL_OF_POST(post) == _DETAIL_OF_VALUES(v.values):
        return ()
    return tuple(label for key, label in DETAILS.items() if getattr(post, key) != v.values[key])


def _line(post: Any, draft: Draft | None, changes: tuple[str, ...] = ()) -> PlannedPost:
    if post is not None:
        return PlannedPost(
            occasion=post.occasion,
            account=post.account,
            language=post.language,
            title=draft.title if draft else post.title,
            due_at=draft.due_at if draft else post.due_at,
            post_id=post.id,
            state=post.state,
            approved_by=post.approved_by,
            changes=changes,
        )
    assert draft is not None
    return PlannedPost(
        draft.occasion, draft.account, draft.language, draft.title, draft.due_at, changes=changes
    )


@dataclass
class _Plan:
    preview: PlanPreview
    new: list[_Values] = field(default_factory=list)
    # The posts are rows of ``_READ`` (id, state, content…), not ORM objects.
    rewrite: list[tuple[Any, _Values]] = field(default_factory=list)
    details: list[tuple[Any, _Values]] = field(default_factory=list)
    unchanged: list[tuple[Any, _Values]] = field(default_factory=list)
    removed: list[Any] = field(default_factory=list)
    left_alone: list[Any] = field(default_factory=list)
    images: dict[str, _LibraryImage] = field(default_factory=dict)
    to_library: list[tuple[Any, _Values]] = field(default_factory=list)


def _work_out(
    session: Session,
    campaign: str,
    drafts: Sequence[Draft],
    start: date | None,
    end: date | None,
    zone: ZoneInfo | None,
    whole: bool,
    lines: bool = True,
) -> _Plan:
    """What planning ``drafts`` does. ``whole``: the drafts are every post of the campaign
    between ``start`` and ``end`` (local dates in ``zone``; None: no bound), so a post of
    the campaign in that range that is not among them has left the campaign. ``lines``:
    the preview lists each post (what a person reads); without, only the posts the plan
    removes (whose accounts the rights are checked on) and the counts."""
    plan = _Plan(PlanPreview(campaign, start, end), images=_library_images(campaign, drafts))
    # Rows, not ORM objects: the comparison reads them, the writes go by id (plan_writes).
    existing = {(p.occasion, p.account, p.language): p for p in _read_posts(session, campaign)}
    shared = _Shared(plan.images)
    wanted: set[tuple[str, str, str]] = set()
    for draft in drafts:
        if draft.campaign != campaign:
            raise QueueError(f"a draft of {draft.campaign!r} was given to plan {campaign!r}")
        key = (draft.occasion, draft.account, draft.language)
        wanted.add(key)
        v = _values(draft, shared)
        post = existing.get(key)
        if post is None:
            plan.new.append(v)
            if lines:
                plan.preview.new.append(_line(None, draft))
        elif post.content_hash == v.digest:
            if post.media != v.values["media"] and post.state in CANCELLABLE:
                # Same bytes and alt text, now by library reference (no path).
                plan.to_library.append((post, v))
                plan.preview.to_library += 1
            details = _detail_changes(post, v)
            if details and post.state in CANCELLABLE:
                plan.details.append((post, v))
                if lines:
                    plan.preview.details.append(_line(post, draft, details))
            else:
                plan.unchanged.append((post, v))
                plan.preview.unchanged += 1
        elif post.state in REPLANNABLE:
            plan.rewrite.append((post, v))
            if lines:
                line = _line(post, draft, _content_changes(post, v) + _detail_changes(post, v))
                if post.state == PostState.DRAFT.value:
                    plan.preview.updated.append(line)
                else:
                    plan.preview.to_draft.append(line)
        else:
            plan.left_alone.append(post)
            if lines:
                plan.preview.left_alone.append(_line(post, draft, _content_changes(post, v)))
    if whole:
        for key, post in existing.items():
            if key in wanted or post.state not in CANCELLABLE:
                continue
            day = post.due_at.astimezone(zone).date() if zone else post.due_at.date()
            if (start is None or day >= start) and (end is None or day <= end):
                plan.removed.append(post)
                plan.preview.removed.append(_line(post, None))
    return plan


def preview_plan(
    db: Database,
    campaign: str,
    drafts: Sequence[Draft],
    *,
    start: date | None = None,
    end: date | None = None,
    zone: ZoneInfo | None = None,
) -> PlanPreview:
    """What ``apply_plan`` with the same arguments would do now. Changes nothing."""
    with db.transaction() as session:
        plan = _work_out(session, campaign, drafts, start, end, zone, whole=True)
    return plan.preview


def apply_plan(
    db: Database,
    campaign: str,
    drafts: Sequence[Draft],
    *,
    actor: Actor,
    now: datetime,
    start: date | None = None,
    end: date | None = None,
    zone: ZoneInfo | None = None,
    removed: Removed = "cancel",
    reason: str = "",
    revision: int | None = None,
) -> PlanReport:
    """Plan ``drafts`` (every post of ``campaign`` from ``start`` to ``end``) in one
    transaction. Posts of the campaign in that range that are not among the drafts are
    cancelled with ``reason`` — or kept, with ``removed="keep"``, and reported."""
    if removed not in ("cancel", "keep"):
        raise QueueError(f"removed posts must be cancelled or kept, not {removed!r}")
    reason = reason.strip()
    why = "no longer in the campaign" + (f" (revision {revision})" if revision else "")
    if reason:
        why += f": {reason}"
    from .plan_store import store_plan  # it builds on this module

    with db.transaction() as session:
        plan = _work_out(session, campaign, drafts, start, end, zone, whole=True, lines=False)
        _may_plan(actor, campaign, drafts, plan.preview)
        report = store_plan(session, plan, actor=actor.name, now=now, removed=removed, why=why)
        record_event(
            session,
            actor=actor.name,
            action="plan",
            now=now,
            detail={
                "campaign": campaign,
                "revision": revision,
                "from": start.isoformat() if start else None,
                "to": end.isoformat() if end else None,
                "summary": report.summary(),
            },
        )
    return report


def store_drafts(
    db: Database, drafts: Sequence[Draft], *, actor: Actor, now: datetime
) -> PlanReport:
    """Create or update ``drafts`` only; posts not among them are not looked at (use
    ``apply_plan`` to plan a whole campaign, removals included)."""
    report = PlanReport()
    if not drafts:
        return report
    campaign = drafts[0].campaign
    from .plan_store import store_plan  # it builds on this module

    with db.transaction() as session:
        plan = _work_out(session, campaign, drafts, None, None, None, whole=False, lines=False)
        _may_plan(actor, campaign, drafts, plan.preview)
        report = store_plan(session, plan, actor=actor.name, now=now)
        record_event(
            session,
            actor=actor.name,
            action="plan",
            now=now,
            detail={"campaign": campaign, "summary": report.summary()},
        )
    return report


def _may_plan(actor: Actor, campaign: str, drafts: Sequence[Draft], preview: PlanPreview) -> None:
    """Rights on every account the drafts name and on the account of every post the plan
    cancels, before anything is written: planning changes nothing, refused."""
    accounts = dict.fromkeys(d.account for d in drafts)
    accounts.update(dict.fromkeys(line.account for line in preview.removed))
    check_accounts(actor, "plan", accounts, what=f"campaign {campaign}")


# Columns planning reads of the posts it has: enough to compare and to write by id.
_READ = (
    Post.id,
    Post.occasion,
    Post.account,
    Post.language,
    Post.title,
    Post.due_at,
    Post.state,
    Post.attempt,
    Post.content_hash,
    Post.approved_by,
    Post.approved_hash,
    Post.text,
    Post.urgent,
    Post.stale_after_minutes,
    Post.time_note,
    Post.pair_key,
    # As text, each distinct value parsed once: posts share images, tags and findings.
    cast(Post.media, Text),
    cast(Post.tags, Text),
    cast(Post.problems, Text),
)


class _Read(NamedTuple):
    """A post as planning reads it."""

    id: int
    occasion: str
    account: str
    language: str
    title: str
    due_at: datetime
    state: str
    attempt: int
    content_hash: str
    approved_by: str | None
    approved_hash: str | None
    text: str | None
    urgent: bool
    stale_after_minutes: float | None
    time_note: str | None
    pair_key: str | None
    media: Any
    tags: Any
    problems: Any


def _read_posts(session: Session, campaign: str) -> list[_Read]:
    parsed: dict[str | None, Any] = {None: None}

    def parse(raw: str | None) -> Any:
        try:
            return parsed[raw]
        except KeyError:
            value = parsed[raw] = json.loads(raw)  # type: ignore[arg-type]
            return value

    # On the session's connection (Core): the ORM's row loading is not needed for columns.
    rows: Any = session.connection().execute(
        select(*_READ).where(Post.campaign == campaign).order_by(Post.id)
    )
    return [_Read._make((*r[:16], parse(r[16]), parse(r[17]), parse(r[18]))) for r in rows]


def _ids(ids: list[int]) -> str:
    shown = ", ".join(str(i) for i in ids[:10])
    return shown + (" …" if len(ids) > 10 else "")


# --- a campaign stored in the database -------------------------------------------------


@dataclass
class StoredPlan:
    """A stored campaign's drafts for a range, ready to preview or apply."""

    campaign: str
    revision: int
    start: date | None
    end: date | None
    zone: ZoneInfo
    drafts: list[Draft]


def drafts_of(
    db: Database,
    settings: Any,
    name: str,
    start: date | None = None,
    end: date | None = None,
    *,
    number: int | None = None,
) -> StoredPlan:
    """Expand the campaign's current revision (or ``number``) between two local dates."""
    from campaign.expand import expand
    from campaign.store import get_revision, load_revision

    revision = get_revision(db, name, number)
    # The same revision, range and settings render the same drafts: the page's "Plan"
    # after its preview does not render the range a second time.
    # The entry holds the settings object itself, so its id cannot be reused meanwhile.
    key = (revision.digest, start, end, id(settings))
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
    if hit is not None and hit[0] is settings:
        _, zone, drafts = hit
    else:
        loaded = load_revision(revision, Path(settings.state_dir))
        zone, drafts = loaded.zone, expand(loaded, settings, start, end)
        with _CACHE_LOCK:
            _CACHE[key] = (settings, zone, drafts)
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.pop(next(iter(_CACHE)))
    return StoredPlan(name, revision.number, start, end, zone, list(drafts))


_CACHE: dict[tuple[Any, ...], tuple[Any, ZoneInfo, list[Draft]]] = {}
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 4


def preview_campaign(
    db: Database, settings: Any, name: str, start: date | None = None, end: date | None = None
) -> tuple[StoredPlan, PlanPreview]:
    stored = drafts_of(db, settings, name, start, end)
    return stored, preview_plan(db, name, stored.drafts, start=start, end=end, zone=stored.zone)


def plan_campaign(
    db: Database,
    settings: Any,
    name: str,
    start: date | None = None,
    end: date | None = None,
    *,
    actor: Actor,
    now: datetime,
    removed: Removed = "cancel",
    reason: str = "",
    expect_revision: int | None = None,
) -> tuple[StoredPlan, PlanReport]:
    """Plan the stored campaign. ``expect_revision``: the revision the person previewed;
    if the campaign changed since, nothing is planned (they must look again)."""
    stored = drafts_of(db, settings, name, start, end)
    if expect_revision is not None and stored.revision != expect_revision:
        raise QueueError(
            f"the campaign changed since you previewed it (now revision {stored.revision}, "
            f"you saw {expect_revision}); nothing was planned. Preview it again."
        )
    report = apply_plan(
        db,
        name,
        stored.drafts,
        actor=actor,
        now=now,
        start=start,
        end=end,
        zone=stored.zone,
        removed=removed,
        reason=reason,
        revision=stored.revision,
    )
    return stored, report
