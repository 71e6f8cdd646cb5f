"""Commands for running the service: the worker, the outbox, the audit log, the web app,
accounts, the database, the demo, doctor, backups and retention."""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cli.common import (
    App,
    acting,
    day_of,
    friendly_errors,
    pass_app,
)

if TYPE_CHECKING:
    from people.rights import Actor


@click.command()
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


@click.command()
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


@click.command()
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

    first = day_of(start)
    if since is not None:
        recent = app.clock.now().astimezone(app.zone).date() - timedelta(days=since - 1)
        first = max(first, recent) if first else recent
    found = audit.AuditFilter(
        post=post_id,
        person=person.strip(),
        action=action.strip(),
        start=first,
        end=day_of(end),
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


@click.command()
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
    from core.heap import freeze_loaded

    freeze_loaded()
    server.run()


@click.group()
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


@click.group()
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


@click.command()
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


@click.command()
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


@click.command()
@click.argument("target", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--overwrite", is_flag=True, help="Replace TARGET if it exists.")
@pass_app
@friendly_errors
def backup(app: App, target: Path, overwrite: bool) -> None:
    """Take a consistent copy of the SQLite database, safe while the worker runs.

    For PostgreSQL use pg_dump (docs/service.md)."""
    from ops.backup import backup_sqlite

    click.echo(backup_sqlite(app.settings.database_url, target, overwrite=overwrite).summary())


@click.command()
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
