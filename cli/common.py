"""What every command shares: the App (settings, database, clock and the acting person,
built on first use) and the decorators that give it to a command (``pass_app``), refuse
without a personal token (``acting``), turn our errors into a message
(``friendly_errors``) and add the queue's filters (``filter_options``). Heavy libraries
are imported inside, on first use."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from core.clock import Clock
    from core.settings import Settings
    from people.rights import Actor
    from posts.db import Database
    from posts.listing import PostFilter
    from posts.reader import Reader

F = TypeVar("F", bound=Callable[..., Any])


class App:
    """What a command needs, built on first use."""

    def __init__(self, config: Path | None, *, verbose: bool = False) -> None:
        self.config = config
        self.verbose = verbose
        # Only `plan`, `db upgrade` and `demo` may create a database; every other command
        # refuses one that does not exist (posts.db.open_database).
        self.may_create_database = False
        self._settings: Settings | None = None
        self._db: Database | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from core.settings import load_settings

            self._settings = load_settings(self.config)
            from ops.logs import register_configured_secrets

            register_configured_secrets(self._settings)  # redacted from every log line
        return self._settings

    @property
    def db(self) -> Database:
        if self._db is None:
            from posts.db import open_database

            if self.verbose:  # a log line, so that JSON logs stay JSON
                import logging

                logging.getLogger("publisher").info(self.where().replace("\n", "; "))
            self._db = open_database(
                self.settings.database_url, create=self.may_create_database
            )
        return self._db

    @contextmanager
    def reading(self) -> Iterator[Reader]:
        """A read transaction for the commands that only read (``status``, ``queue``):
        a bare DB-API connection (posts/reader.py), so that they never load SQLAlchemy;
        through ``db`` (which refuses a missing database and migrates an older one, as
        for every command) when the database is not plainly at the newest schema."""
        from posts.db import SCHEMA_REVISION
        from posts.reader import Reader, open_reader

        if self._db is None:
            with open_reader(self.settings.database_url, revision=SCHEMA_REVISION) as reader:
                if reader is not None:
                    yield reader
                    return
        with self.db.reading() as session:
            yield Reader.of(session)

    def where(self) -> str:
        """Which settings file and which database this command uses."""
        from posts.db import describe_url

        source = self.settings.config_path or "built-in defaults (no settings file found)"
        return f"Settings: {source}\nDatabase: {describe_url(self.settings.database_url)}"

    @property
    def clock(self) -> Clock:
        from core.clock import SystemClock

        return SystemClock()

    def now(self) -> datetime:
        return self.clock.now()

    @property
    def zone(self) -> Any:
        from zoneinfo import ZoneInfo

        return ZoneInfo(self.settings.timezone)

    def given_token(self) -> tuple[str, str] | None:
        """The personal token this command runs with and where it came from: the
        PUBLISHER_TOKEN variable, else the file the settings' ``token_file`` names (or
        PUBLISHER_TOKEN_FILE); None when neither is given."""
        from core.errors import NotIdentified
        from core.secrets import read_owner_only

        value = os.environ.get("PUBLISHER_TOKEN", "").strip()
        if value:
            return value, "PUBLISHER_TOKEN"
        file = self.settings.token_file
        if file is None:
            return None
        where = f"the token file {file} (token_file, or PUBLISHER_TOKEN_FILE)"
        text = read_owner_only(file, "personal token")
        if not text:
            raise NotIdentified(f"{where} is empty; put your personal token in it")
        return text, where

    def actor(self, *, required: bool = True) -> Actor | None:
        """Who runs this command: the registered, enabled person whose personal token was
        given (people/tokens.py). Never a name typed on the command line."""
        from core.errors import NotIdentified
        from people.rights import Actor
        from people.tokens import identify

        found = self.given_token()
        if found is None:
            if not required:
                return None
            old = (
                " (PUBLISHER_USER is no longer read: a name proves nothing)"
                if os.environ.get("PUBLISHER_USER")
                else ""
            )
            raise NotIdentified(
                "this command acts as a registered person and no personal token was given: "
                "set PUBLISHER_TOKEN to your token, or name a file holding it with "
                "PUBLISHER_TOKEN_FILE (token_file in the settings). An administrator makes "
                f"one with `publisher users token NAME`{old}."
            )
        token, source = found
        return Actor.of(identify(self.db, token, source=source))

    def person(self) -> Actor:
        found = self.actor()
        assert found is not None  # required: refused above
        return found

    def channel_for(self, account: str) -> Any:
        from channels.registry import channel_for

        return channel_for(account, self.settings.account(account), self.settings)


pass_app = click.make_pass_decorator(App)


def acting(func: F) -> F:
    """The command acts as the person whose personal token was given (``actor``);
    refused, naming PUBLISHER_TOKEN, without one. Inside ``friendly_errors``."""

    @functools.wraps(func)
    def wrapper(app: App, *args: Any, **kwargs: Any) -> Any:
        return func(app, *args, actor=app.person(), **kwargs)

    return wrapper  # type: ignore[return-value]


# A pack from another force names its own accounts: which of ours each one is.
account_map_option = click.option(
    "--account",
    "account_map",
    multiple=True,
    metavar="THEIRS=OURS",
    help="Import a pack's account as one of ours (THEIRS=- leaves it out). Repeatable.",
)


def filter_options(func: F) -> F:
    for option in reversed(
        [
            click.option(
                "--from", "start", type=click.DateTime(["%Y-%m-%d"]), help="First local day."
            ),
            click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), help="Last local day."),
            click.option("--day", type=click.DateTime(["%Y-%m-%d"]), help="One local day."),
            click.option("--account", help="Only this account."),
            click.option("--campaign", help="Only this campaign."),
            click.option("--language", help="Only this language (en, cy, cy+en)."),
            click.option(
                "--state", "states", multiple=True, help="Only posts in this state (repeatable)."
            ),
            click.option(
                "--id", "ids", type=int, multiple=True, help="Only this post (repeatable)."
            ),
        ]
    ):
        func = option(func)
    return func


def make_filter(
    start: datetime | None = None,
    end: datetime | None = None,
    day: datetime | None = None,
    account: str | None = None,
    campaign: str | None = None,
    language: str | None = None,
    states: tuple[str, ...] = (),
    ids: tuple[int, ...] = (),
) -> PostFilter:
    from posts.listing import PostFilter

    return PostFilter(
        states=states,
        day=day_of(day),
        start=day_of(start),
        end=day_of(end),
        account=account,
        campaign=campaign,
        language=language,
        ids=ids,
    )


def day_of(value: datetime | None) -> date | None:
    return value.date() if value else None


def friendly_errors(func: F) -> F:
    """Our errors become a one-paragraph message and exit status 1, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from core.errors import PublisherError

        try:
            return func(*args, **kwargs)
        except PublisherError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]

