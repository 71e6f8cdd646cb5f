"""Which ``Channel`` serves an account: the outbox for a dry run, else the network's module.

Network modules are imported only when an account needs them: tweepy, atproto and
Mastodon.py each take a noticeable part of a second to import, and the command line must
start fast.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from importlib import import_module

from core.errors import SettingsError
from core.settings import AccountSettings, Settings

from .base import Channel, NetworkChannel

# network -> (module, class), imported on first use.
NETWORKS = {
    "x": (".x", "XChannel"),
    "facebook": (".facebook", "FacebookChannel"),
    "bluesky": (".bluesky", "BlueskyChannel"),
    "mastodon": (".mastodon", "MastodonChannel"),
}


def channel_for(
    account_name: str,
    account: AccountSettings,
    settings: Settings,
    environ: Mapping[str, str] | None = None,
) -> Channel:
    """The channel publishing for ``account``. Credentials are read here, so a missing one
    is a ``SettingsError`` naming the account and the environment variable."""
    env = os.environ if environ is None else environ
    if account.dry_run:
        from .outbox import OutboxChannel

        return OutboxChannel(settings.outbox_path, network=account.network)
    if account.network in NETWORKS:
        module, name = NETWORKS[account.network]
        channel: type[NetworkChannel] = getattr(import_module(module, __package__), name)
        return channel.from_settings(account_name, account, settings, env)
    raise SettingsError(
        f"account {account_name!r}: publishing to {account.network} is not supported yet "
        f"(supported: {', '.join(NETWORKS)}); keep dry_run = true for this account"
    )
