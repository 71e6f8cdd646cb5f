"""The planned posts as an iCalendar file (RFC 5545, the ``icalendar`` package) that
Outlook, Google Calendar or Apple Calendar can open.

One event per post, at its due time (stored UTC, written as UTC so every calendar shows
the right local time), lasting ``DURATION``. The summary says state, account and
language; the description carries the exact text that will be (or was) sent. UIDs are
stable (``post-ID@campaign-publisher``), and SEQUENCE grows with every change, so
importing a newer export updates events instead of duplicating them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from icalendar import Calendar, Event

from core.settings import Settings
from posts.models import Post

DURATION = timedelta(minutes=15)
STATE_LABELS = {
    "draft": "Draft",
    "in_review": "In review",
    "approved": "Approved",
    "sending": "Sending",
    "checking": "Sending (checking)",
    "published": "Published",
    "retry_wait": "Retrying",
    "failed": "FAILED",
    "unknown": "UNKNOWN OUTCOME",
    "stale": "MISSED — confirm",
    "cancelled": "Cancelled",
}


def post_uid(post_id: int) -> str:
    return f"post-{post_id}@campaign-publisher"


def calendar_for(posts: Iterable[Post], settings: Settings, now: datetime) -> bytes:
    """The iCalendar bytes for ``posts``."""
    cal = Calendar()
    cal.add("prodid", "-//Campaign Publisher//campaign-publisher//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", "Campaign Publisher: planned posts")
    cal.add("x-wr-timezone", settings.timezone)
    for post in posts:
        cal.add_component(_event(post, settings, now))
    return cal.to_ical()


def _event(post: Post, settings: Settings, now: datetime) -> Event:
    account = settings.accounts.get(post.account)
    handle = f" {account.handle}" if account else ""
    state = STATE_LABELS.get(post.state, post.state)
    title = post.title or post.occasion
    event = Event()
    event.add("uid", post_uid(post.id))
    event.add("dtstamp", now)
    event.add("dtstart", post.due_at)
    event.add("dtend", post.due_at + DURATION)
    event.add("summary", f"[{state}] {post.account} ({post.language}): {title}")
    text = post.text if post.text is not None else "(text deleted under the retention setting)"
    lines = [
        text,
        "",
        f"Post {post.id} · {post.network}{handle} · {post.language} · {state}",
        f"Campaign: {post.campaign} · occasion {post.occasion}",
    ]
    if post.approved_by and post.approval_valid:
        lines.append(f"Approved by {post.approved_by}")
    if post.remote_url:
        lines.append(f"Published: {post.remote_url}")
    if post.time_note:
        lines.append(f"Time: {post.time_note}")
    for media in post.media or []:
        name = media.get("path") or media.get("name") or "?"
        lines.append(f"Image: {name} — alt text: {media.get('alt_text', '')}")
    event.add("description", "\n".join(lines))
    event.add("categories", [post.campaign])
    event.add("status", "CANCELLED" if post.state == "cancelled" else "CONFIRMED")
    event.add("transp", "TRANSPARENT")  # a post does not make anyone busy
    event.add("last-modified", post.updated_at)
    event.add("sequence", _sequence(post))
    if post.remote_url:
        event.add("url", post.remote_url)
    return event


def _sequence(post: Post) -> int:
    # Grows with every change to the post (whole seconds since it was created).
    return max(0, int((post.updated_at - post.created_at).total_seconds()))
