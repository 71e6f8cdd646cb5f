"""Shared fixtures: a real SQLite file per test, settings with dry-run accounts, a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.clock import FakeClock
from core.settings import Settings, load_settings
from posts.db import Database

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    config = tmp_path / "config.toml"
    config.write_text(
        """
state_dir = "state"
[worker]
threads = 2
lease_seconds = 60
max_attempts = 3
backoff_base_seconds = 10
[health]
port = 0  # any free port: tests never bind a fixed one
[accounts.gwent-x]
network = "x"
handle = "@GwentPolice"
display_name = "Gwent Police"
languages = ["en", "cy"]
[accounts.gwent-facebook]
network = "facebook"
handle = "GwentPolice"
display_name = "Gwent Police"
languages = ["en", "cy"]
[accounts.gwent-bluesky]
network = "bluesky"
handle = "gwentpolice.bsky.social"
languages = ["en", "cy"]
[accounts.gwent-mastodon]
network = "mastodon"
handle = "@GwentPolice@mastodon.social"
languages = ["en", "cy"]
[accounts.gwent-linkedin]
network = "linkedin"
handle = "2414183"
languages = ["en", "cy"]
[accounts.gwent-instagram]
network = "instagram"
handle = "17841400000000001"
languages = ["en", "cy"]
""",
        encoding="utf-8",
    )
    return load_settings(config, environ={})


@pytest.fixture
def db(settings: Settings) -> Database:
    database = Database(settings.database_url)
    database.ensure_schema()
    yield database
    database.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2027, 1, 4, 12, 0, tzinfo=UTC))


# The longest tests, started first so that `make test`'s two workers (pytest-xdist, which
# hands out tests two at a time) finish together: the model test alone on one worker, the
# crash tests on the other, everything else behind them.
LONG_FIRST = (
    "tests/schedules/test_exactly_once_model.py",
    "tests/schedules/test_many_workers.py::test_four_workers_on_postgresql",
    "tests/schedules/test_crash.py::test_sigkill_again_and_again_under_load",
    "tests/schedules/test_crash.py::test_sends_slower_than_the_lease",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        found = [i for i, prefix in enumerate(LONG_FIRST) if item.nodeid.startswith(prefix)]
        return found[0] if found else len(LONG_FIRST)

    items.sort(key=rank)  # stable: the rest keeps pytest's order
