"""Engines and sessions for SQLite (default) and PostgreSQL, and schema migrations.

SQLite: WAL, and every transaction ``BEGIN IMMEDIATE`` — a plain ``BEGIN`` that reads
then writes fails with "database is locked" under concurrency whatever the busy timeout.

SQLAlchemy is imported when a Database is made, not with this module: the commands that
only read (``status``, ``queue``) use its revision and URL helpers with posts/reader.py
and never load SQLAlchemy.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from core.errors import NoDatabase, SettingsError

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine
    from sqlalchemy.engine import Dialect
    from sqlalchemy.orm import Session

MIN_SQLITE = (3, 35, 0)  # UPDATE ... RETURNING
# The newest migration in migrations/versions (a test keeps the two in step). Knowing it
# here saves loading Alembic on every command.
SCHEMA_REVISION = "0014"


@dataclass(frozen=True)
class Driver:
    """A transaction on the driver's own connection, and the dialect that statements run
    on it are compiled for."""

    connection: Any
    dialect: Dialect


class Database:
    def __init__(self, url: str, *, echo: bool = False) -> None:
        from sqlalchemy.orm import sessionmaker

        self.url = url
        self.engine = make_engine(url, echo=echo)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer: threads of this process queue on a lock that wakes them at
        # once, instead of SQLite's busy handler, which sleeps and retries.
        self._writer = threading.RLock() if self.dialect == "sqlite" else nullcontext()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One transaction: committed if the block ends normally, rolled back otherwise."""
        with self._writer, self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """One transaction on a bare connection, for the worker's hot path (no ORM)."""
        with self._writer, self.engine.begin() as connection:
            yield connection

    @contextmanager
    def driver(self) -> Iterator[Driver]:
        """One transaction on the driver's own connection (DB-API: sqlite3 or psycopg),
        for the worker's claim and record, whose statements are compiled once
        (``journal.DriverStatement``): SQLAlchemy's per-transaction and per-execution
        work cost several times the statements' own on SQLite. Committed if the block
        ends normally, rolled back otherwise; the connection goes back to the pool."""
        with self._writer:
            pooled = self.engine.raw_connection()
            try:
                connection: Any = pooled.driver_connection
                if self.dialect == "sqlite":
                    connection.execute("BEGIN IMMEDIATE")  # as every write transaction
                try:
                    yield Driver(connection, self.engine.dialect)
                except BaseException:
                    connection.rollback()
                    raise
                connection.commit()
            finally:
                pooled.close()

    def upgrade(self) -> None:
        """Bring the schema to the newest migration (idempotent); creates a SQLite file."""
        from alembic import command

        self._make_folder()
        with self.engine.begin() as connection:
            config = _alembic_config(connection)
            command.upgrade(config, "head")

    def migration_level(self) -> tuple[str | None, str]:
        """(current revision, newest revision)."""
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        with self.engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
            head = ScriptDirectory.from_config(_alembic_config(connection)).get_current_head()
        return current, head or ""

    def _make_folder(self) -> None:
        database = self.engine.url.database
        if self.dialect == "sqlite" and database not in (None, "", ":memory:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)

    def has_schema(self) -> bool:
        """Whether this database was created (by ``publisher db upgrade`` or ``plan``).
        Looks before it connects: connecting to a missing SQLite file would create it."""
        from sqlalchemy import inspect

        database = self.engine.url.database
        if self.dialect == "sqlite" and database not in (None, "", ":memory:"):
            return Path(database).is_file() and inspect(self.engine).has_table("alembic_version")
        return inspect(self.engine).has_table("alembic_version")

    def ensure_schema(self) -> None:
        """Migrate if needed (creating the database); cheap when already at the newest
        revision."""
        from sqlalchemy import inspect

        self._make_folder()
        if inspect(self.engine).has_table("alembic_version"):
            with self.engine.connect() as connection:
                current = connection.exec_driver_sql(
                    "SELECT version_num FROM alembic_version"
                ).scalar()
            if current == SCHEMA_REVISION:
                return
        self.upgrade()

    def dispose(self) -> None:
        self.engine.dispose()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only transaction for pages and exports: on SQLite a deferred ``BEGIN``,
        which in WAL mode reads a snapshot without taking the write lock or this
        process's writer lock, so a long export never keeps the worker waiting (and the
        worker never keeps a page waiting). Writing in it is a mistake it does not check."""
        from sqlalchemy.orm import Session

        with self.engine.connect() as connection:
            connection.execution_options(read_only=True)
            with connection.begin(), Session(bind=connection, expire_on_commit=False) as session:
                yield session


CHANNEL = "campaign_publisher"


def notify_workers(session: Session) -> None:
    """Wake every worker when this transaction commits (PostgreSQL LISTEN/NOTIFY): a post
    was approved, a hold changed. SQLite workers poll, as they share one host."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy import text

        session.execute(text(f"NOTIFY {CHANNEL}"))


def open_database(url: str, *, create: bool = False) -> Database:
    """The queue's database, migrated to the newest schema. Refuses (``NoDatabase``) a
    database that was never created unless ``create``: a command run from the wrong
    folder must not act on a new empty queue and report success."""
    db = Database(url)
    if not create and not db.has_schema():
        db.dispose()
        raise NoDatabase(
            f"no Campaign Publisher database at {describe_url(url)}. Check the settings "
            "(--config, PUBLISHER_CONFIG, ./config.toml, /etc/campaign-publisher/config.toml), "
            "or create it with `publisher db upgrade`."
        )
    db.ensure_schema()
    return db


def describe_url(url: str) -> str:
    """A database URL fit to show: a SQLite file's path, or the URL without its password
    (as written otherwise: no SQLAlchemy needed to show it)."""
    if url.startswith("sqlite:"):
        return url.removeprefix("sqlite:").removeprefix("//").removeprefix("/").split("?")[
            0
        ] or ":memory:"
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user, _, host = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{user.partition(':')[0]}:***@{host}"))


def make_engine(url: str, *, echo: bool = False) -> Engine:
    from sqlalchemy import create_engine

    if url.startswith("sqlite"):
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise SettingsError(
                f"SQLite {sqlite3.sqlite_version} is too old: 3.35 or newer is "
                "needed (UPDATE ... RETURNING)"
            )
        engine = create_engine(url, echo=echo, connect_args={"timeout": 30})
        _sqlite_immediate(engine)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    engine = create_engine(url, echo=echo, pool_pre_ping=True)
    _postgresql_no_jit(engine)
    return engine


def _postgresql_no_jit(engine: Engine) -> None:
    """No JIT: our statements are short, and the claim's estimated cost (a subquery per
    candidate) crosses jit_above_cost, so PostgreSQL spent 1.4 s compiling a claim that
    ran in 60 ms (EXPLAIN ANALYZE, 10,000 due posts). Set per connection, not in the
    URL's ``options``, which a deployment may use for its own settings."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("SET jit = off")
        dbapi_connection.commit()


def _sqlite_immediate(engine: Engine) -> None:
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        if connection.get_execution_options().get("read_only"):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def _alembic_config(connection: Any) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.attributes["connection"] = connection
    return config
