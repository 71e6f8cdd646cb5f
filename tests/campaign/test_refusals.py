"""Campaign input that is refused or explained (issue 14): each message names the field or
the file and line, and a refused campaign plans nothing."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest

from campaign.dates import RuleError, expand_rule_times, parse_rule
from campaign.expand import expand
from campaign.loader import load_campaign
from core.errors import CampaignError
from core.settings import Settings
from posts.db import Database
from posts.models import Post
from posts.planning import store_drafts
from tests.helpers import token_for, who, write_campaign

NOW = datetime(2027, 1, 1, tzinfo=UTC)


def _with(folder: Path, old: str, new: str) -> Path:
    toml = folder / "campaign.toml"
    text = toml.read_text()
    assert old in text
    toml.write_text(text.replace(old, new, 1))
    return folder


def _refused(folder: Path, settings: Settings, *parts: str) -> str:
    with pytest.raises(CampaignError) as err:
        expand(load_campaign(folder), settings)
    for part in parts:
        assert part in str(err.value), str(err.value)
    return str(err.value)


# --- date rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "named"),
    [
        ("FREQ=DAILY;INTERVAL=0", "INTERVAL=0"),  # dateutil would loop forever
        ("FREQ=DAILY;BYMONTH=13", "BYMONTH=13"),
        ("FREQ=DAILY;COUNT=-1", "COUNT=-1"),
        ("FREQ=HOURLY", "FREQ=HOURLY"),
        ("FREQ=DAILY;BYSECOND=5", "BYSECOND"),
        ("FREQ=DAILY;BYHOUR=24", "BYHOUR=24"),
        ("FREQ=DAILY;BYMONTHDAY=0", "BYMONTHDAY=0"),
        ("FREQ=DAILY;COUNT=3;UNTIL=20270301", "COUNT or UNTIL"),
        ("INTERVAL=2", "FREQ is missing"),
    ],
)
def test_bad_rules_are_refused_by_name(
    settings: Settings, tmp_path: Path, rule: str, named: str
) -> None:
    folder = _with(write_campaign(tmp_path / "c"), 'rule = "FREQ=DAILY"', f'rule = "{rule}"')
    message = _refused(folder, settings, "series[0].rule", named)
    assert str(folder / "campaign.toml") in message


def test_a_rule_that_gives_no_post_is_refused(settings: Settings, tmp_path: Path) -> None:
    # Valid, but nothing falls between the campaign's start and end.
    folder = _with(
        write_campaign(tmp_path / "c"), 'rule = "FREQ=DAILY"', 'rule = "FREQ=YEARLY;BYMONTH=6"'
    )
    _refused(folder, settings, "series[0].rule", "gives no post between 2027-01-04 and 2027-01-10")


def test_until_in_utc_is_accepted(settings: Settings, tmp_path: Path) -> None:
    folder = _with(
        write_campaign(tmp_path / "c"),
        'rule = "FREQ=DAILY"',
        'rule = "FREQ=DAILY;UNTIL=20270106T235959Z"',
    )
    drafts = expand(load_campaign(folder), settings)
    assert [d.local_date for d in drafts] == [date(2027, 1, d) for d in (4, 5, 6)]


def test_until_in_utc_is_read_in_the_campaign_zone() -> None:
    from zoneinfo import ZoneInfo

    london = ZoneInfo("Europe/London")
    # 23:30 UTC on 30 June is 00:30 on 1 July in London (BST).
    parts = parse_rule("FREQ=DAILY;UNTIL=20270630T233000Z", london)
    assert parts["UNTIL"] == "20270701T003000"

    def days(until: str) -> list[date]:
        moments = expand_rule_times(
            f"FREQ=DAILY;UNTIL={until}", date(2027, 6, 29), date(2027, 7, 2), time(0, 15), london
        )
        return [m.date() for m in moments]

    # Until 00:10 London time on 1 July: that day's 00:15 post is out; until 00:20 it is in.
    assert days("20270630T231000Z") == [date(2027, 6, 29), date(2027, 6, 30)]
    assert days("20270630T232000Z")[-1] == date(2027, 7, 1)


def test_interval_zero_does_not_hang() -> None:
    with pytest.raises(RuleError, match="INTERVAL=0"):
        expand_rule_times("FREQ=DAILY;INTERVAL=0", date(2027, 1, 1), date(2027, 12, 31), time(9))


@pytest.mark.parametrize(
    ("yearly", "parts"),
    [
        ("02-30", ["occasions[0].yearly", "02-30 is not a day of the year"]),
        ("13-01", ["occasions[0].yearly", "13-01 is not a day of the year"]),
        ("02-29", ["occasions[0].yearly", "gives no post", "29 February"]),
    ],
)
def test_yearly_days_that_give_no_post(
    settings: Settings, tmp_path: Path, yearly: str, parts: list[str]
) -> None:
    folder = write_campaign(tmp_path / "c")
    toml = folder / "campaign.toml"
    toml.write_text(
        toml.read_text()
        + f'\n[[occasions]]\nid = "day"\nyearly = "{yearly}"\ntime = "09:00"\ntemplate = "tip"\n'
    )
    _refused(folder, settings, *parts)


def test_29_february_in_a_leap_year_is_planned(settings: Settings, tmp_path: Path) -> None:
    folder = write_campaign(tmp_path / "c", start="2028-02-20", end="2028-03-05")
    toml = folder / "campaign.toml"
    toml.write_text(
        toml.read_text()
        + '\n[[occasions]]\nid = "leap"\nyearly = "02-29"\ntime = "09:00"\ntemplate = "leap"\n'
    )
    (folder / "templates" / "leap.en.j2").write_text("Leap day. Call 101, or 999.")
    drafts = expand(load_campaign(folder), settings)
    assert [d.local_date for d in drafts if d.occasion.startswith("leap/")] == [date(2028, 2, 29)]


def test_occasion_dates_all_outside_the_campaign_are_refused(
    settings: Settings, tmp_path: Path
) -> None:
    folder = write_campaign(tmp_path / "c")
    toml = folder / "campaign.toml"
    toml.write_text(
        toml.read_text()
        + '\n[[occasions]]\nid = "sid"\ndates = [2026-02-10]\ntime = "09:00"\ntemplate = "tip"\n'
    )
    _refused(folder, settings, "occasions[0].dates", "none of the dates")


# --- twice a day ----------------------------------------------------------------------------


def test_twice_a_day_gives_two_posts_each_with_its_own_key(
    settings: Settings, tmp_path: Path
) -> None:
    folder = _with(
        write_campaign(tmp_path / "c"), 'rule = "FREQ=DAILY"', 'rule = "FREQ=DAILY;BYHOUR=9,19"'
    )
    drafts = expand(load_campaign(folder), settings)
    first_day = [d for d in drafts if d.local_date == date(2027, 1, 4)]
    # BYHOUR gives the hours; the minute is the series' time's (07:30).
    assert [d.occasion for d in first_day] == ["tip/2027-01-04T09:30", "tip/2027-01-04T19:30"]
    # The rotation goes on per post: morning tip one, evening tip two.
    assert [d.text.splitlines()[0][:8] for d in first_day] == ["Tip one:", "Tip two:"]
    assert [d.due_at.hour for d in first_day] == [9, 19]  # GMT in January
    assert len(drafts) == 14


def test_twice_a_day_is_stored_and_a_once_a_day_rotation_keeps_its_keys(
    settings: Settings, tmp_path: Path, db: Database
) -> None:
    once = expand(load_campaign(write_campaign(tmp_path / "a")), settings)
    assert once[0].occasion == "tip/2027-01-04"  # keys of posts already planned stay
    folder = _with(
        write_campaign(tmp_path / "b"), 'rule = "FREQ=DAILY"', 'rule = "FREQ=DAILY;BYHOUR=9,19"'
    )
    twice = expand(load_campaign(folder), settings)
    report = store_drafts(db, twice, actor=who("alice"), now=NOW)
    assert report.created == 14
    with db.transaction() as session:
        assert session.query(Post).count() == 14


# --- files ----------------------------------------------------------------------------------


def test_campaign_file_not_utf8_names_file_and_line(settings: Settings, tmp_path: Path) -> None:
    folder = write_campaign(tmp_path / "c")
    toml = folder / "campaign.toml"
    data = toml.read_bytes().replace(b'title = "Test"', b'title = "Caf\xe9"')
    toml.write_bytes(data)
    line = data[: data.index(b"Caf\xe9")].count(b"\n") + 1
    _refused(folder, settings, f"campaign.toml, line {line}", "not UTF-8", "0xe9")


def test_template_not_utf8_names_file_and_line(settings: Settings, tmp_path: Path) -> None:
    folder = write_campaign(tmp_path / "c")
    (folder / "templates" / "tip.en.j2").write_bytes(b"{{ item }}\n\nCall 101 \xff or 999.")
    _refused(folder, settings, "tip.en.j2, line 3", "not UTF-8", "0xff")


def _with_image(folder: Path, path: str) -> Path:
    return _with(
        folder,
        'tags = ["safeguarding"]',
        'tags = ["safeguarding"]\n'
        f'image = {{ path = "{path}", alt = {{ en = "A white heart on a dark blue banner." }} }}',
    )


def test_image_that_is_not_a_regular_file_is_refused(settings: Settings, tmp_path: Path) -> None:
    folder = write_campaign(tmp_path / "c")
    (folder / "images").mkdir()
    (folder / "images" / "zero.png").symlink_to("/dev/zero")
    # /dev/zero through a link is outside the folder; a FIFO inside it is not a file.
    _refused(_with_image(folder, "images/zero.png"), settings, "series[0].image", "outside")
    os.mkfifo(folder / "images" / "pipe.png")
    folder2 = write_campaign(tmp_path / "d")
    (folder2 / "images").mkdir()
    os.mkfifo(folder2 / "images" / "pipe.png")
    _refused(_with_image(folder2, "images/pipe.png"), settings, "not a regular file")


def test_image_over_the_limit_is_refused_without_reading_it_all(
    settings: Settings, tmp_path: Path
) -> None:
    folder = write_campaign(tmp_path / "c")
    (folder / "big.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * (6 * 1024 * 1024))
    _refused(_with_image(folder, "big.png"), settings, "series[0].image", "the limit is 5120 KB")


def test_image_outside_the_campaign_is_refused(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "outside.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    folder = _with_image(write_campaign(tmp_path / "c"), "../outside.png")
    _refused(folder, settings, "series[0].image", "../outside.png is outside the campaign folder")
    folder = _with_image(write_campaign(tmp_path / "d"), str(tmp_path / "outside.png"))
    _refused(folder, settings, "outside the campaign folder")


def test_template_symlink_outside_is_refused(settings: Settings, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("the database password")
    folder = write_campaign(tmp_path / "c")
    (folder / "templates" / "tip.en.j2").unlink()
    (folder / "templates" / "tip.en.j2").symlink_to(secret)
    _refused(folder, settings, "tip.en.j2", "outside the campaign folder")


def test_include_of_an_outside_file_names_the_include(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "outside.j2").write_text("x")
    folder = write_campaign(tmp_path / "c")
    (folder / "templates" / "tip.en.j2").write_text(
        '{{ item }}\n{% include "../outside.j2" %}\nCall 101 or 999.'
    )
    message = _refused(folder, settings, "tip.en.j2, line 2", "../outside.j2", "outside")
    assert "template file not found" not in message


def test_include_of_a_missing_file_names_the_include(settings: Settings, tmp_path: Path) -> None:
    folder = write_campaign(tmp_path / "c")
    (folder / "templates" / "tip.en.j2").write_text(
        '{{ item }}\n\n{% include "templates/footer.j2" %}'
    )
    _refused(folder, settings, "tip.en.j2, line 3", "templates/footer.j2 not found")
    (folder / "templates" / "footer.j2").write_text("Call 101, or 999.")
    assert expand(load_campaign(folder), settings)[0].text.endswith("Call 101, or 999.")


# --- languages ----------------------------------------------------------------------------


def test_unknown_language_is_refused(settings: Settings, tmp_path: Path) -> None:
    folder = write_campaign(tmp_path / "c", languages='["cy", "xx"]')
    _refused(folder, settings, "campaign.languages", "unknown language 'xx'")


def test_language_no_account_speaks_is_refused(settings: Settings, tmp_path: Path) -> None:
    folder = write_campaign(tmp_path / "c", languages='["en", "fr"]')
    for n, tip in enumerate(("Tip one: talk to your child.", "Tip two: check privacy settings.")):
        _with(folder, f'en = "{tip}"', f'en = "{tip}"\n  fr = "Conseil {n}."')
    (folder / "templates" / "tip.fr.j2").write_text("{{ item }}")
    _refused(folder, settings, "campaign.languages", "no account of the campaign posts in 'fr'")


def test_unknown_bilingual_model_is_refused(settings: Settings, tmp_path: Path) -> None:
    folder = _with(
        write_campaign(tmp_path / "c"),
        'languages = ["en"]',
        'languages = ["en"]\nbilingual = "both"',
    )
    _refused(folder, settings, "campaign.bilingual")


# --- nothing changes --------------------------------------------------------------------------


def test_a_refused_campaign_plans_nothing(settings: Settings, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from publisher import cli

    folder = _with(
        write_campaign(tmp_path / "c"), 'rule = "FREQ=DAILY"', 'rule = "FREQ=DAILY;INTERVAL=0"'
    )
    db = Database(settings.database_url)
    token = token_for(db, "alice")
    result = CliRunner().invoke(
        cli,
        ["--config", str(settings.config_path), "plan", str(folder)],
        env={"PUBLISHER_TOKEN": token},
    )
    assert result.exit_code != 0
    assert "series[0].rule" in result.output and "INTERVAL=0" in result.output
    with db.transaction() as session:
        assert session.query(Post).count() == 0
    db.dispose()
