"""Content lint: checks a post's text against the networks' limits and the GCS guidance.

The lint only reports; it never changes the text (a post goes out byte for byte as
approved). Every rule treats Welsh exactly as English: ŵ, ŷ, â and the other accented
letters are ordinary letters for counting, word splitting and matching (Welsh Language
Standards: Welsh must not be treated less favourably).

Rules, by id, with their default level (a campaign's ``[lint] levels`` table can set any
of them to ``"error"``, ``"warning"`` or ``"off"``):

``length`` (error)
    Too long for a network, counted the way that network counts, to the account's own
    limit where it has one (``channels/networks.py`` holds the networks' counting and limits).
``alt-text`` (error)
    An image has no useful alt text: shorter than ``min_alt_text`` characters, or just
    its file name or a word such as "image", "photo" or "llun".
``hashtags`` (error)
    More than ``max_hashtags`` hashtags; a hashtag not in CamelCase (it must start with a
    capital letter: ``#StopTalkProtect``, ``#Diogelwch``, ``#CEADay27``); a hashtag
    that is not at the end, after the last word. And more than a network takes (Instagram:
    30), whatever ``max_hashtags`` says.
``images`` (error)
    What a network needs of a post's images (``channels/networks.py``): Instagram needs
    one on every post, JPEG only, at most 10 (a carousel).
``emoji`` (warning)
    More than ``max_emoji`` emoji; an emoji used twice; a line that starts with an emoji.
``fake-letters`` (error)
    "Fake" bold, italic, script, double-struck, fullwidth, circled or small-capital
    letters (Mathematical Alphanumeric Symbols and the like): screen readers skip them.
``shortener`` (error)
    A link through a URL shortener (bit.ly, t.co, tinyurl.com, ...): use the full link.
``links`` (error)
    More than ``max_links`` links, counting bare domains such as ``gwent.police.uk`` the
    way X (twitter-text) does.
``sentence-length`` (warning)
    A sentence longer than ``max_sentence_words`` words (URLs and hashtags not counted).
``signposting`` (error)
    A post with a tag that has signposting requirements misses one of them
    (default: ``safeguarding`` needs 999, and 101 or ceop.police.uk).
``blocked-words`` (error)
    A blocked word or phrase appears as a whole word (case-insensitive).

Configuration comes from a campaign's optional ``[lint]`` table, see ``LintConfig``.
"""

from __future__ import annotations

import functools
import mimetypes
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from types import MappingProxyType
from typing import Any, Literal, cast, get_args

import grapheme
import regex
from twitter_text import extract_urls_with_indices

from channels.networks import network as find_network
from core.errors import CampaignError

Level = Literal["error", "warning"]
Setting = Literal["error", "warning", "off"]

#: Every rule id with its default level, in the order problems are reported.
RULES: Mapping[str, Level] = MappingProxyType(
    {
        "length": "error",
        "alt-text": "error",
        "hashtags": "error",
        "images": "error",
        "emoji": "warning",
        "fake-letters": "error",
        "shortener": "error",
        "links": "error",
        "sentence-length": "warning",
        "signposting": "error",
        "blocked-words": "error",
    }
)

_DEFAULT_SIGNPOSTING: Mapping[str, Sequence[Sequence[str]]] = {
    "safeguarding": (("999",), ("101", "ceop.police.uk")),
}


@dataclass(frozen=True)
class Problem:
    """One finding of the lint, worded for a communications officer."""

    rule: str
    level: Level
    message: str
    network: str | None = None


@dataclass(frozen=True)
class LintConfig:
    """Lint settings, built from a campaign's optional ``[lint]`` table.

    TOML form (every key optional)::

        [lint]
        max_hashtags = 2
        max_emoji = 3
        max_links = 1
        max_sentence_words = 25
        min_alt_text = 20
        blocked_words = ["paedo"]
        levels = {sentence-length = "off", emoji = "error"}

        [lint.signposting]
        safeguarding = [["999"], ["101", "ceop.police.uk"]]

    ``signposting`` maps a post tag to requirement groups: a post with that tag must
    satisfy every group, and a group is satisfied when the text mentions any one of its
    strings. A campaign's table is merged over the default (so ``safeguarding`` stays
    required unless the campaign redefines it; ``safeguarding = []`` removes it).
    """

    levels: Mapping[str, Setting] = field(default_factory=dict)
    max_hashtags: int = 2
    max_emoji: int = 3
    max_links: int = 1
    max_sentence_words: int = 25
    min_alt_text: int = 20
    blocked_words: tuple[str, ...] = ()
    signposting: Mapping[str, Sequence[Sequence[str]]] = field(
        default_factory=lambda: dict(_DEFAULT_SIGNPOSTING)
    )

    def __post_init__(self) -> None:
        # Frozen in depth: the default instance is shared by every lint_text call.
        object.__setattr__(self, "levels", MappingProxyType(dict(self.levels)))
        object.__setattr__(self, "blocked_words", tuple(self.blocked_words))
        frozen = {
            tag: tuple(tuple(group) for group in groups) for tag, groups in self.signposting.items()
        }
        object.__setattr__(self, "signposting", MappingProxyType(frozen))
        unknown = sorted(set(self.levels) - set(RULES))
        if unknown:
            raise ValueError(f"unknown lint rule id(s): {', '.join(unknown)}")

    def level(self, rule: str) -> Setting:
        """The level in force for ``rule``: the campaign's override or the default."""
        return self.levels.get(rule, RULES[rule])

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any] | None, where: str) -> LintConfig:
        """Validate a ``[lint]`` table (``None`` when absent) and build the config.

        Raises ``CampaignError`` naming ``f"{where} [lint] key"`` for an unknown key,
        an unknown rule id, a bad level or a value of the wrong type.
        """
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise CampaignError(f"{where} [lint]", "must be a table")
        kwargs: dict[str, Any] = {}
        known = {"levels", "blocked_words", "signposting", *_INT_KEYS}
        for key, value in raw.items():
            at = f"{where} [lint] {key}"
            if key not in known:
                raise CampaignError(at, f"unknown setting; known: {', '.join(sorted(known))}")
            if key in _INT_KEYS:
                kwargs[key] = _int_setting(value, _INT_KEYS[key], at)
            elif key == "levels":
                kwargs[key] = _levels_setting(value, at)
            elif key == "blocked_words":
                kwargs[key] = tuple(_strings(value, at))
            else:
                kwargs[key] = {**_DEFAULT_SIGNPOSTING, **_signposting_setting(value, at)}
        return cls(**kwargs)


# Integer settings and their smallest allowed value.
_INT_KEYS = {
    "max_hashtags": 0,
    "max_emoji": 0,
    "max_links": 0,
    "max_sentence_words": 1,
    "min_alt_text": 0,
}


def _int_setting(value: object, minimum: int, at: str) -> int:
    # bool is an int in Python; `max_links = true` is a mistake, not 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise CampaignError(at, f"must be a whole number, got {value!r}")
    if value < minimum:
        raise CampaignError(at, f"must be {minimum} or more, got {value}")
    return value


def _strings(value: object, at: str) -> list[str]:
    if not isinstance(value, list | tuple):
        raise CampaignError(at, f"must be a list of strings, got {value!r}")
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise CampaignError(at, f"must be a list of non-empty strings, got {item!r}")
    return [str(item).strip() for item in value]


def _levels_setting(value: object, at: str) -> dict[str, Setting]:
    if not isinstance(value, Mapping):
        raise CampaignError(at, 'must be a table, e.g. levels = {sentence-length = "off"}')
    allowed = get_args(Setting)
    levels: dict[str, Setting] = {}
    for rule, level in value.items():
        rule_at = f"{at}.{rule}"
        if rule not in RULES:
            raise CampaignError(rule_at, f"unknown rule; rules: {', '.join(RULES)}")
        if level not in allowed:
            raise CampaignError(rule_at, f'must be "error", "warning" or "off", got {level!r}')
        levels[rule] = cast(Setting, level)
    return levels


def _signposting_setting(value: object, at: str) -> dict[str, tuple[tuple[str, ...], ...]]:
    if not isinstance(value, Mapping):
        raise CampaignError(at, 'must be a table, e.g. safeguarding = [["999"], ["101"]]')
    result: dict[str, tuple[tuple[str, ...], ...]] = {}
    for tag, groups in value.items():
        tag_at = f"{at}.{tag}"
        if not isinstance(groups, list | tuple) or any(
            not isinstance(group, list | tuple) for group in groups
        ):
            raise CampaignError(
                tag_at,
                'must be a list of lists of strings, e.g. [["999"], ["101", "ceop.police.uk"]]',
            )
        parsed = []
        for group in groups:
            strings = _strings(group, tag_at)
            if not strings:
                raise CampaignError(tag_at, "a requirement group must not be empty")
            parsed.append(tuple(strings))
        result[str(tag)] = tuple(parsed)
    return result


DEFAULT_CONFIG = LintConfig()


# --- text pieces ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _links(text: str) -> tuple[tuple[int, int, str], ...]:
    """(start, end, url) of each link as twitter-text sees it (bare domains included).

    Remembered: four rules ask about the same text, and twitter-text's scan is slow."""
    return tuple(
        (e["indices"][0], e["indices"][1], e["url"]) for e in extract_urls_with_indices(text)
    )


def _blank(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """``text`` with each span replaced by spaces, keeping every other index in place."""
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


# A hashtag as X sees it: # (or fullwidth ＃), not after a letter, digit or &,
# then letters, marks, digits and underscores with at least one letter (#999 is not one).
_HASHTAG = regex.compile(
    r"(?<![\p{L}\p{M}\p{Nd}_&])[#＃](?!\uFE0F|\u20E3)"
    r"([\p{L}\p{M}\p{Nd}_]*\p{L}[\p{L}\p{M}\p{Nd}_]*)"
)


def _hashtags(text_without_links: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group(0)) for m in _HASHTAG.finditer(text_without_links)]


# A grapheme cluster is an emoji when it holds a pictograph shown as emoji by default,
# anything with the emoji variation selector (U+FE0F) or a keycap, or a pictograph from the
# symbol and emoji blocks. Typographic symbols (© ® ™ ‼ ↔) count only in emoji style (with FE0F).
_EMOJI_IN_CLUSTER = regex.compile(
    r"\p{Emoji_Presentation}|\p{Emoji}\uFE0F|\u20E3"
    r"|[\p{Extended_Pictographic}&&[\u2600-\u27BF\U0001F000-\U0010FFFF]]",
    regex.V1,
)
_CLUSTER = regex.compile(r"\X")
# Skin tones and presentation selectors do not make a different emoji.
_EMOJI_VARIANT = regex.compile(r"[\p{Emoji_Modifier}\uFE0E\uFE0F]")


def _emoji(text: str) -> list[tuple[int, str]]:
    """(start, emoji) of each emoji; a ZWJ sequence, flag or keycap is one emoji."""
    if _EMOJI_IN_CLUSTER.search(text) is None:
        # What matches in no part of the text matches in none of its clusters: most posts
        # have no emoji, and splitting a text into clusters is the slow part.
        return []
    return [
        (m.start(), m.group(0))
        for m in _CLUSTER.finditer(text)
        if _EMOJI_IN_CLUSTER.search(m.group(0))
    ]


def _whole_word(phrase: str) -> regex.Pattern[str]:
    # Whole word: not glued to another letter or digit; spaces inside match any spacing.
    words = [regex.escape(part) for part in phrase.split()]
    return regex.compile(
        r"(?<![\p{L}\p{M}\p{N}_])" + r"\s+".join(words) + r"(?![\p{L}\p{M}\p{N}_])",
        regex.IGNORECASE | regex.V1,
    )


def _mentions(text: str, phrase: str) -> bool:
    pattern = _whole_word(unicodedata.normalize("NFC", phrase))
    return pattern.search(unicodedata.normalize("NFC", text)) is not None


def _quote(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# --- the rules -----------------------------------------------------------------------------


@functools.lru_cache(maxsize=8192)
def _length_message(text: str, key: str, limit: int | None) -> str | None:
    # Remembered for the process (a pure function of its arguments): counting the way X
    # does (twitter-text) costs milliseconds a text, and a re-plan or a web preview asks
    # again about the texts it asked about last time.
    network = find_network(key)
    length, allowed = network.measure(text, limit)
    if length <= allowed:
        return None
    # Say why the count differs from what the author sees, so the fix is obvious.
    notes = []
    if network.url_length and extract_urls_with_indices(text, network.bare_domains_are_links):
        notes.append(f"links count {network.url_length}")
    if network.emoji_weight > 1 and _emoji(text):
        notes.append(network.emoji_note)
    note = f" ({', '.join(notes)})" if notes else ""
    return f"Too long for {network.name}: {length} of {allowed}{note}."


_GENERIC_ALT = {
    "image", "photo", "picture", "pic", "img", "graphic", "photograph", "screenshot",
    "alt", "alt text", "alttext", "logo", "poster", "banner", "untitled",
    # Welsh: llun (picture, photo), delwedd (image), ffotograff / ffoto, graffeg, poster
    "llun", "delwedd", "ffotograff", "ffoto", "graffeg", "sgrinlun", "testun amgen",
}  # fmt: skip


def _simplified(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFC", text).casefold() if ch.isalnum())


def _rule_alt_text(media: Sequence[tuple[str, str]], minimum: int) -> list[str]:
    messages = []
    for file_name, alt in media:
        shown = str(file_name).replace("\\", "/").rsplit("/", 1)[-1]
        useful = " ".join(alt.split())
        stem = shown.rsplit(".", 1)[0]
        simple = _simplified(useful)
        if not useful:
            messages.append(f"Image {shown} has no alt text: describe what it shows.")
        elif simple in {_simplified(shown), _simplified(stem)} or simple in {
            _simplified(word) for word in _GENERIC_ALT
        }:
            messages.append(
                f'Image {shown} has alt text "{_quote(useful)}", which does not describe it.'
            )
        elif grapheme.length(useful) < minimum:
            count = grapheme.length(useful)
            messages.append(
                f"Image {shown} has alt text of {count} characters; describe it in at least "
                f"{minimum}."
            )
    return messages


_LAST_WORD_CHAR = regex.compile(r"[\p{L}\p{N}]", regex.REVERSE)


def _rule_hashtags(text: str, maximum: int) -> list[str]:
    without_links = _blank(text, ((s, e) for s, e, _ in _links(text)))
    tags = _hashtags(without_links)
    messages = []
    if len(tags) > maximum:
        messages.append(f"{len(tags)} hashtags; use {maximum} or fewer.")
    for _, _, tag in tags:
        first_letter = next(ch for ch in tag if ch.isalpha())
        if not first_letter.isupper():
            messages.append(
                f"Hashtag {tag} is not in CamelCase: start each word with a capital, "
                "e.g. #StopTalkProtect, so screen readers read it."
            )
    # Anything with a letter or digit outside the hashtags (words, links, @mentions) must
    # come before the first hashtag.
    words_only = _blank(without_links, ((s, e) for s, e, _ in tags))
    last = _LAST_WORD_CHAR.search(words_only)  # searched from the end: one match, not all
    last_word = last.start() if last else -1
    for start, _, tag in tags:
        if start < last_word:
            messages.append(f"Hashtag {tag} is in the middle of the text; put hashtags at the end.")
    return messages


def _network_hashtags(text: str, key: str) -> str | None:
    """More hashtags than the network takes (Instagram: 30), counted as the rule above does."""
    network = find_network(key)
    if network.max_hashtags is None:
        return None
    count = len(_hashtags(_blank(text, ((s, e) for s, e, _ in _links(text)))))
    if count <= network.max_hashtags:
        return None
    return f"{count} hashtags; {network.name} takes at most {network.max_hashtags}."


def _network_images(key: str, media: Sequence[tuple[str, str]]) -> list[str]:
    """What the network needs of the images: one at least (Instagram), their number and
    types (``ImageLimits``)."""
    network = find_network(key)
    limits = network.images
    messages = []
    if network.needs_image and not media:
        kinds = " or ".join(t.removeprefix("image/").upper() for t in limits.types)
        messages.append(f"{network.name} needs an image on every post: add one ({kinds}).")
    if limits.count is not None and len(media) > limits.count:
        messages.append(f"{len(media)} images; {network.name} takes at most {limits.count}.")
    for file_name, alt in media:
        shown = str(file_name).replace("\\", "/").rsplit("/", 1)[-1]
        # A bilingual post's alt text holds both languages: it must still fit.
        if limits.alt_text is not None and len(alt) > limits.alt_text:
            messages.append(
                f"The alt text of {shown} is {len(alt)} characters; {network.name} takes at "
                f"most {limits.alt_text}."
            )
        mime = mimetypes.guess_type(shown)[0]
        if mime is not None and not limits.accepts(mime):
            kinds = ", ".join(t.removeprefix("image/").upper() for t in limits.types)
            messages.append(f"Image {shown} is {mime}; {network.name} takes only {kinds}.")
    return messages


def _rule_emoji(text: str, maximum: int) -> list[str]:
    found = _emoji(text)
    messages = []
    if len(found) > maximum:
        messages.append(f"{len(found)} emoji; use {maximum} or fewer.")
    counts: dict[str, list[str]] = {}
    for _, emoji in found:
        counts.setdefault(_EMOJI_VARIANT.sub("", emoji), []).append(emoji)
    for uses in counts.values():
        if len(uses) > 1:
            messages.append(f"Emoji {uses[0]} is used {len(uses)} times; use each emoji once.")
    starts = {start for start, _ in found}
    offset = 0
    for number, line in enumerate(text.split("\n"), start=1):
        stripped = len(line) - len(line.lstrip())
        if line.strip() and offset + stripped in starts:
            first = _CLUSTER.match(line, stripped)
            shown = first.group(0) if first else ""
            messages.append(
                f"Line {number} starts with an emoji ({shown}); start with words, since screen "
                "readers read the emoji's name first."
            )
        offset += len(line) + 1
    return messages


# Styled look-alikes whose Unicode names say so; they have no NFKC mapping to plain letters.
_STYLED_NAMES = (
    "CIRCLED LATIN",
    "PARENTHESIZED LATIN",
    "SQUARED LATIN",
    "NEGATIVE CIRCLED LATIN",
    "NEGATIVE SQUARED LATIN",
    "LATIN LETTER SMALL CAPITAL",
    "MODIFIER LETTER SMALL CAPITAL",
)


def _is_fake_letter(ch: str) -> bool:
    code = ord(ch)
    if code < 0x0250:
        # Basic Latin, Latin-1 and Latin Extended-A/B: real letters, Welsh ŵ ŷ â ï included.
        return False
    if 0x1D400 <= code <= 0x1D7FF:
        return True
    category = unicodedata.category(ch)
    if category[0] == "L" or category == "Nd":
        # Fullwidth, superscript, double-struck and other styled forms fold to one plain
        # ASCII letter or digit under NFKC; real letters (ŵ, é, ß) never do.
        folded = unicodedata.normalize("NFKC", ch)
        if len(folded) == 1 and folded.isascii() and folded.isalnum():
            return True
    return unicodedata.name(ch, "").startswith(_STYLED_NAMES)


# The characters ``_is_fake_letter`` looks at (below U+0250 none is fake), found in C.
_PAST_LATIN = re.compile(r"[^\x00-\u024f]")


def _rule_fake_letters(text: str) -> list[str]:
    fakes: list[str] = []
    for ch in _PAST_LATIN.findall(text):
        if _is_fake_letter(ch) and ch not in fakes:
            fakes.append(ch)
    if not fakes:
        return []
    sample = "".join(fakes[:5])
    return [
        f"Styled letters ({sample}) are not real letters: screen readers skip or spell them "
        "out, so use plain text."
    ]


SHORTENERS = frozenset(
    {
        "bit.ly", "bitly.com", "t.co", "tinyurl.com", "ow.ly", "goo.gl", "buff.ly", "is.gd",
        "v.gd", "tiny.cc", "rb.gy", "shorturl.at", "cutt.ly", "t.ly", "lnkd.in", "rebrand.ly",
        "bl.ink", "s.id", "dlvr.it", "trib.al", "tr.im", "x.co", "shorte.st", "adf.ly",
        "soo.gd", "clck.ru", "qrco.de", "urlz.fr", "tiny.one", "shorturl.com", "short.gy",
    }
)  # fmt: skip


def _host(url: str) -> str:
    rest = re.sub(r"^[a-z][a-z0-9+.\-]*://", "", url, flags=re.IGNORECASE)
    host = re.split(r"[/?#:]", rest, maxsplit=1)[0].lower()
    return host.removeprefix("www.")


def _rule_shortener(text: str) -> list[str]:
    messages = []
    for _, _, url in _links(text):
        host = _host(url)
        if host in SHORTENERS or any(host.endswith("." + s) for s in SHORTENERS):
            messages.append(
                f"{url} is a shortened link; use the full link so people can see where it goes."
            )
    return messages


def _rule_links(text: str, maximum: int) -> list[str]:
    links = _links(text)
    if len(links) <= maximum:
        return []
    shown = ", ".join(url for _, _, url in links)
    return [f"{len(links)} links ({shown}); use {maximum} or fewer for one clear call to action."]


# A sentence ends at . ! ? or … (with any closing quotes or brackets) before a space or the
# end, or at a line break; "1.5" and "gwent.police.uk" do not end one.
_SENTENCE_END = regex.compile(r"[.!?…]+[\"'’”)\]]*(?=\s|$)|\n")
# A run of digit groups such as 0800 555 111 is one thing to say, not three words.
_DIGIT_GROUPS = regex.compile(r"(?<!\S)\d+(?:[ \u00A0]\d+)+(?!\S)")
_WORD = regex.compile(r"[\p{L}\p{N}]")


def _rule_sentence_length(text: str, maximum: int) -> list[str]:
    without_links = _blank(text, ((s, e) for s, e, _ in _links(text)))
    plain = _blank(without_links, ((s, e) for s, e, _ in _hashtags(without_links)))
    messages = []
    for sentence in _SENTENCE_END.split(plain):
        words = [w for w in _DIGIT_GROUPS.sub("0", sentence).split() if _WORD.search(w)]
        if len(words) > maximum:
            messages.append(
                f'The sentence "{_quote(sentence, 30)}" has {len(words)} words; '
                f"keep sentences to {maximum} words or fewer."
            )
    return messages


def _or_list(options: Sequence[str]) -> str:
    return options[0] if len(options) == 1 else f"{', '.join(options[:-1])} or {options[-1]}"


def _rule_signposting(
    text: str, tags: Sequence[str], signposting: Mapping[str, Sequence[Sequence[str]]]
) -> list[str]:
    requirements = {tag.casefold(): (tag, groups) for tag, groups in signposting.items()}
    messages = []
    for tag in tags:
        if tag.casefold() not in requirements:
            continue
        name, groups = requirements[tag.casefold()]
        for group in groups:
            if not any(_mentions(text, option) for option in group):
                messages.append(f"A post tagged {name} must mention {_or_list(list(group))}.")
    return messages


def _rule_blocked_words(text: str, blocked: Sequence[str]) -> list[str]:
    return [
        f'"{word}" is on the campaign\'s blocked words list.'
        for word in blocked
        if _mentions(text, word)
    ]


def lint_text(
    text: str,
    *,
    networks: Iterable[str],
    language: str,
    tags: Iterable[str] = (),
    media: Sequence[tuple[str, str]] = (),
    config: LintConfig = DEFAULT_CONFIG,
    limits: Mapping[str, int] | None = None,
) -> list[Problem]:
    """Every problem with ``text`` as posted to ``networks``, in rule order.

    ``language`` is the post's language (``en``, ``cy``, or both for a bilingual post);
    no rule depends on it, on purpose: Welsh is checked exactly as English.
    ``media`` is (file name, alt text) per image. ``limits`` overrides a network's limit
    with the account's own (``text_limit``), e.g. ``{"mastodon": 1000}`` for an instance
    with a higher one. The text is never changed. Raises ``ValueError`` for an unknown
    network.
    """
    return Linter(config, memo=False).lint(
        text, networks=networks, language=language, tags=tags, media=media, limits=limits
    )


class Linter:
    """``lint_text`` with one config, remembering its answers.

    Planning a year lints the same few dozen texts thousands of times (one per account and
    day); the rules are pure functions of (text, network, limit, tags, media), so each
    distinct question is answered once. The network-independent rules run once per text,
    whatever the number of networks. ``memo=False`` keeps nothing (one-off checks).
    """

    def __init__(self, config: LintConfig = DEFAULT_CONFIG, *, memo: bool = True) -> None:
        self.config = config
        self._memo = memo
        self._per_network: dict[tuple[Any, ...], tuple[Problem, ...]] = {}
        self._per_text: dict[tuple[Any, ...], tuple[Problem, ...]] = {}

    def lint(
        self,
        text: str,
        *,
        networks: Iterable[str],
        language: str,
        tags: Iterable[str] = (),
        media: Sequence[tuple[str, str]] = (),
        limits: Mapping[str, int] | None = None,
    ) -> list[Problem]:
        """As ``lint_text``; ``language`` is accepted for the record (no rule uses it)."""
        del language
        chosen = list(dict.fromkeys(networks))
        for key in chosen:
            find_network(key)  # ValueError for an unknown one
        overrides = dict(limits or {})
        media_key = tuple((str(path), alt) for path, alt in media)
        tag_key = tuple(tags)
        problems: list[Problem] = []
        # Length first, then what a network itself refuses, then the text's own rules:
        # the order the docstring of this module lists them in.
        network_found = [self._network(text, key, overrides.get(key), media_key) for key in chosen]
        for found in network_found:
            problems.extend(p for p in found if p.rule == "length")
        for found in network_found:
            problems.extend(p for p in found if p.rule != "length")
        problems.extend(self._text(text, tag_key, media_key))
        return problems

    def _network(
        self, text: str, key: str, limit: int | None, media: tuple[tuple[str, str], ...]
    ) -> tuple[Problem, ...]:
        memo_key = (text, key, limit, media)
        found = self._per_network.get(memo_key)
        if found is None:
            found = tuple(_network_problems(text, key, limit, media, self.config))
            if self._memo:
                self._per_network[memo_key] = found
        return found

    def _text(
        self, text: str, tags: tuple[str, ...], media: tuple[tuple[str, str], ...]
    ) -> tuple[Problem, ...]:
        memo_key = (text, tags, media)
        found = self._per_text.get(memo_key)
        if found is None:
            found = tuple(_text_problems(text, tags, media, self.config))
            if self._memo:
                self._per_text[memo_key] = found
        return found


def _network_problems(
    text: str,
    key: str,
    limit: int | None,
    media: Sequence[tuple[str, str]],
    config: LintConfig,
) -> list[Problem]:
    problems: list[Problem] = []
    length_level = config.level("length")
    if length_level != "off":
        message = _length_message(text, key, limit)
        if message:
            problems.append(Problem("length", length_level, message, key))
    # What a network itself refuses (Instagram: no image, too many hashtags).
    images_level, hashtags_level = config.level("images"), config.level("hashtags")
    if images_level != "off":
        problems.extend(
            Problem("images", images_level, message, key) for message in _network_images(key, media)
        )
    if hashtags_level != "off" and (found := _network_hashtags(text, key)):
        problems.append(Problem("hashtags", hashtags_level, found, key))
    return problems


def _text_problems(
    text: str, tags: Sequence[str], media: Sequence[tuple[str, str]], config: LintConfig
) -> list[Problem]:
    checks: list[tuple[str, Callable[[], list[str]]]] = [
        ("alt-text", lambda: _rule_alt_text(media, config.min_alt_text)),
        ("hashtags", lambda: _rule_hashtags(text, config.max_hashtags)),
        ("emoji", lambda: _rule_emoji(text, config.max_emoji)),
        ("fake-letters", lambda: _rule_fake_letters(text)),
        ("shortener", lambda: _rule_shortener(text)),
        ("links", lambda: _rule_links(text, config.max_links)),
        ("sentence-length", lambda: _rule_sentence_length(text, config.max_sentence_words)),
        ("signposting", lambda: _rule_signposting(text, list(tags), config.signposting)),
        ("blocked-words", lambda: _rule_blocked_words(text, config.blocked_words)),
    ]
    problems: list[Problem] = []
    for rule, check in checks:
        level = config.level(rule)
        # A rule switched off is not even run.
        if level != "off":
            problems.extend(Problem(rule, level, message) for message in check())
    return problems


#: Findings that do not come from a post's text (an edit cannot change them): kept on edit.
NOT_FROM_TEXT = frozenset({"welsh-counterpart"})


def check_post_text(
    text: str,
    *,
    network: str,
    language: str,
    tags: Iterable[str] = (),
    media: Sequence[tuple[str, str]] = (),
    config: LintConfig = DEFAULT_CONFIG,
    limit: int | None = None,
    previous: Iterable[Mapping[str, Any]] = (),
) -> list[dict[str, Any]]:
    """The findings to store on a post whose text a person changed (``posts.review.edit``).

    Every content rule runs again on the new text, so a post an edit makes too long cannot
    be approved and a fixed post loses its old error. Findings about the post rather than
    its text (``NOT_FROM_TEXT``: no Welsh counterpart) are carried over from ``previous``.
    ``limit`` is the account's own text limit, ``config`` the campaign's ``[lint]`` (the
    defaults when not known). Each finding names no template: the text is the person's now.
    """
    found = lint_text(
        text,
        networks=[network],
        language=language,
        tags=tags,
        media=media,
        config=config,
        limits={network: limit} if limit else None,
    )
    kept = [dict(p) for p in previous if p.get("rule") in NOT_FROM_TEXT]
    return [{**asdict(p), "template": None} for p in found] + kept


def has_errors(problems: Iterable[Problem]) -> bool:
    """True when any problem is at level ``error`` (the post must not be approved as is)."""
    return any(problem.level == "error" for problem in problems)
