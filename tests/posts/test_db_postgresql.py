"""The PostgreSQL engine's own settings."""

from __future__ import annotations

from sqlalchemy import text

from posts.db import Database
from tests import pg


def test_connections_run_without_jit_and_keep_the_urls_options() -> None:
    with pg.schema_url() as url:
        db = Database(url)
        try:
            with db.engine.connect() as connection:
                assert connection.execute(text("SHOW jit")).scalar() == "off"
                # The URL's own options (here the test's schema) still apply.
                assert connection.execute(text("SHOW search_path")).scalar().startswith(
                    "cp_test_"
                )
                connection.rollback()  # a pooled connection keeps the setting after a reset
            with db.engine.connect() as connection:
                assert connection.execute(text("SHOW jit")).scalar() == "off"
        finally:
            db.dispose()
