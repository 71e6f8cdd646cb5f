"""Plain-text views of posts and events for the command line. Local time at this edge."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from channels.networks import display_name, in_order
from core.settings import Settings

from .db import Database
from .models import Event, Post

if TYPE_CHECKING:
    from .review import PostFilter


def when(post: Post, zone: ZoneInfo) -> str:
    local = post.due_at.astimezone(zone)
    return f"{local:%a %d %b %Y %H:%M %Z} ({post.due_at:%H:%M} UTC)"


def preview(post: Post, settings: Settings) -> str:
    """Exactly what will be sent, and what is wrong with it."""
    zone = ZoneInfo(settings.timezone)
    account = settings.accounts.get(post.account)
    handle = (
        f"{account.handle} on {display_name(account.network)}"
        if account
        else "(account no longer in the settings)"
    )
    dry = " — dry run (outbox)" if account and account.dry_run else ""
    lines = [
        f"── post {post.id} · {post.state.replace('_', ' ')} · {post.campaign} / {post.occasion}",
        f"   when:     {when(post, zone)}",
        f"   account:  {post.account} ({handle}){dry}",
        f"   language: {post.language}",
    ]
    if post.time_note:
        lines.append(f"   note:     {post.time_note}")
    text = post.text if post.text is not None else "(text deleted by the retention setting)"
    lines.append("   ┌" + "─" * 60)
    lines.extend("   │ " + line for line in text.splitlines() or [""])
    lines.append("   └" + "─" * 60)
    for media in post.media or []:
        lines.append(
            f"   image:    {_image_name(media)} — alt text: {media['alt_text']}"
        )
    own_limit = account.text_limit if account else None
    lines.append("   length:   " + lengths(text, post.network, own_limit))
    for problem in post.problems or []:
        lines.append(f"   {problem['level'].upper():8} [{problem['rule']}] {problem['message']}")
    if post.approved_by:
        valid = "" if post.approval_valid else " (void: the content changed)"
        lines.append(f"   approved: by {post.approved_by}{valid}")
    return "\n".join(lines)


def lengths(text: str, own: str, own_limit: int | None = None) -> str:
    """The length as every network counts it, ``own`` first and counted to ``own_limit``
    (the account's ``text_limit``) when given."""
    parts = []
    for network in in_order(own):
        used, limit = network.measure(text, own_limit if network.key == own else None)
        mark = " OVER" if used > limit else ""
        parts.append(f"{network.name} {used}/{limit}{mark}")
    return " · ".join(parts)


@dataclass(frozen=True)
class QueueListing:
    """One page of the queue and what it leaves out, every figure counted in SQL."""

    posts: list[Post]  # this page, in the queue's order
    counts: dict[str, int]  # every post the filters match, by state (shown or not)
    more: int  # posts that match after this page
    earlier: dict[str, int]  # by state: posts before ``start`` (when the listing chose it)
    start: date | None  # the day the listing began at, when the person gave none


def queue_listing(
    db: Database,
    f: PostFilter,
    zone: ZoneInfo,
    *,
    limit: int | None,
    after: int | None = None,
    default_start: date | None = None,
) -> QueueListing:
    """``limit`` posts of ``f`` (all when None) after post ``after``, by the queue's index
    (posts/migrations 0010, ix_posts_page_order), never loading the rest. With
    ``default_start`` (the person gave no day), from that day on, and the posts before it
    counted by state."""
    from sqlalchemy import func, tuple_

    from .review import PAGE_ORDER, count_by_state, page_of_posts, post_query

    if default_start is not None:
        f = replace(f, start=default_start)
    size = limit if limit is not None else 2**62
    page = page_of_posts(db, f, zone, size=size, after=after)
    counts = count_by_state(db, f, zone)
    if f.states:
        counts = {s: n for s, n in counts.items() if s in f.states}
    more = 0
    if page.later is not None and page.posts:
        last = page.posts[-1]
        key = (last.due_at, last.account, last.language, last.id)
        rest = (
            post_query(f, zone)
            .where(tuple_(*PAGE_ORDER) > tuple_(*key))
            .with_only_columns(func.count())
            .order_by(None)
        )
        with db.reading() as session:
            more = int(session.scalar(rest) or 0)
    earlier: dict[str, int] = {}
    if default_start is not None:
        before = replace(f, start=None, end=default_start - timedelta(days=1))
        if f.end is not None and f.end < default_start:
            before = replace(before, end=f.end)
        earlier = count_by_state(db, before, zone)
        if f.states:
            earlier = {s: n for s, n in earlier.items() if s in f.states}
    return QueueListing(page.posts, counts, more, earlier, default_start)


def queue(listing: QueueListing, settings: Settings, next_page: str = "") -> str:
    """The listing as a table, then what it leaves out and how to see it (``next_page``:
    the command that shows the page after this one)."""
    zone = ZoneInfo(settings.timezone)
    posts = listing.posts
    rows = []
    if listing.start is not None:
        rows.append(f"From {listing.start:%a %d %b %Y} on (--from, --day or --state for others).")
    if not posts:
        rows.append("No posts match.")
    else:
        rows.append(f"{'id':>5}  {'state':11} {'local time':22} {'account':16} {'lang':5} text")
    for p in posts:
        local = p.due_at.astimezone(zone)
        first = (p.text or "").splitlines()[0] if p.text else ""
        flag = " !" if p.has_errors else ""
        rows.append(
            f"{p.id:>5}  {p.state:11} {local:%Y-%m-%d %H:%M %Z}   {p.account:16} "
            f"{p.language:5} {first[:50]}{flag}"
        )
        if p.remote_url:  # published: where to see it on the network
            rows.append(f"{'':5}  link: {p.remote_url}")
    rows.append("")
    total = sum(listing.counts.values())
    rows.append(f"{total:,} post(s) match: " + _by_state(listing.counts))
    if listing.more:
        rows.append(
            f"{listing.more:,} more after these {len(posts)}: {next_page or '--after ID'} "
            "for the next page, --limit N or --all for more at once."
        )
    if listing.earlier and listing.start is not None:
        earlier = sum(listing.earlier.values())
        rows.append(
            f"{earlier:,} earlier, before {listing.start:%d %b %Y}: {_by_state(listing.earlier)}"
            " (--from YYYY-MM-DD to list them)."
        )
    return "\n".join(rows)


def _by_state(counts: Mapping[str, int]) -> str:
    return "  ".join(f"{state}: {n:,}" for state, n in sorted(counts.items()) if n) or "none"


def events(rows: Iterable[Event], zone: ZoneInfo) -> str:
    out = []
    for e in rows:
        local = e.at.astimezone(zone)
        post = f"post {e.post_id}" if e.post_id else "—"
        move = f" {e.from_state}→{e.to_state}" if e.from_state != e.to_state else ""
        out.append(
            f"{local:%Y-%m-%d %H:%M:%S %Z}  {e.actor:14} {e.action:16} {post:9}{move}  {e.detail}"
        )
    return "\n".join(out) or "No events."


STATUS_LIMIT = 10  # posts each list in `publisher status` names; the rest are counted
NEEDS_A_PERSON = ("unknown", "stale", "failed")
HINTS = {
    "unknown": "publisher resolve ID --published URL | --resend",
    "stale": "publisher confirm ID | publisher cancel ID",
    "failed": "publisher resolve ID --resend | publisher cancel ID",
}
AHEAD_STATES = ("approved", "retry_wait", "in_review", "draft")  # in this order per account


def status(db: Database, settings: Settings, now: datetime) -> str:
    """What the person on call needs to know, in one screen: lists of at most STATUS_LIMIT
    posts, every figure counted in SQL (never every post loaded), whatever the queue's size."""
    from .blackouts import ahead, blackout_windows, stopped_posts
    from .holds import active_holds

    zone = ZoneInfo(settings.timezone)
    with db.reading() as session:
        holds = active_holds(session, now, settings.blackouts)
        coming = [
            (w, stopped_posts(session, w))
            for w in ahead(blackout_windows(session, now, settings.blackouts), now)
        ]
    out = ["Holds:"]
    for h in holds:
        scope = h.account or "ALL ACCOUNTS"
        until = f" until {h.ends_at.astimezone(zone):%Y-%m-%d %H:%M}" if h.ends_at else ""
        out.append(
            f"  {h.kind:8} {scope:16} set by {h.set_by} at "
            f"{h.set_at.astimezone(zone):%Y-%m-%d %H:%M}{until}: {h.reason}"
        )
    if not holds:
        out.append("  none — the worker sends approved posts on time")
    out.append("Blackouts ahead:")
    for w, stopped in coming:
        until = f"{w.ends_at.astimezone(zone):%Y-%m-%d %H:%M %Z}" if w.ends_at else "released"
        origin = "the settings file" if w.from_settings else f"{w.set_by} (id {w.id})"
        out.append(
            f"  {w.kind:8} {w.scope:16} from {w.starts_at.astimezone(zone):%Y-%m-%d %H:%M %Z} "
            f"until {until}, set by {origin}: {w.reason} — stops {stopped} planned post(s)"
        )
    if not coming:
        out.append("  none set")
    out.append("Needs a person:")
    waiting, counted = _first_in_states(db, NEEDS_A_PERSON)
    for p in waiting:
        out.append(
            f"  post {p.id:<5} {p.state:8} {p.account:16} {when(p, zone)}  "
            f"{p.last_error or ''}  → {HINTS[p.state]}"
        )
    if sum(counted.values()) > len(waiting):
        out.append(
            f"  … {sum(counted.values()) - len(waiting):,} more, oldest first above ("
            + ", ".join(f"{n:,} {s}" for s, n in sorted(counted.items()))
            + "): "
            + "; ".join(f"publisher queue --state {s}" for s in sorted(counted))
        )
    pairs = held_back_pairs(db, now)
    for post, partner in pairs[:STATUS_LIMIT]:
        out.append(
            f"  post {post.id:<5} waits    {post.account:16} {when(post, zone)}  its "
            f"{partner.language} half (post {partner.id}) is {partner.state.replace('_', ' ')}"
            f"  → approve post {partner.id}, or cancel both"
        )
    if len(pairs) > STATUS_LIMIT:
        out.append(f"  … {len(pairs) - STATUS_LIMIT:,} more held back by their other half")
    if not waiting and not pairs:
        out.append("  nothing")
    checking, in_checking = _first_in_states(db, ("checking",))
    if checking:
        out.append("Sent, answer lost: being looked up on the network (never sent blindly again):")
        out.extend(
            f"  post {p.id:<5} {p.account:16} next look "
            f"{p.retry_at.astimezone(zone):%H:%M:%S %Z}" if p.retry_at else f"  post {p.id}"
            for p in checking
        )
        if in_checking.get("checking", 0) > len(checking):
            more = in_checking["checking"] - len(checking)
            out.append(f"  … {more:,} more: publisher queue --state checking")
    out.append("Ahead, by account (from now):")
    out.extend(_ahead_by_account(db, settings, now, zone))
    upcoming = _next_due(db, now)
    out.append("Next due:")
    out.extend(f"  post {p.id:<5} {when(p, zone)}  {p.account} {p.language}" for p in upcoming)
    if not upcoming:
        out.append("  nothing approved is waiting")
    return "\n".join(out)


def _first_in_states(
    db: Database, states: tuple[str, ...]
) -> tuple[list[Post], dict[str, int]]:
    """The oldest STATUS_LIMIT posts in ``states`` and how many are in each (ix_posts_due)."""
    from sqlalchemy import func, select

    with db.reading() as session:
        posts = list(
            session.scalars(
                select(Post)
                .where(Post.state.in_(states))
                .order_by(Post.due_at, Post.id)
                .limit(STATUS_LIMIT)
            )
        )
        counted = session.execute(
            select(Post.state, func.count()).where(Post.state.in_(states)).group_by(Post.state)
        ).all()
    return posts, {s: int(n) for s, n in counted if n}


def _next_due(db: Database, now: datetime) -> list[Post]:
    from sqlalchemy import select

    with db.reading() as session:
        return list(
            session.scalars(
                select(Post)
                .where(Post.state.in_(["approved", "retry_wait"]), Post.due_at >= now)
                .order_by(Post.due_at, Post.account, Post.language, Post.id)
                .limit(5)
            )
        )


def _ahead_by_account(
    db: Database, settings: Settings, now: datetime, zone: ZoneInfo
) -> list[str]:
    """Per account, the posts from now on by state and when its next approved post goes:
    one grouped query (ix_posts_account_queue), not the posts themselves."""
    from sqlalchemy import func, select

    with db.reading() as session:
        rows = session.execute(
            select(Post.account, Post.state, func.count(), func.min(Post.due_at))
            .where(Post.due_at >= now, Post.state.in_(AHEAD_STATES))
            .group_by(Post.account, Post.state)
        ).all()
    counts: dict[str, dict[str, int]] = {}
    first: dict[str, datetime] = {}
    for account, state, n, earliest in rows:
        counts.setdefault(account, {})[state] = int(n)
        if state in ("approved", "retry_wait") and earliest is not None:
            first[account] = min(first.get(account, earliest), earliest)
    lines = []
    for account in sorted(set(settings.accounts) | set(counts)):
        mine = counts.get(account, {})
        figures = " · ".join(
            f"{mine[s]:,} {s.replace('_', ' ')}" for s in AHEAD_STATES if mine.get(s)
        )
        gone = "" if account in settings.accounts else " (not in the settings)"
        nxt = (
            f"; next approved {first[account].astimezone(zone):%a %d %b %Y %H:%M %Z}"
            if account in first
            else "; nothing approved"
        )
        lines.append(f"  {account:16} {figures or 'nothing planned'}{nxt}{gone}")
    return lines or ["  no accounts in the settings, no posts ahead"]


def held_back_pairs(db: Database, now: datetime) -> list[tuple[Post, Post]]:
    """Due posts held back because the other half of their Welsh/English pair cannot go."""
    from sqlalchemy import select
    from sqlalchemy.orm import aliased

    partner = aliased(Post)
    with db.transaction() as session:
        rows = session.execute(
            select(Post, partner)
            .join(partner, (partner.pair_key == Post.pair_key) & (partner.id != Post.id))
            .where(
                Post.state.in_(["approved", "retry_wait"]),
                Post.due_at <= now,
                partner.state.not_in(["approved", "retry_wait", "sending", "checking", "published"])
                | partner.approved_hash.is_distinct_from(partner.content_hash),
            )
        ).all()
    return [(row[0], row[1]) for row in rows]


def _image_name(media: dict[str, Any]) -> str:
    """A file's name (a post planned with a path) or the library's name for the image."""
    path = str(media.get("path") or "")
    return path.rsplit("/", 1)[-1] if path else str(media.get("name") or "image")
