from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from campaign.dates import expand_rule, local_to_utc, yearly_dates

LONDON = ZoneInfo("Europe/London")


def test_daily_0130_exists_once_on_both_change_days() -> None:
    days = expand_rule("FREQ=DAILY", date(2027, 3, 27), date(2027, 11, 1), time(1, 30))
    assert days.count(date(2027, 3, 28)) == 1
    assert days.count(date(2027, 10, 31)) == 1
    spring = local_to_utc(date(2027, 3, 28), time(1, 30), LONDON)
    # 01:30 does not exist; the first valid minute is 02:00 BST = 01:00 UTC.
    assert spring.due_at == datetime(2027, 3, 28, 1, 0, tzinfo=UTC)
    assert spring.note and "does not exist" in spring.note and "02:00" in spring.note
    autumn = local_to_utc(date(2027, 10, 31), time(1, 30), LONDON)
    # 01:30 happens twice; the first (BST, 00:30 UTC) is taken, once.
    assert autumn.due_at == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)
    assert autumn.note is None


def test_0730_right_instant_either_side_of_the_change() -> None:
    assert local_to_utc(date(2027, 3, 27), time(7, 30), LONDON).due_at.hour == 7
    assert local_to_utc(date(2027, 3, 28), time(7, 30), LONDON).due_at.hour == 6
    assert local_to_utc(date(2027, 10, 31), time(7, 30), LONDON).due_at.hour == 7


def test_one_post_per_day_across_both_changes() -> None:
    days = expand_rule("FREQ=DAILY", date(2027, 3, 20), date(2027, 11, 7), time(1, 30))
    instants = [local_to_utc(d, time(1, 30), LONDON).due_at for d in days]
    assert len(instants) == len(set(instants)) == (date(2027, 11, 7) - date(2027, 3, 20)).days + 1
    local_days = [i.astimezone(LONDON).date() for i in instants]
    assert local_days == days


def test_weekly_rule_and_yearly_dates() -> None:
    days = expand_rule("FREQ=WEEKLY;BYDAY=TU", date(2027, 1, 1), date(2027, 1, 31), time(9))
    assert days == [date(2027, 1, d) for d in (5, 12, 19, 26)]
    assert list(yearly_dates("03-18", date(2026, 1, 1), date(2028, 12, 31))) == [
        date(2026, 3, 18),
        date(2027, 3, 18),
        date(2028, 3, 18),
    ]
    assert list(yearly_dates("02-29", date(2027, 1, 1), date(2028, 12, 31))) == [date(2028, 2, 29)]
