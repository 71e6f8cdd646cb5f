"""Commands for people: users, roles, tokens, passwords, sessions, two-factor sign-in."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from cli.common import (
    App,
    acting,
    friendly_errors,
    pass_app,
)

if TYPE_CHECKING:
    from people.rights import Actor


@click.group()
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
    from people import tokens
    from people.users import add_user

    app.may_create_database = True  # the first user of a new installation
    actor = app.actor(required=False)
    if actor is None and tokens.has_administrator(app.db):
        app.person()  # refused, naming PUBLISHER_TOKEN
    person = add_user(
        app.db,
        username,
        _new_password(),
        role=role,
        accounts=accounts,
        display_name=display_name,
        actor=actor,  # None: the first administrator (the library checks there is none)
        now=app.now(),
        known_accounts=app.settings.accounts,
    )
    click.echo("Added " + _describe_user(person))
    if actor is None:
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
@acting
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
@acting
def users_disable(app: App, username: str, enable: bool, actor: Actor) -> None:
    """Stop a user signing in (their open sessions end at once)."""
    from people.users import set_disabled

    person = set_disabled(app.db, username, not enable, actor=actor, now=app.now())
    click.echo(("Enabled " if enable else "Disabled ") + _describe_user(person))


@users.command("set-role")
@click.argument("username")
@click.argument("role", type=ROLE_CHOICE)
@pass_app
@friendly_errors
@acting
def users_set_role(app: App, username: str, role: str, actor: Actor) -> None:
    """Change a user's role."""
    from people.users import set_role

    person = set_role(app.db, username, role, actor=actor, now=app.now())
    click.echo("Now " + _describe_user(person))


@users.command("set-accounts")
@click.argument("username")
@click.option(
    "--account", "accounts", multiple=True, help="An account (repeatable; none: every account)."
)
@pass_app
@friendly_errors
@acting
def users_set_accounts(
    app: App, username: str, accounts: tuple[str, ...], actor: Actor
) -> None:
    """Set the accounts a user may act on."""
    from people.users import set_accounts

    person = set_accounts(
        app.db,
        username,
        accounts,
        actor=actor,
        now=app.now(),
        known_accounts=app.settings.accounts,
    )
    click.echo("Now " + _describe_user(person))


@users.command("set-password")
@click.argument("username")
@pass_app
@friendly_errors
@acting
def users_set_password(app: App, username: str, actor: Actor) -> None:
    """Give a user a new password (their open sessions end)."""
    from people.users import set_password

    set_password(app.db, username, _new_password(), actor=actor, now=app.now())
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
@acting
def users_sessions(app: App, username: str, end_them: bool, actor: Actor) -> None:
    """List a user's signed-in web sessions, or end them all with --end (administrators)."""
    from datetime import timedelta

    from people import sessions

    web = app.settings.web
    limits = sessions.Limits(
        timedelta(minutes=web.session_idle_minutes), timedelta(hours=web.session_max_hours)
    )
    found = sessions.list_for(app.db, username, actor=actor, now=app.now(), limits=limits)
    for s in found:
        click.echo(
            f"{s.id}: signed in {s.created_at:%Y-%m-%d %H:%M} UTC ({s.how}), last used "
            f"{s.last_seen_at:%Y-%m-%d %H:%M} UTC, from {s.address or '?'}, {s.user_agent or '?'}"
        )
    if end_them:
        count = sessions.end_for(app.db, username, actor=actor, now=app.now())
        click.echo(f"Ended {count} session(s) of {username}.")
    elif not found:
        click.echo(f"{username} is not signed in anywhere.")


@users.command("require-2fa")
@click.option("--role", "roles", multiple=True, type=ROLE_CHOICE, help="A role (repeatable).")
@click.option("--all", "everyone", is_flag=True, help="Every role.")
@click.option("--off", is_flag=True, help="Stop requiring it for these roles.")
@pass_app
@friendly_errors
@acting
def users_require_2fa(
    app: App, roles: tuple[str, ...], everyone: bool, off: bool, actor: Actor
) -> None:
    """Require two-factor sign-in (TOTP) for a role or everyone: its users must turn it on
    before anything else. With no role given, show which roles must use it."""
    from people import totp

    chosen = [choice for choice in ROLE_CHOICE.choices] if everyone else list(roles)
    if chosen:
        totp.set_required(app.db, chosen, not off, actor=actor, now=app.now())
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
@acting
def users_reset_2fa(app: App, username: str, actor: Actor) -> None:
    """Turn a user's two-factor sign-in off (a lost phone): they set it up again."""
    from people import totp

    had = totp.reset(app.db, username, actor=actor, now=app.now())
    click.echo(
        f"Two-factor sign-in turned off for {username}; they set it up again at next sign-in."
        if had
        else f"{username} had no two-factor sign-in; nothing to turn off."
    )
