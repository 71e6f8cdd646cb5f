"""One table of networks: each network's name, text limit and how it counts, the images
it takes, and the class that publishes to it. Lint, previews (command line and web),
the settings and the registry all read it; nothing else lists these facts.

Importing this module is cheap on purpose (``publisher --help`` imports it through the
settings): the channel class is named as ``"module:Class"`` and imported by
``registry.channel_for`` only when an account needs it, and the counting libraries
(twitter-text, grapheme) are imported the first time text is measured.

Sources (checked November 2026):

- X: 280, weighted by twitter-text (``parse_tweet(text).weightedLength``: every URL and
  bare domain 23, emoji 2, CJK 2); 4 photos a post, 5 MB an image, alt text 1000
  (docs.x.com, media: "Image: 5 MB", "up to 4 photos"); JPEG, PNG, GIF, WEBP.
- Facebook: 63,206 characters; photos as JPEG, BMP, PNG, GIF, TIFF
  (developers.facebook.com, photo uploads); no documented count or size limit we rely on
  (Facebook only *recommends* under 4 MB).
- Bluesky: 300 graphemes (``app.bsky.feed.post`` ``maxGraphemes``); 4 images of at most
  1,000,000 bytes, any ``image/*`` (``app.bsky.embed.images``).
- Mastodon: 500 by default, per instance (``/api/v2/instance``
  ``configuration.statuses.max_characters``: set ``text_limit`` on the account); every
  http(s) URL counts 23 and ``@user@host`` counts as ``@user`` (StatusLengthValidator);
  4 attachments, description 1500 (MediaAttachment); JPEG, PNG, GIF, WEBP, HEIC, HEIF
  (docs.joinmastodon.org, posting). The image size limit is the instance's own (16 MiB by default); not enforced here.
- LinkedIn: 3,000 characters of ``commentary`` (learn.microsoft.com, LinkedIn Marketing API,
  Posts API; the refusal reads "ShareCommentary text length (N characters) exceeded the
  maximum allowed (3000 characters)"). LinkedIn does not say how it counts; its servers
  measure Java strings, so we count UTF-16 code units (an emoji beyond the Basic
  Multilingual Plane counts 2), never fewer than LinkedIn could. The escapes of its
  "little" text format (``channels.linkedin.little_text``) are not counted: they are not
  part of the text. Images: JPG, GIF, PNG (Images API); one, or 2 to 20 as a MultiImage
  post (MultiImage API); alt text at most 4086 characters (Posts API ``altText``); no byte
  limit is documented (only under 36,152,320 pixels).
- Threads: 500 characters, "Emojis are counted as the number of UTF-8 bytes"
  (developers.facebook.com/documentation/threads/posts, Limitations; the link there points
  to grapheme-splitter): we count graphemes after NFC, each grapheme holding an emoji (a
  ZWJ family, a flag, a keycap) counting its UTF-8 bytes (👍 4, 👨‍👩‍👧 18); a Welsh ŵ counts 1;
  links count letter by letter (nothing says otherwise). One image a post here (the
  channel sends ``IMAGE``, not carousels), JPEG or PNG, 8 MB (the same page, Media
  Specifications; counted as 8,000,000 bytes to be safe); no documented alt text limit.
- Instagram: a caption of at most 2,200 characters and 30 hashtags ("Maximum 2200
  characters, 30 hashtags, and 20 @ tags", IG User Media reference); every post needs an
  image, JPEG only ("JPEG is the only image format supported", Content Publishing), up to
  10 in a carousel, under 8 MiB each (error 2207004: "It should be less than 8 MiB");
  Instagram fetches each image itself from a public URL ("We cURL media used in
  publishing attempts"). No documented alt text limit.
"""

from __future__ import annotations

import fnmatch
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Any, Literal, get_args

#: The networks the settings accept, in the table's order. Kept equal to ``NETWORKS``'s
#: keys (checked below): a Literal must be written out for the type checker.
NetworkName = Literal["x", "facebook", "bluesky", "mastodon", "linkedin", "threads", "instagram"]

#: How a network counts a post's length:
#: ``twitter-text``: X's weighted count; ``graphemes``: what a reader sees as one
#: character; ``characters``: code points after NFC (a decomposed ŵ counts once);
#: ``utf-16``: UTF-16 code units after NFC (an emoji beyond the BMP counts 2: LinkedIn).
#: ``emoji-bytes``: graphemes after NFC, each one holding an emoji counting its UTF-8 bytes
#: (Threads).
Counting = Literal["twitter-text", "graphemes", "characters", "utf-16", "emoji-bytes"]


@dataclass(frozen=True)
class ImageLimits:
    """What images a post on the network may carry. ``None``: no limit we rely on."""

    count: int | None
    bytes: int | None
    alt_text: int | None
    #: MIME types the network takes; ``image/*`` takes any image.
    types: tuple[str, ...]

    def accepts(self, mime: str) -> bool:
        return any(fnmatch.fnmatchcase(mime, pattern) for pattern in self.types)


@dataclass(frozen=True)
class Network:
    """One network's facts. ``measure`` counts text the way the network does."""

    key: str
    name: str
    text_limit: int
    counting: Counting
    #: every link counts this many characters (``None``: letter by letter)
    url_length: int | None
    #: whether a bare domain such as ``gwent.police.uk`` is a link (and so counts ``url_length``)
    bare_domains_are_links: bool
    #: whether ``@user@host`` counts as ``@user`` (Mastodon)
    mentions_count_local_part: bool
    #: what one emoji counts
    emoji_weight: int
    images: ImageLimits
    #: the class publishing to it, ``"module:Class"`` (imported only when needed)
    channel: str | None
    # -- Instagram (defaults fit every other network) --
    #: the most hashtags a post may carry (``None``: no limit we rely on)
    max_hashtags: int | None = None
    #: whether every post needs an image
    needs_image: bool = False
    #: whether the network fetches each image itself from a public URL (so the install
    #: must serve it: ``[web] public_url``, ``channels.media_urls``)
    fetches_images: bool = False

    def measure(self, text: str, limit: int | None = None) -> tuple[int, int]:
        """(length as the network counts it, the limit: ``limit`` if given, else the table's).

        ``limit`` is an account's own limit, e.g. a Mastodon instance allowing 1000.
        """
        return self.length(text), self.text_limit if limit is None else limit

    def length(self, text: str) -> int:
        if self.counting == "twitter-text":
            from twitter_text import parse_tweet

            return int(parse_tweet(text).weightedLength)
        if self.counting == "graphemes":
            import grapheme

            return int(grapheme.length(self._countable(text)))
        if self.counting == "utf-16":
            return len(unicodedata.normalize("NFC", self._countable(text)).encode("utf-16-le")) // 2
        if self.counting == "emoji-bytes":
            return _emoji_bytes_length(unicodedata.normalize("NFC", self._countable(text)))
        return len(unicodedata.normalize("NFC", self._countable(text)))

    @property
    def emoji_note(self) -> str:
        """How an emoji counts, in the words of a lint message (``emoji count 2``)."""
        if self.counting == "emoji-bytes":
            return "emoji count their UTF-8 bytes, 4 or more each"
        return f"emoji count {self.emoji_weight}"

    def _countable(self, text: str) -> str:
        """The text with each link as ``url_length`` characters and remote mentions shortened."""
        if self.url_length is not None:
            from twitter_text import extract_urls_with_indices

            pieces, position = [], 0
            for entity in extract_urls_with_indices(text, self.bare_domains_are_links):
                start, end = entity["indices"]
                pieces += [text[position:start], "x" * self.url_length]
                position = end
            text = "".join(pieces) + text[position:]
        if self.mentions_count_local_part:
            text = _REMOTE_MENTION.sub(r"@\1", text)
        return text


def _emoji_bytes_length(text: str) -> int:
    """Threads' count: one per grapheme, but a grapheme holding an emoji counts its UTF-8
    bytes. An emoji is what lint calls one (``campaign.lint``): an emoji-presentation
    character, a character made an emoji by U+FE0F, a keycap, or a pictograph of the emoji
    blocks; so a plain © or ™ counts 1, and ❤️ (with U+FE0F) counts 6."""
    import regex

    return sum(
        len(cluster.encode("utf-8")) if _emoji_pattern().search(cluster) else 1
        for cluster in regex.findall(r"\X", text)
    )


@cache
def _emoji_pattern() -> Any:  # regex.Pattern, compiled on first use (import is lazy)
    import regex

    return regex.compile(
        r"\p{Emoji_Presentation}|\p{Emoji}\uFE0F|\u20E3"
        r"|[\p{Extended_Pictographic}&&[\u2600-\u27BF\U0001F000-\U0010FFFF]]",
        regex.V1,
    )


# Mastodon shortens a remote mention to its local part when counting (@user@host -> @user).
_REMOTE_MENTION = re.compile(r"(?<![/\w])@(\w+)@[a-z0-9.\-]+[a-z0-9]", re.IGNORECASE)

_TABLE = (
    Network(
        key="x",
        name="X",
        text_limit=280,
        counting="twitter-text",
        url_length=23,
        bare_domains_are_links=True,
        mentions_count_local_part=False,
        emoji_weight=2,
        images=ImageLimits(
            count=4,
            bytes=5 * 1024 * 1024,
            alt_text=1000,
            types=("image/jpeg", "image/png", "image/gif", "image/webp"),
        ),
        channel="channels.x:XChannel",
    ),
    Network(
        key="facebook",
        name="Facebook",
        text_limit=63206,
        counting="characters",
        url_length=None,
        bare_domains_are_links=False,
        mentions_count_local_part=False,
        emoji_weight=1,
        images=ImageLimits(
            count=None,
            bytes=None,
            alt_text=None,
            types=("image/jpeg", "image/bmp", "image/png", "image/gif", "image/tiff"),
        ),
        channel="channels.facebook:FacebookChannel",
    ),
    Network(
        key="bluesky",
        name="Bluesky",
        text_limit=300,
        counting="graphemes",
        url_length=None,
        bare_domains_are_links=False,
        mentions_count_local_part=False,
        emoji_weight=1,
        images=ImageLimits(count=4, bytes=1_000_000, alt_text=None, types=("image/*",)),
        channel="channels.bluesky:BlueskyChannel",
    ),
    Network(
        key="mastodon",
        name="Mastodon",
        text_limit=500,
        counting="graphemes",
        url_length=23,
        bare_domains_are_links=False,
        mentions_count_local_part=True,
        emoji_weight=1,
        images=ImageLimits(
            count=4,
            bytes=None,
            alt_text=1500,
            types=(
                "image/jpeg",
                "image/png",
                "image/gif",
                "image/webp",
                "image/heic",
                "image/heif",
            ),
        ),
        channel="channels.mastodon:MastodonChannel",
    ),
    Network(
        key="linkedin",
        name="LinkedIn",
        text_limit=3000,
        counting="utf-16",
        url_length=None,
        bare_domains_are_links=False,
        mentions_count_local_part=False,
        emoji_weight=2,
        images=ImageLimits(
            count=20,
            bytes=None,
            alt_text=4086,
            types=("image/jpeg", "image/png", "image/gif"),
        ),
        channel="channels.linkedin:LinkedInChannel",
    ),
    Network(
        key="threads",
        name="Threads",
        text_limit=500,
        counting="emoji-bytes",
        url_length=None,
        bare_domains_are_links=False,
        mentions_count_local_part=False,
        emoji_weight=4,  # a one-character emoji (📱); a ZWJ family or a flag counts more
        images=ImageLimits(
            count=1, bytes=8_000_000, alt_text=None, types=("image/jpeg", "image/png")
        ),
        channel="channels.threads:ThreadsChannel",
        fetches_images=True,  # from the web app's signed public address ([web])
    ),
    Network(
        key="instagram",
        name="Instagram",
        text_limit=2200,
        counting="characters",
        url_length=None,
        bare_domains_are_links=False,
        mentions_count_local_part=False,
        emoji_weight=1,
        images=ImageLimits(count=10, bytes=8 * 1024 * 1024, alt_text=None, types=("image/jpeg",)),
        channel="channels.instagram:InstagramChannel",
        max_hashtags=30,
        needs_image=True,
        fetches_images=True,
    ),
)

#: Every network by key, in the table's order.
NETWORKS: Mapping[str, Network] = MappingProxyType({network.key: network for network in _TABLE})

if tuple(NETWORKS) != get_args(NetworkName):  # pragma: no cover - a mistake in this file
    raise RuntimeError("channels.networks: NetworkName and the table list different networks")


def network(key: str) -> Network:
    """The network called ``key``; ``ValueError`` naming the known ones otherwise."""
    try:
        return NETWORKS[key]
    except KeyError:
        raise ValueError(f"unknown network {key!r}; known: {', '.join(NETWORKS)}") from None


def display_name(key: str) -> str:
    """The network's name as people write it (``X``, ``Bluesky``); the key if unknown
    (the outbox, the fake)."""
    found = NETWORKS.get(key)
    return found.name if found else key


def measure(text: str, key: str, *, limit: int | None = None) -> tuple[int, int]:
    """(length as network ``key`` counts it, its limit or ``limit``). ``ValueError`` for an
    unknown network."""
    return network(key).measure(text, limit)


def in_order(first: str) -> list[Network]:
    """Every network, ``first`` first (a post's own network leads its previews)."""
    return sorted(NETWORKS.values(), key=lambda n: n.key != first)


def text_limit_advice(key: str, configured: int | None, reported: int) -> str:
    """What ``accounts check`` adds when the network reports another limit for the account
    (a Mastodon instance's ``max_characters``) than lint and previews count to: ``""`` when
    they agree, else the line of config.toml to add."""
    counted = network(key).text_limit if configured is None else configured
    if counted == reported:
        return ""
    return (
        f"; lint and previews count to {counted}: set text_limit = {reported} for this "
        "account in config.toml"
    )
