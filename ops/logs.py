"""Logs: one line per event, human-readable by default or JSON (``--log-format json``),
with every configured secret blanked out.

Redaction happens on the formatted line (message, arguments and traceback alike), so no
logger anywhere — ours or a library's — can write a credential through our handler. The
values come from ``channels.credentials``: every credential a channel loads registers
itself, and ``register_configured_secrets`` registers everything the settings point at
(account variables and secrets files, the SMTP password, the webhook URL, a database
password) as soon as the settings are read.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tomllib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from core.settings import Settings

LogFormat = Literal["text", "json"]
FORMATS: tuple[LogFormat, ...] = ("text", "json")
# Libraries that are chatty at INFO; they log at WARNING unless --verbose.
_NOISY = ("alembic", "apscheduler.scheduler", "apscheduler.executors")
# LogRecord attributes that are not "extra" fields.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def redact(text: str) -> str:
    """``channels.credentials.redact``, imported on first use: the command line's
    logging setup must not load the settings before a command needs them."""
    from channels.credentials import redact as redact_known

    return redact_known(text)


def _timestamp(record: logging.LogRecord) -> str:
    at = datetime.fromtimestamp(record.created, UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


class TextFormatter(logging.Formatter):
    """``2027-01-04T12:00:00.123Z INFO schedules.dispatch: post 3: published as 17``.

    A traceback stays on the same line (newlines shown as ``⏎``): one line per event."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_timestamp(record)} {record.levelname} {record.name}: "
        line += record.getMessage()
        if record.exc_info:
            line += " " + self.formatException(record.exc_info)
        if record.stack_info:
            line += " " + self.formatStack(record.stack_info)
        return redact(line).replace("\r\n", " ⏎ ").replace("\n", " ⏎ ")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, exception, and any
    ``extra=`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info))
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = _clean(value)
        return json.dumps(entry, ensure_ascii=False, default=lambda v: redact(str(v)))


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    return redact(str(value))


class _OurHandler(logging.StreamHandler):
    """The handler ``configure_logging`` installed (calling it again replaces it). Without
    a stream of its own it writes to whatever ``sys.stderr`` is at the time."""

    def __init__(self, stream: IO[str] | None) -> None:
        super().__init__(stream or sys.stderr)
        self._follow_stderr = stream is None

    def emit(self, record: logging.LogRecord) -> None:
        if self._follow_stderr:
            self.stream = sys.stderr
        super().emit(record)


def configure_logging(
    log_format: str = "text", *, verbose: bool = False, stream: IO[str] | None = None
) -> logging.Handler:
    """Send every log record to ``stream`` (stderr) in ``log_format``, secrets redacted."""
    if log_format not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}")
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _OurHandler):
            root.removeHandler(handler)
    handler = _OurHandler(stream)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)
    return handler


def configured_secret_values(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> list[str]:
    """Every secret value the settings point at and that is set (never raises)."""
    env = os.environ if environ is None else environ
    values: list[str] = []
    for account in settings.accounts.values():
        values += [env.get(variable, "") for variable in account.credentials.values()]
        if account.secrets_file is not None:
            values += _secrets_file_values(account.secrets_file)
    notify = settings.notify
    if notify.smtp_password_env:
        values.append(env.get(notify.smtp_password_env, ""))
    if notify.webhook_url_env:
        values += webhook_secrets(env.get(notify.webhook_url_env, ""))
    password = _database_password(settings.database_url)
    if password:
        values.append(password)
    return [v.strip() for v in values if v and v.strip()]


def register_configured_secrets(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> int:
    """Register every configured secret for redaction; returns how many were found."""
    from channels.credentials import register_secret

    values = configured_secret_values(settings, environ)
    for value in values:
        register_secret(value)
    return len(values)


def webhook_secrets(url: str) -> list[str]:
    """An incoming-webhook URL and its path: the path is the secret (HTTP libraries log
    ``POST /services/T0/B0/XXXX`` without the host)."""
    from urllib.parse import urlsplit

    url = url.strip()
    if not url:
        return []
    parts = urlsplit(url)
    tail = parts.path + (f"?{parts.query}" if parts.query else "")
    # A short path ("/hook") is no secret, and blanking it everywhere would ruin logs.
    return [url, tail] if len(tail) >= 12 else [url]


def _secrets_file_values(path: os.PathLike[str]) -> list[str]:
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError):
        return []  # doctor and the channel report the file; here we only redact
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, str):
            found.append(node)
        elif isinstance(node, dict):
            for item in node.values():
                walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(data)
    return found


def _database_password(url: str) -> str | None:
    """The password in a database URL, decoded as the driver gets it (read without
    SQLAlchemy: the commands that only read never load it)."""
    if url.startswith("sqlite"):
        return None
    from urllib.parse import unquote, urlsplit

    try:
        password = urlsplit(url).password
    except ValueError:
        return None
    return unquote(password) if password else None
