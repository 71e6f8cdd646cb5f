"""A campaign's files as the web forms see them, and back.

``view`` reads a revision's files into plain values (name, dates, variables per
language, series with their rule split for the rule builder, occasions, templates).
``files_from_form`` turns a submitted form into the next file set: ``campaign.toml``
written with tomli-w (comments in a hand-written file are not kept; the revision before
still has them), a template per name and language, and every other file (images, a
README) carried over. What the form does not edit — images, lint settings, keys the
form does not know — is kept from the entry with the same id.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import tomli_w

from core.errors import CampaignError

from .expand import CLOSING  # the optional shared end of a bilingual post

CAMPAIGN_FILE = "campaign.toml"
WEEKDAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
WEEKDAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
LANGUAGE_NAMES = {"cy": "Welsh", "en": "English"}
SERIES_TEMPLATE = "{{ item }}"
OCCASION_TEMPLATE = "{{ campaign }}"


@dataclass
class Rule:
    """An RFC 5545 rule as the rule builder shows it."""

    freq: str = "weekly"  # daily | weekly | monthly | custom
    interval: int = 1
    weekdays: list[str] = field(default_factory=list)
    monthday: int = 1
    custom: str = ""

    @property
    def text(self) -> str:
        return build_rule(self)


def build_rule(rule: Rule) -> str:
    if rule.freq == "custom":
        return rule.custom.strip()
    parts = [f"FREQ={rule.freq.upper()}"]
    if rule.interval > 1:
        parts.append(f"INTERVAL={rule.interval}")
    if rule.freq == "weekly" and rule.weekdays:
        parts.append("BYDAY=" + ",".join(d for d in WEEKDAYS if d in rule.weekdays))
    if rule.freq == "monthly":
        parts.append(f"BYMONTHDAY={rule.monthday}")
    return ";".join(parts)


def parse_rule(text: str) -> Rule:
    """The builder's fields for ``text``; anything it cannot show is a custom rule."""
    fields = {}
    for part in text.strip().split(";"):
        key, _, value = part.partition("=")
        fields[key.strip().upper()] = value.strip().upper()
    freq = fields.pop("FREQ", "")
    try:
        interval = int(fields.pop("INTERVAL", "1"))
    except ValueError:
        return Rule("custom", custom=text)
    if freq == "DAILY" and not fields and interval >= 1:
        return Rule("daily", interval)
    if freq == "WEEKLY" and set(fields) <= {"BYDAY"} and interval >= 1:
        days = [d for d in fields.get("BYDAY", "").split(",") if d]
        if all(d in WEEKDAYS for d in days):
            return Rule("weekly", interval, days)
    if (
        freq == "MONTHLY"
        and set(fields) == {"BYMONTHDAY"}
        and interval >= 1
        and fields["BYMONTHDAY"].isdigit()
        and 1 <= int(fields["BYMONTHDAY"]) <= 31
    ):
        return Rule("monthly", interval, monthday=int(fields["BYMONTHDAY"]))
    return Rule("custom", custom=text)


def _raw(files: Mapping[str, bytes]) -> dict[str, Any]:
    try:
        return tomllib.loads(files[CAMPAIGN_FILE].decode("utf-8"))
    except (KeyError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CampaignError(CAMPAIGN_FILE, f"cannot be read for the form: {exc}") from None


def _vars_lines(table: Mapping[str, Any]) -> str:
    return "\n".join(f"{k} = {v}" for k, v in table.items() if not isinstance(v, dict))


def view(files: Mapping[str, bytes]) -> dict[str, Any]:
    """The campaign's files as the form shows them."""
    raw = _raw(files)
    info = raw.get("campaign", {})
    languages = list(info.get("languages", []))
    variables = raw.get("vars", {})
    series = []
    for entry in raw.get("series", []):
        items = [
            {lang: str(item.get(lang, "")) for lang in languages} for item in entry.get("items", [])
        ]
        series.append(
            {**entry, "rule_parts": parse_rule(str(entry.get("rule", ""))), "items": items}
        )
    occasions = []
    for entry in raw.get("occasions", []):
        yearly = str(entry.get("yearly") or "")
        month, _, day = yearly.partition("-")
        occasions.append(
            {
                **entry,
                "kind": "yearly" if yearly else "dates",
                "month": int(month) if month.isdigit() else 0,
                "day": int(day) if day.isdigit() else 0,
                "dates_text": "\n".join(str(d) for d in entry.get("dates", [])),
            }
        )
    names = sorted({e["template"] for e in [*series, *occasions] if e.get("template")})
    one_post = info.get("bilingual") == "bilingual" and len(languages) > 1
    templates: dict[str, str] = {}
    for name in names:
        parts = [*languages]
        # The shared end of one post in both languages (link and hashtags once), shown
        # where the campaign writes such posts or already has one.
        if one_post or f"templates/{name}.{CLOSING}.j2" in files:
            parts.append(CLOSING)
        for part in parts:
            path = f"templates/{name}.{part}.j2"
            templates[f"{name}.{part}"] = files.get(path, b"").decode("utf-8", "replace")
    return {
        "info": info,
        "languages": languages,
        "shared_vars": _vars_lines(variables),
        "lang_vars": {
            lang: _vars_lines(
                variables.get(lang, {}) if isinstance(variables.get(lang), dict) else {}
            )
            for lang in ["cy", "en"]
        },
        "series": series,
        "occasions": occasions,
        "templates": templates,
    }


def empty_view() -> dict[str, Any]:
    return {
        "info": {"timezone": "Europe/London", "languages": ["cy", "en"], "accounts": []},
        "languages": ["cy", "en"],
        "shared_vars": "",
        "lang_vars": {"cy": "", "en": ""},
        "series": [],
        "occasions": [],
        "templates": {},
    }


# --- the form back to files --------------------------------------------------------------


class _Form:
    """Reads a submitted form, naming the field in every complaint."""

    def __init__(self, form: Any) -> None:
        self.form = form

    def get(self, key: str, default: str = "") -> str:
        value = self.form.get(key, default)
        return str(value).strip() if value is not None else default

    def raw(self, key: str) -> str:
        return str(self.form.get(key, "")).replace("\r\n", "\n")

    def getlist(self, key: str) -> list[str]:
        return [str(v) for v in self.form.getlist(key)]

    def date(self, key: str, label: str) -> date:
        try:
            return date.fromisoformat(self.get(key))
        except ValueError:
            raise CampaignError(label, f"{self.get(key)!r} is not a date (YYYY-MM-DD)") from None

    def int(self, key: str, label: str, default: int) -> int:
        text = self.get(key)
        if not text:
            return default
        try:
            return int(text)
        except ValueError:
            raise CampaignError(label, f"{text!r} is not a whole number") from None

    def indexes(self, prefix: str) -> list[str]:
        found = []
        pattern = re.compile(rf"^{prefix}-(\w+)-id$")
        for key in self.form:
            m = pattern.match(key)
            if m and m.group(1) not in found:
                found.append(m.group(1))
        return found


def _vars(text: str, label: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for n, line in enumerate(text.replace("\r\n", "\n").split("\n"), 1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise CampaignError(
                f"{label}, line {n}",
                "write one variable a line as name = value (letters, digits, _)",
            )
        out[key] = value.strip()
    return out


def _tags(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _urgent_and_accounts(entry: dict[str, Any], f: _Form, p: str, accounts: list[str]) -> None:
    """A series' or occasion's urgent mark and its own accounts, written only when set
    (none ticked, or all of them: every account of the campaign)."""
    entry["urgent"] = f.get(f"{p}-urgent") == "on"
    if not entry["urgent"]:
        entry.pop("urgent")
    only = f.getlist(f"{p}-accounts")
    if only and set(only) != set(accounts):
        entry["accounts"] = only
    else:
        entry.pop("accounts", None)


def files_from_form(form: Any, base: Mapping[str, bytes] | None) -> dict[str, bytes]:
    """The file set the submitted form describes (``base``: the revision it edits)."""
    f = _Form(form)
    old = _raw(base) if base else {}
    old_series = {e.get("id"): e for e in old.get("series", [])}
    old_occasions = {e.get("id"): e for e in old.get("occasions", [])}
    languages = [lang for lang in LANGUAGE_NAMES if lang in f.getlist("languages")]
    # The form writes Welsh and English only: saving it would silently drop another
    # language's items and variables, so such a campaign is refused here, by name.
    others = [
        lang for lang in old.get("campaign", {}).get("languages", []) if lang not in LANGUAGE_NAMES
    ]
    if others:
        raise CampaignError(
            "Languages",
            f"this campaign is also written in {', '.join(map(repr, others))}, which this form "
            "cannot edit (Welsh and English only); nothing was saved. Export the campaign, "
            "edit its folder and import it again.",
        )
    info: dict[str, Any] = dict(old.get("campaign", {}))
    info.update(
        name=f.get("name"),
        title=f.get("title"),
        timezone=f.get("timezone") or "Europe/London",
        start=f.date("start", "Start"),
        end=f.date("end", "End"),
        accounts=f.getlist("accounts"),
        languages=languages,
        bilingual=f.get("bilingual") or "separate",
        welsh_first=f.get("welsh_first", "yes") != "no",
    )
    # Defaults are written only where the file had them already: a round trip is quiet.
    for key, default in (
        ("bilingual", "separate"),
        ("welsh_first", True),
        ("timezone", "Europe/London"),
    ):
        if info[key] == default and key not in old.get("campaign", {}):
            info.pop(key)
    stale = f.get("stale_after_minutes")
    if stale:
        info["stale_after_minutes"] = f.int("stale_after_minutes", "Stale after (minutes)", 0)
    else:
        info.pop("stale_after_minutes", None)
    variables: dict[str, Any] = _vars(f.raw("vars_shared"), "Shared variables")
    for lang in languages:
        own = _vars(f.raw(f"vars_{lang}"), f"{LANGUAGE_NAMES[lang]} variables")
        if own:
            variables[lang] = own
    templates: dict[str, str] = {}
    series = []
    for index in f.indexes("series"):
        p = f"series-{index}"
        ident = f.get(f"{p}-id")
        if not ident:
            continue  # the blank "add a series" block left empty
        label = f"Series {ident}"
        entry = {k: v for k, v in old_series.get(ident, {}).items() if k not in ("items",)}
        rule = Rule(
            freq=f.get(f"{p}-freq") or "weekly",
            interval=max(1, f.int(f"{p}-interval", f"{label}: every", 1)),
            weekdays=f.getlist(f"{p}-weekdays"),
            monthday=f.int(f"{p}-monthday", f"{label}: day of the month", 1),
            custom=f.get(f"{p}-custom"),
        )
        entry.update(
            id=ident,
            title=f.get(f"{p}-title"),
            rule=build_rule(rule),
            time=f.get(f"{p}-time"),
            template=f.get(f"{p}-template") or ident,
            tags=_tags(f.get(f"{p}-tags")),
        )
        _urgent_and_accounts(entry, f, p, info["accounts"])
        old_items = old_series.get(ident, {}).get("items", [])
        items = []
        rows = sorted({int(m.group(1)) for k in form if (m := re.match(rf"^{p}-item-(\d+)-", k))})
        for row in rows:
            texts: dict[str, str] = {
                lang: f.raw(f"{p}-item-{row}-{lang}").strip() for lang in languages
            }
            if not any(texts.values()):
                continue
            item: dict[str, Any] = {}
            if (
                row < len(old_items)
                and isinstance(old_items[row], dict)
                and "image" in old_items[row]
            ):
                item["image"] = old_items[row]["image"]
            item.update(texts)
            items.append(item)
        entry["items"] = items
        series.append(entry)
        templates.setdefault(entry["template"], SERIES_TEMPLATE)
    occasions = []
    for index in f.indexes("occasions"):
        p = f"occasions-{index}"
        ident = f.get(f"{p}-id")
        if not ident:
            continue
        label = f"Occasion {ident}"
        entry = dict(old_occasions.get(ident, {}))
        entry.update(
            id=ident,
            title=f.get(f"{p}-title"),
            time=f.get(f"{p}-time"),
            template=f.get(f"{p}-template") or ident,
            tags=_tags(f.get(f"{p}-tags")),
        )
        _urgent_and_accounts(entry, f, p, info["accounts"])
        entry.pop("yearly", None)
        entry.pop("dates", None)
        if f.get(f"{p}-kind") == "dates":
            dates = []
            for n, line in enumerate(f.raw(f"{p}-dates").split("\n"), 1):
                if line.strip():
                    try:
                        dates.append(date.fromisoformat(line.strip()))
                    except ValueError:
                        raise CampaignError(
                            f"{label}: dates, line {n}",
                            f"{line.strip()!r} is not a date (YYYY-MM-DD)",
                        ) from None
            entry["dates"] = dates
        else:
            month = f.int(f"{p}-month", f"{label}: month", 0)
            day = f.int(f"{p}-day", f"{label}: day", 0)
            try:
                date(2028, month, day)  # a leap year: 29 February is a date
            except ValueError:
                raise CampaignError(
                    f"{label}: yearly date", "choose a day and a month that exist"
                ) from None
            entry["yearly"] = f"{month:02d}-{day:02d}"
        occasions.append(entry)
        templates.setdefault(entry["template"], OCCASION_TEMPLATE)
    raw: dict[str, Any] = {"campaign": info}
    if variables:
        raw["vars"] = variables
    if series:
        raw["series"] = series
    if occasions:
        raw["occasions"] = occasions
    if old.get("lint"):
        raw["lint"] = old["lint"]
    files = {
        path: data
        for path, data in (base or {}).items()
        if path != CAMPAIGN_FILE and not path.startswith("templates/")
    }
    files[CAMPAIGN_FILE] = tomli_w.dumps(raw).encode("utf-8")
    # Templates: the ones the form edits, then any other the campaign already had.
    for path, data in (base or {}).items():
        if path.startswith("templates/"):
            files[path] = data
    for name, default in templates.items():
        for lang in languages:
            key = f"template-{name}.{lang}"
            path = f"templates/{name}.{lang}.j2"
            if key in form:
                files[path] = f.raw(key).encode("utf-8")
            elif path not in files:
                files[path] = default.encode("utf-8")
        # The closing part is optional: an empty one is written only if it was there.
        key, path = f"template-{name}.{CLOSING}", f"templates/{name}.{CLOSING}.j2"
        if key in form and (f.raw(key).strip() or path in files):
            files[path] = f.raw(key).encode("utf-8")
    return files
