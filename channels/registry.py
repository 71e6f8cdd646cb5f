"""Which ``Channel`` serves an account: the outbox for a dry run, else the class the
network's row of ``networks.NETWORKS`` names.

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
from .networks import NETWORKS


def channel_class(network: str) -> type[NetworkChannel] | None:
    """The class publishing to ``network``, imported now; ``None`` if it has none."""
    row = NETWORKS.get(network)
    if row is None or row.channel is None:
        return None
    module, _, name = row.channel.partition(":")
    found: type[NetworkChannel] = getattr(import_module(module), name)
    return found


def load_channel_modules(settings: Settings) -> list[str]:
    """Import now the channel modules of the accounts that publish (not dry runs); the
    networks whose modules loaded. The worker calls it shortly before a post falls due:
    a burst's first sends would otherwise all wait while the first of them imports tweepy
    or atproto (X: 60 ms of CPU on an idle core, two to three times that under load)."""
    loaded: list[str] = []
    for network in sorted({a.network for a in settings.accounts.values() if not a.dry_run}):
        if channel_class(network) is not None:
            loaded.append(network)
    return loaded


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
    channel = channel_class(account.network)
    if channel is None:
        supported = [key for key, row in NETWORKS.items() if row.channel]
        raise SettingsError(
            f"account {account_name!r}: publishing to {account.network} is not supported yet "
            f"(supported: {', '.join(supported)}); keep dry_run = true for this account"
        )
    return channel.from_settings(account_name, account, settings, env)
