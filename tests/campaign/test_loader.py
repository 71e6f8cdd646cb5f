from pathlib import Path

import pytest

from campaign.expand import expand
from campaign.loader import load_campaign
from core.errors import CampaignError
from core.settings import Settings
from examples import EXAMPLE_CAMPAIGN as EXAMPLE
from tests.helpers import write_campaign


def test_example_campaign_loads_and_expands(settings: Settings) -> None:
    campaign = load_campaign(EXAMPLE)
    drafts = expand(campaign, settings)
    tips = {d.text for d in drafts if d.occasion.startswith("daily-tip") and d.language == "en"}
    assert len(tips) >= 14
    occasions = {d.occasion for d in drafts}
    assert "cea-day/2027-03-18" in occasions
    assert "safer-internet-day/2027-02-09" in occasions
    keys = [(d.occasion, d.account, d.language) for d in drafts]
    assert len(keys) == len(set(keys))
    assert {d.language for d in drafts} == {"en", "cy"}


def test_items_rotate_from_campaign_start(settings: Settings, tmp_path: Path) -> None:
    campaign = load_campaign(write_campaign(tmp_path / "c"))
    days = [d.text.splitlines()[0] for d in expand(campaign, settings)]
    assert days[:3] == [
        "Tip one: talk to your child.",
        "Tip two: check privacy settings.",
        "Tip one: talk to your child.",
    ]
    from datetime import date

    later = expand(campaign, settings, start=date(2027, 1, 5), end=date(2027, 1, 5))
    assert later[0].text.startswith("Tip two")


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (
            lambda t: t.replace('name = "test-campaign"', 'name = "test-campaign'),
            ["campaign.toml", "not valid TOML", "line"],
        ),
        (lambda t: t.replace('rule = "FREQ=DAILY"\n', ""), ["series[0].rule", "Field required"]),
        (
            lambda t: t.replace('["gwent-x"]', '["gwent-tiktok"]'),
            ["campaign.accounts", "unknown account 'gwent-tiktok'"],
        ),
        (lambda t: t.replace("FREQ=DAILY", "FREQ=SOMETIMES"), ["series[0].rule", "does not parse"]),
        (lambda t: t.replace("end = 2027-01-10", "end = 2026-01-10"), ["before start"]),
    ],
)
def test_bad_campaign_files_name_the_place(
    settings: Settings, tmp_path: Path, breakage, expected: list[str]
) -> None:
    folder = write_campaign(tmp_path / "c")
    toml = folder / "campaign.toml"
    toml.write_text(breakage(toml.read_text()))
    with pytest.raises(CampaignError) as err:
        expand(load_campaign(folder), settings)
    for part in expected:
        assert part in str(err.value)


def test_missing_key_names_its_line(tmp_path: Path) -> None:
    folder = write_campaign(tmp_path / "c")
    toml = folder / "campaign.toml"
    toml.write_text(toml.read_text().replace('template = "tip"\n', ""))
    with pytest.raises(CampaignError) as err:
        load_campaign(folder)
    line = next(
        n for n, text in enumerate(toml.read_text().splitlines(), 1) if "[[series]]" in text
    )
    assert f"line {line}" in str(err.value)


def test_image_checked_at_plan_time(settings: Settings, tmp_path: Path) -> None:
    folder = write_campaign(tmp_path / "c")
    toml = folder / "campaign.toml"
    (folder / "bad.png").write_text("not an image")
    toml.write_text(
        toml.read_text().replace(
            'tags = ["safeguarding"]',
            'tags = ["safeguarding"]\nimage = { path = "bad.png", alt = { en = "A banner" } }',
            1,
        )
    )
    with pytest.raises(CampaignError, match="not a PNG, JPEG or GIF"):
        load_campaign(folder)


def test_an_occasion_can_go_to_some_of_the_campaigns_accounts(tmp_path, settings) -> None:
    folder = write_campaign(tmp_path / "c", accounts='["gwent-x", "gwent-facebook"]')
    toml = folder / "campaign.toml"
    text = toml.read_text()
    daily = 'rule = "FREQ=DAILY"'
    toml.write_text(text.replace(daily, daily + '\naccounts = ["gwent-x"]', 1))
    drafts = expand(load_campaign(folder), settings)
    assert drafts and {d.account for d in drafts} == {"gwent-x"}
    toml.write_text(text.replace(daily, daily + '\naccounts = ["gwent-bluesky"]', 1))
    with pytest.raises(CampaignError, match=r"series\[0\]\.accounts.*'gwent-bluesky' is not one"):
        expand(load_campaign(folder), settings)
