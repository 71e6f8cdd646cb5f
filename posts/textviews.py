"""Plain-text views of posts and events for the command line. Local time at this edge.

``status`` and ``queue`` read through posts/reader.py (a Reader, or a Session), so that
those commands never import SQLAlchemy or the models."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from . import listing
from .listing import PostFilter
from .reader import Reader
from .windows import Window, active_holds, ahead, blackout_windows

if TYPE_CHECKING:
    from core.settings import Settings

    from .models import Event, Post


@dataclass(frozen=True)
class Listed:
    """A post as ``status`` and ``queue`` list it: a row of LISTED, not an ORM object."""

    id: int
    state: str
    account: str
    language: str
    due_at: datetime
    retry_at: datetime | None
    last_error: str | None
    text: str | None
    problems: list[dict[str, Any]]
    remote_url: str | None

    @property
    def has_errors(self) -> bool:  # as Post.has_errors
        return any(p.get("level") == "error" for p in self.problems or [])

    @classmethod
    def of(cls, row: tuple[Any, ...]) -> Listed:
        id, state, account, language, due_at, retry_at, error, text, problems, url = row
        due = Reader.when(due_at)
        assert due is not None  # a NOT NULL column
        return cls(
            id, state, account, language, due, Reader.when(retry_at), error, text,
            Reader.json(problems) or [], url,
        )


def listed_columns(table: str = "posts") -> str:
    return ", ".join(
        f"{table}.{c}"
        for c in (
            "id", "state", "account", "language", "due_at", "retry_at", "last_error", "text",
            "problems", "remote_url",
        )
    )


LISTED = listed_columns()


def when(post: Post | Listed, zone: ZoneInfo) -> str:
    local = post.due_at.astimezone(zone)
    return f"{local:%a %d %b %Y %H:%M %Z} ({post.due_at:%H:%M} UTC)"


def preview(post: Post, settings: Settings) -> str:
    """Exactly what will be sent, and what is wrong with it."""
    from channels.networks import display_name

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
    from channels.networks import in_order

    parts = []
    for network in in_order(own):
        used, limit = network.measure(text, own_limit if network.key == own else None)
        mark = " OVER" if used > limit else ""
        parts.append(f"{network.name} {used}/{limit}{mark}")
    return " · ".join(parts)


@dataclass(frozen=True)
class QueueListing:
    """One page of the queue and what it leaves out, every figure counted in SQL."""

    posts: list[Listed]  # this page, in the queue's order
    counts: dict[str, int]  # every post the filters match, by state (shown or not)
    more: int  # posts that match after this page
    earlier: dict[str, int]  # by state: posts before ``start`` (when the listing chose it)
    start: date | None  # the day the listing began at, when the person gave none


def queue_listing(
    source: Any,
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
    counted by state. ``source``: a Reader or a Session."""
    reader = Reader.of(source)
    if default_start is not None:
        f = replace(f, start=default_start)
    size = limit if limit is not None else 2**62

    def load(statement: listing.Statement) -> list[Listed]:
        return [Listed.of(row) for row in reader.rows(statement.sql, **statement.params)]

    page = listing.page(
        reader, f, zone, load, lambda p: p.id, columns=LISTED, size=size, after=after
    )
    counts = listing.count_by_state(reader, f, zone)
    if f.states:
        counts = {s: n for s, n in counts.items() if s in f.states}
    more = 0
    if page.later is not None and page.posts:
        more = listing.count_after(reader, f, zone, page.posts[-1].id)
    earlier: dict[str, int] = {}
    if default_start is not None:
        before = replace(f, start=None, end=default_start - timedelta(days=1))
        if f.end is not None and f.end < default_start:
            before = replace(before, end=f.end)
        earlier = listing.count_by_state(reader, before, zone)
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


def status(
    source: Any,
    settings: Settings,
    now: datetime,
    stopped: Callable[[Window], int] | None = None,
) -> str:
    """What the person on call needs to know, in one screen: lists of at most STATUS_LIMIT
    posts, every figure counted in SQL (never every post loaded), whatever the queue's size.
    ``source``: a Reader, a Session or a Database; ``stopped``: how many posts a window
    ahead would stop, asked only when there is one (by default
    posts.blackouts.stopped_posts in ``source``'s transaction, an SQLAlchemy rule)."""
    if hasattr(source, "reading"):  # a Database
        with source.reading() as session:
            return status(session, settings, now, stopped)
    if stopped is None:
        from .blackouts import stopped_posts

        def stopped(window: Window) -> int:
            return stopped_posts(source, window)

    reader = Reader.of(source)
    zone = ZoneInfo(settings.timezone)
    holds = active_holds(reader, now, settings.blackouts)
    windows = blackout_windows(reader, now, settings.blackouts)
    coming = [(w, stopped(w)) for w in ahead(windows, now)]
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
    for w, stops in coming:
        until = f"{w.ends_at.astimezone(zone):%Y-%m-%d %H:%M %Z}" if w.ends_at else "released"
        origin = "the settings file" if w.from_settings else f"{w.set_by} (id {w.id})"
        out.append(
            f"  {w.kind:8} {w.scope:16} from {w.starts_at.astimezone(zone):%Y-%m-%d %H:%M %Z} "
            f"until {until}, set by {origin}: {w.reason} — stops {stops} planned post(s)"
        )
    if not coming:
        out.append("  none set")
    out.append("Needs a person:")
    waiting, counted = _first_in_states(reader, NEEDS_A_PERSON)
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
    pairs = held_back_pairs(reader, now)
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
    checking, in_checking = _first_in_states(reader, ("checking",))
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
    out.extend(_ahead_by_account(reader, settings, now, zone))
    upcoming = _next_due(reader, now)
    out.append("Next due:")
    out.extend(f"  post {p.id:<5} {when(p, zone)}  {p.account} {p.language}" for p in upcoming)
    if not upcoming:
        out.append("  nothing approved is waiting")
    return "\n".join(out)


def _first_in_states(
    reader: Reader, states: tuple[str, ...]
) -> tuple[list[Listed], dict[str, int]]:
    """The oldest STATUS_LIMIT posts in ``states`` and how many are in each (ix_posts_due)."""
    posts = [
        Listed.of(row)
        for row in reader.rows(
            f"SELECT {LISTED} FROM posts WHERE state IN :states ORDER BY due_at, id "
            "LIMIT :limit",
            states=states,
            limit=STATUS_LIMIT,
        )
    ]
    counted = reader.rows(
        "SELECT state, count(*) FROM posts WHERE state IN :states GROUP BY state", states=states
    )
    return posts, {s: int(n) for s, n in counted if n}


def _next_due(reader: Reader, now: datetime) -> list[Listed]:
    return [
        Listed.of(row)
        for row in reader.rows(
            f"SELECT {LISTED} FROM posts WHERE state IN ('approved', 'retry_wait') "
            "AND due_at >= :now ORDER BY due_at, account, language, id LIMIT 5",
            now=now,
        )
    ]


def _ahead_by_account(
    reader: Reader, settings: Settings, now: datetime, zone: ZoneInfo
) -> list[str]:
    """Per account, the posts from now on by state and when its next approved post goes:
    one grouped query (ix_posts_account_queue), not the posts themselves."""
    rows = reader.rows(
        "SELECT account, state, count(*), min(due_at) FROM posts "
        "WHERE due_at >= :now AND state IN :states GROUP BY account, state",
        now=now,
        states=AHEAD_STATES,
    )
    counts: dict[str, dict[str, int]] = {}
    first: dict[str, datetime] = {}
    for account, state, n, earliest_stored in rows:
        counts.setdefault(account, {})[state] = int(n)
        earliest = Reader.when(earliest_stored)
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


def held_back_pairs(source: Any, now: datetime) -> list[tuple[Listed, Listed]]:
    """Due posts held back because the other half of their Welsh/English pair cannot go.
    ``source``: a Reader, a Session or a Database."""
    if hasattr(source, "reading"):  # a Database
        with source.reading() as session:
            return held_back_pairs(session, now)
    rows = Reader.of(source).rows(
        f"SELECT {LISTED}, {listed_columns('partner')} FROM posts "
        "JOIN posts AS partner ON partner.pair_key = posts.pair_key AND partner.id != posts.id "
        "WHERE posts.state IN ('approved', 'retry_wait') AND posts.due_at <= :now AND ("
        "partner.state NOT IN ('approved', 'retry_wait', 'sending', 'checking', 'published') "
        "OR partner.approved_hash IS NULL OR partner.approved_hash != partner.content_hash)",
        now=now,
    )
    half = len(rows[0]) // 2 if rows else 0
    return [(Listed.of(row[:half]), Listed.of(row[half:])) for row in rows]


def _image_name(media: dict[str, Any]) -> str:
    """A file's name (a post planned with a path) or the library's name for the image."""
    path = str(media.get("path") or "")
    return path.rsplit("/", 1)[-1] if path else str(media.get("name") or "image")
