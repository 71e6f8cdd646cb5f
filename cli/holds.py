"""Commands for the person on call: holds, releases, resumed accounts, and the status."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import click

from cli.common import (
    App,
    acting,
    friendly_errors,
    pass_app,
)

if TYPE_CHECKING:
    from people.rights import Actor
    from posts.windows import Window


@click.command()
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


@click.command()
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


@click.command()
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


@click.command()
@pass_app
@friendly_errors
def status(app: App) -> None:
    """Holds, paused accounts, posts needing a person, and the next due posts."""
    from posts import textviews

    def stopped(window: Window) -> int:  # SQLAlchemy's rule: only with a window ahead
        from posts.blackouts import stopped_posts

        with app.db.reading() as session:
            return stopped_posts(session, window)

    click.echo(app.where())
    with app.reading() as reader:
        click.echo(textviews.status(reader, app.settings, app.now(), stopped))
