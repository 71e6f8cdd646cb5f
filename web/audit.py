"""The audit log: searchable by post, person, action, date and words; CSV for records
requests (freedom of information). Newest first on the page, oldest first in the CSV.
The search and the CSV writer are the library's (posts.audit), shared with
``publisher log``."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from werkzeug.wrappers import Response

from posts import audit

from .queue import parse_day, parse_id
from .security import now, reviewer_required, services

bp = Blueprint("audit", __name__)

PAGE = 200
SEARCH_KEYS = ("post", "person", "action", "from", "to", "words")


def _filter() -> audit.AuditFilter:
    args = request.args
    return audit.AuditFilter(
        post=parse_id(args.get("post"), "post"),
        person=args.get("person", "").strip(),
        action=args.get("action", "").strip(),
        start=parse_day(args.get("from"), "from"),
        end=parse_day(args.get("to"), "to"),
        words=args.get("words", "").strip(),
    )


@bp.route("/audit")
@reviewer_required
def index() -> str:
    s = services()
    asked = _filter()
    # A word search without dates looks at recent days (each event's text is read); the
    # page says so and links to the whole log.
    everywhere = request.args.get("all") == "1"
    f = asked if everywhere else audit.word_window(asked, now().astimezone(s.zone).date())
    before = parse_id(request.args.get("before"), "before")
    rows, older = audit.newest(s.db, f, s.zone, limit=PAGE, before=before)
    args = {k: request.args[k] for k in SEARCH_KEYS if request.args.get(k)}
    return render_template(
        "audit.html",
        events=rows,
        filters=asked,
        windowed=f is not asked,
        window_days=audit.WORDS_DAYS,
        actions=audit.actions(s.db),
        older=older,
        paged=before is not None,
        args={**args, "all": "1"} if everywhere else args,
        args_everywhere={**args, "all": "1"},
    )


@bp.route("/audit.csv")
@reviewer_required
def export() -> Response:
    s = services()
    return Response(
        audit.csv_lines(s.db, _filter(), s.zone),
        mimetype="text/csv",
        # Who did what: never kept by a browser or proxy cache (records requests).
        headers={
            "Content-Disposition": 'attachment; filename="audit-log.csv"',
            "Cache-Control": "no-store",
        },
    )
