"""The audit log: searchable by post, person, action, date and words; CSV for records
requests (freedom of information). Newest first on the page, oldest first in the CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from typing import Any

from flask import Blueprint, render_template, request
from sqlalchemy import Select, select
from werkzeug.wrappers import Response

from posts.models import Event
from posts.review import day_bounds

from .queue import parse_day
from .security import reviewer_required, services

bp = Blueprint("audit", __name__)

PAGE = 200
SEARCH_KEYS = ("post", "person", "action", "from", "to", "words")
COLUMNS = (
    "id",
    "at_utc",
    "actor",
    "action",
    "post_id",
    "from_state",
    "to_state",
    "content_hash",
    "detail",
)


def _filters() -> dict[str, Any]:
    args = request.args
    post = args.get("post", "").strip()
    return {
        "post": int(post) if post.isdigit() else None,
        "person": args.get("person", "").strip(),
        "action": args.get("action", "").strip(),
        "start": parse_day(args.get("from")),
        "end": parse_day(args.get("to")),
        "words": args.get("words", "").strip(),
    }


def _query(f: dict[str, Any]) -> Select[Any]:
    zone = services().zone
    query = select(Event)
    if f["post"] is not None:
        query = query.where(Event.post_id == f["post"])
    if f["person"]:
        query = query.where(Event.actor.ilike(f"%{_like(f['person'])}%", escape="\\"))
    if f["action"]:
        query = query.where(Event.action == f["action"])
    if isinstance(f["start"], date):
        query = query.where(Event.at >= day_bounds(f["start"], zone)[0])
    if isinstance(f["end"], date):
        query = query.where(Event.at < day_bounds(f["end"], zone)[1])
    if f["words"]:
        query = query.where(Event.detail.ilike(f"%{_like(f['words'])}%", escape="\\"))
    return query


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@bp.route("/audit")
@reviewer_required
def index() -> str:
    s = services()
    f = _filters()
    before = request.args.get("before", "")
    query = _query(f).order_by(Event.id.desc()).limit(PAGE + 1)
    if before.isdigit():
        query = query.where(Event.id < int(before))
    with s.db.transaction() as session:
        rows = list(session.scalars(query))
        actions = list(session.scalars(select(Event.action).distinct().order_by(Event.action)))
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    return render_template(
        "audit.html",
        events=rows,
        filters=f,
        actions=actions,
        older=rows[-1].id if more and rows else None,
        args={k: request.args[k] for k in SEARCH_KEYS if request.args.get(k)},
    )


@bp.route("/audit.csv")
@reviewer_required
def export() -> Response:
    s = services()
    f = _filters()
    with s.db.transaction() as session:
        rows = list(session.scalars(_query(f).order_by(Event.id)))

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        out = csv.writer(buffer)
        out.writerow(COLUMNS)
        for e in rows:
            out.writerow(
                [
                    e.id,
                    e.at.isoformat(),
                    _cell(e.actor),
                    e.action,
                    e.post_id or "",
                    e.from_state or "",
                    e.to_state or "",
                    e.content_hash or "",
                    _cell(e.detail),
                ]
            )
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        if not rows:
            yield buffer.getvalue()

    return Response(
        lines(),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'},
    )


def _cell(text: str) -> str:
    """A spreadsheet must not run what people typed: =, +, -, @ at the start is quoted."""
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text
