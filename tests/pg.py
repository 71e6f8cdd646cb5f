"""The real PostgreSQL server for tests: each use gets its own schema, dropped afterwards.

Set ``PUBLISHER_TEST_POSTGRES`` to another server's URL; tests skip with a message when
none is reachable.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from posts.db import Database

SERVER = os.environ.get("PUBLISHER_TEST_POSTGRES", "postgresql://127.0.0.1:5432/test")
HOW = (
    "PostgreSQL tests need a server: start one on 127.0.0.1:5432 with a database `test` "
    "and trust auth (or set PUBLISHER_TEST_POSTGRES to its URL)"
)


def _connect():  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(SERVER, autocommit=True, connect_timeout=3)


def available() -> bool:
    try:
        _connect().close()
    except Exception:
        return False
    return True


@contextmanager
def schema_url() -> Iterator[str]:
    """A SQLAlchemy URL whose connections live in a fresh schema."""
    if not available():
        if os.environ.get("CI"):
            raise RuntimeError(HOW)  # CI must run them, never skip silently
        pytest.skip(HOW)
    name = f"cp_test_{uuid.uuid4().hex[:12]}"
    with _connect() as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield f"{SERVER}?options=-csearch_path%3D{name}"
    finally:
        with _connect() as conn:
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')


@contextmanager
def database(kind: str, sqlite_url: str) -> Iterator[Database]:
    """A database with its schema made: ``sqlite_url``'s, or (``kind`` "postgresql") a
    fresh PostgreSQL schema; for fixtures with ``params=["sqlite", "postgresql"]``."""
    from posts.db import Database

    with schema_url() if kind == "postgresql" else nullcontext(sqlite_url) as url:
        db = Database(url)
        db.ensure_schema()
        try:
            yield db
        finally:
            db.dispose()
