"""Every table of the queue's database, whatever has been imported so far.

The tables are declared on one ``Base`` by the modules in ``MODEL_MODULES``, and SQLAlchemy
knows a table only once its module has been imported. ``posts.copy`` and the migrations ask
here, so that neither depends on which modules a command happened to import first (a copy
once dropped every web user this way). A new module with tables goes in the list.
"""

from __future__ import annotations

import importlib

from sqlalchemy import MetaData

from .models import Base

MODEL_MODULES = (
    "posts.models",  # posts, events (the audit log), holds
    "people.users",  # users and the accounts each may act on
    "people.tokens",  # hashes of the personal tokens the command line acts with
    "people.totp",  # two-factor secrets, recovery codes, roles that must use it
    "people.oidc",  # which user an identity provider's (issuer, subject) pair is
    "people.sessions",  # signed-in web sessions (not copied: posts/copy.py)
    "people.throttle",  # failed sign-ins per address, account, browser (not copied)
    "posts.stages",  # sign-off stages: who signed which stage of which content
    "posts.review_links",  # external review links
    "campaign.store",  # campaigns and their revisions (the files of each)
    "posts.media",  # the media library (images by SHA-256)
)


def all_tables() -> MetaData:
    """The metadata with every table of the schema on it."""
    for name in MODEL_MODULES:
        importlib.import_module(name)
    return Base.metadata
