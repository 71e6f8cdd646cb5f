"""A campaign pack from another force, on this force's accounts.

A pack names the accounts of the force that wrote it (``gwent-x``). On import each
account this force does not have is mapped to one of its own (``gwent-x`` → ``dyfed-x``)
or left out; the revision stored names only this force's accounts, so an export writes
those. ``campaign.toml`` is rewritten in place (comments and layout kept) where its
``accounts`` lists allow it; the result is parsed again and must equal the mapping of the
parsed file, else it is written out afresh.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from typing import Any

import tomli_w

from core.errors import CampaignError
from core.settings import Settings

CAMPAIGN_FILE = "campaign.toml"

#: What a mapping says instead of an account to leave the pack's account out.
LEAVE_OUT = "-"

# An ``accounts = [...]`` array (on one or several lines) and the strings inside it.
_ACCOUNTS_ARRAY = re.compile(r"(?m)^(\s*accounts\s*=\s*)\[([^\]]*)\]")
_STRING = re.compile(r"\"([^\"\\]*)\"|'([^']*)'")


def _raw(files: Mapping[str, bytes]) -> dict[str, Any]:
    try:
        return tomllib.loads(files[CAMPAIGN_FILE].decode("utf-8"))
    except KeyError:
        raise CampaignError(CAMPAIGN_FILE, "the pack has no campaign.toml") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CampaignError(CAMPAIGN_FILE, f"cannot be read: {exc}") from None


def pack_accounts(files: Mapping[str, bytes]) -> list[str]:
    """Every account the pack names, in the order of ``campaign.accounts`` first."""
    raw = _raw(files)
    names: list[str] = list(raw.get("campaign", {}).get("accounts", []) or [])
    for kind in ("series", "occasions"):
        for entry in raw.get(kind, []) or []:
            names.extend(entry.get("accounts", []) or [])
    return list(dict.fromkeys(str(name) for name in names))


def missing_accounts(files: Mapping[str, bytes], settings: Settings) -> list[str]:
    """The accounts the pack names that this force does not have."""
    return [name for name in pack_accounts(files) if name not in settings.accounts]


def parse_mapping(pairs: list[str] | tuple[str, ...]) -> dict[str, str | None]:
    """``THEIRS=OURS`` (or ``THEIRS=-`` to leave it out) pairs as a mapping."""
    mapping: dict[str, str | None] = {}
    for pair in pairs:
        theirs, sep, ours = pair.partition("=")
        theirs, ours = theirs.strip(), ours.strip()
        if not sep or not theirs or not ours:
            raise CampaignError(
                "--account",
                f"{pair!r} is not THEIRS=OURS (or THEIRS=- to leave the pack's account out)",
            )
        if theirs in mapping:
            raise CampaignError("--account", f"{theirs!r} is mapped twice")
        mapping[theirs] = None if ours == LEAVE_OUT else ours
    return mapping


def check_mapping(
    files: Mapping[str, bytes], mapping: Mapping[str, str | None], settings: Settings
) -> None:
    """Refuse, by name, a mapping this force cannot follow and a pack account left
    unmapped that this force does not have."""
    named = pack_accounts(files)
    known = ", ".join(sorted(settings.accounts)) or "none"
    for theirs, ours in mapping.items():
        if theirs not in named:
            raise CampaignError(
                f"account mapping {theirs}",
                f"the pack names no account {theirs!r} (it names {', '.join(named)})",
            )
        if ours is not None and ours not in settings.accounts:
            raise CampaignError(
                f"account mapping {theirs}",
                f"{theirs!r} is mapped to {ours!r}, which is not an account of this force "
                f"(accounts in the settings: {known})",
            )
    for name in named:
        if name not in settings.accounts and name not in mapping:
            raise CampaignError(
                f"{CAMPAIGN_FILE}, accounts",
                f"unknown account {name!r}: this force has no such account (accounts in the "
                f"settings: {known}). Map it to one of yours or leave it out when importing "
                f"(command line: --account {name}=OURS, or --account {name}=- to leave it "
                "out; web: choose it on the import page)",
            )


def _mapped(names: list[Any], mapping: Mapping[str, str | None]) -> list[str]:
    out = [mapping[str(n)] if str(n) in mapping else str(n) for n in names]
    return list(dict.fromkeys(name for name in out if name is not None))


def map_accounts(
    files: Mapping[str, bytes], mapping: Mapping[str, str | None], settings: Settings
) -> dict[str, bytes]:
    """The pack's files with its accounts renamed (or left out) as ``mapping`` says,
    after ``check_mapping``. An entry (series, occasion) whose every account is left out
    would fall back to all the campaign's accounts, so it is refused by name."""
    if not mapping:
        try:
            _raw(files)
        except CampaignError:
            return dict(files)  # the loader names the file and line better
    check_mapping(files, mapping, settings)
    if not mapping:
        return dict(files)
    raw = _raw(files)
    expected = _map_raw(raw, mapping)
    text = files[CAMPAIGN_FILE].decode("utf-8")

    def rename(array: re.Match[str]) -> str:
        found = _STRING.finditer(array.group(2))
        inside = [m.group(1) if m.group(1) is not None else m.group(2) for m in found]
        kept = _mapped(inside, mapping)
        return array.group(1) + "[" + ", ".join(f'"{name}"' for name in kept) + "]"

    rewritten = _ACCOUNTS_ARRAY.sub(rename, text)
    try:
        same = tomllib.loads(rewritten) == expected
    except tomllib.TOMLDecodeError:
        same = False
    out = dict(files)
    # A layout the rewrite cannot follow (an inline table, a string with a bracket) is
    # written out afresh: the same campaign, without its comments.
    out[CAMPAIGN_FILE] = (rewritten if same else tomli_w.dumps(expected)).encode("utf-8")
    return out


def _map_raw(raw: dict[str, Any], mapping: Mapping[str, str | None]) -> dict[str, Any]:
    info = raw.get("campaign", {})
    if "accounts" in info:
        info["accounts"] = _mapped(info["accounts"], mapping)
        if not info["accounts"]:
            raise CampaignError(
                f"{CAMPAIGN_FILE}, key campaign.accounts",
                "every account of the pack is left out: map at least one to an account "
                "of this force",
            )
    for kind in ("series", "occasions"):
        for index, entry in enumerate(raw.get(kind, []) or []):
            if entry.get("accounts"):
                entry["accounts"] = _mapped(entry["accounts"], mapping)
                if not entry["accounts"]:
                    raise CampaignError(
                        f"{CAMPAIGN_FILE}, key {kind}[{index}].accounts "
                        f"({entry.get('id', '?')})",
                        "every account of this entry is left out (it would then go to all "
                        "the campaign's accounts): map one of them to an account of this "
                        "force",
                    )
    return raw


def describe_mapping(mapping: Mapping[str, str | None]) -> str:
    """"gwent-x → dyfed-x, gwent-linkedin left out", for a revision's summary."""
    return ", ".join(
        f"{theirs} → {ours}" if ours is not None else f"{theirs} left out"
        for theirs, ours in mapping.items()
    )
