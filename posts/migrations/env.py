"""Alembic environment: runs on the connection ``Database.upgrade`` hands over."""

from alembic import context

from posts.schema import all_tables

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - `alembic` CLI use
    raise SystemExit("run migrations with `publisher db upgrade`")
context.configure(
    connection=connection,
    target_metadata=all_tables(),  # every model module imported
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
