"""``publisher calendar --ics``: written with ``icalendar``, read back with ``vobject``."""

from __future__ import annotations

from datetime import UTC

import vobject
from click.testing import CliRunner

from posts import review
from publisher import cli
from tests.helpers import who
from tests.ops.conftest import all_posts, ready_posts


def read_events(path) -> list:
    (calendar,) = list(vobject.readComponents(path.read_text(encoding="utf-8")))
    assert calendar.version.value == "2.0"
    assert calendar.prodid.value.startswith("-//Campaign Publisher//")
    return list(calendar.vevent_list)


def test_calendar_round_trips_through_a_second_parser(db, settings, clock, tmp_path) -> None:
    posts = ready_posts(db, settings, clock, tmp_path / "c", languages='["en", "cy"]')
    review.edit(db, posts[0].id, actor=who("alice"), now=clock.now(),
                text="Siaradwch â'ch plentyn; ŵ ŷ — a line\nand a second line, with a comma")
    review.cancel(db, [posts[-1].id], actor=who("alice"), reason="not needed", now=clock.now())
    ics = tmp_path / "plan.ics"

    result = CliRunner().invoke(
        cli, ["--config", str(settings.config_path), "calendar", "--ics", str(ics)]
    )
    assert result.exit_code == 0, result.output
    expected = [p for p in all_posts(db) if p.state != "cancelled"]
    assert f"Wrote {len(expected)} post(s)" in result.output

    events = read_events(ics)
    assert len(events) == len(expected)
    by_uid = {e.uid.value: e for e in events}
    assert len(by_uid) == len(events)
    for post in expected:
        event = by_uid[f"post-{post.id}@campaign-publisher"]
        assert event.dtstart.value.astimezone(UTC) == post.due_at
        assert (event.dtend.value - event.dtstart.value).total_seconds() == 15 * 60
        assert event.description.value.startswith(post.text + "\n\n")  # byte for byte
        state = "Draft" if post.id == posts[0].id else "Approved"
        assert event.summary.value.startswith(f"[{state}] gwent-x ({post.language}): ")
        assert event.categories.value == [post.campaign]


def test_calendar_filters_and_includes_cancelled_on_request(db, settings, clock, tmp_path):
    posts = ready_posts(db, settings, clock, tmp_path / "c")
    review.cancel(db, [posts[0].id], actor=who("alice"), reason="not needed", now=clock.now())
    ics = tmp_path / "day.ics"
    result = CliRunner().invoke(
        cli,
        ["--config", str(settings.config_path), "calendar", "--ics", str(ics),
         "--day", "2027-01-04", "--include-cancelled"],
    )
    assert result.exit_code == 0, result.output
    (event,) = read_events(ics)
    assert event.uid.value == f"post-{posts[0].id}@campaign-publisher"
    assert event.status.value == "CANCELLED"
