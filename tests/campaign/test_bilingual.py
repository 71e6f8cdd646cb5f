"""The three bilingual models: separate posts (one account or separate accounts) and one
bilingual post, Welsh first by default; an overflowing bilingual post is reported, not cut."""

from pathlib import Path

from campaign.expand import expand
from campaign.loader import load_campaign
from tests.helpers import TIP_CY, TIP_EN, write_campaign


def _bilingual(folder: Path, welsh_first: bool = True, en: str = TIP_EN) -> Path:
    folder = write_campaign(folder, languages='["cy", "en"]', templates={
        "tip.en.j2": en, "tip.cy.j2": TIP_CY})
    toml = folder / "campaign.toml"
    toml.write_text(toml.read_text().replace(
        'languages = ["cy", "en"]',
        f'languages = ["cy", "en"]\nbilingual = "bilingual"\nwelsh_first = {str(welsh_first).lower()}'))
    return folder


def test_one_bilingual_post_welsh_first(settings, tmp_path: Path) -> None:
    drafts = expand(load_campaign(_bilingual(tmp_path / "c")), settings)
    first = drafts[0]
    assert first.language == "cy+en" and first.pair_key is None
    welsh, english = first.text.split("\n\n#StopioSiaradAmddiffyn\n\n")
    assert welsh.startswith("Awgrym un") and english.startswith("Tip one")
    assert len([d for d in drafts if d.local_date == first.local_date]) == 1  # one post


def test_english_first_when_configured(settings, tmp_path: Path) -> None:
    drafts = expand(load_campaign(_bilingual(tmp_path / "c", welsh_first=False)), settings)
    assert drafts[0].text.startswith("Tip one")


def test_overflowing_bilingual_post_is_reported_not_cut(settings, tmp_path: Path) -> None:
    long_en = "{{ item }} " + "Talk with your children about the apps they use every day. " * 4
    long_en += "\n\nCall 101, or 999 in an emergency."
    drafts = expand(load_campaign(_bilingual(tmp_path / "c", en=long_en)), settings)
    draft = drafts[0]
    length = [p for p in draft.problems if p["rule"] == "length"]
    assert length and "Too long for X" in length[0]["message"] and "of 280" in length[0]["message"]
    assert draft.text.endswith("Call 101, or 999 in an emergency.")  # nothing was cut


def test_separate_posts_are_paired_across_accounts(settings, tmp_path: Path) -> None:
    accounts = {
        "gwent-x": settings.accounts["gwent-x"].replace(languages=("en",)),
        "heddlu-x": settings.accounts["gwent-x"].replace(languages=("cy",), handle="@HeddluGwent"),
    }
    folder = write_campaign(tmp_path / "c", languages='["cy", "en"]',
                            accounts='["gwent-x", "heddlu-x"]')
    drafts = expand(load_campaign(folder), settings.replace(accounts=accounts))
    day = [d for d in drafts if d.local_date == drafts[0].local_date]
    assert {(d.account, d.language) for d in day} == {("gwent-x", "en"), ("heddlu-x", "cy")}
    assert day[0].pair_key == day[1].pair_key is not None
    assert day[0].due_at == day[1].due_at  # the same content at the same time
