"""Commands on posts in the queue: preview, list, show, review links, and the review
actions (submit, approve, reject, cancel, edit, resolve, confirm, urgent)."""

from __future__ import annotations

from datetime import datetime
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


QUEUE_LIMIT = 50  # posts `publisher queue` lists unless asked for more: a screen or two


@click.command()
@filter_options
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=QUEUE_LIMIT,
    show_default=True,
    help="Show at most this many posts.",
)
@click.option("--all", "everything", is_flag=True, help="Show every post that matches.")
@click.option(
    "--after",
    type=click.IntRange(1, 2**63 - 1),
    metavar="ID",
    help="Start after this post: the next page (the listing prints the command).",
)
@pass_app
@friendly_errors
def queue(app: App, limit: int, everything: bool, after: int | None, **filters: Any) -> None:
    """List posts with their state, in time order, a page at a time.

    Without --from, --day, --id or --state it starts today: what is still to come. The
    counts cover every post that matches, listed or not."""
    from posts import textviews

    f = make_filter(**filters)
    chosen = f.start or f.day or f.ids or f.states
    today = None if chosen else app.now().astimezone(app.zone).date()
    with app.reading() as reader:
        listing = textviews.queue_listing(
            reader, f, app.zone, limit=None if everything else limit, after=after,
            default_start=today,
        )
    next_page = ""
    if listing.posts:
        next_page = " ".join(
            ["publisher queue", *_filter_args(filters), f"--after {listing.posts[-1].id}"]
            + ([f"--limit {limit}"] if limit != QUEUE_LIMIT else [])
        )
    click.echo(textviews.queue(listing, app.settings, next_page))
    _stage_lines(app, [p.id for p in listing.posts if p.state == "in_review"])


def _filter_args(filters: dict[str, Any]) -> list[str]:
    """The filter options as typed, to repeat them in the command for the next page."""
    import shlex

    args = []
    for option, key in (("--from", "start"), ("--to", "end"), ("--day", "day")):
        if filters.get(key):
            args.append(f"{option} {filters[key]:%Y-%m-%d}")
    for option in ("account", "campaign", "language"):
        if filters.get(option):
            args.append(f"--{option} {shlex.quote(filters[option])}")
    args += [f"--state {shlex.quote(s)}" for s in filters.get("states", ())]
    args += [f"--id {i}" for i in filters.get("ids", ())]
    return args


def _stage_lines(app: App, ids: list[int]) -> None:
    if not ids or not app.settings.signoff.staged:
        return  # no post has stages: nothing to read (nor SQLAlchemy to load)
    from posts.stages import progress_for

    progress = progress_for(app.db, ids, app.settings.signoff)
    for post_id in ids:
        if progress[post_id].stages:
            click.echo(f"{post_id:>5}  stages: {progress[post_id].summary()}")


@click.command()
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


@click.command("review-link")
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
    from posts import review_links
    from web.app import load_secret_key

    if revoke:
        ended = review_links.revoke(app.db, post_id, actor=actor, now=app.now())
        click.echo(f"Revoked {len(ended)} link(s) to post {post_id}.")
        return
    link, token = review_links.create(
        app.db,
        post_id,
        actor=actor,
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


@click.command()
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


@click.command()
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


@click.command()
@click.argument("ids", type=int, nargs=-1, required=True)
@click.option("--reason", required=True, help="What the author should change.")
@pass_app
@friendly_errors
@acting
def reject(app: App, ids: tuple[int, ...], reason: str, actor: Actor) -> None:
    """Send posts back to their author with a reason."""
    from posts.review import reject as do_reject

    _report("Rejected", do_reject(app.db, list(ids), actor=actor, reason=reason, now=app.now()))


@click.command()
@click.argument("ids", type=int, nargs=-1, required=True)
@click.option("--reason", default="cancelled", help="Why, for the audit log.")
@pass_app
@friendly_errors
@acting
def cancel(app: App, ids: tuple[int, ...], reason: str, actor: Actor) -> None:
    """Cancel posts that have not been sent."""
    from posts.review import cancel as do_cancel

    _report("Cancelled", do_cancel(app.db, list(ids), actor=actor, reason=reason, now=app.now()))


@click.command()
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


@click.command()
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


@click.command()
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


@click.command()
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
