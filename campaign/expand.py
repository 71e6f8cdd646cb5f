"""A loaded campaign to dated drafts: one per (occasion, account, language), rendered.

Pure: no database. ``posts.planning`` stores the drafts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime
from typing import Any

from core.errors import CampaignError
from core.settings import Settings

from .dates import RuleError, Slot, expand_rule_times, local_to_utc, yearly_dates
from .lint import LintConfig, Linter
from .loader import Campaign
from .model import Image, Item, Occasion, Series
from .render import Renderer


@dataclass(frozen=True)
class DraftMedia:
    path: str  # the image on this host (planning puts its bytes in the media library)
    alt_text: str
    sha256: str
    file: str = ""  # its path in the campaign folder ("images/tip.png")
    alts: tuple[tuple[str, str], ...] = ()  # (language, alt text) of every language


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
    """Every draft of the campaign between ``start`` and ``end`` (local dates, inclusive).

    Each distinct text is rendered once per slot and language (not once per account) and
    linted once per network (``Linter``): a year of a campaign is mostly the same few dozen
    texts on several accounts.
    """
    info = campaign.spec.campaign
    for name in info.accounts:
        if name not in settings.accounts:
            known = ", ".join(sorted(settings.accounts)) or "none"
            raise CampaignError(
                f"{campaign.file}, key campaign.accounts",
                f"unknown account {name!r} (accounts in the settings: {known})",
            )
    spoken = {lang for name in info.accounts for lang in settings.accounts[name].languages}
    for language in info.languages:
        # Welsh beside English is reported on each English post instead (the
        # welsh-counterpart finding, Welsh Language Standards); any other is refused here.
        counterpart = language == "cy" and "en" in info.languages
        if language not in spoken and not counterpart:
            raise CampaignError(
                f"{campaign.file}, key campaign.languages",
                f"no account of the campaign posts in {language!r} (give an account "
                f"languages = [..., {language!r}] in the settings, or remove it here)",
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
    planner = _Planner(campaign, settings)
    lo = max(start or info.start, info.start)
    hi = min(end or info.end, info.end)
    drafts: list[Draft] = []
    for entry, item, slot, key in _slots(campaign, lo, hi):
        drafts.extend(planner.drafts_for(entry, item, slot, key))
    drafts = _check_welsh_counterparts(drafts, info.languages)
    drafts.sort(key=lambda d: (d.due_at, d.account, d.language))
    return drafts


def _own_limit(settings: Settings, account: str, network: str) -> dict[str, int]:
    limit = settings.accounts[account].text_limit
    return {network: limit} if limit else {}


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
) -> Iterator[tuple[Series | Occasion, Item | None, Slot, str]]:
    """(entry, rotating item, slot, occasion key) of every post time between lo and hi."""
    info = campaign.spec.campaign
    for index, series in enumerate(campaign.spec.series):
        try:
            # Count occurrences from the campaign start so an item keeps its day
            # whatever range is planned.
            moments = expand_rule_times(
                series.rule, info.start, info.end, series.time, campaign.zone
            )
        except RuleError as exc:
            raise CampaignError(
                f"{campaign.file}, key series[{index}].rule ({series.id})",
                f"the date rule {series.rule!r} does not parse: {exc}",
            ) from None
        # A rule that fires more than once on a day (BYHOUR=9,19) gives each post its own
        # key, with the time; a once-a-day rule keeps the date alone (the keys of posts
        # already planned stay as they were).
        days = [moment.date() for moment in moments]
        several = len(set(days)) != len(days)
        for n, moment in enumerate(moments):
            day = moment.date()
            if lo <= day <= hi:
                item = series.items[n % len(series.items)] if series.items else None
                key = f"{series.id}/{day.isoformat()}"
                if several:
                    key += f"T{moment:%H:%M}"
                yield series, item, local_to_utc(day, moment.time(), campaign.zone), key
    for occasion in campaign.spec.occasions:
        if occasion.yearly:
            dates = list(yearly_dates(occasion.yearly, lo, hi))
        else:
            dates = [d for d in occasion.dates if lo <= d <= hi]
        for day in dates:
            slot = local_to_utc(day, occasion.time, campaign.zone)
            yield occasion, None, slot, f"{occasion.id}/{day.isoformat()}"


#: The optional template of a bilingual post's shared end (link and hashtags once):
#: ``templates/<name>.closing.j2``, rendered after both halves.
CLOSING = "closing"
#: What separates the halves (and the closing part) of a bilingual post.
SEPARATOR = "\n\n"
#: What joins the alt texts of a bilingual post's image, in the post's language order
#: ("Cymraeg / English"): a network takes one alt text per image.
ALT_SEPARATOR = " / "


class _Planner:
    """Renders and lints the drafts of one expansion, remembering what it has done."""

    def __init__(self, campaign: Campaign, settings: Settings) -> None:
        self.campaign = campaign
        self.settings = settings
        self.info = campaign.spec.campaign
        self.renderer = Renderer(campaign.folder)
        self.linter = Linter(LintConfig.from_mapping(campaign.spec.lint, where=str(campaign.file)))
        self._variables = {lang: campaign.variables(lang) for lang in self.info.languages}
        self._problems: dict[tuple[Any, ...], tuple[dict[str, str | None], ...]] = {}

    def template_file(self, name: str, part: str) -> str:
        return self.renderer.template_path(name, part)

    def _context(
        self, entry: Series | Occasion, item: Item | None, day: date, language: str
    ) -> dict[str, Any]:
        context = {
            **self._variables[language],
            "lang": language,
            "date": day,
            "campaign": self.info.title or self.info.name,
        }
        if item is not None:
            context["item"] = item.text(language)
        return context

    def drafts_for(
        self, entry: Series | Occasion, item: Item | None, slot: Slot, occasion_key: str
    ) -> Iterator[Draft]:
        info = self.info
        image = (item.image if item and item.image else None) or entry.image
        rendered: dict[Any, list[tuple[str, str]]] = {}

        def parts(languages: tuple[str, ...]) -> list[tuple[str, str]]:
            """(template file, text) of each part of the post in these languages."""
            if languages not in rendered:
                rendered[languages] = self._render(entry, item, slot.local_date, languages)
            return rendered[languages]

        for account_name in entry.accounts or info.accounts:
            account = self.settings.accounts[account_name]
            languages = [lang for lang in info.languages if lang in account.languages]
            if info.bilingual == "bilingual" and len(languages) > 1:
                ordered = tuple(
                    sorted(
                        languages,
                        key=lambda lang: (lang != "cy") if info.welsh_first else (lang == "cy"),
                    )
                )
                posts = [("+".join(ordered), parts(ordered), ordered)]
            else:
                posts = [(lang, parts((lang,)), (lang,)) for lang in languages]
            for language, pieces, alt_languages in posts:
                text = SEPARATOR.join(piece for _, piece in pieces)
                media = _media(self.campaign, image, alt_languages)
                problems = self._lint(
                    pieces, text, account.network, language, entry.tags, media, account_name
                )
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
                    media=media,
                    tags=tuple(entry.tags),
                    note=slot.note,
                    urgent=entry.urgent,
                    # The languages of one occasion on one network go out together or not
                    # at all (on one account or on separate accounts of that network).
                    pair_key=(
                        f"{info.name}:{occasion_key}:{account.network}"
                        if len(info.languages) > 1 and "+" not in language
                        else None
                    ),
                    stale_after_minutes=info.stale_after_minutes,
                    problems=problems,
                )

    def _render(
        self, entry: Series | Occasion, item: Item | None, day: date, languages: tuple[str, ...]
    ) -> list[tuple[str, str]]:
        """The parts of one post: a half per language and, for a bilingual post whose
        template has one, the shared closing part (link and hashtags once, at the end)."""
        bilingual = len(languages) > 1
        closing = bilingual and self.renderer.exists(entry.template, CLOSING)
        out = []
        for n, language in enumerate(languages):
            context = self._context(entry, item, day, language)
            # What a template needs to write its half well: whether it is one half of a
            # bilingual post, which one, and whether a closing part follows it.
            context.update(
                bilingual=bilingual,
                first=n == 0,
                last=n == len(languages) - 1,
                languages=list(languages),
                closing=closing,
            )
            text = self.renderer.render(entry.template, language, context)
            out.append((self.template_file(entry.template, language), text))
        if closing:
            context = {
                **self._context(entry, None, day, languages[0]),
                "lang": "+".join(languages),
                "languages": list(languages),
                "bilingual": True,
                # Each language's variables by its code: {{ cy.link }}, {{ en.hashtag }}.
                **{language: self._variables[language] for language in languages},
            }
            if item is not None:
                context["items"] = {language: item.text(language) for language in languages}
            text = self.renderer.render(entry.template, CLOSING, context)
            if text:
                out.append((self.template_file(entry.template, CLOSING), text))
        return out

    def _lint(
        self,
        pieces: list[tuple[str, str]],
        text: str,
        network: str,
        language: str,
        tags: list[str],
        media: tuple[DraftMedia, ...],
        account: str,
    ) -> tuple[dict[str, str | None], ...]:
        """The findings on the post as composed (one bilingual post is checked as the
        one post it is), each naming the template it comes from."""
        limits = _own_limit(self.settings, account, network)
        media_pairs = tuple((m.path, m.alt_text) for m in media)
        key = (text, network, tuple(tags), media_pairs, tuple(limits.items()), len(pieces))
        cached = self._problems.get(key)
        if cached is not None:
            return cached
        found = self.linter.lint(
            text,
            networks=[network],
            language=language,
            tags=tags,
            media=media_pairs,
            limits=limits,
        )
        every = " + ".join(path for path, _ in pieces)
        # Per part, what the part alone would show: a finding that only one part has comes
        # from that part's template; one about the whole post names every template.
        alone = (
            [
                (
                    path,
                    {
                        p.message
                        for p in self.linter.lint(piece, networks=[network], language=language)
                    },
                )
                for path, piece in pieces
            ]
            if len(pieces) > 1
            else []
        )
        problems = []
        for problem in found:
            template = every
            if alone:
                sources = [path for path, messages in alone if problem.message in messages]
                if len(sources) == 1:
                    template = sources[0]
            problems.append({**asdict(problem), "template": template})
        result = tuple(problems)
        self._problems[key] = result
        return result


def _media(
    campaign: Campaign, image: Image | None, languages: tuple[str, ...]
) -> tuple[DraftMedia, ...]:
    """The post's image with its alt text; a bilingual post's alt text is each language's,
    in the post's order, joined by " / " (the same text said twice is said once)."""
    if image is None:
        return ()
    checked = campaign.images[image.path]
    alts = list(dict.fromkeys(checked.alt[language] for language in languages))
    return (
        DraftMedia(
            str(checked.path),
            ALT_SEPARATOR.join(alts),
            checked.sha256,
            file=image.path,
            alts=tuple(sorted(checked.alt.items())),
        ),
    )
