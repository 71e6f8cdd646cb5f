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


# Parts of a rule whose numbers must be in range, checked before dateutil sees them:
# dateutil loops forever on INTERVAL=0 and quietly yields nothing for BYMONTH=13 or COUNT=-1.
_RANGES = {
    "INTERVAL": (1, 1000),
    "COUNT": (1, 100_000),
    "BYMONTH": (1, 12),
    "BYHOUR": (0, 23),
    "BYMINUTE": (0, 59),
    "BYWEEKNO": (-53, 53),
    "BYYEARDAY": (-366, 366),
    "BYMONTHDAY": (-31, 31),
    "BYSETPOS": (-366, 366),
}
_KNOWN = {*_RANGES, "FREQ", "UNTIL", "BYDAY", "WKST"}
# A post is planned to the minute; sub-daily frequencies would post every hour or second.
_FREQS = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")


class RuleError(ValueError):
    """A date rule that cannot be used; the message names the part at fault."""


def parse_rule(rule: str, zone: ZoneInfo | None = None) -> dict[str, str]:
    """The parts of an RFC 5545 RRULE (``FREQ=DAILY;BYHOUR=9,19``), checked.

    Raises ``RuleError`` naming the part: an unknown one, a number out of range (``INTERVAL``
    0 would never end, ``BYMONTH=13`` or ``COUNT=-1`` would give nothing), a sub-daily
    ``FREQ``, ``BYSECOND`` or ``DTSTART`` (the campaign's start is the start).
    ``UNTIL=...Z`` (UTC, as RFC 5545 writes it) becomes the local time in ``zone``.
    """
    text = rule.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    if "\n" in text or "DTSTART" in text.upper():
        raise RuleError("give only the rule (FREQ=...); the campaign's start is its start")
    parts: dict[str, str] = {}
    for piece in filter(None, (p.strip() for p in text.split(";"))):
        name, sep, value = piece.partition("=")
        name = name.strip().upper()
        if not sep or not value.strip():
            raise RuleError(f"{piece!r} is not NAME=VALUE")
        if name == "BYSECOND":
            raise RuleError("BYSECOND is not supported: posts are planned to the minute")
        if name not in _KNOWN:
            raise RuleError(f"unknown part {name}")
        if name in parts:
            raise RuleError(f"{name} is given twice")
        parts[name] = value.strip().upper()
    freq = parts.get("FREQ")
    if freq is None:
        raise RuleError("FREQ is missing (e.g. FREQ=DAILY)")
    if freq not in _FREQS:
        raise RuleError(
            f"FREQ={freq} is not supported; use {', '.join(_FREQS)} "
            "(several times a day: FREQ=DAILY;BYHOUR=9,19)"
        )
    for name, (low, high) in _RANGES.items():
        if name not in parts:
            continue
        for number in parts[name].split(","):
            try:
                whole = int(number)
            except ValueError:
                raise RuleError(f"{name}={parts[name]}: {number!r} is not a whole number") from None
            # Negative counts from the end (BYMONTHDAY=-1: the last day); 0 is nothing.
            if not low <= whole <= high or (whole == 0 and low < 0):
                raise RuleError(f"{name}={parts[name]}: {whole} is not between {low} and {high}")
    if "COUNT" in parts and "UNTIL" in parts:
        raise RuleError("give COUNT or UNTIL, not both")
    until = parts.get("UNTIL")
    if until and until.endswith("Z"):
        try:
            utc = datetime.strptime(until, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            raise RuleError(f"UNTIL={until} is not a UTC time such as 20270301T000000Z") from None
        local = utc.astimezone(zone).replace(tzinfo=None) if zone else utc.replace(tzinfo=None)
        parts["UNTIL"] = local.strftime("%Y%m%dT%H%M%S")
    return parts


def expand_rule(
    rule: str, start: date, end: date, at: time, zone: ZoneInfo | None = None
) -> list[date]:
    """Local dates on which an RFC 5545 RRULE fires, from ``start`` to ``end`` inclusive."""
    return [moment.date() for moment in expand_rule_times(rule, start, end, at, zone)]


def expand_rule_times(
    rule: str, start: date, end: date, at: time, zone: ZoneInfo | None = None
) -> list[datetime]:
    """Local (naive) date-times on which the rule fires, ``at`` unless the rule's BYHOUR or
    BYMINUTE say otherwise (``FREQ=DAILY;BYHOUR=9,19`` fires twice a day)."""
    parts = parse_rule(rule, zone)
    text = "RRULE:" + ";".join(f"{name}={value}" for name, value in parts.items())
    dtstart = datetime.combine(start, at)
    if "BYHOUR" in parts or "BYMINUTE" in parts:
        # The first day counts in full: a 09:00 post is not lost because ``at`` is later.
        dtstart = datetime.combine(start, time(0, 0))
        if "BYMINUTE" not in parts:
            text += f";BYMINUTE={at.minute}"
        if "BYHOUR" not in parts:
            text += f";BYHOUR={at.hour}"
    try:
        parsed = rrulestr(text, dtstart=dtstart, forceset=True)
    except (ValueError, TypeError, OverflowError) as exc:
        raise RuleError(str(exc)) from None
    until = datetime.combine(end, time(23, 59, 59))
    return list(parsed.between(dtstart, until, inc=True))


def check_month_day(month_day: str) -> tuple[int, int]:
    """(month, day) of ``MM-DD``; ``02-29`` is allowed (it falls in leap years only)."""
    month, day = (int(part) for part in month_day.split("-"))
    try:
        date(2028, month, day)  # a leap year: every real month-day exists in it
    except ValueError:
        raise RuleError(f"{month_day} is not a day of the year") from None
    return month, day


def yearly_dates(month_day: str, start: date, end: date) -> Iterator[date]:
    month, day = check_month_day(month_day)
    for year in range(start.year, end.year + 1):
        try:
            candidate = date(year, month, day)
        except ValueError:  # 29 February in a common year: skip that year
            continue
        if start <= candidate <= end:
            yield candidate
