"""Content lint: every rule passes and fails in English and in Welsh, config, and measure()."""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from campaign.lint import (
    RULES,
    LintConfig,
    Problem,
    has_errors,
    lint_text,
)
from channels.networks import NETWORKS, measure
from core.errors import CampaignError

ALL_NETWORKS = ("x", "bluesky", "mastodon", "facebook")
FAMILY = "👨\u200d👩\u200d👧\u200d👦"  # one ZWJ sequence: 7 code points, 1 grapheme

# Clean posts: every rule passes, on every network.
EN_OK = (
    "Talk to your children about their life online. Every child deserves a safe home. "
    "More information: gwent.police.uk #StopTalkProtect #OnlineSafety"
)
CY_OK = (
    "Siaradwch â'ch plant am eu bywyd ar-lein. Mae pob ŵyr ac wyres yn haeddu tŷ diogel. "
    "Rhagor o wybodaeth: heddlu-gwent.police.uk #StopTalkProtect #Diogelwch"
)
EN_SAFEGUARDING = (
    "If a child is in immediate danger, call 999. Otherwise call 101 or report online. "
    "#StopTalkProtect"
)
CY_SAFEGUARDING = (
    "Os yw plentyn mewn perygl uniongyrchol, ffoniwch 999. Fel arall, ewch â'r pryder at "
    "ceop.police.uk. Mae ŵyr a wyres yn y tŷ yn haeddu hynny. #Diogelwch"
)


def lint(text: str, language: str = "en", **kwargs: Any) -> list[Problem]:
    kwargs.setdefault("networks", ALL_NETWORKS)
    return lint_text(text, language=language, **kwargs)


def of(problems: list[Problem], rule: str) -> list[Problem]:
    return [p for p in problems if p.rule == rule]


def messages(problems: list[Problem], rule: str) -> list[str]:
    return [p.message for p in of(problems, rule)]


# --- clean posts --------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "language"), [(EN_OK, "en"), (CY_OK, "cy")])
def test_clean_post_has_no_problems(text: str, language: str) -> None:
    media = [("sgwrs.jpg", "Rhiant a phlentyn yn siarad am ffôn wrth fwrdd y gegin.")]
    assert lint(text, language, media=media) == []


@pytest.mark.parametrize(("text", "language"), [(EN_SAFEGUARDING, "en"), (CY_SAFEGUARDING, "cy")])
def test_clean_safeguarding_post_has_no_problems(text: str, language: str) -> None:
    assert lint(text, language, tags=["safeguarding"]) == []


def test_welsh_is_linted_exactly_as_english() -> None:
    # The language tag changes nothing: same text, same problems.
    text = "Mae ŵyr yn y tŷ â ffôn 📱📱 #diogelwch ar-lein"
    assert lint(text, "cy") == lint(text, "en")
    assert lint(text, "cy") != []


# --- length -------------------------------------------------------------------------------


def _welsh_text(length: int) -> str:
    # Plain Welsh (no links, no emoji): X weighs each letter 1, so the weighted length is len().
    sentence = "Mae'r ŵyr yn y tŷ â'r ffôn. "
    text = (sentence * (length // len(sentence) + 1))[:length]
    assert len(text) == length
    return text


def _english_text(length: int) -> str:
    sentence = "Talk to your child about apps. "
    return (sentence * (length // len(sentence) + 1))[:length]


@pytest.mark.parametrize("make", [_english_text, _welsh_text])
def test_length_at_limit_passes_and_one_over_fails_on_x(make: Any) -> None:
    assert of(lint(make(280), networks=["x"]), "length") == []
    problems = of(lint(make(281), networks=["x"]), "length")
    assert [(p.level, p.network, p.message) for p in problems] == [
        ("error", "x", "Too long for X: 281 of 280.")
    ]


def test_length_welsh_decomposed_circumflex_counts_as_one_letter() -> None:
    decomposed = unicodedata.normalize("NFD", _welsh_text(280))
    assert len(decomposed) > 280  # w + U+0302 etc.
    assert of(lint(decomposed), "length") == []
    assert measure(decomposed, "x")[0] == 280
    assert measure(decomposed, "bluesky")[0] == 280


def test_bilingual_post_over_x_limit_reports_both_numbers_and_keeps_text() -> None:
    welsh = (
        "Siaradwch â'ch plant am eu bywyd ar-lein heddiw. Mae pob ŵyr ac wyres yn haeddu tŷ "
        "diogel, a gallwch chi helpu drwy ofyn pa apiau maen nhw'n eu defnyddio."
    )
    english = (
        "Talk to your children about their life online today. Every grandchild deserves a "
        "safe home, and you can help by asking which apps they use."
    )
    link = "https://www.gwent.police.uk/cy/diogelwch-ar-lein/siarad-a-phlant"
    text = f"{welsh}\n\n{english}\n\n{link}"
    before = str(text)
    expected = len(text) - len(link) + 23  # Welsh letters weigh 1, the link 23

    problems = lint(text, "cy+en", networks=["x", "bluesky"])

    assert expected > 280
    length = of(problems, "length")
    assert [(p.network, p.level, p.message) for p in length] == [
        ("x", "error", f"Too long for X: {expected} of 280 (links count 23)."),
        # Bluesky counts the link letter by letter.
        ("bluesky", "error", f"Too long for Bluesky: {len(text)} of 300."),
    ]
    assert text == before  # never truncated or rewritten


def test_length_bluesky_counts_graphemes_and_mastodon_links() -> None:
    family_post = "Stay safe " + FAMILY * 290  # 300 graphemes, 300 + 6 * 290 code points
    assert of(lint(family_post, networks=["bluesky"]), "length") == []
    over = of(lint(family_post + "!", networks=["bluesky"]), "length")
    assert [p.message for p in over] == ["Too long for Bluesky: 301 of 300."]

    mastodon = "a" * 478 + " https://www.gwent.police.uk/" + "x" * 200
    assert measure(mastodon, "mastodon") == (478 + 1 + 23, 500)
    problems = of(lint(mastodon, networks=["mastodon"]), "length")
    assert [p.message for p in problems] == ["Too long for Mastodon: 502 of 500 (links count 23)."]


def test_length_mastodon_instance_limit_override() -> None:
    text = "Siaradwch â'ch plant, ŵyr a wyres yn y tŷ. " * 13  # 559 characters
    assert len(text) == 559
    assert messages(lint(text, networks=["mastodon"]), "length") == [
        "Too long for Mastodon: 559 of 500."
    ]
    assert of(lint(text, networks=["mastodon"], limits={"mastodon": 1000}), "length") == []


def test_length_unknown_network_is_refused() -> None:
    with pytest.raises(ValueError, match="twitter"):
        lint(EN_OK, networks=["twitter"])


# --- alt-text -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "media",
    [
        [("stop-talk-protect.jpg", "A parent and a teenager talking about a phone at home.")],
        [("sgwrs.png", "Mae ŵyr a'i nain yn siarad am apiau yn y tŷ â gwên.")],
    ],
)
def test_alt_text_passes(media: list[tuple[str, str]]) -> None:
    assert of(lint(EN_OK, media=media), "alt-text") == []


@pytest.mark.parametrize(
    ("media", "expected"),
    [
        ([("a.jpg", "   ")], "Image a.jpg has no alt text: describe what it shows."),
        (
            [("images/stop-talk-protect.jpg", "Stop talk protect")],
            'Image stop-talk-protect.jpg has alt text "Stop talk protect", which does not '
            "describe it.",
        ),
        (
            [("poster.png", "Photo")],
            'Image poster.png has alt text "Photo", which does not describe it.',
        ),
        (
            [("a.jpg", "Two people")],
            "Image a.jpg has alt text of 10 characters; describe it in at least 20.",
        ),
        # Welsh: "llun" means picture; "Tŷ â ŵyr" is 8 letters and spaces.
        ([("tŷ.jpg", "Llun")], 'Image tŷ.jpg has alt text "Llun", which does not describe it.'),
        (
            [("b.jpg", "Tŷ â ŵyr")],
            "Image b.jpg has alt text of 8 characters; describe it in at least 20.",
        ),
        (
            [("c.jpg", unicodedata.normalize("NFD", "Tŷ â ŵyr"))],
            "Image c.jpg has alt text of 8 characters; describe it in at least 20.",
        ),
    ],
)
def test_alt_text_fails(media: list[tuple[str, str]], expected: str) -> None:
    problems = of(lint(EN_OK, media=media), "alt-text")
    assert [(p.level, p.message) for p in problems] == [("error", expected)]


def test_alt_text_minimum_is_configurable() -> None:
    media = [("a.jpg", "Two people")]
    assert of(lint(EN_OK, media=media, config=LintConfig(min_alt_text=10)), "alt-text") == []


# --- hashtags -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Talk to your child today. #StopTalkProtect #CEADay27",
        "Siaradwch â'ch plentyn heddiw, ŵyr a wyres. #GŵylDdiogelwch #Diogelwch",
        "Read more at https://www.gwent.police.uk/advice#section-2 #StopTalkProtect",
        "Call 999, not #1 or #999: those are not hashtags.",
    ],
)
def test_hashtags_pass(text: str) -> None:
    assert of(lint(text), "hashtags") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Talk to your child today. #StopTalkProtect #CEADay27 #HelpingHands",
            ["3 hashtags; use 2 or fewer."],
        ),
        (
            "Talk to your child today. #stoptalkprotect",
            [
                "Hashtag #stoptalkprotect is not in CamelCase: start each word with a capital, "
                "e.g. #StopTalkProtect, so screen readers read it."
            ],
        ),
        (
            "Join #StopTalkProtect today and talk to your child.",
            ["Hashtag #StopTalkProtect is in the middle of the text; put hashtags at the end."],
        ),
        (
            "Siaradwch â'ch plentyn. #gŵylddiogelwch",
            [
                "Hashtag #gŵylddiogelwch is not in CamelCase: start each word with a capital, "
                "e.g. #StopTalkProtect, so screen readers read it."
            ],
        ),
        (
            "Mae #Diogelwch yn bwysig i bob ŵyr yn y tŷ.",
            ["Hashtag #Diogelwch is in the middle of the text; put hashtags at the end."],
        ),
        (
            "#Diogelwch #Ŵyrion #TŷDiogel Siaradwch â nhw.",
            [
                "3 hashtags; use 2 or fewer.",
                "Hashtag #Diogelwch is in the middle of the text; put hashtags at the end.",
                "Hashtag #Ŵyrion is in the middle of the text; put hashtags at the end.",
                "Hashtag #TŷDiogel is in the middle of the text; put hashtags at the end.",
            ],
        ),
    ],
)
def test_hashtags_fail(text: str, expected: list[str]) -> None:
    problems = of(lint(text), "hashtags")
    assert {p.level for p in problems} == {"error"}
    assert [p.message for p in problems] == expected


def test_hashtag_limit_is_configurable() -> None:
    text = "Talk to your child today. #StopTalkProtect #CEADay27 #HelpingHands"
    assert of(lint(text, config=LintConfig(max_hashtags=3)), "hashtags") == []


# --- emoji --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Talk to your child today 💬 about apps 📱 and games 🎮",
        # A ZWJ family, a flag and a keycap are one emoji each: three in all.
        f"Siaradwch â'ch teulu {FAMILY}, ŵyr a wyres yn y tŷ 🏴\U000e0067\U000e0062\U000e0077"
        "\U000e006c\U000e0073\U000e007f ffoniwch 1️⃣",
        "Typography is not emoji: © Gwent Police ™ 2025 ↔ Newport",
    ],
)
def test_emoji_pass(text: str) -> None:
    assert of(lint(text), "emoji") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Talk 💬 to your child 📱 about games 🎮 today 👍", ["4 emoji; use 3 or fewer."]),
        (
            "Talk to your child 👍 today 👍🏽",
            ["Emoji 👍 is used 2 times; use each emoji once."],
        ),
        (
            "Talk to your child today.\n⚠️ Watch out for scams.",
            [
                "Line 2 starts with an emoji (⚠️); start with words, since screen readers read "
                "the emoji's name first."
            ],
        ),
        (
            f"Siaradwch â'ch teulu {FAMILY} ŵyr 🇬🇧 tŷ 📱 heddiw 🎮",
            ["4 emoji; use 3 or fewer."],
        ),
        (
            "  ❤️ Mae pob ŵyr yn y tŷ â ❤️",
            [
                "Emoji ❤️ is used 2 times; use each emoji once.",
                "Line 1 starts with an emoji (❤️); start with words, since screen readers read "
                "the emoji's name first.",
            ],
        ),
    ],
)
def test_emoji_fail(text: str, expected: list[str]) -> None:
    problems = of(lint(text), "emoji")
    assert {p.level for p in problems} == {"warning"}
    assert [p.message for p in problems] == expected


# --- fake-letters -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Stop, talk, protect. Café naïve ² ™ ½ ª",
        "Ŵ ŵ Ŷ ŷ Â â Ê ê Î î Ô ô Û û Ï ï Ẁ ẁ Ẃ ẃ Ẅ ẅ Ỳ ỳ Ý ý Ÿ ÿ á é í ó ú à è ì ò ù ë ö ü",
        unicodedata.normalize("NFD", "Mae ŵyr yn y tŷ â'r ffôn."),
    ],
)
def test_fake_letters_pass(text: str) -> None:
    assert of(lint(text), "fake-letters") == []


@pytest.mark.parametrize(
    ("text", "sample"),
    [
        ("𝐒𝐭𝐨𝐩 talking to strangers", "𝐒𝐭𝐨𝐩"),  # mathematical bold
        ("𝘚𝘵𝘰𝘱 now", "𝘚𝘵𝘰𝘱"),  # mathematical sans-serif italic
        ("Ｓｔｏｐ ｐｏｐ now", "Ｓｔｏｐ"),  # fullwidth, each listed once
        ("Ⓢⓣⓞⓟ now", "Ⓢⓣⓞⓟ"),  # circled
        ("ꜱᴛᴏᴘ now", "ꜱᴛᴏᴘ"),  # small capitals
        ("𝐃𝐢𝐨𝐠𝐞𝐥𝐰𝐜𝐡 i bob ŵyr yn y tŷ â ffôn", "𝐃𝐢𝐨𝐠𝐞"),  # Welsh in bold, first five shown
        ("Mae 𝓌𝓎𝓇 yn y tŷ â ffôn", "𝓌𝓎𝓇"),  # script
    ],
)
def test_fake_letters_fail(text: str, sample: str) -> None:
    problems = of(lint(text), "fake-letters")
    assert [(p.level, p.message) for p in problems] == [
        (
            "error",
            f"Styled letters ({sample}) are not real letters: screen readers skip or spell them "
            "out, so use plain text.",
        )
    ]


# --- shortener ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Read more: https://www.gwent.police.uk/stop-talk-protect",
        "Darllenwch fwy am ŵyr yn y tŷ â ffôn: gwent.police.uk/cy/diogelwch",
        "Contact bitly.example.org.uk and not.tco.uk",
    ],
)
def test_shortener_pass(text: str) -> None:
    assert of(lint(text), "shortener") == []


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("Read more: bit.ly/3xYzAb", "bit.ly/3xYzAb"),
        ("Read more: https://t.co/AbCd123", "https://t.co/AbCd123"),
        ("Read more: https://www.tinyurl.com/stp", "https://www.tinyurl.com/stp"),
        ("Darllenwch am ŵyr yn y tŷ â ffôn: ow.ly/Diogelwch", "ow.ly/Diogelwch"),
        ("Mwy: https://buff.ly/3Wyr", "https://buff.ly/3Wyr"),
    ],
)
def test_shortener_fail(text: str, url: str) -> None:
    problems = of(lint(text), "shortener")
    assert [(p.level, p.message) for p in problems] == [
        ("error", f"{url} is a shortened link; use the full link so people can see where it goes.")
    ]


# --- links --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Report at https://www.ceop.police.uk/safety-centre/ today.",
        "Email help@nspcc.org.uk or visit gwent.police.uk",  # an email address is not a link
        "Mae ŵyr yn y tŷ â ffôn: ewch i heddlu-gwent.police.uk",
    ],
)
def test_links_pass(text: str) -> None:
    assert of(lint(text), "links") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Visit gwent.police.uk or https://www.nspcc.org.uk/keeping-children-safe",
            "2 links (gwent.police.uk, https://www.nspcc.org.uk/keeping-children-safe); "
            "use 1 or fewer for one clear call to action.",
        ),
        (
            "Mae ŵyr yn y tŷ â ffôn: heddlu-gwent.police.uk, ceop.police.uk a childline.org.uk",
            "3 links (heddlu-gwent.police.uk, ceop.police.uk, childline.org.uk); "
            "use 1 or fewer for one clear call to action.",
        ),
    ],
)
def test_links_fail(text: str, expected: str) -> None:
    problems = of(lint(text), "links")
    assert [(p.level, p.message) for p in problems] == [("error", expected)]
    assert of(lint(text, config=LintConfig(max_links=3)), "links") == []


# --- sentence-length ----------------------------------------------------------------------

EN_SENTENCE = "Talk to your child about the apps and games they use and the people they meet"
CY_SENTENCE = "Siaradwch â'ch plentyn am yr apiau a'r gemau mae ŵyr yn eu defnyddio yn y tŷ"
EN_WORDS = EN_SENTENCE.split()
CY_WORDS = CY_SENTENCE.split()


def _sentence(words: list[str], count: int) -> str:
    return " ".join((words * 3)[:count]) + "."


@pytest.mark.parametrize("words", [EN_WORDS, CY_WORDS])
def test_sentence_length_pass(words: list[str]) -> None:
    # 25 words, plus a URL, hashtags and a phone number's digit groups that do not count.
    text = (
        _sentence(words, 23)[:-1]
        + " https://www.gwent.police.uk/a/b 0808 800 5000 now.\n"
        + _sentence(words, 25)
        + " #StopTalkProtect #Diogelwch"
    )
    assert of(lint(text), "sentence-length") == []


@pytest.mark.parametrize(
    ("text", "start"),
    [
        (_sentence(EN_WORDS, 26), "Talk to your child about the…"),
        (_sentence(CY_WORDS, 26), "Siaradwch â'ch plentyn am yr…"),
        # A line break ends a sentence; a decimal point or a domain does not.
        ("Short line\n" + unicodedata.normalize("NFD", _sentence(CY_WORDS, 26)), "Siaradwch"),
        ("Version 1.5 of gwent.police.uk " + " ".join((EN_WORDS * 2)[:23]) + ".", "Version 1.5 of"),
    ],
)
def test_sentence_length_fail(text: str, start: str) -> None:
    problems = of(lint(text), "sentence-length")
    assert len(problems) == 1
    assert problems[0].level == "warning"
    assert problems[0].message.startswith(f'The sentence "{start}')
    assert problems[0].message.endswith(" has 26 words; keep sentences to 25 words or fewer."), (
        problems[0].message
    )


# --- signposting --------------------------------------------------------------------------


def test_signposting_ignored_without_tag() -> None:
    assert of(lint("Siaradwch â'ch plant, ŵyr yn y tŷ."), "signposting") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "If you are worried, call 101. #StopTalkProtect",
            ["A post tagged safeguarding must mention 999."],
        ),
        (
            "In an emergency call 9999 or 0999. #StopTalkProtect",  # 999 inside a number is not 999
            [
                "A post tagged safeguarding must mention 999.",
                "A post tagged safeguarding must mention 101 or ceop.police.uk.",
            ],
        ),
        (
            "Os yw plentyn mewn perygl, ffoniwch 999. Mae ŵyr yn y tŷ â ffôn. #Diogelwch",
            ["A post tagged safeguarding must mention 101 or ceop.police.uk."],
        ),
    ],
)
def test_signposting_fail(text: str, expected: list[str]) -> None:
    problems = of(lint(text, tags=["Safeguarding"]), "signposting")
    assert [(p.level, p.message) for p in problems] == [("error", m) for m in expected]


# --- blocked-words ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "blocked", "hit"),
    [
        ("Don't share SEXTING images.", ("sexting",), True),
        ("Learn about sextortion.", ("sexting",), False),  # whole words only
        ("Mae'r ŴYR yn y tŷ â ffôn.", ("ŵyr",), True),  # Welsh capitals fold too
        ("Mae'r ŵyrion yn y tŷ â ffôn.", ("ŵyr",), False),
        ("Mae'r " + unicodedata.normalize("NFD", "ŵyr") + " yma.", ("ŵyr",), True),
        ("Cyber   flashing is a crime.", ("cyber flashing",), True),
    ],
)
def test_blocked_words(text: str, blocked: tuple[str, ...], hit: bool) -> None:
    problems = of(lint(text, config=LintConfig(blocked_words=blocked)), "blocked-words")
    expected = [("error", f'"{blocked[0]}" is on the campaign\'s blocked words list.')]
    assert [(p.level, p.message) for p in problems] == (expected if hit else [])


# --- configuration ------------------------------------------------------------------------


def test_from_mapping_none_and_empty_give_defaults() -> None:
    empty: dict[str, Any] = {}
    for raw in (None, empty):
        config = LintConfig.from_mapping(raw, "campaign.toml")
        assert config == LintConfig()
        assert config.max_hashtags == 2
        assert config.max_sentence_words == 25
        assert config.signposting["safeguarding"] == (("999",), ("101", "ceop.police.uk"))
        assert all(config.level(rule) == level for rule, level in RULES.items())


def test_rule_switched_off() -> None:
    text = _sentence(EN_WORDS, 30)
    assert of(lint(text), "sentence-length") != []
    config = LintConfig.from_mapping({"levels": {"sentence-length": "off"}}, "campaign.toml")
    assert of(lint(text, config=config), "sentence-length") == []


def test_length_switched_off() -> None:
    config = LintConfig.from_mapping({"levels": {"length": "off"}}, "campaign.toml")
    assert of(lint(_welsh_text(400), config=config), "length") == []


def test_level_changed() -> None:
    text = "Talk to your child 👍 today 👍"
    default = lint(text)
    assert [p.level for p in of(default, "emoji")] == ["warning"]
    assert not has_errors(default)

    config = LintConfig.from_mapping(
        {"levels": {"emoji": "error", "hashtags": "warning"}}, "campaign.toml"
    )
    raised = lint(text + " #stoptalkprotect", config=config)
    assert [p.level for p in of(raised, "emoji")] == ["error"]
    assert [p.level for p in of(raised, "hashtags")] == ["warning"]
    assert has_errors(raised)


def test_custom_signposting_merges_with_default() -> None:
    config = LintConfig.from_mapping(
        {"signposting": {"sextortion": [["0808 800 5000", "nspcc.org.uk"], ["Childline"]]}},
        "campaign.toml",
    )
    text = "Worried about a message? Call 0808 800 5000. #StopTalkProtect"
    problems = of(lint(text, tags=["sextortion", "safeguarding"], config=config), "signposting")
    assert [p.message for p in problems] == [
        "A post tagged sextortion must mention Childline.",
        "A post tagged safeguarding must mention 999.",
        "A post tagged safeguarding must mention 101 or ceop.police.uk.",
    ]
    ok = "Ffoniwch 0808 800 5000 neu ChildLine: ŵyr yn y tŷ â ffôn. #Diogelwch"
    assert of(lint(ok, tags=["sextortion"], config=config), "signposting") == []


def test_custom_signposting_can_replace_or_remove_default() -> None:
    replaced = LintConfig.from_mapping(
        {"signposting": {"safeguarding": [["Crimestoppers", "0800 555 111"]]}}, "campaign.toml"
    )
    text = "Call Crimestoppers anonymously. #StopTalkProtect"
    assert of(lint(text, tags=["safeguarding"], config=replaced), "signposting") == []
    removed = LintConfig.from_mapping({"signposting": {"safeguarding": []}}, "campaign.toml")
    assert of(lint("Nothing here.", tags=["safeguarding"], config=removed), "signposting") == []


def test_from_mapping_reads_every_setting() -> None:
    raw = {
        "max_hashtags": 3,
        "max_emoji": 1,
        "max_links": 2,
        "max_sentence_words": 20,
        "min_alt_text": 30,
        "blocked_words": ["sexting", " ŵyr "],
        "levels": {"emoji": "off"},
    }
    config = LintConfig.from_mapping(raw, "campaign.toml")
    assert (
        config.max_hashtags,
        config.max_emoji,
        config.max_links,
        config.max_sentence_words,
        config.min_alt_text,
        config.blocked_words,
        dict(config.levels),
    ) == (3, 1, 2, 20, 30, ("sexting", "ŵyr"), {"emoji": "off"})
    problems = lint("Don't share sexting images 👍 💬.", config=config)
    assert [p.rule for p in problems] == ["blocked-words"]


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        ({"max_hashtag": 2}, "campaign.toml [lint] max_hashtag"),
        ({"max_hashtags": "2"}, "campaign.toml [lint] max_hashtags"),
        ({"max_hashtags": 2.0}, "campaign.toml [lint] max_hashtags"),
        ({"max_links": True}, "campaign.toml [lint] max_links"),
        ({"max_emoji": -1}, "campaign.toml [lint] max_emoji"),
        ({"max_sentence_words": 0}, "campaign.toml [lint] max_sentence_words"),
        ({"blocked_words": "sexting"}, "campaign.toml [lint] blocked_words"),
        ({"blocked_words": ["ok", ""]}, "campaign.toml [lint] blocked_words"),
        ({"levels": "off"}, "campaign.toml [lint] levels"),
        ({"levels": {"sentence-lenght": "off"}}, "campaign.toml [lint] levels.sentence-lenght"),
        ({"levels": {"emoji": "fatal"}}, "campaign.toml [lint] levels.emoji"),
        ({"signposting": [["999"]]}, "campaign.toml [lint] signposting"),
        (
            {"signposting": {"safeguarding": ["999", "101"]}},
            "campaign.toml [lint] signposting.safeguarding",
        ),
        ({"signposting": {"safeguarding": [[]]}}, "campaign.toml [lint] signposting.safeguarding"),
        (
            {"signposting": {"safeguarding": [[999]]}},
            "campaign.toml [lint] signposting.safeguarding",
        ),
    ],
)
def test_invalid_config_names_the_key(raw: dict[str, Any], where: str) -> None:
    with pytest.raises(CampaignError) as caught:
        LintConfig.from_mapping(raw, "campaign.toml")
    assert caught.value.where == where
    assert str(caught.value).startswith(f"{where}: ")


def test_invalid_config_not_a_table() -> None:
    with pytest.raises(CampaignError) as caught:
        LintConfig.from_mapping(["max_hashtags"], "campaigns/cse.toml")  # type: ignore[arg-type]
    assert caught.value.where == "campaigns/cse.toml [lint]"


def test_config_is_immutable() -> None:
    raw_levels = {"emoji": "off"}
    config = LintConfig(levels=raw_levels)  # type: ignore[arg-type]
    raw_levels["emoji"] = "error"
    assert config.level("emoji") == "off"
    with pytest.raises(TypeError):
        config.levels["emoji"] = "error"  # type: ignore[index]
    with pytest.raises(ValueError, match="emojis"):
        LintConfig(levels={"emojis": "off"})


# --- measure ------------------------------------------------------------------------------


def test_network_limits() -> None:
    limits = {key: network.text_limit for key, network in NETWORKS.items()}
    assert limits == {
        "x": 280,
        "facebook": 63206,
        "bluesky": 300,
        "mastodon": 500,
        "linkedin": 3000,
        "threads": 500,
        "instagram": 2200,
    }


@pytest.mark.parametrize(
    ("text", "network", "expected"),
    [
        # X: every URL and bare domain counts 23, any emoji 2, Welsh letters 1.
        ("See https://www.gwent.police.uk/a/very/long/path/to/the/stop-talk-protect/page", "x", 27),
        ("See gwent.police.uk", "x", 27),
        (FAMILY, "x", 2),
        ("🇬🇧", "x", 2),
        ("📱", "x", 2),
        ("ŵŷâ", "x", 3),
        ("𝐁", "x", 2),  # a fake letter even costs double
        # Bluesky: graphemes.
        (FAMILY, "bluesky", 1),
        ("🇬🇧🏴\U000e0067\U000e0062\U000e0077\U000e006c\U000e0073\U000e007f", "bluesky", 2),
        ("ŵŷâ", "bluesky", 3),
        ("See https://www.gwent.police.uk/a/b", "bluesky", 35),
        # Mastodon: http(s) URLs 23, bare domains letter by letter, graphemes, remote mentions.
        ("See https://www.gwent.police.uk/a/very/long/path/to/the/page", "mastodon", 27),
        ("See gwent.police.uk", "mastodon", 19),
        (FAMILY + " ŵŷâ", "mastodon", 5),
        ("Hi @GwentPolice@mastodon.social", "mastodon", 15),
        # Facebook: characters.
        ("ŵŷâ and https://www.gwent.police.uk/a", "facebook", 37),
        (unicodedata.normalize("NFD", "ŵŷâ"), "facebook", 3),
    ],
)
def test_measure(text: str, network: str, expected: int) -> None:
    assert measure(text, network) == (expected, NETWORKS[network].text_limit)


def test_measure_limit_override_and_unknown_network() -> None:
    assert measure("Helo ŵyr", "mastodon", limit=1000) == (8, 1000)
    with pytest.raises(ValueError, match="nextdoor"):
        measure("Helo", "nextdoor")


# Welsh letters from Latin-1 and Latin Extended-A: X weighs each 1, like a, b, c.
WELSH_ALPHABET = "abcchdddeffggnghilllmnngoprphrhssttthuwyâêîôûŵŷäëïöüÿàèìòùáéíóúýABCÂŴŶ '.,"
# ẁ ẃ ẅ ỳ are in Latin Extended Additional, which X itself weighs 2 (twitter-text ranges).
WELSH_EXTENDED = "ẁẃẅỳẀẂẄỲ"


@given(st.text(alphabet=WELSH_ALPHABET + WELSH_EXTENDED, max_size=400))
def test_welsh_letters_are_plain_letters(text: str) -> None:
    # Without a dot there can be no link, so X weighs one per letter (two for ẁ ẃ ẅ ỳ).
    if "." not in text:
        extended = sum(ch in WELSH_EXTENDED for ch in text)
        assert measure(text, "x")[0] == len(text) + extended
    assert measure(text, "bluesky")[0] == len(text)
    assert measure(text, "mastodon")[0] == len(text)
    problems = lint(text, networks=["bluesky"])
    assert of(problems, "fake-letters") == []
    assert of(problems, "emoji") == []


def test_x_weighs_latin_extended_additional_double() -> None:
    # X's own rule, not ours: a post that X would refuse must not pass the lint.
    assert measure("ŵŷâêîôûï", "x") == (8, 280)
    assert measure("ẁẃẅỳ", "x") == (8, 280)
    assert measure("ẁẃẅỳ", "bluesky") == (4, 300)


def test_has_errors() -> None:
    warning = Problem("emoji", "warning", "4 emoji; use 3 or fewer.")
    error = Problem("length", "error", "Too long for X: 281 of 280.", "x")
    assert not has_errors([])
    assert not has_errors([warning])
    assert has_errors([warning, error])


@pytest.mark.parametrize(("text_limit", "expected"), [(None, ["mastodon"]), (1000, [])])
def test_planning_lints_to_the_accounts_own_text_limit(
    settings: Any, tmp_path: Any, text_limit: int | None, expected: list[str]
) -> None:
    from campaign.expand import expand
    from campaign.loader import load_campaign
    from tests.helpers import write_campaign

    account = settings.accounts["gwent-mastodon"].replace(text_limit=text_limit)
    settings = settings.replace(accounts={"gwent-mastodon": account})
    long_tip = "{{ item }} " + "Siaradwch â'ch plentyn am yr apiau. " * 16  # over 500
    folder = write_campaign(
        tmp_path / "c", accounts='["gwent-mastodon"]', templates={"tip.en.j2": long_tip}
    )
    drafts = expand(load_campaign(folder), settings)
    assert drafts and all(500 < len(d.text) <= 1000 for d in drafts)
    for draft in drafts:
        assert [p["network"] for p in draft.problems if p["rule"] == "length"] == expected
