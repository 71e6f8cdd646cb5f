"""The Welsh-first single bilingual post, made usable (issue 14): a shared closing part with
the link and hashtags once, variables telling a template which half it renders, lint of the
composed post (no false "hashtag in the middle" or "2 links"), the right template named in
every finding, and alt text in both languages."""

from __future__ import annotations

from pathlib import Path

from campaign.expand import ALT_SEPARATOR, expand
from campaign.loader import load_campaign
from core.settings import Settings
from tests.helpers import write_campaign

# One set of templates serves both models: with a closing part, the halves leave the link
# and the hashtags to it.
HALF_EN = (
    "{{ item }}\n\nWorried? Call 101, or 999 in an emergency."
    "{% if not closing %}\n\n{{ link }}\n\n{{ hashtag }}{% endif %}"
)
HALF_CY = (
    "{{ item }}\n\nYn poeni? Ffoniwch 101, neu 999 mewn argyfwng."
    "{% if not closing %}\n\n{{ link }}\n\n{{ hashtag }}{% endif %}"
)
CLOSING = "{{ cy.link }}\n\n{{ cy.hashtag }} {{ en.hashtag }}"
ALT = {
    "cy": "Baner yr ymgyrch: calon wen ar gefndir glas tywyll.",
    "en": "Campaign banner: a white heart on a dark blue background.",
}


def _campaign(folder: Path, closing: str | None = CLOSING, en: str = HALF_EN) -> Path:
    templates = {"tip.en.j2": en, "tip.cy.j2": HALF_CY}
    if closing is not None:
        templates["tip.closing.j2"] = closing
    folder = write_campaign(folder, languages='["cy", "en"]', templates=templates)
    toml = folder / "campaign.toml"
    text = toml.read_text()
    text = text.replace(
        'languages = ["cy", "en"]', 'languages = ["cy", "en"]\nbilingual = "bilingual"'
    )
    text = text.replace(
        'hashtag = "#StopTalkProtect"',
        'hashtag = "#StopTalkProtect"\nlink = "https://www.gwent.police.uk/advice/"',
    )
    text = text.replace(
        'hashtag = "#StopioSiaradAmddiffyn"',
        'hashtag = "#StopioSiaradAmddiffyn"\nlink = "https://www.gwent.police.uk/cy/cyngor/"',
    )
    alt = ", ".join(f'{lang} = "{words}"' for lang, words in ALT.items())
    text = text.replace(
        'tags = ["safeguarding"]',
        f'tags = ["safeguarding"]\nimage = {{ path = "banner.png", alt = {{ {alt} }} }}',
    )
    toml.write_text(text)
    (folder / "banner.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    return folder


def test_the_closing_part_comes_once_after_both_halves(settings: Settings, tmp_path: Path) -> None:
    draft = expand(load_campaign(_campaign(tmp_path / "c")), settings)[0]
    assert draft.language == "cy+en"
    blocks = draft.text.split("\n\n")
    assert blocks[0].startswith("Awgrym un") and blocks[2].startswith("Tip one")
    assert blocks[4:] == [
        "https://www.gwent.police.uk/cy/cyngor/",
        "#StopioSiaradAmddiffyn #StopTalkProtect",
    ]
    assert draft.text.count("https://") == 1


def test_the_composed_post_is_linted_without_false_findings(
    settings: Settings, tmp_path: Path
) -> None:
    drafts = expand(load_campaign(_campaign(tmp_path / "c")), settings)
    assert drafts and all(d.problems == () for d in drafts), drafts[0].problems


def test_without_a_closing_part_the_composed_post_shows_its_real_problems(
    settings: Settings, tmp_path: Path
) -> None:
    draft = expand(load_campaign(_campaign(tmp_path / "c", closing=None)), settings)[0]
    rules = {p["rule"]: p for p in draft.problems}
    # Two links and a hashtag in the middle: true of this post, and named on both halves.
    assert "links" in rules and "hashtags" in rules
    assert rules["links"]["template"] == "templates/tip.cy.j2 + templates/tip.en.j2"


def test_a_finding_in_the_english_half_names_the_english_template(
    settings: Settings, tmp_path: Path
) -> None:
    en = HALF_EN.replace("Worried?", "𝐖𝐨𝐫𝐫𝐢𝐞𝐝?")
    draft = expand(load_campaign(_campaign(tmp_path / "c", en=en)), settings)[0]
    fake = [p for p in draft.problems if p["rule"] == "fake-letters"]
    assert fake and fake[0]["template"] == "templates/tip.en.j2"


def test_a_finding_about_the_whole_post_names_every_template(
    settings: Settings, tmp_path: Path
) -> None:
    en = "{{ item }} " + "Talk with your children about the apps they use. " * 4 + HALF_EN
    draft = expand(load_campaign(_campaign(tmp_path / "c", en=en)), settings)[0]
    length = [p for p in draft.problems if p["rule"] == "length"]
    assert length[0]["template"] == (
        "templates/tip.cy.j2 + templates/tip.en.j2 + templates/tip.closing.j2"
    )


def test_a_separate_post_names_its_own_template(settings: Settings, tmp_path: Path) -> None:
    folder = write_campaign(tmp_path / "c", languages='["cy", "en"]')
    (folder / "templates" / "tip.en.j2").write_text("{{ item }} 𝐇𝐞𝐥𝐩. Call 101, or 999.")
    drafts = expand(load_campaign(folder), settings)
    english = next(d for d in drafts if d.language == "en")
    assert {p["template"] for p in english.problems} == {"templates/tip.en.j2"}


def test_alt_text_in_both_languages_welsh_first(settings: Settings, tmp_path: Path) -> None:
    draft = expand(load_campaign(_campaign(tmp_path / "c")), settings)[0]
    assert draft.media[0].alt_text == ALT["cy"] + ALT_SEPARATOR + ALT["en"]


def test_separate_posts_keep_their_own_alt_text(settings: Settings, tmp_path: Path) -> None:
    folder = _campaign(tmp_path / "c")
    toml = folder / "campaign.toml"
    toml.write_text(toml.read_text().replace('bilingual = "bilingual"', ""))
    drafts = expand(load_campaign(folder), settings)
    alts = {d.language: d.media[0].alt_text for d in drafts[:2]}
    assert alts == ALT


def test_templates_know_which_half_they_render(settings: Settings, tmp_path: Path) -> None:
    en = "{{ item }} ({{ 'first' if first else 'second' }} of {{ languages|join('+') }}). 101, 999."
    folder = _campaign(tmp_path / "c", en=en)
    draft = expand(load_campaign(folder), settings)[0]
    assert "(second of cy+en)" in draft.text


def test_publisher_lint_names_the_english_template(settings: Settings, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from publisher import cli

    en = HALF_EN.replace("Worried?", "𝐖𝐨𝐫𝐫𝐢𝐞𝐝?")
    folder = _campaign(tmp_path / "c", en=en)
    result = CliRunner().invoke(
        cli, ["--config", str(settings.config_path), "lint", str(folder)], env={}
    )
    lines = [line for line in result.output.splitlines() if "[fake-letters]" in line]
    assert lines and all(line.startswith(f"{folder}/templates/tip.en.j2 (") for line in lines)


def test_an_alt_text_too_long_for_the_network_is_found(settings: Settings, tmp_path: Path) -> None:
    folder = _campaign(tmp_path / "c")
    toml = folder / "campaign.toml"
    toml.write_text(toml.read_text().replace(ALT["en"], ALT["en"] + " More." * 160))
    draft = expand(load_campaign(folder), settings)[0]
    images = [p for p in draft.problems if p["rule"] == "images"]
    assert images and "X takes at most 1000" in images[0]["message"]


def test_the_example_as_one_welsh_first_post_has_only_real_findings(
    settings: Settings, tmp_path: Path
) -> None:
    import shutil

    from examples import EXAMPLE_CAMPAIGN

    folder = tmp_path / "example"
    shutil.copytree(EXAMPLE_CAMPAIGN, folder)
    toml = folder / "campaign.toml"
    toml.write_text(
        toml.read_text().replace(
            'languages = ["cy", "en"]', 'languages = ["cy", "en"]\nbilingual = "bilingual"', 1
        )
    )
    drafts = expand(load_campaign(folder), settings)
    assert drafts and {d.language for d in drafts} == {"cy+en"}
    assert all(d.text.count("https://") == 1 for d in drafts)
    found = {(p["rule"], p["network"]) for d in drafts for p in d.problems}
    # Both languages do not fit X's 280 or Bluesky's 300: true, and the only findings.
    assert found == {("length", "x"), ("length", "bluesky")}
