"""The one table of networks (``channels/networks.py``) and where it is used: the settings,
the registry, the channels' image checks, lint and previews (command line and web), and an
account's own text limit (``text_limit``) reported by ``accounts check``."""

from __future__ import annotations

import subprocess
import sys
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_args

import pytest

from channels import networks
from channels.base import Media, NetworkChannel, read_images
from channels.networks import NETWORKS, NetworkName, display_name, measure, text_limit_advice
from channels.registry import channel_class
from core.errors import PermanentError, SettingsError
from core.settings import AccountSettings, Settings, load_settings
from posts.models import Post
from tests.fakeplatform import FakeConfig

ROOT = Path(__file__).resolve().parents[2]


# -- the table ------------------------------------------------------------------------------


def test_the_settings_accept_exactly_the_networks_of_the_table() -> None:
    keys = ("x", "facebook", "bluesky", "mastodon", "linkedin", "threads", "instagram")
    assert get_args(NetworkName) == tuple(NETWORKS) == keys
    for key in NETWORKS:
        assert AccountSettings(network=key, handle="@gwent").network == key
    with pytest.raises(ValueError, match="nextdoor"):
        AccountSettings(network="nextdoor", handle="@gwent")


def test_every_row_names_its_channel_class() -> None:
    for key, row in NETWORKS.items():
        channel = channel_class(key)
        assert channel is not None and issubclass(channel, NetworkChannel)
        assert channel.name == key and row.channel == f"{channel.__module__}:{channel.__name__}"
    assert channel_class("nextdoor") is None


def test_display_names() -> None:
    assert [display_name(k) for k in NETWORKS] == [
        "X",
        "Facebook",
        "Bluesky",
        "Mastodon",
        "LinkedIn",
        "Threads",
        "Instagram",
    ]
    assert display_name("outbox") == "outbox"  # not a network: shown as it is


def test_x_links_count_what_twitter_text_counts() -> None:
    from twitter_text.parse_tweet import config  # the rules X publishes

    rules = config["defaults"]
    assert NETWORKS["x"].url_length == rules["transformed_url_length"] == 23
    assert NETWORKS["x"].text_limit == rules["max_weighted_tweet_length"]
    # An emoji weighs what any character outside the light ranges weighs.
    assert NETWORKS["x"].emoji_weight == rules["default_weight"] // rules["scale"]


def test_the_channels_still_on_their_own_constants_agree_with_the_table() -> None:
    # Bluesky and Mastodon keep module constants for now; they must say what the table says.
    from channels import bluesky, mastodon

    assert NETWORKS["bluesky"].text_limit == bluesky.MAX_GRAPHEMES
    assert NETWORKS["bluesky"].images.count == bluesky.MAX_IMAGES
    assert NETWORKS["bluesky"].images.bytes == bluesky.MAX_IMAGE_BYTES
    assert NETWORKS["mastodon"].text_limit == mastodon.DEFAULT_LIMIT
    assert NETWORKS["mastodon"].url_length == mastodon.DEFAULT_URL_LENGTH
    assert NETWORKS["mastodon"].images.count == mastodon.MAX_IMAGES
    assert NETWORKS["mastodon"].images.alt_text == mastodon.MAX_DESCRIPTION


def test_importing_the_table_and_the_command_line_loads_no_network_library() -> None:
    code = (
        "import sys\n"
        "sys.argv = ['publisher', '--help']\n"
        "import publisher\n"
        "try:\n"
        "    publisher.main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "import channels.networks, core.settings, channels.registry\n"
        "heavy = ('tweepy', 'atproto', 'mastodon', 'httpx', 'twitter_text', 'grapheme')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_the_worker_loads_the_modules_of_the_accounts_that_publish(tmp_path: Path) -> None:
    """``load_channel_modules``: a live X account's module (tweepy) and no dry run's (a
    Bluesky account in dry run: no atproto)."""
    config = tmp_path / "config.toml"
    config.write_text(
        '[accounts.live-x]\nnetwork = "x"\nhandle = "@a"\ndry_run = false\n'
        '[accounts.rehearsal]\nnetwork = "bluesky"\nhandle = "a.bsky.social"\n',
        encoding="utf-8",
    )
    code = (
        "import sys\n"
        "from core.settings import load_settings\n"
        "from channels.registry import load_channel_modules\n"
        f"loaded = load_channel_modules(load_settings({str(config)!r}, environ={{}}))\n"
        "print(loaded, [m for m in ('tweepy', 'atproto') if m in sys.modules])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip().splitlines()[-1] == "['x'] ['tweepy']"


def test_measure_unknown_network() -> None:
    with pytest.raises(ValueError, match="known: x, facebook, bluesky, mastodon, linkedin, threads"):
        measure("Helo", "nextdoor")


def test_in_order_puts_the_own_network_first() -> None:
    assert [n.key for n in networks.in_order("mastodon")] == [
        "mastodon",
        "x",
        "facebook",
        "bluesky",
        "linkedin",
        "threads",
        "instagram",
    ]
    assert [n.key for n in networks.in_order("outbox")] == list(NETWORKS)


# -- images ---------------------------------------------------------------------------------


def _image(tmp_path: Path, name: str, size: int = 8, alt: str = "A poster") -> Media:
    path = tmp_path / name
    path.write_bytes(b"\x89PNG" + b"\0" * (size - 4))
    return Media(path=path, alt_text=alt, sha256="0" * 64)


def test_read_images_refuses_a_type_the_network_does_not_take(tmp_path: Path) -> None:
    bmp = _image(tmp_path, "poster.bmp")
    with pytest.raises(PermanentError, match=r"poster\.bmp is image/bmp; X takes image/jpeg"):
        read_images("x", (bmp,), limits=NETWORKS["x"].images)
    assert read_images("facebook", (bmp,), limits=NETWORKS["facebook"].images)[0][0] == bmp
    # Bluesky takes any image; a name without a known type is left to the network.
    assert read_images("bluesky", (bmp,), limits=NETWORKS["bluesky"].images)
    assert read_images("x", (_image(tmp_path, "poster"),), limits=NETWORKS["x"].images)


def test_read_images_uses_the_tables_count_bytes_and_alt_text(tmp_path: Path) -> None:
    x = NETWORKS["x"].images
    assert x.bytes is not None and x.alt_text is not None
    at_limit = _image(tmp_path, "a.png", size=x.bytes)
    assert read_images("x", (at_limit,), limits=x)
    with pytest.raises(PermanentError, match=r"5,242,881 bytes; X takes at most 5,242,880"):
        read_images("x", (_image(tmp_path, "b.png", size=x.bytes + 1),), limits=x)
    with pytest.raises(PermanentError, match="at most 4 images, not 5"):
        read_images("x", tuple(_image(tmp_path, f"{n}.png") for n in range(5)), limits=x)
    with pytest.raises(PermanentError, match="X takes at most 1000"):
        read_images("x", (_image(tmp_path, "c.png", alt="a" * 1001),), limits=x)


# -- an account's own text limit ------------------------------------------------------------


def _settings_with_mastodon_limit(tmp_path: Path, limit: int | None) -> Settings:
    line = f"text_limit = {limit}\n" if limit else ""
    config = tmp_path / "config.toml"
    config.write_text(
        '[accounts.gwent-mastodon]\nnetwork = "mastodon"\n'
        f'handle = "@GwentPolice@mastodon.social"\n{line}',
        encoding="utf-8",
    )
    return load_settings(config, environ={})


def test_text_limit_is_optional_and_positive(tmp_path: Path) -> None:
    assert (
        _settings_with_mastodon_limit(tmp_path, None).accounts["gwent-mastodon"].text_limit is None
    )
    assert (
        _settings_with_mastodon_limit(tmp_path, 1000).accounts["gwent-mastodon"].text_limit == 1000
    )
    (tmp_path / "config.toml").write_text(
        '[accounts.m]\nnetwork = "mastodon"\nhandle = "@a@b.social"\ntext_limit = 0\n'
    )
    with pytest.raises(SettingsError, match=r"accounts\.m\.text_limit"):
        load_settings(tmp_path / "config.toml", environ={})


def _post(text: str) -> Post:
    return Post(
        id=7,
        campaign="c",
        occasion="tip/2027-01-04",
        account="gwent-mastodon",
        language="en",
        title="Tip",
        network="mastodon",
        due_at=datetime(2027, 1, 4, 7, 30, tzinfo=UTC),
        text=text,
        media=[],
        tags=[],
        problems=[],
        state="draft",
    )


@pytest.mark.parametrize(
    ("limit", "shown"), [(None, "Mastodon 600/500 OVER"), (1000, "Mastodon 600/1000")]
)
def test_the_command_line_preview_counts_to_the_accounts_limit(
    tmp_path: Path, limit: int | None, shown: str
) -> None:
    from posts import textviews

    settings = _settings_with_mastodon_limit(tmp_path, limit)
    preview = textviews.preview(_post("a" * 600), settings)
    (line,) = [row for row in preview.splitlines() if row.strip().startswith("length:")]
    assert line.split("length:")[1].strip().startswith(shown + " · X 600/280 OVER")


@pytest.mark.parametrize(("limit", "over"), [(None, True), (1000, False)])
def test_the_web_preview_counts_to_the_accounts_limit(
    tmp_path: Path, limit: int | None, over: bool
) -> None:
    from web import preview

    card = preview.card(_post("a" * 600), _settings_with_mastodon_limit(tmp_path, limit))
    own = card.own_length
    assert own is not None and (own.network, own.used, own.over) == ("mastodon", 600, over)
    assert own.limit == (limit or 500)
    # The other networks are counted to their own limits.
    assert [(n.network, n.limit) for n in card.lengths[1:]] == [
        ("x", 280),
        ("facebook", 63206),
        ("bluesky", 300),
        ("linkedin", 3000),
        ("threads", 500),
        ("instagram", 2200),
    ]


def test_text_limit_advice() -> None:
    assert text_limit_advice("mastodon", None, 500) == ""
    assert text_limit_advice("mastodon", 1000, 1000) == ""
    assert text_limit_advice("mastodon", None, 1000) == (
        "; lint and previews count to 500: set text_limit = 1000 for this account in config.toml"
    )
    assert "count to 1000: set text_limit = 500" in text_limit_advice("mastodon", 1000, 500)


@pytest.mark.parametrize(("text_limit", "advice"), [(None, True), (1000, False)])
def test_accounts_check_reports_the_instances_limit(
    masto_channel_for: Callable[..., Any],
    fake_config: FakeConfig,
    monkeypatch: pytest.MonkeyPatch,
    text_limit: int | None,
    advice: bool,
) -> None:
    monkeypatch.setattr(fake_config, "mastodon_max_characters", 1000)
    channel = masto_channel_for()
    channel.account = channel.account.replace(text_limit=text_limit)
    line = channel.check()
    assert "up to 1000 characters" in line
    assert ("set text_limit = 1000 for this account in config.toml" in line) is advice


# -- Threads: an emoji counts its UTF-8 bytes --------------------------------------------------

FAMILY = "👨\u200d👩\u200d👧"
WELSH_FLAG = "🏴\U000e0067\U000e0062\U000e0077\U000e006c\U000e0073\U000e007f"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dŵr, tŷ, ŵyn, ŷd", 16),  # Welsh letters are letters: 1 each
        (unicodedata.normalize("NFD", "ŵŷ"), 2),  # typed decomposed: still 2
        ("📱", 4),  # one emoji, 4 bytes
        (FAMILY, 18),  # three emoji of 4 bytes joined by two ZWJ of 3
        ("🇬🇧", 8),  # a flag: two regional indicators
        (WELSH_FLAG, 28),  # a tag sequence: 4 + 6 tags of 4
        ("❤️", 6),  # U+2764 made an emoji by U+FE0F
        ("1️⃣", 7),  # a keycap
        ("©", 1),  # not an emoji without U+FE0F
        ("See https://www.gwent.police.uk/stop-siarad-amddiffyn", 53),  # letter by letter
        (f"Siaradwch {FAMILY} https://gwent.police.uk", 10 + 18 + 1 + 23),
    ],
)
def test_threads_counts_emoji_as_their_utf8_bytes(text: str, expected: int) -> None:
    assert measure(text, "threads") == (expected, 500)


def test_threads_limit_and_the_lint_message() -> None:
    from campaign.lint import lint_text

    def length_problems(text: str) -> list[str]:
        found = lint_text(text, networks=["threads"], language="cy")
        return [p.message for p in found if p.rule == "length"]

    assert length_problems("ŵ" * 496 + "📱") == []  # 500
    assert length_problems("ŵ" * 497 + "📱") == [
        "Too long for Threads: 501 of 500 (emoji count their UTF-8 bytes, 4 or more each)."
    ]
    # Other networks keep their own words.
    assert NETWORKS["x"].emoji_note == "emoji count 2"


def _threads_post(tmp_path: Path, text: str) -> tuple[Post, Settings]:
    config = tmp_path / "config.toml"
    config.write_text(
        '[accounts.gwent-threads]\nnetwork = "threads"\nhandle = "@gwentpolice"\n',
        encoding="utf-8",
    )
    post = _post(text)
    post.account, post.network = "gwent-threads", "threads"
    return post, load_settings(config, environ={})


def test_the_command_line_preview_counts_as_threads_does(tmp_path: Path) -> None:
    from posts import textviews

    post, settings = _threads_post(tmp_path, f"Dŵr {FAMILY}")
    (line,) = [r for r in textviews.preview(post, settings).splitlines() if "length:" in r]
    assert line.split("length:")[1].strip().startswith("Threads 22/500 · X 6/280")


def test_the_web_preview_counts_as_threads_does(tmp_path: Path) -> None:
    from web import preview

    post, settings = _threads_post(tmp_path, "ŵ" * 497 + "📱")
    own = preview.card(post, settings).own_length
    assert own is not None and (own.network, own.used, own.limit, own.over) == (
        "threads",
        501,
        500,
        True,
    )
