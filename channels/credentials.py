"""Credentials for one account, and keeping them out of every message, repr and log.

An account names where each credential lives (``config.toml``)::

    [accounts.gwent-x]
    credentials = { consumer_key = "GWENT_X_CONSUMER_KEY", access_token = "GWENT_X_TOKEN", ... }
    secrets_file = "secrets/gwent-x.toml"   # optional; must be mode 0600

A credential is read from the environment variable the account names for it; if that
variable is unset (or the account names none), from the secrets file. The secrets file
holds ``name = "value"`` pairs, either at the top level or under a table named after the
account (so one file can serve several accounts). Values never appear in an error: a
message names the account, the credential and where it was looked for.

Every loaded value is registered for redaction: ``redact()`` blanks it out of a string,
and a logging filter on the HTTP libraries' loggers (urllib3 logs request URLs,
requests-oauthlib logs OAuth headers at DEBUG) blanks it out of their log records.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from core.errors import SettingsError
from core.settings import AccountSettings

MASK = "***"
# Shorter values are not redacted by substring: blanking every "ab" in a log would
# destroy the log, and no real token is that short.
_MIN_REDACT_LENGTH = 6
# Loggers of libraries that put credentials into DEBUG records.
_NOISY_LOGGERS = (
    "urllib3.connectionpool",
    "requests_oauthlib.oauth1_auth",
    "oauthlib.oauth1.rfc5849",
    "oauthlib.oauth1.rfc5849.signature",
    "tweepy.client",
)

_known: set[str] = set()
_known_lock = threading.Lock()
# What ``redact`` looks for: every known secret's forms by their first
# ``_MIN_REDACT_LENGTH`` characters. Replaced whole when a secret is registered (a log
# line is redacted far more often than a secret is added), by a copy with the new
# secret's forms added: rebuilt from every secret, a worker's 500 accounts cost 0.7 ms
# each to build (quadratic), under the dispatcher's lock in the burst's first sends.
_forms: dict[str, list[str]] = {}


class Secret:
    """A credential value that does not print itself. ``reveal()`` is the only way out."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        register_secret(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))


def register_secret(value: str) -> None:
    """Remember ``value`` so ``redact`` and the log filter blank it out from now on."""
    global _forms
    if len(value) >= _MIN_REDACT_LENGTH:
        with _known_lock:
            if value not in _known:
                _known.add(value)
                forms = dict(_forms)  # the lists it shares are replaced, not changed
                for start, added in _forms_by_start([value]).items():
                    forms[start] = [*forms.get(start, ()), *added]
                _forms = forms
    _install_log_filter()


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every known secret (plain or URL-encoded) replaced by ``***``.

    Its cost does not grow with the number of secrets: only the forms whose first
    characters occur in ``text`` are looked for (a worker with 500 accounts logs every
    send, and the log handler's lock is held while a line is redacted)."""
    extra = {s for s in secrets if len(s) >= _MIN_REDACT_LENGTH}
    forms = _forms_by_start(extra) if extra else {}
    known = _forms  # replaced whole on a change, never changed in place
    width = _MIN_REDACT_LENGTH
    starts = {text[i : i + width] for i in range(len(text) - width + 1)}
    found = [form for start in starts for form in known.get(start, ())]
    found += [form for start in starts for form in forms.get(start, ())]
    # Longest first, so a secret containing another is blanked whole.
    for form in sorted(set(found), key=len, reverse=True):
        if form in text:
            text = text.replace(form, MASK)
    return text


def _forms_by_start(values: Iterable[str]) -> dict[str, list[str]]:
    """Each secret's forms (plain, ``quote``d, ``quote_plus``ed) by their first characters."""
    by_start: dict[str, list[str]] = {}
    for value in values:
        for form in {value, quote(value, safe=""), quote_plus(value, safe="")}:
            by_start.setdefault(form[:_MIN_REDACT_LENGTH], []).append(form)
    return by_start


class RedactingFilter(logging.Filter):
    """Rewrites a log record's message with every known secret blanked out."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the library's problem, not ours
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_filter = RedactingFilter()
_filter_installed = False


def _install_log_filter() -> None:
    global _filter_installed
    if _filter_installed:
        return
    # A logger's own filters see the records created on that logger (not those of its
    # children), so the filter goes on each logger that is known to log credentials.
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).addFilter(_filter)
    _filter_installed = True


def load_credentials(
    account_name: str,
    account: AccountSettings,
    names: Sequence[str],
    environ: Mapping[str, str] = os.environ,
) -> dict[str, str]:
    """The credentials ``names`` for ``account``, from its environment variables or secrets file.

    Raises ``SettingsError`` naming the account, the credential and the environment
    variable (never a value) when one is missing, and when the secrets file is readable
    by anyone but its owner.
    """
    file_values: dict[str, Any] | None = None
    found: dict[str, str] = {}
    missing: list[str] = []
    for name in names:
        variable = account.credentials.get(name)
        value = environ.get(variable, "") if variable else ""
        if not value and account.secrets_file is not None:
            if file_values is None:
                file_values = _read_secrets_file(account_name, account.secrets_file)
            raw = file_values.get(name, "")
            if not isinstance(raw, str):
                raise SettingsError(
                    f"account {account_name!r}: {name} in {account.secrets_file} must be a string"
                )
            value = raw
        if value.strip():
            found[name] = value.strip()
            register_secret(found[name])
        else:
            missing.append(_where_missing(account_name, account, name, variable))
    if missing:
        raise SettingsError("; ".join(missing))
    return found


def _where_missing(
    account_name: str, account: AccountSettings, name: str, variable: str | None
) -> str:
    places = []
    if variable:
        places.append(f"set the environment variable {variable}")
    if account.secrets_file is not None:
        places.append(f'add {name} = "..." to {account.secrets_file}')
    if not places:
        places.append(
            f"name an environment variable for it in [accounts.{account_name}] "
            f'credentials, e.g. {name} = "{_suggest_variable(account_name, name)}"'
        )
    return f"account {account_name!r}: credential {name!r} is missing: " + " or ".join(places)


def _suggest_variable(account_name: str, name: str) -> str:
    stem = "".join(c if c.isalnum() else "_" for c in f"{account_name}_{name}")
    return stem.upper()


def _read_secrets_file(account_name: str, path: Path) -> dict[str, Any]:
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise SettingsError(
            f"account {account_name!r}: cannot read secrets file {path}: {exc.strerror}"
        ) from None
    # Group or others able to read (or write) a token file is how tokens leak.
    if stat.S_IMODE(mode) & 0o077:
        raise SettingsError(
            f"account {account_name!r}: secrets file {path} has mode "
            f"{stat.S_IMODE(mode):04o}; it must be readable by its owner only "
            f"(chmod 600 {path})"
        )
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise SettingsError(
            f"account {account_name!r}: cannot read secrets file {path}: {exc.strerror}"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        # The decoder's message gives line and column, never the value.
        raise SettingsError(
            f"account {account_name!r}: secrets file {path} is not valid TOML: {exc}"
        ) from None
    section = data.get(account_name)
    return section if isinstance(section, dict) else data
