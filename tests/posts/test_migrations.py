"""The migrations build exactly the tables the models describe, on SQLite and PostgreSQL,
and ``SCHEMA_REVISION`` (checked by every command instead of loading Alembic) is the head."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from posts.db import SCHEMA_REVISION, Database
from posts.schema import all_tables


def test_migrations_match_the_models(db: Database) -> None:
    assert db.migration_level() == (SCHEMA_REVISION, SCHEMA_REVISION)
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), all_tables())
    # SQLite reflects JSON and floats loosely; type differences are not schema drift here.
    assert [d for d in diff if d[0] not in ("modify_type",)] == []
