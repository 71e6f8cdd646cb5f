"""Blackouts ahead: windows set in advance (a pre-election period, national mourning),
from the settings file and the database, described for people before they start. The
command line's ``status`` and the web's holds page, calendar and post pages all ask here.

The windows themselves are read in posts/windows.py (no SQLAlchemy, for the command
line); this module adds the SQL rule for the posts a window would stop. What stops the
worker is ``posts.holds.not_held``.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from .models import Post
from .states import PostState
from .windows import SETTINGS as SETTINGS  # the windows, read without SQLAlchemy
from .windows import Window as Window
from .windows import ahead as ahead
from .windows import blackout_windows as blackout_windows
from .windows import covering as covering

# Posts a window would stop: those that are, or may still become, due to be sent.
STOPPABLE = (
    PostState.DRAFT.value,
    PostState.IN_REVIEW.value,
    PostState.APPROVED.value,
    PostState.RETRY_WAIT.value,
)


def stoppable_within(windows: Sequence[Window]) -> ColumnElement[bool]:
    """A post that may still go out, not urgent (urgent posts pass blackouts), due inside
    one of ``windows``."""
    covered = []
    for w in windows:
        parts = [Post.due_at >= w.starts_at]
        if w.ends_at is not None:
            parts.append(Post.due_at < w.ends_at)
        if w.accounts:
            parts.append(Post.account.in_(w.accounts))
        covered.append(and_(*parts))
    return and_(Post.state.in_(STOPPABLE), Post.urgent.is_(False), or_(false(), *covered))


def stopped_posts(session: Session, window: Window) -> int:
    """How many posts that may still go out, not urgent, are due inside ``window``."""
    query = select(func.count()).select_from(Post).where(stoppable_within([window]))
    return int(session.scalar(query) or 0)
