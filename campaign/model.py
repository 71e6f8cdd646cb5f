"""What a campaign file may say, validated. See ``examples/stop-talk-protect/campaign.toml``."""

from __future__ import annotations

from datetime import date, time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


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
    bilingual: str = "separate"
    welsh_first: bool = True

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
