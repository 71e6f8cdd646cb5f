"""The command line (``publisher …``) and the wiring: read settings, build the pieces,
call the library, print. No decisions here. Heavy libraries are imported inside the
commands so ``publisher --help`` starts fast.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from core.clock import Clock
    from core.settings import Settings
    from people.rights import Actor
    from posts.db import Database
    from posts.review import PostFilter

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


def administering(func: F) -> F:
    """``acting``, for an administrator only (managing users)."""

    @functools.wraps(func)
    def wrapper(app: App, *args: Any, **kwargs: Any) -> Any:
        from people.rights import check

        actor = app.person()
        check(actor, "manage_users")
        return func(app, *args, actor=actor, **kwargs)

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
    from posts.review import PostFilter

    return PostFilter(
        states=states,
        day=_d(day),
        start=_d(start),
        end=_d(end),
        account=account,
        campaign=campaign,
        language=language,
        ids=ids,
    )


def _d(value: datetime | None) -> date | None:
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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    type=click.Path(path_type=Path),
    envvar="PUBLISHER_CONFIG",
    help="Settings file (default: ./config.toml, then /etc/campaign-publisher/config.toml, "
    "then the built-in defaults).",
)
@click.option(
    "-v", "--verbose", is_flag=True, help="Log more, and say which settings and database."
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Logs: one line per event, for people (text) or machines (json). Secrets redacted.",
)
@click.pass_context
def cli(ctx: click.Context, config: Path | None, verbose: bool, log_format: str) -> None:
    """Campaign Publisher: plan, review and publish online-safety campaigns, exactly once."""
    from ops.logs import configure_logging

    configure_logging(log_format, verbose=verbose)
    ctx.obj = App(config, verbose=verbose)


@cli.command()
@click.argument("campaign", type=click.Path(path_type=Path))
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), help="First local day to plan.")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), help="Last local day to plan.")
@click.option(
    "--keep-removed",
    is_flag=True,
    help="Keep posts no longer in the campaign (default: cancel them; they would publish).",
)
@click.option("--reason", default="", help="Why, for the posts cancelled (audit log).")
@account_map_option
@pass_app
@friendly_errors
@acting
def plan(
    app: App,
    campaign: Path,
    start: datetime | None,
    end: datetime | None,
    keep_removed: bool,
    reason: str,
    account_map: tuple[str, ...],
    actor: Actor,
) -> None:
    """Import CAMPAIGN (a folder, or the name of a stored campaign) as a new revision if
    it changed, then plan it into dated drafts. Safe to run again."""
    app.may_create_database = True
    from campaign.pack import parse_mapping
    from campaign.store import campaign_names
    from posts.planning import plan_campaign

    mapping = parse_mapping(account_map)
    if campaign.exists() or str(campaign) not in campaign_names(app.db):
        saved = _import(app, actor, campaign, mapping)
        if saved.changed:
            click.echo(f"Imported {saved.campaign} as revision {saved.number}: {saved.summary}.")
        name = saved.campaign
    else:
        if mapping:
            raise click.UsageError("--account maps the accounts of a folder being imported")
        name = str(campaign)
        _may_plan(app, actor, None, name, {})
    stored, report = plan_campaign(
        app.db,
        app.settings,
        name,
        _d(start),
        _d(end),
        actor=actor.name,
        now=app.now(),
        removed="keep" if keep_removed else "cancel",
        reason=reason,
    )
    click.echo(
        f"Planned {name} (revision {stored.revision}): {len(stored.drafts)} posts — "
        f"{report.summary()}."
    )


def _import(app: App, actor: Actor, folder: Path, mapping: Any) -> Any:
    """Import ``folder`` (its accounts mapped) as a new revision, once ``actor`` is seen
    to have rights on every account it names."""
    from campaign.store import import_folder

    _may_plan(app, actor, folder, str(folder), mapping)
    return import_folder(
        app.db, folder, actor=actor.name, now=app.now(), settings=app.settings, accounts=mapping
    )


def _may_plan(app: App, actor: Actor, folder: Path | None, name: str, mapping: Any) -> None:
    """The same rule as the web's campaign pages: rights on every account the campaign
    names (a folder as it will be stored, or the stored campaign), checked first."""
    from campaign import folder as campaign_folder
    from campaign import pack, store
    from people.rights import check_accounts

    if folder is not None:
        files = pack.map_accounts(store.read_folder(folder), mapping, app.settings)
        accounts = pack.pack_accounts(files)
    else:
        revision = store.get_revision(app.db, name)
        accounts = list(campaign_folder.view(revision.files)["info"].get("accounts", []))
    check_accounts(actor, "plan", accounts, what=f"campaign {name}")


@cli.command("campaigns")
@pass_app
@friendly_errors
def campaigns_list(app: App) -> None:
    """Every campaign in the database: dates, accounts, languages, posts by state."""
    from campaign.store import list_campaigns

    rows = list_campaigns(app.db)
    if not rows:
        click.echo("No campaigns yet: publisher campaign import FOLDER")
    for row in rows:
        counts = ", ".join(f"{n} {state}" for state, n in sorted(row.counts.items())) or "no posts"
        click.echo(
            f"{row.name} (revision {row.revision}) {row.title!r}: {row.start} to {row.end}, "
            f"{row.timezone}; {', '.join(row.languages)}; {', '.join(row.accounts)}; {counts}"
        )


@cli.group("campaign")
def campaign_group() -> None:
    """Import and export campaigns (the folder format: campaign.toml + templates/)."""


@campaign_group.command("import")
@click.argument("folder", type=click.Path(path_type=Path, exists=True))
@account_map_option
@pass_app
@friendly_errors
@acting
def campaign_import(app: App, folder: Path, account_map: tuple[str, ...], actor: Actor) -> None:
    """Read FOLDER into the database as a new revision (none if nothing changed). A pack
    from another force: --account THEIRS=OURS for each account this force lacks."""
    app.may_create_database = True
    from campaign.pack import parse_mapping

    saved = _import(app, actor, folder, parse_mapping(account_map))
    if saved.changed:
        click.echo(f"Imported {saved.campaign} as revision {saved.number}: {saved.summary}.")
    else:
        click.echo(f"{saved.campaign} is unchanged (revision {saved.number}).")


@campaign_group.command("export")
@click.argument("name")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--revision", type=int, default=None, help="This revision (default: current).")
@pass_app
@friendly_errors
def campaign_export(app: App, name: str, folder: Path, revision: int | None) -> None:
    """Write campaign NAME's files into FOLDER (empty or new), byte for byte."""
    from campaign.store import export_campaign

    rev = export_campaign(app.db, name, folder, number=revision)
    click.echo(f"Exported {name} revision {rev.number}: {len(rev.files)} file(s) to {folder}.")


@cli.command()
@filter_options
@click.option("--limit", type=int, default=None, help="Show at most this many posts.")
@pass_app
@friendly_errors
def preview(app: App, limit: int | None, **filters: Any) -> None:
    """Show posts exactly as they will be sent, with their lengths and problems.

    With your personal token (PUBLISHER_TOKEN), records that you saw the posts you may
    approve (or sign a stage of): approval needs it. Without one it only shows them."""
    from posts import textviews
    from posts.review import find_posts, may_preview, record_previews

    actor = app.actor(required=False)
    posts = find_posts(app.db, make_filter(**filters), app.zone)[:limit]
    for post in posts:
        click.echo(textviews.preview(post, app.settings) + "\n")
    signoff = app.settings.signoff
    mine = [p.id for p in posts if actor is not None and may_preview(actor, p, signoff)]
    if actor is not None and mine:
        record_previews(app.db, mine, actor=actor, now=app.now(), signoff=signoff)
    said = f"{len(posts)} post(s) shown"
    if actor is None:
        said += " (not recorded as previewed: no personal token, PUBLISHER_TOKEN)"
    elif mine:
        said += f", {len(mine)} recorded as previewed by {actor.name}"
    if actor is not None and len(mine) < len(posts):
        said += f"; {len(posts) - len(mine)} not, as {actor.name} may not approve them"
    click.echo(said + ".")


@cli.command()
@filter_options
@pass_app
@friendly_errors
def queue(app: App, **filters: Any) -> None:
    """List posts with their state."""
    from posts import textviews
    from posts.review import find_posts

    posts = find_posts(app.db, make_filter(**filters), app.zone)
    click.echo(textviews.queue(posts, app.settings))
    _stage_lines(app, [p.id for p in posts if p.state == "in_review"])


def _stage_lines(app: App, ids: list[int]) -> None:
    from posts.stages import progress_for

    progress = progress_for(app.db, ids, app.settings.signoff)
    for post_id in ids:
        if progress[post_id].stages:
            click.echo(f"{post_id:>5}  stages: {progress[post_id].summary()}")


@cli.command()
@click.argument("post_id", type=int)
@pass_app
@friendly_errors
def show(app: App, post_id: int) -> None:
    """One post: its preview, sign-off stages, review links and history."""
    from posts import textviews
    from posts.review import PostFilter, events_for, find_posts, get_post
    from posts.review_links import links_for

    with app.db.transaction() as session:
        get_post(session, post_id)  # NotFound for a post that does not exist
    (post,) = find_posts(app.db, PostFilter(ids=(post_id,)), app.zone)
    click.echo(textviews.preview(post, app.settings) + "\n")
    _stage_lines(app, [post.id])
    for link in links_for(app.db, post.id):
        status = "revoked" if link.revoked_at else f"until {link.expires_at:%Y-%m-%d %H:%M} UTC"
        click.echo(f"review link {link.id} for {link.label}: {status}")
    click.echo(textviews.events(events_for(app.db, post.id), app.zone))


@cli.command("review-link")
@click.argument("post_id", type=int)
@click.option("--expires", default="3d", show_default=True, help="How long it works: 3d, 12h.")
@click.option("--for", "label", default="external reviewer", help="Who it is for (audit log).")
@click.option("--revoke", is_flag=True, help="End every link to this post instead.")
@pass_app
@friendly_errors
@acting
def review_link(
    app: App, post_id: int, expires: str, label: str, revoke: bool, actor: Actor
) -> None:
    """A signed, expiring link to a read-only preview for a partner with no account."""
    from people.rights import check
    from posts import review_links
    from posts.review import get_post
    from web.app import load_secret_key

    with app.db.reading() as session:
        account = get_post(session, post_id).account
    check(actor, "review_link", account, what=f"post {post_id}")
    if revoke:
        ended = review_links.revoke(app.db, post_id, actor=actor.name, now=app.now())
        click.echo(f"Revoked {len(ended)} link(s) to post {post_id}.")
        return
    link, token = review_links.create(
        app.db,
        post_id,
        actor=actor.name,
        now=app.now(),
        expires_in=review_links.parse_duration(expires),
        label=label,
        secret=load_secret_key(app.settings.state_dir),
        signoff=app.settings.signoff,
    )
    base = app.settings.web.public_url or "(the web app's address)"
    click.echo(f"{base}/review/{token}")
    click.echo(f"Link {link.id} for {link.label}, until {link.expires_at:%Y-%m-%d %H:%M} UTC.")


def _targets(
    app: App, ids: tuple[int, ...], day: datetime | None, states: tuple[str, ...]
) -> list[int]:
    from core.errors import QueueError
    from posts.review import find_posts

    if bool(ids) == bool(day):
        raise QueueError("name the posts by id, or give --day DATE (not both)")
    if ids:
        return list(ids)
    posts = find_posts(app.db, make_filter(day=day, states=states), app.zone)
    if not posts:
        raise QueueError(f"no posts {' or '.join(states)} on {day:%Y-%m-%d}")
    return [p.id for p in posts]


def _report(verb: str, posts: list[Any]) -> None:
    click.echo(f"{verb} {len(posts)} post(s): " + ", ".join(str(p.id) for p in posts))


@cli.command()
@click.argument("ids", type=int, nargs=-1)
@click.option("--day", type=click.DateTime(["%Y-%m-%d"]), help="Every draft of this local day.")
@click.option("--yes", is_flag=True, help="Send one half of a Welsh/English pair without asking.")
@pass_app
@friendly_errors
@acting
def submit(app: App, ids: tuple[int, ...], day: datetime | None, yes: bool, actor: Actor) -> None:
    """Send drafts for review."""
    from posts.review import submit as do_submit
    from posts.stages import lone_halves

    targets = _targets(app, ids, day, ("draft",))
    lone = lone_halves(app.db, targets)
    for post_id, other, language in lone:
        click.echo(
            f"Warning: post {post_id} goes for review without its counterpart, post {other} "
            f"({language}), which is still a draft; a pair is published together or not at all."
        )
    if lone and not yes and not click.confirm("Send for review all the same?", default=False):
        raise click.exceptions.Exit(1)
    _report("Submitted", do_submit(app.db, targets, actor=actor, now=app.now()))


@cli.command()
@click.argument("ids", type=int, nargs=-1)
@click.option("--day", type=click.DateTime(["%Y-%m-%d"]), help="Every post in review that day.")
@click.option("--stage", default=None, help="The sign-off stage you approve (default: the next).")
@pass_app
@friendly_errors
@acting
def approve(
    app: App, ids: tuple[int, ...], day: datetime | None, stage: str | None, actor: Actor
) -> None:
    """Approve posts you have previewed and did not write (one stage of their sign-off,
    where the settings list stages)."""
    from posts.review import approve as do_approve
    from posts.stages import progress_for

    signoff = app.settings.signoff
    targets = _targets(app, ids, day, ("in_review",))
    posts = do_approve(app.db, targets, actor=actor, now=app.now(), signoff=signoff, stage=stage)
    done = [p for p in posts if p.state == "approved"]
    if done or not posts:
        _report("Approved", done)
    for post_id, progress in progress_for(app.db, [p.id for p in posts], signoff).items():
        if progress.stages and not progress.complete:
            click.echo(f"Post {post_id}: signed; {progress.summary()}")


@cli.command()
@click.argument("ids", type=int, nargs=-1, required=True)
@click.option("--reason", required=True, help="What the author should change.")
@pass_app
@friendly_errors
@acting
def reject(app: App, ids: tuple[int, ...], reason: str, actor: Actor) -> None:
    """Send posts back to their author with a reason."""
    from posts.review import reject as do_reject

    _report("Rejected", do_reject(app.db, list(ids), actor=actor, reason=reason, now=app.now()))


@cli.command()
@click.argument("ids", type=int, nargs=-1, required=True)
@click.option("--reason", default="cancelled", help="Why, for the audit log.")
@pass_app
@friendly_errors
@acting
def cancel(app: App, ids: tuple[int, ...], reason: str, actor: Actor) -> None:
    """Cancel posts that have not been sent."""
    from posts.review import cancel as do_cancel

    _report("Cancelled", do_cancel(app.db, list(ids), actor=actor, reason=reason, now=app.now()))


@cli.command()
@click.argument("post_id", type=int)
@click.option("--text", help="The new text (voids any approval).")
@click.option(
    "--text-file", type=click.File("r", encoding="utf-8"), help="Read the new text from a file."
)
@click.option(
    "--if-content",
    "expected_hash",
    metavar="HASH",
    help="Save only if the post's content is still HASH (the content hash you looked at, "
    "or its first 12 characters or more); else nothing is saved.",
)
@pass_app
@friendly_errors
@acting
def edit(
    app: App,
    post_id: int,
    text: str | None,
    text_file: Any,
    expected_hash: str | None,
    actor: Actor,
) -> None:
    """Change a post's text. Any approval is voided; it goes back to draft."""
    from core.errors import QueueError
    from posts.review import edit as do_edit

    new = text_file.read().strip() if text_file else text
    if new is None:
        raise QueueError("give the new text with --text or --text-file")
    post = do_edit(
        app.db,
        post_id,
        actor=actor,
        now=app.now(),
        text=new,
        expected_hash=expected_hash,
        text_limits={n: a.text_limit for n, a in app.settings.accounts.items() if a.text_limit},
    )
    click.echo(
        f"Post {post.id} edited; it is a draft again and needs a new approval. "
        f"Its content is now {post.content_hash[:12]}."
    )


@cli.command()
@click.option(
    "--stop-after",
    type=float,
    metavar="SECONDS",
    help="Stop by itself after this long (for demos and tests).",
)
@pass_app
@friendly_errors
def worker(app: App, stop_after: float | None) -> None:
    """Run the publishing service until SIGTERM (finishes what is in flight, exits 0)."""
    from ops.service import Operations
    from schedules.worker import Worker

    ops = Operations.from_settings(app.db, app.settings)
    Worker(app.db, app.settings, app.channel_for, observers=[ops], services=[ops]).run(
        stop_after=stop_after
    )


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the raw JSON lines.")
@pass_app
@friendly_errors
def outbox(app: App, as_json: bool) -> None:
    """Show what the dry-run accounts have 'published'."""
    import json

    from channels.outbox import read_outbox

    count = 0
    for line in read_outbox(app.settings.outbox_path):
        count += 1
        if as_json:
            click.echo(json.dumps(line, ensure_ascii=False))
            continue
        click.echo(
            f"── {line['at'][:19]}Z  {line['account']} ({line['network']} {line['handle']})"
            f"  {line['language']}  post {line['post_id']}"
        )
        click.echo("   " + line["text"].replace("\n", "\n   "))
        for media in line.get("media", []):
            click.echo(f"   [image {media['file']}: {media['alt_text']}]")
        # The link the post's page and `publisher queue` show (channels/outbox.py's receipt).
        click.echo(f"   link: outbox://{line['account']}/{line['id']}")
    if not as_json:
        click.echo(f"{count} post(s) in {app.settings.outbox_path}")


LOG_LIMIT = 200  # `publisher log` shows the newest events unless asked for more


@cli.command()
@click.option("--post", "post_id", type=int, help="Only this post's events.")
@click.option("--person", default="", help="Only events by people whose name contains this.")
@click.option("--action", default="", help="Only this action (approve, cancel, hold_set…).")
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), help="First local day.")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), help="Last local day.")
@click.option("--words", default="", help="Only events whose detail contains these words.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV, for records requests (times in UTC).")
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=None,
    help=f"Only the newest N events, still oldest first (default {LOG_LIMIT}; with --csv, "
    "every event); 0 for every one.",
)
@click.option(
    "--since",
    type=click.IntRange(min=1),
    default=None,
    help="Only the last N days (today included).",
)
@pass_app
@friendly_errors
def log(
    app: App,
    post_id: int | None,
    person: str,
    action: str,
    start: datetime | None,
    end: datetime | None,
    words: str,
    as_csv: bool,
    limit: int | None,
    since: int | None,
) -> None:
    """The audit log: who did what, when (oldest first; the same search as the web's).
    Streams: memory stays flat however long the log."""
    from datetime import timedelta

    from posts import audit, textviews

    first = _d(start)
    if since is not None:
        recent = app.clock.now().astimezone(app.zone).date() - timedelta(days=since - 1)
        first = max(first, recent) if first else recent
    found = audit.AuditFilter(
        post=post_id,
        person=person.strip(),
        action=action.strip(),
        start=first,
        end=_d(end),
        words=words.strip(),
    )
    if limit is None:
        limit = 0 if as_csv else LOG_LIMIT
    if as_csv:
        for line in audit.csv_lines(app.db, found, app.zone, limit=limit or None):
            click.echo(line, nl=False)
        return
    if limit:
        # The newest ``limit``, shown oldest first like the rest of the log.
        events = list(audit.oldest_first(app.db, found, app.zone, newest_first=True, limit=limit))
        events.reverse()
        for event in events:
            click.echo(textviews.events([event], app.zone))
        if len(events) == limit:
            click.echo(
                f"(the newest {limit} events; older ones with --limit 0, --since or --from)",
                err=True,
            )
        if not events:
            click.echo("No events.")
        return
    shown = 0
    for event in audit.oldest_first(app.db, found, app.zone):
        click.echo(textviews.events([event], app.zone))
        shown += 1
    if not shown:
        click.echo("No events.")


@cli.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to serve on: 127.0.0.1 for a reverse proxy on this machine; another "
    "address (0.0.0.0: every one) makes the app reachable from other machines.",
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=8080,
    show_default=True,
    help="Port to serve on (put a reverse proxy with HTTPS in front).",
)
@click.option(
    "--secure-cookies",
    type=click.Choice(["auto", "always", "never"]),
    default="auto",
    show_default=True,
    help="Mark the session cookie Secure: auto means when the request came over HTTPS.",
)
@click.option(
    "--behind-proxy",
    is_flag=True,
    help="Trust the reverse proxy's X-Forwarded-Proto and X-Forwarded-For headers (only "
    "on connections from --trusted-proxy).",
)
@click.option(
    "--trusted-proxy",
    default="127.0.0.1",
    show_default=True,
    help="With --behind-proxy: the address the reverse proxy connects from.",
)
@click.option("--threads", type=click.IntRange(1, 64), default=4, show_default=True)
@pass_app
@friendly_errors
def web(
    app: App,
    host: str,
    port: int,
    secure_cookies: str,
    behind_proxy: bool,
    trusted_proxy: str,
    threads: int,
) -> None:
    """Serve the reviewers' web app on HOST:PORT until Ctrl+C."""
    import ipaddress

    from waitress import create_server

    from core.errors import SettingsError
    from people.users import list_users
    from web.app import create_app

    if not list_users(app.db):
        click.echo(
            "warning: no users yet; add one with `publisher users add NAME --role administrator`",
            err=True,
        )
    secure = {"auto": None, "always": True, "never": False}[secure_cookies]
    # Behind the proxy, waitress itself takes the client's address and scheme from the
    # trusted proxy's headers (and drops them from anyone else): web/proxy.py.
    wsgi = create_app(app.settings, app.db, app.clock, secure_cookies=secure)
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: waitress resolves it
        loopback = False
    if not loopback:
        click.echo(
            f"warning: {host} is reachable from other machines; serve it only behind HTTPS "
            "(a reverse proxy, with --behind-proxy) on a network you trust",
            err=True,
        )
    try:
        from web.proxy import waitress_options

        server = create_server(
            wsgi,
            host=host,
            port=port,
            threads=threads,
            ident="campaign-publisher",
            **waitress_options(trusted_proxy if behind_proxy else None),
        )
    except ValueError as exc:  # waitress refuses the proxy's address
        raise SettingsError(f"--trusted-proxy {trusted_proxy!r}: {exc}") from None
    except OSError as exc:
        raise SettingsError(
            f"cannot serve the web app on {host}:{port}: {exc.strerror or exc} (another "
            "program may have the port, or the host is not an address of this machine)"
        ) from None
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"Serving the web app on http://{shown}:{port}/ (Ctrl+C to stop).")
    server.run()


@cli.group()
def users() -> None:
    """People who use the web app: roles (author, reviewer, administrator) and the
    accounts they may act on. Passwords come from a prompt or PUBLISHER_NEW_PASSWORD."""


ROLE_CHOICE = click.Choice(["author", "reviewer", "administrator"])


def _new_password() -> str:
    import os

    from_env = os.environ.get("PUBLISHER_NEW_PASSWORD")
    if from_env:
        return from_env
    password: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


def _describe_user(person: Any) -> str:
    state = " (disabled)" if person.disabled else ""
    return f"{person.username}: {person.role.value} on {person.accounts_label()}{state}"


@users.command("add")
@click.argument("username")
@click.option("--role", type=ROLE_CHOICE, required=True, help="What the user may do.")
@click.option(
    "--account",
    "accounts",
    multiple=True,
    help="An account the user may act on (repeatable; none given: every account).",
)
@click.option("--name", "display_name", default="", help="Full name shown in the app.")
@pass_app
@friendly_errors
def users_add(
    app: App,
    username: str,
    role: str,
    accounts: tuple[str, ...],
    display_name: str,
) -> None:
    """Add a user (run by an administrator, with their PUBLISHER_TOKEN).

    On a new installation, while no administrator exists, the first administrator is added
    without a token, and their personal token is shown once."""
    from core.errors import NotIdentified
    from people import tokens
    from people.rights import check
    from people.users import add_user

    app.may_create_database = True  # the first user of a new installation
    actor = app.actor(required=False)
    bootstrap = actor is None and not tokens.has_administrator(app.db)
    if actor is not None:
        check(actor, "manage_users")
    elif not bootstrap:
        app.person()  # refused, naming PUBLISHER_TOKEN
    elif role != "administrator":
        raise NotIdentified(
            "no administrator exists yet: add one first "
            f"(`publisher users add NAME --role administrator`), then add {username} "
            "with that administrator's token in PUBLISHER_TOKEN"
        )
    person = add_user(
        app.db,
        username,
        _new_password(),
        role=role,
        accounts=accounts,
        display_name=display_name,
        actor=actor.name if actor else username,
        now=app.now(),
        known_accounts=app.settings.accounts,
    )
    click.echo("Added " + _describe_user(person))
    if bootstrap:
        _show_token(username, tokens.issue(app.db, username, actor=None, now=app.now()))


def _show_token(username: str, token: str) -> None:
    click.echo(f"Personal token for {username} (shown once; only its hash is kept):")
    click.echo(token)
    click.echo(
        f"{username} runs commands with it in PUBLISHER_TOKEN, or in an owner-only file "
        "named by PUBLISHER_TOKEN_FILE."
    )


@users.command("token")
@click.argument("username")
@click.option("--revoke", is_flag=True, help="End the user's token instead of making one.")
@pass_app
@friendly_errors
@administering
def users_token(app: App, username: str, revoke: bool, actor: Actor) -> None:
    """Make USERNAME a personal token for the command line (any old one stops working),
    shown once; or --revoke it."""
    from people import tokens

    if revoke:
        ended = tokens.revoke(app.db, username, actor=actor, now=app.now())
        click.echo(
            f"Revoked the token of {username}." if ended else f"{username} had no live token."
        )
        return
    _show_token(username, tokens.issue(app.db, username, actor=actor, now=app.now()))


@users.command("disable")
@click.argument("username")
@click.option("--enable", is_flag=True, help="Enable the user again instead.")
@pass_app
@friendly_errors
@administering
def users_disable(app: App, username: str, enable: bool, actor: Actor) -> None:
    """Stop a user signing in (their open sessions end at once)."""
    from people.users import set_disabled

    person = set_disabled(app.db, username, not enable, actor=actor.name, now=app.now())
    click.echo(("Enabled " if enable else "Disabled ") + _describe_user(person))


@users.command("set-role")
@click.argument("username")
@click.argument("role", type=ROLE_CHOICE)
@pass_app
@friendly_errors
@administering
def users_set_role(app: App, username: str, role: str, actor: Actor) -> None:
    """Change a user's role."""
    from people.users import set_role

    person = set_role(app.db, username, role, actor=actor.name, now=app.now())
    click.echo("Now " + _describe_user(person))


@users.command("set-accounts")
@click.argument("username")
@click.option(
    "--account", "accounts", multiple=True, help="An account (repeatable; none: every account)."
)
@pass_app
@friendly_errors
@administering
def users_set_accounts(
    app: App, username: str, accounts: tuple[str, ...], actor: Actor
) -> None:
    """Set the accounts a user may act on."""
    from people.users import set_accounts

    person = set_accounts(
        app.db,
        username,
        accounts,
        actor=actor.name,
        now=app.now(),
        known_accounts=app.settings.accounts,
    )
    click.echo("Now " + _describe_user(person))


@users.command("set-password")
@click.argument("username")
@pass_app
@friendly_errors
@administering
def users_set_password(app: App, username: str, actor: Actor) -> None:
    """Give a user a new password (their open sessions end)."""
    from people.users import set_password

    set_password(app.db, username, _new_password(), actor=actor.name, now=app.now())
    click.echo(f"New password set for {username}.")


@users.command("list")
@pass_app
@friendly_errors
def users_list(app: App) -> None:
    """List the web app's users."""
    from people.users import list_users

    people = list_users(app.db)
    for person in people:
        click.echo(_describe_user(person))
    if not people:
        click.echo("No users yet.")


@users.command("sessions")
@click.argument("username")
@click.option("--end", "end_them", is_flag=True, help="End every one of them.")
@pass_app
@friendly_errors
@administering
def users_sessions(app: App, username: str, end_them: bool, actor: Actor) -> None:
    """List a user's signed-in web sessions, or end them all with --end (administrators)."""
    from datetime import timedelta

    from people import sessions

    web = app.settings.web
    limits = sessions.Limits(
        timedelta(minutes=web.session_idle_minutes), timedelta(hours=web.session_max_hours)
    )
    found = sessions.list_for(app.db, username, now=app.now(), limits=limits)
    for s in found:
        click.echo(
            f"{s.id}: signed in {s.created_at:%Y-%m-%d %H:%M} UTC ({s.how}), last used "
            f"{s.last_seen_at:%Y-%m-%d %H:%M} UTC, from {s.address or '?'}, {s.user_agent or '?'}"
        )
    if end_them:
        count = sessions.end_for(app.db, username, actor=actor.name, now=app.now())
        click.echo(f"Ended {count} session(s) of {username}.")
    elif not found:
        click.echo(f"{username} is not signed in anywhere.")


@users.command("require-2fa")
@click.option("--role", "roles", multiple=True, type=ROLE_CHOICE, help="A role (repeatable).")
@click.option("--all", "everyone", is_flag=True, help="Every role.")
@click.option("--off", is_flag=True, help="Stop requiring it for these roles.")
@pass_app
@friendly_errors
@administering
def users_require_2fa(
    app: App, roles: tuple[str, ...], everyone: bool, off: bool, actor: Actor
) -> None:
    """Require two-factor sign-in (TOTP) for a role or everyone: its users must turn it on
    before anything else. With no role given, show which roles must use it."""
    from people import totp

    chosen = [choice for choice in ROLE_CHOICE.choices] if everyone else list(roles)
    if chosen:
        totp.set_required(app.db, chosen, not off, actor=actor.name, now=app.now())
    required = totp.required_roles(app.db, app.settings)
    from_settings = set(app.settings.two_factor.required_roles)
    if not required:
        click.echo("Two-factor sign-in is required for no role.")
    for role in sorted(required):
        note = " (set in [two_factor] required_roles)" if role in from_settings else ""
        click.echo(f"Two-factor sign-in is required for: {role}{note}")


@users.command("reset-2fa")
@click.argument("username")
@pass_app
@friendly_errors
@administering
def users_reset_2fa(app: App, username: str, actor: Actor) -> None:
    """Turn a user's two-factor sign-in off (a lost phone): they set it up again."""
    from people import totp

    had = totp.reset(app.db, username, actor=actor.name, now=app.now())
    click.echo(
        f"Two-factor sign-in turned off for {username}; they set it up again at next sign-in."
        if had
        else f"{username} had no two-factor sign-in; nothing to turn off."
    )


@cli.command("lint")
@click.argument("campaign", type=click.Path(path_type=Path))
@click.option("--warnings/--no-warnings", default=True, help="Show warnings too.")
@pass_app
@friendly_errors
def lint_command(app: App, campaign: Path, warnings: bool) -> None:
    """Check every post of CAMPAIGN against the content rules (for CI): exit 1 on errors."""
    from campaign.expand import expand
    from campaign.loader import load_campaign

    loaded = load_campaign(campaign)
    drafts = expand(loaded, app.settings)
    errors = 0
    for draft in drafts:
        template = f"{loaded.folder}/templates/{draft.template}.{draft.language}.j2"
        for problem in draft.problems:
            # Each finding names the template it comes from (a bilingual post has several).
            where = (
                f"{loaded.folder}/{problem['template']}" if problem.get("template") else template
            )
            errors += problem["level"] == "error"
            if problem["level"] == "error" or warnings:
                click.echo(
                    f"{where} ({draft.occasion}, {draft.account}, {draft.language}): "
                    f"{problem['level']} [{problem['rule']}] {problem['message']}"
                )
    click.echo(f"{loaded.file}: {len(drafts)} posts checked, {errors} error(s).")
    if errors:
        sys.exit(1)


@cli.group()
def accounts() -> None:
    """The force's social media accounts."""


@accounts.command("check")
@click.argument("names", metavar="[ACCOUNT]...", nargs=-1)
@pass_app
@friendly_errors
def accounts_check(app: App, names: tuple[str, ...]) -> None:
    """Can each account's credentials post (only the ACCOUNTs named, if any)? One line per
    account; exit 1 if any fails."""
    from ops.doctor import check_accounts

    checks = check_accounts(app.settings, os.environ, None, only=names)
    for check in checks:
        click.echo(check.line())
    if any(check.failed for check in checks):
        sys.exit(1)


@cli.group()
def db() -> None:
    """Database maintenance."""


@db.command("copy")
@click.argument("source_url")
@click.argument("target_url")
@friendly_errors
def db_copy(source_url: str, target_url: str) -> None:
    """Copy the whole queue from SOURCE_URL (e.g. sqlite:///state/publisher.db) into an
    empty TARGET_URL (e.g. postgresql://db-host/publisher): every table — posts, approvals,
    holds, the audit log, the web app's users and their rights — ids unchanged."""
    from posts.copy import copy_queue
    from posts.db import Database

    counts = copy_queue(Database(source_url), Database(target_url))
    click.echo("Copied " + ", ".join(f"{n} {table}" for table, n in counts.items()) + ".")


@db.command("upgrade")
@pass_app
@friendly_errors
def db_upgrade(app: App) -> None:
    """Create the database, or bring it to the newest schema (every command does the
    latter too)."""
    app.may_create_database = True
    current, head = app.db.migration_level()
    click.echo(f"Database at {current} (newest {head}).")


@cli.command()
@click.option(
    "--occasions",
    default=2,
    show_default=True,
    help="How many of the first days to bring forward and publish (each is one post per "
    "account and language).",
)
@click.option(
    "--state-dir",
    type=click.Path(path_type=Path),
    default=Path("state/demo"),
    show_default=True,
    help="Where the demo's fresh database and outbox go.",
)
@friendly_errors
def demo(occasions: int, state_dir: Path) -> None:
    """Plan the example campaign into a fresh database, preview, approve and let the real
    worker publish the first posts to the dry-run outbox."""
    from examples.demo import run_demo

    run_demo(state_dir=state_dir, occasions=occasions, echo=click.echo)


@cli.command()
@click.option("--reason", required=True, help="Why: shown to everyone while the hold lasts.")
@click.option("--account", help="Hold one account only (default: every account).")
@click.option(
    "--start",
    type=click.DateTime(["%Y-%m-%d %H:%M", "%Y-%m-%d"]),
    help="A blackout window set in advance: local start time.",
)
@click.option(
    "--end",
    type=click.DateTime(["%Y-%m-%d %H:%M", "%Y-%m-%d"]),
    help="The blackout's local end time (required with --start).",
)
@pass_app
@friendly_errors
@acting
def hold(
    app: App,
    reason: str,
    account: str | None,
    start: datetime | None,
    end: datetime | None,
    actor: Actor,
) -> None:
    """Stop every send (or one account's) before the next claim."""
    from core.errors import QueueError
    from posts.holds import set_hold

    if bool(start) != bool(end):
        raise QueueError("a blackout needs both --start and --end")
    # A blackout's times are local at this edge; stored as UTC.
    starts_at = start.replace(tzinfo=app.zone) if start else None
    ends_at = end.replace(tzinfo=app.zone) if end else None
    kind = "blackout" if start else "hold"
    hold_id = set_hold(
        app.db,
        actor=actor,
        reason=reason,
        now=app.now(),
        account=account,
        kind=kind,
        starts_at=starts_at,
        ends_at=ends_at,
        accounts=app.settings.accounts,
    )
    scope = f"account {account}" if account else "every account"
    window = (
        f" from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} (local)" if start and end else ""
    )
    click.echo(
        f"{kind.capitalize()} {hold_id} set on {scope}{window}: {reason.strip()}. "
        "Nothing covered will be claimed."
    )


@cli.command()
@click.option("--account", help="Release the hold on one account.")
@click.option("--id", "hold_id", type=int, help="Release this hold or blackout by id.")
@pass_app
@friendly_errors
@acting
def release(app: App, account: str | None, hold_id: int | None, actor: Actor) -> None:
    """Release a hold. Posts that missed their time by too long wait for confirmation."""
    from core.errors import QueueError
    from posts.holds import release as do_release

    if hold_id is not None and account is not None:
        raise QueueError("name the hold by --id or by --account, not both")
    kinds = ("hold", "blackout") if hold_id else ("hold",)
    released = [
        hold
        for k in kinds
        for hold in do_release(
            app.db, actor=actor, now=app.now(), account=account, kind=k, hold_id=hold_id
        )
    ]
    if not released:
        what = f"hold or blackout {hold_id}" if hold_id else f"hold on {account or 'every account'}"
        raise QueueError(
            f"no active {what} to release; `publisher status` lists the active ones"
        )
    for hold in released:
        click.echo(f"Released {hold.describe()}.")
    click.echo(
        "Posts past their staleness limit now wait for `publisher confirm` or "
        "`publisher cancel`; nothing is flushed late."
    )


@cli.command()
@click.argument("account")
@pass_app
@friendly_errors
@acting
def resume(app: App, account: str, actor: Actor) -> None:
    """Resume an account paused after its credentials failed (fix them first)."""
    from posts.holds import resume_account

    app.settings.account(account)
    done = resume_account(
        app.db, account, actor=actor, now=app.now(), blackouts=app.settings.blackouts
    )
    if done.released:
        click.echo(
            f"Account {account} resumed: released "
            + "; ".join(h.describe() for h in done.released)
            + "."
        )
    else:
        click.echo(f"Account {account} was not paused; nothing to resume.")
    for hold in done.still_held:
        scope = "every account" if hold.account is None else hold.account
        source = f"{hold.kind} {hold.id}" if hold.id is not None else f"{hold.kind} in the settings"
        click.echo(
            f"Still held: {source} on {scope} ({hold.reason}); nothing of {account} is sent "
            "until it is released or ends."
        )


@cli.command()
@click.argument("post_id", type=int)
@click.option("--published", "published_url", metavar="URL", help="It was published: its URL.")
@click.option("--resend", is_flag=True, help="It was not published: send it again.")
@click.option("--reason", required=True, help="How you know, for the audit log.")
@pass_app
@friendly_errors
@acting
def resolve(
    app: App, post_id: int, published_url: str | None, resend: bool, reason: str, actor: Actor
) -> None:
    """Settle a post whose outcome is unknown (or that failed)."""
    from posts.review import resolve as do_resolve

    post = do_resolve(
        app.db,
        post_id,
        actor=actor,
        now=app.now(),
        reason=reason,
        published_url=published_url,
        resend=resend,
    )
    click.echo(f"Post {post.id} is now {post.state}.")


@cli.command()
@click.argument("ids", type=int, nargs=-1, required=True)
@click.option("--reason", required=True, help="Why it should still go out, late.")
@pass_app
@friendly_errors
@acting
def confirm(app: App, ids: tuple[int, ...], reason: str, actor: Actor) -> None:
    """Send posts that missed their time after all (they go out at once)."""
    from datetime import timedelta

    from posts.review import confirm as do_confirm

    # One transaction: what is printed is what was committed, all of it or nothing.
    posts = do_confirm(
        app.db,
        list(ids),
        actor=actor,
        reason=reason,
        now=app.now(),
        default_stale_minutes=app.settings.worker.stale_after_minutes,
    )
    _report("Confirmed", posts)
    for post in posts:
        until = post.due_at + timedelta(minutes=post.stale_after_minutes or 0)
        click.echo(
            f"  post {post.id}: {post.state}; sent at the worker's next round unless a hold "
            f"covers it, or by {until.astimezone(app.zone):%Y-%m-%d %H:%M %Z} at the latest "
            "(after that it waits for a person again)"
        )


@cli.command()
@click.argument("post_id", type=int)
@click.option("--reason", required=True, help="Why this public-safety post must pass a hold.")
@pass_app
@friendly_errors
@acting
def urgent(app: App, post_id: int, reason: str, actor: Actor) -> None:
    """Let a public-safety post pass holds and blackouts."""
    from posts.review import mark_urgent

    mark_urgent(app.db, post_id, actor=actor, reason=reason, now=app.now())
    click.echo(f"Post {post_id} is urgent: it will pass holds and blackouts.")


@cli.command()
@pass_app
@friendly_errors
def status(app: App) -> None:
    """Holds, paused accounts, posts needing a person, and the next due posts."""
    from posts import textviews

    click.echo(app.where())
    click.echo(textviews.status(app.db, app.settings, app.now()))


@cli.command()
@pass_app
def doctor(app: App) -> None:
    """Check this installation: settings, database, credentials, clock, disk, state dir.

    One line per check; exits 1 if any check FAILs (docs/service.md explains each)."""
    from ops.doctor import run_doctor

    checks = run_doctor(app.config)
    for check in checks:
        click.echo(check.line())
    failed = [c for c in checks if c.failed]
    warned = [c for c in checks if c.status == "warn"]
    if failed:
        click.echo(f"{len(failed)} of {len(checks)} checks failed.")
        sys.exit(1)
    click.echo(
        f"All {len(checks)} checks passed" + (f" ({len(warned)} warning(s))." if warned else ".")
    )


@cli.command()
@click.option(
    "--ics",
    "ics_path",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="Write the iCalendar file here (opens in Outlook, Google, Apple Calendar).",
)
@filter_options
@click.option("--include-cancelled", is_flag=True, help="Include cancelled posts.")
@pass_app
@friendly_errors
def calendar(app: App, ics_path: Path, include_cancelled: bool, **filters: Any) -> None:
    """Export the planned posts as an iCalendar file."""
    from ops.calendar_export import calendar_for
    from posts.review import find_posts

    posts = find_posts(app.db, make_filter(**filters), app.zone)
    if not include_cancelled:
        posts = [p for p in posts if p.state != "cancelled"]
    ics_path.write_bytes(calendar_for(posts, app.settings, app.now()))
    click.echo(f"Wrote {len(posts)} post(s) to {ics_path}.")


@cli.command()
@click.argument("target", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--overwrite", is_flag=True, help="Replace TARGET if it exists.")
@pass_app
@friendly_errors
def backup(app: App, target: Path, overwrite: bool) -> None:
    """Take a consistent copy of the SQLite database, safe while the worker runs.

    For PostgreSQL use pg_dump (docs/service.md)."""
    from ops.backup import backup_sqlite

    click.echo(backup_sqlite(app.settings.database_url, target, overwrite=overwrite).summary())


@cli.command()
@click.option(
    "--days",
    type=click.IntRange(min=1),
    help="Override [retention] delete_text_after_days for this run.",
)
@pass_app
@friendly_errors
@acting
def retention(app: App, days: int | None, actor: Actor) -> None:
    """Delete the text of posts published more than N days ago; keep their audit record.
    For administrators (PUBLISHER_TOKEN).

    The worker does this every day at [retention] run_time when the setting is on."""
    from ops.retention import delete_published_text
    from people.rights import check

    check(actor, "retention")
    days = days or app.settings.retention.delete_text_after_days
    if not days:
        click.echo(
            "Retention is off ([retention] delete_text_after_days = 0); give --days N "
            "to apply it once."
        )
        return
    report = delete_published_text(app.db, days=days, now=app.now(), actor=actor.name)
    click.echo(report.summary())


# -- single posts, new times, images and imports (issue 15) -----------------------------


def _local_time(app: App, value: str, option: str) -> datetime:
    """A local "YYYY-MM-DD HH:MM" (the settings' time zone) as an aware datetime."""
    from core.errors import QueueError

    try:
        local = datetime.strptime(value.strip().replace("T", " "), "%Y-%m-%d %H:%M")
    except ValueError:
        raise QueueError(f"{option}: {value!r} is not a local time (\"YYYY-MM-DD HH:MM\")") from None
    return local.replace(tzinfo=app.zone)


@cli.command()
@click.option("--account", "accounts", multiple=True, required=True, help="An account (repeatable).")
@click.option("--cy", "text_cy", default="", help="The Welsh text.")
@click.option("--en", "text_en", default="", help="The English text.")
@click.option("--together", is_flag=True, help="One post per account, Welsh first.")
@click.option("--at", "when", help='Local time "YYYY-MM-DD HH:MM" (default: as soon as approved).')
@click.option("--image", "images", multiple=True, help="A library image: hash, prefix or name.")
@click.option("--alt-cy", "alt_cy", multiple=True, help="Welsh alt text, per --image, in order.")
@click.option("--alt-en", "alt_en", multiple=True, help="English alt text, per --image, in order.")
@click.option("--title", default="", help="A title for the queue.")
@click.option("--urgent", "urgent_reason", default="", help="Mark urgent, with this reason.")
@click.option("--submit", is_flag=True, help="Send for review at once (else drafts).")
@pass_app
@friendly_errors
@acting
def compose(
    app: App,
    accounts: tuple[str, ...],
    text_cy: str,
    text_en: str,
    together: bool,
    when: str | None,
    images: tuple[str, ...],
    alt_cy: tuple[str, ...],
    alt_en: tuple[str, ...],
    title: str,
    urgent_reason: str,
    submit: bool,
    actor: Actor,
) -> None:
    """Write a single post for one or more accounts, in Welsh and/or English."""
    from posts.compose import Composition, ImageChoice
    from posts.compose import compose as do_compose

    chosen = [
        ImageChoice(
            ref,
            {
                "cy": alt_cy[n] if n < len(alt_cy) else "",
                "en": alt_en[n] if n < len(alt_en) else "",
            },
        )
        for n, ref in enumerate(images)
    ]
    posts = do_compose(
        app.db,
        app.settings,
        Composition(
            accounts=accounts,
            texts={"cy": text_cy, "en": text_en},
            when=_local_time(app, when, "--at") if when else None,
            images=chosen,
            together=together,
            title=title,
            urgent=bool(urgent_reason),
            urgent_reason=urgent_reason,
        ),
        actor=actor,
        now=app.now(),
        submit=submit,
    )
    for post in posts:
        click.echo(
            f"Post {post.id}: {post.account} {post.language}, {post.state.replace('_', ' ')}"
            + (", urgent" if post.urgent else "")
        )


@cli.command()
@click.argument("post_id", type=int)
@click.option("--at", "at", required=True, help='The new local time, "YYYY-MM-DD HH:MM".')
@pass_app
@friendly_errors
@acting
def reschedule(app: App, post_id: int, at: str, actor: Actor) -> None:
    """Move a post (and its Welsh/English pair) to a new time. An approved post goes back
    for review: the time is part of what was approved."""
    from posts.reschedule import reschedule as do_reschedule

    moved, move = do_reschedule(
        app.db, post_id, _local_time(app, at, "--at"), actor=actor, now=app.now()
    )
    for post in moved:
        local = post.due_at.astimezone(app.zone)
        click.echo(f"Post {post.id} moved to {local:%Y-%m-%d %H:%M %Z}; now {post.state}.")
    if move.voids_approval:
        click.echo(move.warning())


@cli.command("import-csv")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_app
@friendly_errors
@acting
def import_csv_command(app: App, file: Path, actor: Actor) -> None:
    """Import posts from a CSV file (date, time, account, language, text, image, alt text).
    Every row is checked first; nothing is imported unless all pass."""
    from posts.csv_import import CsvRefused, import_csv

    try:
        posts = import_csv(app.db, app.settings, file.read_bytes(), actor=actor, now=app.now())
    except CsvRefused as exc:
        click.echo(f"error: {file}: nothing was imported; {len(exc.problems)} error(s):", err=True)
        for problem in exc.problems:
            click.echo(f"  {file}: {problem}", err=True)
        sys.exit(1)
    click.echo(f"Imported {len(posts)} post(s) from {file} as drafts.")


@cli.group()
def media() -> None:
    """The media library: images stored in the database, metadata stripped."""


@media.command("add")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--alt-cy", default="", help="Alt text in Welsh.")
@click.option("--alt-en", default="", help="Alt text in English.")
@pass_app
@friendly_errors
@acting
def media_add(app: App, file: Path, alt_cy: str, alt_en: str, actor: Actor) -> None:
    """Add an image (EXIF, GPS and other metadata are removed before it is stored)."""
    from posts.media import add_image, required_alt_languages

    languages = required_alt_languages(
        lang for account in app.settings.accounts.values() for lang in account.languages
    )
    item, new = add_image(
        app.db,
        file.read_bytes(),
        filename=file.name,
        alt_text={"cy": alt_cy, "en": alt_en},
        languages=languages,
        actor=actor.name,
        now=app.now(),
    )
    said = "added" if new else "already in the library"
    click.echo(f"{file.name}: {said} as {item.sha256} ({item.width}x{item.height} {item.mime})")


@media.command("list")
@pass_app
@friendly_errors
def media_list(app: App) -> None:
    """Every image, with where it is used."""
    from posts.media import library, usage

    uses = usage(app.db)
    for item in library(app.db):
        used = ", ".join(str(u.post_id) for u in uses.get(item.sha256, [])) or "not used"
        click.echo(f"{item.sha256[:12]}  {item.filename}  {item.width}x{item.height}  posts: {used}")


def main() -> None:
    import warnings

    # twitter-text-parser imports pkg_resources, which warns on every command; the pin in
    # pyproject.toml keeps it working, so the warning says nothing a user can act on.
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
    cli(prog_name="publisher")


if __name__ == "__main__":
    main()
