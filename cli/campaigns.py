"""Commands for campaigns: plan, import and export them, list them, lint them."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cli.common import (
    App,
    account_map_option,
    acting,
    day_of,
    friendly_errors,
    pass_app,
)

if TYPE_CHECKING:
    from people.rights import Actor


@click.command()
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
    stored, report = plan_campaign(
        app.db,
        app.settings,
        name,
        day_of(start),
        day_of(end),
        actor=actor,
        now=app.now(),
        removed="keep" if keep_removed else "cancel",
        reason=reason,
    )
    click.echo(
        f"Planned {name} (revision {stored.revision}): {len(stored.drafts)} posts — "
        f"{report.summary()}."
    )


def _import(app: App, actor: Actor, folder: Path, mapping: Any) -> Any:
    """Import ``folder`` (its accounts mapped) as a new revision; ``actor`` needs rights
    on every account it names."""
    from campaign.store import import_folder

    return import_folder(
        app.db, folder, actor=actor, now=app.now(), settings=app.settings, accounts=mapping
    )


@click.command("campaigns")
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


@click.group("campaign")
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


@click.command("lint")
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
