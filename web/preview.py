"""What the pages show of a post: the network card, highlighted text, lengths, the calendar.

Post text is plain text. ``highlight`` escapes every piece of it first and only then
wraps links, hashtags and mentions in markup of our own, so nothing in a post can become
HTML or a template expression.
"""

from __future__ import annotations

import calendar
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import regex
from markupsafe import Markup, escape

from channels.networks import display_name, in_order
from core.settings import Settings
from posts.models import Post

STATE_LABELS = {
    "draft": "draft",
    "in_review": "in review",
    "approved": "approved",
    "sending": "sending",
    "checking": "checking",
    "published": "published",
    "retry_wait": "retry wait",
    "failed": "failed",
    "unknown": "unknown",
    "stale": "stale",
    "cancelled": "cancelled",
}

# A hashtag as X sees it (the lint's rule): not after a letter or digit, at least one letter.
_HASHTAG = regex.compile(
    r"(?<![\p{L}\p{M}\p{Nd}_&])[#＃](?!\uFE0F|\u20E3)"
    r"([\p{L}\p{M}\p{Nd}_]*\p{L}[\p{L}\p{M}\p{Nd}_]*)"
)
# @name, or @name@instance on Mastodon.
_MENTION = regex.compile(
    r"(?<![\p{L}\p{Nd}_@.])@[A-Za-z0-9_]{1,30}(?:@[A-Za-z0-9.\-]+[A-Za-z0-9])?"
)


def highlight(text: str) -> Markup:
    """``text`` escaped, with links, hashtags and mentions marked (links clickable)."""
    return _highlight(text)


# A campaign sends the same text to many accounts, and pages show it again and again:
# highlighting and counting are done once per text (and network), not once per card.
# Keyed by the text itself, so an edit is a new entry, never a stale one.
@functools.lru_cache(maxsize=4096)
def _highlight(text: str) -> Markup:
    from twitter_text import extract_urls_with_indices

    spans: list[tuple[int, int, str]] = []
    for entity in extract_urls_with_indices(text):
        start, end = entity["indices"]
        spans.append((start, end, "link"))
    taken = _blank(text, spans)
    spans += [(m.start(), m.end(), "hashtag") for m in _HASHTAG.finditer(taken)]
    spans += [(m.start(), m.end(), "mention") for m in _MENTION.finditer(taken)]
    spans.sort()
    out: list[str] = []
    position = 0
    for start, end, kind in spans:
        if start < position:
            continue  # overlapping: the first one wins
        out.append(str(escape(text[position:start])))
        piece = text[start:end]
        if kind == "link" and piece.lower().startswith(("https://", "http://")):
            out.append(
                f'<a class="pv-link" href="{escape(piece)}" rel="noopener noreferrer nofollow">'
                f"{escape(piece)}</a>"
            )
        else:
            out.append(f'<span class="pv-{kind}">{escape(piece)}</span>')
        position = end
    out.append(str(escape(text[position:])))
    return Markup("".join(out))


def _blank(text: str, spans: Iterable[tuple[int, int, str]]) -> str:
    chars = list(text)
    for start, end, _kind in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


@dataclass(frozen=True)
class Length:
    network: str
    name: str
    used: int
    limit: int

    @property
    def over(self) -> bool:
        return self.used > self.limit


def lengths(text: str, own: str, own_limit: int | None = None) -> list[Length]:
    """The length as each network counts it, the post's own network first, counted to
    ``own_limit`` (the account's ``text_limit``) when given."""
    return list(_lengths(text, own, own_limit))


@functools.lru_cache(maxsize=4096)
def _lengths(text: str, own: str, own_limit: int | None) -> tuple[Length, ...]:
    out = []
    for network in in_order(own):
        used, limit = network.measure(text, own_limit if network.key == own else None)
        out.append(Length(network.key, network.name, used, limit))
    return tuple(out)


@dataclass(frozen=True)
class Card:
    """Everything a network-styled preview shows."""

    post: Post
    network: str
    network_name: str
    display_name: str
    handle: str
    dry_run: bool
    text: str | None
    html: Markup
    lengths: list[Length]
    media: list[dict[str, Any]] = field(default_factory=list)

    @property
    def own_length(self) -> Length | None:
        return self.lengths[0] if self.lengths else None

    @property
    def initials(self) -> str:
        words = [w for w in re.split(r"\W+", self.display_name) if w]
        return "".join(w[0] for w in words[:2]).upper() or "?"


def card(post: Post, settings: Settings) -> Card:
    account = settings.accounts.get(post.account)
    handle = account.handle if account else post.account
    if account and account.network == "x" and not handle.startswith("@"):
        handle = "@" + handle
    display = (account.display_name if account else "") or post.account
    text = post.text
    return Card(
        post=post,
        network=post.network,
        network_name=display_name(post.network),
        display_name=display,
        handle=handle,
        dry_run=bool(account and account.dry_run),
        text=text,
        html=highlight(text) if text is not None else Markup(""),
        lengths=(
            lengths(text, post.network, account.text_limit if account else None)
            if text is not None
            else []
        ),
        media=[
            {"index": n, "name": str(m.get("path", "")).rsplit("/", 1)[-1], **m}
            for n, m in enumerate(post.media or [])
        ],
    )


def grid_bounds(year: int, month: int) -> tuple[date, date]:
    weeks = calendar.Calendar(firstweekday=0).monthdatescalendar(year, month)
    return weeks[0][0], weeks[-1][-1]
