"""Commands for single posts: compose, reschedule, import a CSV, images, calendars."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cli.common import (
    App,
    acting,
    filter_options,
    friendly_errors,
    make_filter,
    pass_app,
)

if TYPE_CHECKING:
    from people.rights import Actor


@click.command()
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


# -- single posts, new times, images and imports (issue 15) -----------------------------


def _local_time(app: App, value: str, option: str) -> datetime:
    """A local "YYYY-MM-DD HH:MM" (the settings' time zone) as an aware datetime."""
    from core.errors import QueueError

    try:
        local = datetime.strptime(value.strip().replace("T", " "), "%Y-%m-%d %H:%M")
    except ValueError:
        raise QueueError(f"{option}: {value!r} is not a local time (\"YYYY-MM-DD HH:MM\")") from None
    return local.replace(tzinfo=app.zone)


@click.command()
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


@click.command()
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


@click.command("import-csv")
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


@click.group()
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
