"""The queue's contract tests run against SQLite and the real PostgreSQL server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.settings import Settings
from posts.db import Database
from tests import pg


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Database]:
    with pg.database(request.param, settings.database_url) as database:
        yield database
