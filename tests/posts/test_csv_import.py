"""Bulk import: every row checked first, errors by row and column, all or nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from core.errors import NotAllowed
from core.settings import Settings
from posts import media as library
from posts.csv_import import CsvRefused, import_csv
from posts.db import Database
from posts.models import Post
from tests.helpers import who
from tests.posts.csv_rows import tips_csv
from tests.posts.media_helpers import photo_with_gps

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
FIRST = date(2027, 3, 2)


def _count(db: Database) -> int:
    with db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(Post)) or 0)


def test_one_bad_row_refuses_all_then_the_fixed_file_imports(
    db: Database, settings: Settings
) -> None:
    item, _ = library.add_image(
        db, photo_with_gps(), filename="talk.jpg", alt_text={"en": "x" * 25, "cy": "y" * 25},
        languages=["en", "cy"], actor="alice", now=NOW,
    )
    with pytest.raises(CsvRefused) as refused:
        import_csv(db, settings, tips_csv(FIRST, image="talk.jpg", bad_row=17), actor=who("alice"),
                   now=NOW)
    assert [str(p) for p in refused.value.problems] == [
        "row 17, column time: '25:00' is not a time (HH:MM, 24-hour)"
    ]
    assert _count(db) == 0
    posts = import_csv(db, settings, tips_csv(FIRST, image="talk.jpg"), actor=who("alice"), now=NOW)
    assert len(posts) == 50 and _count(db) == 50
    with db.transaction() as session:
        rows = list(session.scalars(select(Post).order_by(Post.due_at, Post.language)))
    assert all(p.state == "draft" and p.author == "alice" for p in rows)
    assert rows[0].language == "cy" and rows[0].pair_key == rows[1].pair_key is not None
    assert rows[0].media[0]["sha256"] == item.sha256
    assert rows[0].media[0]["alt_text"] == "Llun o riant a phlentyn yn siarad"
    assert rows[0].due_at == datetime(2027, 3, 2, 9, 0, tzinfo=UTC)  # GMT in March
    assert not any(p["level"] == "error" for r in rows for p in r.problems)


def test_every_error_is_listed_by_row_and_column(db: Database, settings: Settings) -> None:
    text = (
        "Date,Time,Account,Language,Text,Image,Alt text\n"
        "2027-02-30,09:00,gwent-x,en,Hello,,\n"
        "2027-03-05,9am,nobody,fr,,,\n"
        "2027-02-01,09:00,gwent-x,cy,Helo,missing.jpg,\n"
        f"2027-03-05,09:00,gwent-x,en,{'x' * 300},,\n"
    )
    with pytest.raises(CsvRefused) as refused:
        import_csv(db, settings, text, actor=who("alice"), now=NOW)
    found = [(p.row, p.column) for p in refused.value.problems]
    assert found == [
        (2, "date"), (3, "time"), (3, "account"), (3, "language"), (3, "text"),
        (4, "time"), (4, "image"), (5, "text"),
    ]
    assert _count(db) == 0


def test_a_file_that_is_not_csv_utf8_or_lacks_columns_is_refused(
    db: Database, settings: Settings
) -> None:
    with pytest.raises(CsvRefused, match="not UTF-8"):
        import_csv(db, settings, "date,time\n".encode("utf-16"), actor=who("a"), now=NOW)
    with pytest.raises(CsvRefused) as refused:
        import_csv(db, settings, "date,time,account,text\n", actor=who("a"), now=NOW)
    assert [str(p) for p in refused.value.problems] == [
        "row 1, column language: this column is missing from the header row"
    ]


def test_an_import_to_an_account_without_rights_is_refused_whole(
    db: Database, settings: Settings
) -> None:
    library.add_image(
        db, photo_with_gps(), filename="talk.jpg", alt_text={"en": "x" * 25, "cy": "y" * 25},
        languages=["en", "cy"], actor="alice", now=NOW,
    )
    lines = tips_csv(FIRST, image="talk.jpg").splitlines(keepends=True)
    # The last pair goes to Facebook, where this author has no rights.
    rows = "".join(lines[:-2] + [x.replace(",gwent-x,", ",gwent-facebook,") for x in lines[-2:]])
    with pytest.raises(NotAllowed, match="may not write posts of the account gwent-facebook"):
        import_csv(db, settings, rows, actor=who("fflur", "author", ("gwent-x",)), now=NOW)
    assert _count(db) == 0
