"""The queue as people list it: the filters (``PostFilter``), the queue's order, one page
by keyset and the counts by state, each written once as SQL with ``:name`` parameters.

``publisher queue`` runs these statements on a bare connection (posts/reader.py: no
SQLAlchemy to import); posts/review.py runs the same statements through SQLAlchemy for
the web's pages, which get ORM posts from them (``review.as_text``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

from .reader import Reader

# The queue's order, which its pages walk by keyset: (due_at, account, language, id)
# (ix_posts_page_order, posts/migrations 0010).
ORDER = ("due_at", "account", "language", "id")
_ORDER = ", ".join(ORDER)
_KEY = "(" + _ORDER + ")"
_KEY_PARAMS = "(:key_due_at, :key_account, :key_language, :key_id)"
T = TypeVar("T")


@dataclass(frozen=True)
class PostFilter:
    states: tuple[str, ...] = ()
    day: date | None = None  # a local day
    start: date | None = None
    end: date | None = None
    account: str | None = None
    campaign: str | None = None
    language: str | None = None
    ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Statement:
    sql: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Page(Generic[T]):
    posts: list[T]
    newer: int | None  # the id to pass as ``before`` for the page before, if any
    later: int | None  # the id to pass as ``after`` for the page after, if any


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants a local day starts and ends (23 or 25 hours on change days)."""
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return start, end


def condition(f: PostFilter, zone: ZoneInfo) -> Statement:
    """``f`` as an SQL condition on the posts table."""
    parts, params = ["1 = 1"], dict[str, Any]()
    for column, value in (
        ("account", f.account),
        ("campaign", f.campaign),
        ("language", f.language),
    ):
        if value:
            parts.append(f"posts.{column} = :f_{column}")
            params[f"f_{column}"] = value
    if f.ids:
        parts.append("posts.id IN :f_ids")
        params["f_ids"] = tuple(f.ids)
    if f.states:
        parts.append("posts.state IN :f_states")
        params["f_states"] = tuple(f.states)
    if f.day:
        params["f_lo"], params["f_hi"] = day_bounds(f.day, zone)
        parts.append("posts.due_at >= :f_lo AND posts.due_at < :f_hi")
    if f.start:
        params["f_start"] = day_bounds(f.start, zone)[0]
        parts.append("posts.due_at >= :f_start")
    if f.end:
        params["f_end"] = day_bounds(f.end, zone)[1]
        parts.append("posts.due_at < :f_end")
    return Statement(" AND ".join(parts), params)


def key_of(source: Any, post_id: int) -> dict[str, Any] | None:
    """The queue-order key of post ``post_id`` as parameters, None if it is gone."""
    found = Reader.of(source).rows(
        f"SELECT {_ORDER} FROM posts WHERE id = :id", id=min(post_id, 2**63 - 1)
    )
    if not found:
        return None
    due_at, account, language, id = found[0]
    return {
        "key_due_at": Reader.when(due_at),
        "key_account": account,
        "key_language": language,
        "key_id": id,
    }


def page_statement(
    f: PostFilter,
    zone: ZoneInfo,
    columns: str,
    *,
    limit: int,
    after: dict[str, Any] | None = None,
    before: dict[str, Any] | None = None,
) -> Statement:
    """``limit`` rows of ``columns`` of ``f``'s posts in the queue's order, after the key
    ``after`` or (newest first) before the key ``before``."""
    where = condition(f, zone)
    sql, params = f"SELECT {columns} FROM posts WHERE {where.sql}", dict(where.params)
    if after is not None:
        sql += f" AND {_KEY} > {_KEY_PARAMS} ORDER BY {_ORDER}"
        params.update(after)
    elif before is not None:
        sql += f" AND {_KEY} < {_KEY_PARAMS} ORDER BY " + ", ".join(f"{c} DESC" for c in ORDER)
        params.update(before)
    else:
        sql += f" ORDER BY {_ORDER}"
    return Statement(sql + " LIMIT :limit", {**params, "limit": limit})


def page(
    source: Any,
    f: PostFilter,
    zone: ZoneInfo,
    load: Callable[[Statement], Sequence[T]],
    id_of: Callable[[T], int],
    *,
    columns: str,
    size: int,
    after: int | None = None,
    before: int | None = None,
) -> Page[T]:
    """One page of ``f``'s posts in the queue's order: the first, or the ``size`` after
    post ``after`` or before post ``before`` (a keyset: every post on exactly one page
    however the queue changes between pages, at the cost of an index probe, not of
    skipping the pages before). ``load`` runs the page's statement (``columns``) and
    returns its rows; ``source`` is a Reader or a Session, for the anchor's key."""
    anchor = after if after is not None else before
    key = key_of(source, anchor) if anchor is not None else None
    if key is None:  # none given, or the post is gone: start again from the first page
        after = before = None
    statement = page_statement(
        f,
        zone,
        columns,
        limit=size + 1,
        after=key if after is not None else None,
        before=key if before is not None else None,
    )
    rows = list(load(statement))
    more = len(rows) > size
    rows = rows[:size]
    if before is not None:
        rows.reverse()
        return Page(rows, id_of(rows[0]) if more and rows else None, id_of(rows[-1]) if rows else None)
    return Page(
        rows,
        id_of(rows[0]) if after is not None and rows else None,
        id_of(rows[-1]) if more else None,
    )


def count_by_state(source: Any, f: PostFilter, zone: ZoneInfo) -> dict[str, int]:
    """How many of ``f``'s posts are in each state (``f.states`` ignored), counted in SQL."""
    where = condition(replace(f, states=()), zone)
    rows = Reader.of(source).rows(
        f"SELECT state, count(*) FROM posts WHERE {where.sql} GROUP BY state", **where.params
    )
    return {state: int(n) for state, n in rows}


def count_after(source: Any, f: PostFilter, zone: ZoneInfo, post_id: int) -> int:
    """How many of ``f``'s posts come after post ``post_id`` in the queue's order."""
    key = key_of(source, post_id)
    if key is None:
        return 0
    where = condition(f, zone)
    return int(
        Reader.of(source).value(
            f"SELECT count(*) FROM posts WHERE {where.sql} AND {_KEY} > {_KEY_PARAMS}",
            **where.params,
            **key,
        )
        or 0
    )
