"""What a campaign file may say, validated. See ``examples/stop-talk-protect/campaign.toml``."""

from __future__ import annotations

from datetime import date, time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# ISO 639-1: a language a campaign may be written in. A typo ("cym", "EN") is refused by
# name rather than silently matching no account.
_ISO_639_1 = """aa ab ae af ak am an ar as av ay az ba be bg bi bm bn bo br bs ca ce ch co cr cs cu cv
    cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr
    ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw
    ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv
    ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr
    ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi
    yo za zh zu"""
KNOWN_LANGUAGES = frozenset(_ISO_639_1.split())


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Image(_Strict):
    path: str = Field(min_length=1)  # relative to the campaign folder
    alt: dict[str, str]  # language -> alt text; required in every language of the campaign


class CampaignInfo(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str = ""
    timezone: str = "Europe/London"
    start: date
    end: date
    accounts: list[str] = Field(min_length=1)
    languages: list[str] = Field(min_length=1)
    stale_after_minutes: float | None = Field(None, gt=0)
    # Bilingual model: "separate" posts per language (default) or one "bilingual" post.
    bilingual: Literal["separate", "bilingual"] = "separate"
    welsh_first: bool = True

    @field_validator("languages")
    @classmethod
    def _known_languages(cls, value: list[str]) -> list[str]:
        for language in value:
            if language not in KNOWN_LANGUAGES:
                raise ValueError(
                    f"unknown language {language!r}: give a two-letter ISO 639-1 code in "
                    "lower case, such as 'cy' or 'en'"
                )
        if len(set(value)) != len(value):
            raise ValueError("a language is listed twice")
        return value

    @model_validator(mode="after")
    def _order(self) -> CampaignInfo:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class Item(BaseModel):
    """One rotating item of a series: text per language, optionally an image."""

    model_config = ConfigDict(frozen=True, extra="allow")
    image: Image | None = None

    def text(self, language: str) -> str:
        value = (self.model_extra or {}).get(language)
        if not isinstance(value, str):
            raise KeyError(language)
        return value


class _Scheduled(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str = ""
    time: time
    template: str = Field(min_length=1)
    tags: list[str] = []
    image: Image | None = None
    urgent: bool = False
    # Only these of the campaign's accounts (e.g. Instagram only where there is an image);
    # empty: every account of the campaign.
    accounts: list[str] = []

    @field_validator("time", mode="before")
    @classmethod
    def _hhmm(cls, value: Any) -> Any:
        if isinstance(value, str) and len(value) == 5:
            return value + ":00"
        return value


class Series(_Scheduled):
    rule: str = Field(min_length=1)
    items: list[Item] = []


class Occasion(_Scheduled):
    yearly: str | None = Field(None, pattern=r"^\d\d-\d\d$")
    dates: list[date] = []

    @field_validator("yearly")
    @classmethod
    def _real_day(cls, value: str | None) -> str | None:
        if value is not None:
            month, day = (int(part) for part in value.split("-"))
            try:
                date(2028, month, day)  # a leap year: 02-29 is a real day (leap years only)
            except ValueError:
                raise ValueError(f"{value} is not a day of the year (MM-DD)") from None
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> Occasion:
        if bool(self.yearly) == bool(self.dates):
            raise ValueError('give either yearly = "MM-DD" or dates = [...], not both or neither')
        return self


class CampaignFile(_Strict):
    campaign: CampaignInfo
    vars: dict[str, Any] = {}
    series: list[Series] = []
    occasions: list[Occasion] = []
    lint: dict[str, Any] = {}
