"""Plain-text views of posts and events for the command line. Local time at this edge."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from channels.networks import display_name, in_order
from core.settings import Settings

from .db import Database
from .models import Event, Post


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


def queue(posts: Sequence[Post], settings: Settings) -> str:
    zone = ZoneInfo(settings.timezone)
    if not posts:
        return "No posts match."
    rows = [f"{'id':>5}  {'state':11} {'local time':22} {'account':16} {'lang':5} text"]
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
    counts = Counter(p.state for p in posts)
    rows.append("")
    rows.append("  ".join(f"{state}: {n}" for state, n in sorted(counts.items())))
    return "\n".join(rows)


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


def status(db: Database, settings: Settings, now: datetime) -> str:
    """What the person on call needs to know, in one screen."""
    from .blackouts import ahead, blackout_windows, stopped_posts
    from .holds import active_holds
    from .review import PostFilter, find_posts

    zone = ZoneInfo(settings.timezone)
    with db.transaction() as session:
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
    waiting = find_posts(db, PostFilter(states=("unknown", "stale", "failed")), zone)
    out.append("Needs a person:")
    for p in waiting:
        hint = {
            "unknown": "publisher resolve ID --published URL | --resend",
            "stale": "publisher confirm ID | publisher cancel ID",
            "failed": "publisher resolve ID --resend | publisher cancel ID",
        }[p.state]
        out.append(
            f"  post {p.id:<5} {p.state:8} {p.account:16} {when(p, zone)}  "
            f"{p.last_error or ''}  → {hint}"
        )
    for post, partner in held_back_pairs(db, now):
        waiting.append(post)
        out.append(
            f"  post {post.id:<5} waits    {post.account:16} {when(post, zone)}  its "
            f"{partner.language} half (post {partner.id}) is {partner.state.replace('_', ' ')}"
            f"  → approve post {partner.id}, or cancel both"
        )
    if not waiting:
        out.append("  nothing")
    checking = find_posts(db, PostFilter(states=("checking",)), zone)
    if checking:
        out.append("Sent, answer lost: being looked up on the network (never sent blindly again):")
        out.extend(
            f"  post {p.id:<5} {p.account:16} next look "
            f"{p.retry_at.astimezone(zone):%H:%M:%S %Z}" if p.retry_at else f"  post {p.id}"
            for p in checking
        )
    upcoming = [
        p
        for p in find_posts(db, PostFilter(states=("approved", "retry_wait")), zone)
        if p.due_at >= now
    ][:5]
    out.append("Next due:")
    out.extend(f"  post {p.id:<5} {when(p, zone)}  {p.account} {p.language}" for p in upcoming)
    if not upcoming:
        out.append("  nothing approved is waiting")
    return "\n".join(out)


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
