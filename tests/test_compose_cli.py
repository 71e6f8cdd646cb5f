"""The command line of issue 15: media add, compose, reschedule, import-csv, and the
published link in `publisher queue` (SQLite, through click's CliRunner)."""

from __future__ import annotations

from datetime import date

from core.settings import Settings
from posts.db import Database
from posts.models import Post
from tests.helpers import token_for


def test_the_command_line_composes_moves_imports_and_shows_links(
    db: Database, settings: Settings, tmp_path
) -> None:
    from click.testing import CliRunner

    from publisher import cli
    from tests.posts.csv_rows import tips_csv
    from tests.posts.media_helpers import photo_with_gps

    runner = CliRunner()

    def run(*args: str, user: str = "alice") -> object:
        return runner.invoke(
            cli, ["--config", str(settings.config_path), *args],
            env={"PUBLISHER_TOKEN": token_for(db, user)}, catch_exceptions=False,
        )

    photo = tmp_path / "scene.jpg"
    photo.write_bytes(photo_with_gps())
    added = run("media", "add", str(photo), "--alt-cy", "Llun o ddyn mewn siaced las",
                "--alt-en", "A photo of a man in a blue jacket")
    assert added.exit_code == 0 and "added as" in added.output  # type: ignore[attr-defined]
    made = run("compose", "--account", "gwent-x", "--cy", "Apêl: ffoniwch 101.",
               "--en", "Appeal: call 101.", "--at", "2099-03-16 09:00", "--image", "scene.jpg",
               "--urgent", "Missing child appeal", "--submit")
    assert made.exit_code == 0, made.output  # type: ignore[attr-defined]
    assert made.output.count("in review, urgent") == 2  # type: ignore[attr-defined]
    first = int(made.output.split()[1].rstrip(":"))  # type: ignore[attr-defined]
    moved = run("reschedule", str(first), "--at", "2099-03-17 10:30")
    assert moved.exit_code == 0 and moved.output.count("moved to 2099-03-17 10:30") == 2  # type: ignore[attr-defined]
    bad = run("reschedule", str(first), "--at", "tomorrow")
    assert bad.exit_code == 1 and "--at: 'tomorrow' is not a local time" in bad.output  # type: ignore[attr-defined]
    sheet = tmp_path / "tips.csv"
    sheet.write_text(tips_csv(date(2099, 1, 1), bad_row=9), encoding="utf-8")
    refused = run("import-csv", str(sheet))
    assert refused.exit_code == 1 and "row 9, column time" in refused.output  # type: ignore[attr-defined]
    sheet.write_text(tips_csv(date(2099, 1, 1)), encoding="utf-8")
    assert "Imported 50 post(s)" in run("import-csv", str(sheet)).output  # type: ignore[attr-defined]
    with db.transaction() as session:
        post = session.get(Post, first)
        assert post is not None
        post.state, post.remote_url = "published", "https://x.com/GwentPolice/status/42"
    queue = run("queue", "--id", str(first))
    assert "link: https://x.com/GwentPolice/status/42" in queue.output  # type: ignore[attr-defined]


def test_outbox_shows_each_posts_link(settings: Settings, tmp_path) -> None:
    import json

    from click.testing import CliRunner

    from publisher import cli

    settings.outbox_path.parent.mkdir(parents=True, exist_ok=True)
    line = {
        "id": "outbox-7-1", "post_id": 7, "attempt": 1, "at": "2027-03-15T09:00:00+00:00",
        "account": "gwent-bluesky", "network": "bluesky", "handle": "gwentpolice.bsky.social",
        "language": "en", "text": "Appeal: call 101.", "media": [],
    }
    settings.outbox_path.write_text(json.dumps(line) + "\n", encoding="utf-8")
    Database(settings.database_url).ensure_schema()
    shown = CliRunner().invoke(cli, ["--config", str(settings.config_path), "outbox"])
    assert shown.exit_code == 0, shown.output
    assert "link: outbox://gwent-bluesky/outbox-7-1" in shown.output
