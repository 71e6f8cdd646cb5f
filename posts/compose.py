"""Single posts: a person writes one post for several accounts at once, in Welsh and English.

One ``Composition`` makes one post per (account, language), or, with ``together``, one
post per account holding both languages, Welsh first (the campaigns' "bilingual" model).
The languages of one composition on one network share a ``pair_key``: they are published
together or not at all, and they move together (posts/reschedule.py).

Everything is checked before anything is stored (``CompositionError`` names the form field
at fault): the accounts, that each gets text in a language it posts in, the time, the
images from the library and their alt text in each language posted, each network's image
limits, and, when the post is sent for review at once, the content rules' errors. The
posts, the urgent mark (with its reason) and the submission are one transaction.

A post "as soon as approved" falls due when it is written: the worker sends it as soon as
a reviewer approves it. Its staleness limit is a week, so that a slow approval does not
turn it stale; the post says "as soon as approved" in its time note.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from campaign.lint import lint_text
from core.errors import QueueError
from core.settings import Settings
from people.rights import Actor, check

from .db import Database, notify_workers
from .journal import record_event, transition
from .media import LANGUAGE_NAMES, MediaItem, find_image, network_problems, post_entry
from .models import Post, content_hash
from .review import mark_urgent_in
from .states import PostState

#: Single posts belong to no campaign: the empty name, which no campaign can have.
SINGLE = ""
LANGUAGES = ("cy", "en")  # Welsh first
ASAP_NOTE = "as soon as approved"
ASAP_STALE_MINUTES = 7 * 24 * 60.0


class CompositionError(QueueError):
    """A composed post was refused; ``field`` names the form field (or CLI option) at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class ImageChoice:
    """A library image on the post: its hash (or a unique prefix or uploaded name) and its
    alt text by language (an empty one takes the library's)."""

    ref: str
    alt_text: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Composition:
    accounts: Sequence[str]
    texts: Mapping[str, str]  # language ("cy", "en") -> text
    when: datetime | None = None  # aware; None: as soon as approved
    images: Sequence[ImageChoice] = ()
    together: bool = False  # one post per account, Welsh first, where it takes both
    title: str = ""
    urgent: bool = False
    urgent_reason: str = ""


@dataclass
class Planned:
    """One post a composition makes, before it is stored."""

    account: str
    network: str
    language: str
    text: str
    media: list[dict[str, Any]]
    problems: list[dict[str, Any]]

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [p for p in self.problems if p.get("level") == "error"]


def normalise(text: str) -> str:
    """Browsers send CRLF; posts are stored with LF and without trailing blanks."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def plan(
    db: Database, settings: Settings, c: Composition, *, now: datetime, check_time: bool = True
) -> list[Planned]:
    """The posts ``c`` makes, with their content rules' findings; ``CompositionError`` for
    bad input. Stores nothing (the live preview calls it on every keystroke)."""
    if not c.accounts:
        raise CompositionError("accounts", "choose at least one account")
    texts = {lang: normalise(c.texts.get(lang) or "") for lang in LANGUAGES}
    unknown = [lang for lang in c.texts if lang not in LANGUAGES]
    if unknown:
        raise CompositionError("language", f"write in Welsh (cy) or English (en), not {unknown[0]}")
    for name in c.accounts:
        if name not in settings.accounts:
            known = ", ".join(sorted(settings.accounts)) or "none"
            raise CompositionError("accounts", f"unknown account {name!r} (accounts: {known})")
    if check_time and c.when is not None:
        if c.when.tzinfo is None:
            raise CompositionError("when", "the time must carry a time zone")
        if c.when <= now:
            raise CompositionError(
                "when", "that time has passed: choose a later one, or “as soon as approved”"
            )
    if c.urgent and not c.urgent_reason.strip():
        raise CompositionError(
            "urgent_reason", "say why this post is urgent: the reason goes in the audit log"
        )
    images = _images(db, c.images)
    planned: list[Planned] = []
    for name in dict.fromkeys(c.accounts):
        account = settings.accounts[name]
        takes = [lang for lang in LANGUAGES if lang in account.languages]
        written = [lang for lang in takes if texts[lang]]
        if not written:
            wanted = " or ".join(LANGUAGE_NAMES[lang] for lang in takes) or "English"
            first = takes[0] if takes else "en"
            raise CompositionError(
                f"text_{first}", f"{name} posts in {wanted}: write the text in {wanted}"
            )
        if c.together and len(written) > 1:
            groups = [("+".join(written), "\n\n".join(texts[lang] for lang in written), written)]
        else:
            groups = [(lang, texts[lang], [lang]) for lang in written]
        for language, text, langs in groups:
            media = []
            for item, alts in images:
                missing = [lang for lang in langs if not alts.get(lang)]
                if missing:
                    raise CompositionError(
                        f"alt_{missing[0]}_{item.sha256[:12]}",
                        f"write the {LANGUAGE_NAMES[missing[0]]} alt text of {item.filename}",
                    )
                alt = "\n\n".join(alts[lang] for lang in langs)
                refused = network_problems(item, account.network, alt, len(images))
                if refused:
                    raise CompositionError("images", f"{item.filename} on {name}: {refused[0]}")
                media.append(post_entry(item, alt))
            found = lint_text(
                text,
                networks=[account.network],
                language=language,
                media=[(m["name"], m["alt_text"]) for m in media],
                limits={account.network: account.text_limit} if account.text_limit else {},
            )
            planned.append(
                Planned(name, account.network, language, text, media, [asdict(p) for p in found])
            )
    return _welsh_counterparts(planned, texts)


def _images(db: Database, choices: Sequence[ImageChoice]) -> list[tuple[MediaItem, dict[str, str]]]:
    chosen: list[tuple[MediaItem, dict[str, str]]] = []
    if not choices:
        return chosen
    with db.transaction() as session:
        for choice in choices:
            item = find_image(session, choice.ref)
            if item is None:
                raise CompositionError(
                    "images", f"no image {choice.ref!r} in the media library: upload it first"
                )
            session.expunge(item)
            alts = {
                lang: ((choice.alt_text.get(lang) or "").strip() or item.alt_text.get(lang, ""))
                for lang in LANGUAGES
            }
            if any(item.sha256 == other.sha256 for other, _ in chosen):
                raise CompositionError("images", f"{item.filename} is chosen twice")
            chosen.append((item, alts))
    return chosen


def _welsh_counterparts(planned: list[Planned], texts: Mapping[str, str]) -> list[Planned]:
    """As for campaigns: an English post on a network where the account also posts in
    Welsh needs its Welsh counterpart (Welsh Language Standards)."""
    welsh = {p.network for p in planned if "cy" in p.language.split("+")}
    for p in planned:
        if p.language == "en" and p.network not in welsh and not texts["cy"]:
            p.problems.append(
                {
                    "rule": "welsh-counterpart",
                    "level": "error",
                    "network": None,
                    "message": "No Welsh version of this post on this network: write the "
                    "Welsh text too (Welsh Language Standards).",
                }
            )
    return planned


def compose(
    db: Database,
    settings: Settings,
    c: Composition,
    *,
    actor: Actor,
    now: datetime,
    submit: bool = False,
) -> list[Post]:
    """Store the composition's posts as drafts (or sent for review with ``submit``), in one
    transaction; nothing is stored if anything is refused (rights on every account first)."""
    planned = plan(db, settings, c, now=now)
    for name in dict.fromkeys(c.accounts):
        check(actor, "compose", name)
        if submit:
            check(actor, "submit", name)
        if c.urgent:
            check(actor, "urgent", name)
    if submit:
        for p in planned:
            if p.errors:
                first = p.language.split("+")[0]
                raise CompositionError(
                    f"text_{first}",
                    f"{p.account} ({p.language}) cannot go for review until this is fixed: "
                    f"{str(p.errors[0]['message']).rstrip('.')} (or save it as a draft)",
                )
    due_at = c.when or now
    key = secrets.token_hex(5)
    local_day = due_at.astimezone(ZoneInfo(settings.timezone)).date().isoformat()
    occasion = f"single/{local_day}/{key}"
    title = c.title.strip() or _title(planned[0].text)
    languages = {p.language for p in planned}
    posts: list[Post] = []
    with db.transaction() as session:
        for p in planned:
            post = Post(
                campaign=SINGLE,
                occasion=occasion,
                account=p.account,
                language=p.language,
                title=title[:200],
                network=p.network,
                due_at=due_at,
                time_note=ASAP_NOTE if c.when is None else None,
                text=p.text,
                media=p.media,
                tags=[],
                problems=p.problems,
                content_hash=content_hash(
                    text=p.text,
                    media=p.media,
                    account=p.account,
                    language=p.language,
                    due_at=due_at,
                ),
                state=PostState.DRAFT.value,
                author=actor.name,
                attempt=0,
                pair_key=(
                    f"single:{key}:{p.network}"
                    if len(languages) > 1 and "+" not in p.language
                    else None
                ),
                urgent=False,
                stale_after_minutes=ASAP_STALE_MINUTES if c.when is None else None,
                created_at=now,
                updated_at=now,
            )
            session.add(post)
            session.flush()
            record_event(
                session, actor=actor.name, action="compose", now=now, post=post, detail="written"
            )
            if c.urgent:
                mark_urgent_in(session, post, actor=actor, reason=c.urgent_reason, now=now)
            if submit:
                transition(session, post, "submit", actor=actor.name, now=now)
            posts.append(post)
        if submit:
            notify_workers(session)
    return posts


def _title(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else "Single post"
    return line if len(line) <= 60 else line[:59] + "…"
