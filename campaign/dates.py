"""Date rules to UTC instants, in the campaign's time zone.

A local time that does not exist (spring forward) moves to the first valid minute and
says so; a local time that occurs twice (autumn) is taken once, at its first occurrence.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr


@dataclass(frozen=True)
class Slot:
    local_date: date
    due_at: datetime  # aware UTC
    note: str | None = None  # e.g. why the time moved


def local_to_utc(day: date, at: time, zone: ZoneInfo) -> Slot:
    """The UTC instant of ``at`` on ``day`` in ``zone``, moved forward out of a DST gap."""
    wall = datetime.combine(day, at)
    for minutes in range(0, 24 * 60):
        candidate = wall + timedelta(minutes=minutes)
        aware = candidate.replace(tzinfo=zone, fold=0)
        # A wall time exists iff it survives a round trip through UTC.
        if aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == candidate:
            note = None
            if minutes:
                note = (
                    f"{at:%H:%M} does not exist on {day} in {zone.key} (clocks go forward);"
                    f" moved to {candidate:%H:%M}"
                )
            return Slot(day, aware.astimezone(UTC), note)
    raise ValueError(f"no valid local time on {day}")  # pragma: no cover - no zone skips a day


def expand_rule(rule: str, start: date, end: date, at: time) -> list[date]:
    """Local dates on which an RFC 5545 RRULE fires, from ``start`` to ``end`` inclusive."""
    text = rule if rule.upper().startswith(("RRULE:", "DTSTART")) else f"RRULE:{rule}"
    dtstart = datetime.combine(start, at)
    parsed = rrulestr(text, dtstart=dtstart, forceset=True)
    until = datetime.combine(end, time(23, 59, 59))
    return [occurrence.date() for occurrence in parsed.between(dtstart, until, inc=True)]


def yearly_dates(month_day: str, start: date, end: date) -> Iterator[date]:
    month, day = (int(part) for part in month_day.split("-"))
    for year in range(start.year, end.year + 1):
        try:
            candidate = date(year, month, day)
        except ValueError:  # 29 February in a common year: skip that year
            continue
        if start <= candidate <= end:
            yield candidate
