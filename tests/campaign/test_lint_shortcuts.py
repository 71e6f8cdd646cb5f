"""The lint's shortcuts find what the long way finds: emoji looked for cluster by cluster
only in a text that has one, styled letters looked for only past U+024F. Each is checked
against the long way written out here, on chosen texts and on generated ones."""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from campaign.lint import _CLUSTER, _EMOJI_IN_CLUSTER, _emoji, _is_fake_letter, _rule_fake_letters

TEXTS = [
    "",
    "Stop. Talk. Protect. Call 101 #StopTalkProtect",
    "Siaradwch â'ch plant: ŵ ŷ â ê î ô û ï — tŷ diogel",
    "👨\u200d👩\u200d👧\u200d👦 family, 🇬🇧 flag, 1️⃣ keycap, #️⃣ hash key, 👍🏽 skin tone",
    "© ® ™ ‼ ↔ plain symbols, ©\ufe0f ™\ufe0f ‼\ufe0f in emoji style",
    "\ufe0f at the start, \n\ufe0f after a line break, a\u20e3 a keycap on a letter",
    "☀ ☀\ufe0f ❤ ❤️ ✅ ✔ ✔\ufe0e ⭐ 🀄 🃏 🅰 🅰\ufe0f",
    "Line one\n🚨 Line two starts with an emoji\n  🚨 so does three, after spaces",
    "𝐁𝐨𝐥𝐝 𝘪𝘵𝘢𝘭𝘪𝘤 𝓈𝒸𝓇𝒾𝓅𝓉 𝕕𝕠𝕦𝕓𝕝𝕖 ＦＵＬＬ ⓒⓘⓡⓒⓛⓔⓓ ᴄᴀᴘɪᴛᴀʟ ¹²³ 🄰🄱",
    "ɐ ɑ ʃ (IPA, past U+024F), ǅ ǆ Ǳ (Latin Extended-B), ﬁ ligature, Ⅻ numeral, ½",
    "中文 日本語 한국어 العربية עברית ελληνικά русский हिन्दी",
    "e\u0301 combining acute, \u0300\u0301 marks alone, \u200b\u200d\u2060 invisible",
]

# Characters from the ranges the rules care about, and plain ones between them.
CHARACTERS = st.one_of(
    st.characters(min_codepoint=0x20, max_codepoint=0x24F),
    st.characters(min_codepoint=0x250, max_codepoint=0x36F),
    st.characters(min_codepoint=0x2000, max_codepoint=0x2BFF),
    st.characters(min_codepoint=0x1D400, max_codepoint=0x1D7FF),
    st.characters(min_codepoint=0x1F000, max_codepoint=0x1FAFF),
    st.characters(min_codepoint=0xFE00, max_codepoint=0xFF5E),
    st.sampled_from(["\ufe0f", "\ufe0e", "\u20e3", "\u200d", "\n", " ", "#", "1", "\U0001f3fd"]),
)


def _emoji_long_way(text: str) -> list[tuple[int, str]]:
    return [
        (m.start(), m.group(0))
        for m in _CLUSTER.finditer(text)
        if _EMOJI_IN_CLUSTER.search(m.group(0))
    ]


def _fake_letters_long_way(text: str) -> list[str]:
    fakes: list[str] = []
    for ch in text:
        if _is_fake_letter(ch) and ch not in fakes:
            fakes.append(ch)
    return fakes


def _both(text: str) -> None:
    assert _emoji(text) == _emoji_long_way(text)
    fakes = _fake_letters_long_way(text)
    found = _rule_fake_letters(text)
    if fakes:
        assert len(found) == 1 and f"({''.join(fakes[:5])})" in found[0]
    else:
        assert found == []


def test_chosen_texts() -> None:
    for text in TEXTS:
        _both(text)
        _both(unicodedata.normalize("NFD", text))
    # The texts do hold what they are there for.
    assert _emoji(TEXTS[3]) and not _emoji(TEXTS[1]) and _rule_fake_letters(TEXTS[8])


@settings(max_examples=400, deadline=None)
@given(st.text(CHARACTERS, max_size=40))
def test_generated_texts(text: str) -> None:
    _both(text)
