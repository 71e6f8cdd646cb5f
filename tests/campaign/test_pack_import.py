"""Another force imports a campaign pack, its accounts mapped to this force's own (or left
out): in the library, the command line (the web page: tests/web/test_campaigns.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from campaign import store
from campaign.pack import parse_mapping
from core.clock import FakeClock
from core.errors import CampaignError
from core.settings import Settings
from examples import EXAMPLE_CAMPAIGN as EXAMPLE
from posts.db import Database
from tests.helpers import who
from tests.test_publisher_cli import run  # noqa: F401  (the command line, as a fixture)

NAME = "stop-talk-protect"
# Dyfed-Powys's names for the example's six accounts.
THEIRS = {
    f"gwent-{kind}": f"dyfed-{kind}"
    for kind in ("x", "facebook", "bluesky", "mastodon", "linkedin", "instagram")
}


def dyfed_pack(tmp_path: Path) -> Path:
    """The example campaign as Dyfed-Powys would share it: their account names."""
    folder = tmp_path / NAME
    shutil.copytree(EXAMPLE, folder)
    toml = folder / "campaign.toml"
    text = toml.read_text(encoding="utf-8")
    for ours, theirs in THEIRS.items():
        text = text.replace(f'"{ours}"', f'"{theirs}"')
    toml.write_text(text, encoding="utf-8")
    return folder


def test_an_unknown_account_is_refused_by_name_with_how_to_map_it(
    db: Database, settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    with pytest.raises(CampaignError) as refused:
        store.import_folder(db, dyfed_pack(tmp_path), actor=who("alice"), now=clock.now(),
                            settings=settings)
    message = str(refused.value)
    assert "unknown account 'dyfed-x'" in message
    assert "--account dyfed-x=OURS" in message and "--account dyfed-x=-" in message
    assert store.campaign_names(db) == []


def test_mapped_back_the_pack_is_the_example_byte_for_byte(
    db: Database, settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    """The stored revision names this force's accounts; comments and layout are kept."""
    mapping = {theirs: ours for ours, theirs in THEIRS.items()}
    saved = store.import_folder(
        db, dyfed_pack(tmp_path), actor=who("alice"), now=clock.now(), settings=settings,
        accounts=mapping,
    )
    assert saved.changed and "the pack's accounts mapped: dyfed-x → gwent-x" in saved.summary
    assert store.get_revision(db, NAME).files == store.read_folder(EXAMPLE)
    out = tmp_path / "exported"
    store.export_campaign(db, NAME, out)
    assert store.read_folder(out) == store.read_folder(EXAMPLE)
    # Exported and imported again (no mapping needed now): no change.
    again = store.import_folder(db, out, actor=who("alice"), now=clock.now(), settings=settings)
    assert not again.changed


def test_an_account_left_out_leaves_every_list(
    db: Database, settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    mapping: dict[str, str | None] = {theirs: ours for ours, theirs in THEIRS.items()}
    mapping["dyfed-linkedin"] = None
    store.import_folder(
        db, dyfed_pack(tmp_path), actor=who("alice"), now=clock.now(), settings=settings,
        accounts=mapping,
    )
    revision = store.get_revision(db, NAME)
    toml = revision.text("campaign.toml")
    assert "linkedin" not in toml and "dyfed" not in toml
    assert "# Instagram takes only posts with an image" in toml  # comments kept
    loaded = store.load_revision(revision, Path(settings.state_dir))
    assert "gwent-linkedin" not in loaded.spec.campaign.accounts
    assert all("gwent-linkedin" not in s.accounts for s in loaded.spec.series)
    assert "gwent-x" in loaded.spec.campaign.accounts


@pytest.mark.parametrize(
    ("mapping", "named"),
    [
        ({"dyfed-x": "dyfed-x"}, "'dyfed-x' is mapped to 'dyfed-x', which is not an account"),
        ({"gwent-nowhere": "gwent-x"}, "the pack names no account 'gwent-nowhere'"),
        ({"dyfed-x": "gwent-x"}, "unknown account 'dyfed-facebook'"),
    ],
)
def test_a_mapping_this_force_cannot_follow_is_refused_by_name(
    db: Database, settings: Settings, clock: FakeClock, tmp_path: Path,
    mapping: dict[str, str | None], named: str,
) -> None:
    with pytest.raises(CampaignError, match=named):
        store.import_folder(
            db, dyfed_pack(tmp_path), actor=who("alice"), now=clock.now(), settings=settings,
            accounts=mapping,
        )
    assert store.campaign_names(db) == []


def test_leaving_out_every_account_of_a_series_is_refused_by_name(
    db: Database, settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    """An entry with no account left would go to all the campaign's accounts."""
    mapping: dict[str, str | None] = {theirs: ours for ours, theirs in THEIRS.items()}
    mapping["dyfed-instagram"] = None  # the occasions' images go to Instagram too
    folder = dyfed_pack(tmp_path)
    toml = folder / "campaign.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace(
            'accounts = ["dyfed-x", "dyfed-facebook", "dyfed-bluesky", "dyfed-mastodon", '
            '"dyfed-linkedin"]',
            'accounts = ["dyfed-linkedin"]',
        ),
        encoding="utf-8",
    )
    mapping["dyfed-linkedin"] = None
    with pytest.raises(CampaignError, match=r"series\[0\]\.accounts \(daily-tip\)"):
        store.import_folder(
            db, folder, actor=who("alice"), now=clock.now(), settings=settings, accounts=mapping
        )
    assert store.campaign_names(db) == []


@pytest.mark.parametrize("pair", ["dyfed-x", "=gwent-x", "dyfed-x="])
def test_a_malformed_pair_is_named(pair: str) -> None:
    with pytest.raises(CampaignError, match="THEIRS=OURS"):
        parse_mapping([pair])
    with pytest.raises(CampaignError, match="mapped twice"):
        parse_mapping(["dyfed-x=gwent-x", "dyfed-x=-"])


def test_the_command_line_maps_accounts_on_import_and_plan(
    run: object, db: Database, tmp_path: Path  # noqa: F811
) -> None:
    invoke = run  # the fixture: publisher's command line with a person
    folder = dyfed_pack(tmp_path)
    refused = invoke("campaign", "import", str(folder))  # type: ignore[operator]
    assert refused.exit_code == 1 and "unknown account 'dyfed-x'" in refused.output
    assert store.campaign_names(db) == []
    bad = invoke(  # type: ignore[operator]
        "campaign", "import", str(folder), *_flags(), "--account", "dyfed-linkedin=gwent-nope"
    )
    assert bad.exit_code == 1 and "'gwent-nope', which is not an account" in bad.output
    assert store.campaign_names(db) == []
    planned = invoke(  # type: ignore[operator]
        "plan", str(folder), "--from", "2027-03-18", "--to", "2027-03-18", *_flags(),
        "--account", "dyfed-linkedin=-",
    )
    assert planned.exit_code == 0, planned.output
    assert "dyfed-linkedin left out" in planned.output
    toml = store.get_revision(db, NAME).text("campaign.toml")
    assert "dyfed" not in toml and "linkedin" not in toml
    again = invoke(  # type: ignore[operator]
        "campaign", "import", str(folder), *_flags(), "--account", "dyfed-linkedin=-"
    )
    assert again.exit_code == 0 and "is unchanged (revision 1)" in again.output


def _flags() -> list[str]:
    """--account for every account but LinkedIn (the tests choose that one)."""
    out = []
    for ours, theirs in THEIRS.items():
        if "linkedin" not in theirs:
            out += ["--account", f"{theirs}={ours}"]
    return out
