"""Secrets the settings name (the OpenID Connect client secret, the key that encrypts
TOTP secrets, the key that signs image links): read from an environment variable or an
owner-only file, never from the settings file itself, and never put in a message."""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path

from core.errors import SettingsError


def read_owner_only(path: Path, what: str) -> str:
    """The stripped text of ``path``; refused unless only its owner may read it."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError as exc:
        raise SettingsError(f"cannot read the {what} file {path}: {exc.strerror}") from None
    if mode & 0o077:
        raise SettingsError(
            f"the {what} file {path} has mode {mode:04o}; it must be readable by its owner "
            f"only (chmod 600 {path})"
        )
    try:
        return path.read_text("utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise SettingsError(f"cannot read the {what} file {path}: {reason}") from None


def named_secret(
    what: str,
    env_name: str,
    file: Path | None,
    environ: Mapping[str, str] | None = None,
) -> str | None:
    """The secret from the variable ``env_name`` or else ``file``; None when neither is
    named. A named source that is empty or unreadable is a ``SettingsError``."""
    env = os.environ if environ is None else environ
    if env_name:
        value = env.get(env_name, "")
        if value:
            return value
        if file is None:
            raise SettingsError(f"the {what} is to come from ${env_name}, which is not set")
    if file is not None:
        value = read_owner_only(file, what)
        if not value:
            raise SettingsError(f"the {what} file {file} is empty")
        return value
    return None


def made_once(path: Path) -> str:
    """A random key kept in ``path`` (mode 0600), made on first use."""
    try:
        return read_owner_only(path, "key")
    except SettingsError:
        if path.exists():
            raise
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return read_owner_only(path, "key")
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(key + "\n")
    return key
