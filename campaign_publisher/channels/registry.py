"""Which ``Channel`` serves an account: the outbox for a dry run, else the network's module.

Network modules are imported only when an account needs them: tweepy, atproto and
Mastodon.py each take a noticeable part of a second to import, and the command line must
start fast.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from ..errors import SettingsError
from ..settings import AccountSettings, Settings
from .base import Channel

SUPPORTED = ("x", "facebook", "bluesky", "mastodon")


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
    if account.network == "x":
        from .x import XChannel

        return XChannel.from_settings(account_name, account, settings, env)
    if account.network == "facebook":
        from .facebook import FacebookChannel

        return FacebookChannel.from_settings(account_name, account, settings, env)
    if account.network == "bluesky":
        from .bluesky import BlueskyChannel

        return BlueskyChannel.from_settings(account_name, account, settings, env)
    if account.network == "mastodon":
        from .mastodon import MastodonChannel

        return MastodonChannel.from_settings(account_name, account, settings, env)
    raise SettingsError(
        f"account {account_name!r}: publishing to {account.network} is not supported yet "
        f"(supported: {', '.join(SUPPORTED)}); keep dry_run = true for this account"
    )
