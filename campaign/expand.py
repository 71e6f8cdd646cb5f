"""A loaded campaign to dated drafts: one per (occasion, account, language), rendered.

Pure: no database. ``posts.planning`` stores the drafts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime

from core.errors import CampaignError
from core.settings import Settings

from .dates import Slot, expand_rule, local_to_utc, yearly_dates
from .lint import LintConfig, lint_text
from .loader import Campaign
from .model import Image, Item, Occasion, Series
from .render import Renderer


@dataclass(frozen=True)
class DraftMedia:
    path: str
    alt_text: str
    sha256: str


@dataclass(frozen=True)
class Draft:
    campaign: str
    occasion: str  # e.g. "daily-tip/2027-01-04": with account and language, the natural key
    title: str
    template: str
    account: str
    network: str
    language: str
    local_date: date
    due_at: datetime  # aware UTC
    text: str
    media: tuple[DraftMedia, ...] = ()
    tags: tuple[str, ...] = ()
    note: str | None = None
    pair_key: str | None = None
    urgent: bool = False
    stale_after_minutes: float | None = None
    problems: tuple[dict[str, str | None], ...] = ()


def expand(
    campaign: Campaign, settings: Settings, start: date | None = None, end: date | None = None
) -> list[Draft]:
    """Every draft of the campaign between ``start`` and ``end`` (local dates, inclusive)."""
    info = campaign.spec.campaign
    for name in info.accounts:
        if name not in settings.accounts:
            known = ", ".join(sorted(settings.accounts)) or "none"
            raise CampaignError(
                f"{campaign.file}, key campaign.accounts",
                f"unknown account {name!r} (accounts in the settings: {known})",
            )
    for kind, entries in (("series", campaign.spec.series), ("occasions", campaign.spec.occasions)):
        for index, entry in enumerate(entries):
            for name in entry.accounts:
                if name not in info.accounts:
                    raise CampaignError(
                        f"{campaign.file}, key {kind}[{index}].accounts ({entry.id})",
                        f"{name!r} is not one of the campaign's accounts "
                        f"({', '.join(info.accounts)})",
                    )
    renderer = Renderer(campaign.folder)
    rules = LintConfig.from_mapping(campaign.spec.lint, where=str(campaign.file))
    lo = max(start or info.start, info.start)
    hi = min(end or info.end, info.end)
    drafts: list[Draft] = []
    for entry, item, slot in _slots(campaign, lo, hi):
        for draft in _drafts_for(campaign, settings, renderer, entry, item, slot):
            found = lint_text(
                draft.text,
                networks=[draft.network],
                language=draft.language,
                tags=draft.tags,
                media=[(m.path, m.alt_text) for m in draft.media],
                config=rules,
                # The account's own limit (a Mastodon instance's), where it has one.
                limits=_own_limit(settings, draft),
            )
            drafts.append(replace(draft, problems=tuple(asdict(p) for p in found)))
    drafts = _check_welsh_counterparts(drafts, info.languages)
    drafts.sort(key=lambda d: (d.due_at, d.account, d.language))
    return drafts


def _own_limit(settings: Settings, draft: Draft) -> dict[str, int]:
    limit = settings.accounts[draft.account].text_limit
    return {draft.network: limit} if limit else {}


def _check_welsh_counterparts(drafts: list[Draft], languages: list[str]) -> list[Draft]:
    """Welsh must not be treated less favourably: where the campaign is in Welsh and
    English, an English post on a network needs its Welsh counterpart on that network."""
    if not {"cy", "en"} <= set(languages):
        return drafts
    present: dict[tuple[str, str], set[str]] = {}
    for d in drafts:
        present.setdefault((d.occasion, d.network), set()).update(d.language.split("+"))
    problem = {
        "rule": "welsh-counterpart",
        "level": "error",
        "network": None,
        "message": "No Welsh version of this post on this network: give an account for this "
        "network the language 'cy' (Welsh Language Standards).",
    }
    return [
        replace(d, problems=(*d.problems, problem))
        if d.language == "en" and "cy" not in present[(d.occasion, d.network)]
        else d
        for d in drafts
    ]


def _slots(
    campaign: Campaign, lo: date, hi: date
) -> Iterator[tuple[Series | Occasion, Item | None, Slot]]:
    info = campaign.spec.campaign
    for index, series in enumerate(campaign.spec.series):
        try:
            # Count occurrences from the campaign start so an item keeps its day
            # whatever range is planned.
            days = expand_rule(series.rule, info.start, info.end, series.time)
        except (ValueError, TypeError) as exc:
            raise CampaignError(
                f"{campaign.file}, key series[{index}].rule",
                f"the date rule {series.rule!r} does not parse: {exc}",
            ) from None
        for n, day in enumerate(days):
            if lo <= day <= hi:
                item = series.items[n % len(series.items)] if series.items else None
                yield series, item, local_to_utc(day, series.time, campaign.zone)
    for occasion in campaign.spec.occasions:
        if occasion.yearly:
            days = list(yearly_dates(occasion.yearly, lo, hi))
        else:
            days = [d for d in occasion.dates if lo <= d <= hi]
        for day in days:
            yield occasion, None, local_to_utc(day, occasion.time, campaign.zone)


def _drafts_for(
    campaign: Campaign,
    settings: Settings,
    renderer: Renderer,
    entry: Series | Occasion,
    item: Item | None,
    slot: Slot,
) -> Iterator[Draft]:
    info = campaign.spec.campaign
    occasion_key = f"{entry.id}/{slot.local_date.isoformat()}"
    image = (item.image if item and item.image else None) or entry.image

    def render(language: str) -> str:
        context = {
            **campaign.variables(language),
            "lang": language,
            "date": slot.local_date,
            "campaign": info.title or info.name,
        }
        if item is not None:
            context["item"] = item.text(language)
        return renderer.render(entry.template, language, context)

    for account_name in entry.accounts or info.accounts:
        account = settings.accounts[account_name]
        languages = [lang for lang in info.languages if lang in account.languages]
        if info.bilingual == "bilingual" and len(languages) > 1:
            ordered = sorted(
                languages, key=lambda lang: (lang != "cy") if info.welsh_first else (lang == "cy")
            )
            texts = [render(lang) for lang in ordered]
            posts = [("+".join(ordered), "\n\n".join(texts), ordered[0])]
        else:
            posts = [(lang, render(lang), lang) for lang in languages]
        for language, text, alt_language in posts:
            yield Draft(
                campaign=info.name,
                occasion=occasion_key,
                title=entry.title or entry.id,
                template=entry.template,
                account=account_name,
                network=account.network,
                language=language,
                local_date=slot.local_date,
                due_at=slot.due_at,
                text=text,
                media=_media(campaign, image, alt_language),
                tags=tuple(entry.tags),
                note=slot.note,
                urgent=entry.urgent,
                # The languages of one occasion on one network go out together or not at all.
                # (on one account or on separate accounts of that network).
                pair_key=(
                    f"{info.name}:{occasion_key}:{account.network}"
                    if len(info.languages) > 1 and "+" not in language
                    else None
                ),
                stale_after_minutes=info.stale_after_minutes,
            )


def _media(campaign: Campaign, image: Image | None, language: str) -> tuple[DraftMedia, ...]:
    if image is None:
        return ()
    checked = campaign.images[image.path]
    return (DraftMedia(str(checked.path), checked.alt[language], checked.sha256),)
