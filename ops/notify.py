"""Telling people: one ``Notifier`` interface, email (SMTP with STARTTLS and login) and a
webhook (JSON POST, e.g. a Teams or Slack incoming webhook).

``Notifications`` sends each notice to every notifier on a background thread, so a slow
or failing mail server never holds up publishing; a failure is logged and counted (the
``on_result`` callback feeds the metrics) and the next notice is tried as usual.
"""

from __future__ import annotations

import abc
import logging
import os
import queue
import smtplib
import ssl
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from channels.credentials import Secret, redact
from core.errors import NotifyError, SettingsError
from core.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notice:
    """Something a person should know. ``kind`` is stable (for filters and webhooks)."""

    kind: str  # authentication_failure, unknown_outcome, permanent_failure, stale, hold_set, …
    subject: str
    body: str
    at: datetime
    account: str | None = None
    post_ids: tuple[int, ...] = ()
    needs_action: bool = True
    extra: dict[str, Any] = field(default_factory=dict)
    # A notice for particular people (a stage waits for them, their daily digest): sent by
    # email to these addresses only, not to the team's list nor the webhook.
    to: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            # ``text`` is what Slack and Teams incoming webhooks show.
            "text": f"{self.subject}\n\n{self.body}",
            "kind": self.kind,
            "subject": self.subject,
            "body": self.body,
            "at": self.at.astimezone(UTC).isoformat(),
            "account": self.account,
            "post_ids": list(self.post_ids),
            "needs_action": self.needs_action,
            **self.extra,
        }



class Notifier(abc.ABC):
    """Delivers a notice somewhere people look, or raises ``NotifyError``."""

    name: str = "notifier"

    @abc.abstractmethod
    def send(self, notice: Notice) -> None:
        """Deliver ``notice`` now (blocking, with a timeout)."""

    def describe(self) -> str:
        return self.name


class EmailNotifier(Notifier):
    """SMTP submission: STARTTLS (certificate checked), then login, then the message."""

    name = "email"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        recipients: Sequence[str],
        username: str = "",
        password: Secret | None = None,
        starttls: bool = True,
        timeout: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
        personal_only: bool = False,
    ) -> None:
        if not recipients and not personal_only:
            raise SettingsError("notify: email_to names nobody to tell")
        if username and password is None:
            raise SettingsError("notify: smtp_username is set but there is no password")
        self.host, self.port = host, port
        self.sender = sender or f"campaign-publisher@{host}"
        self.recipients = tuple(recipients)
        self.username = username
        self._password = password
        self.starttls = starttls
        self.timeout = timeout
        self._context = ssl_context or ssl.create_default_context()

    def describe(self) -> str:
        return f"email to {', '.join(self.recipients)} via {self.host}:{self.port}"

    def recipients_of(self, notice: Notice) -> tuple[str, ...]:
        """A personal notice goes to its people; any other to the team's list."""
        return notice.to or self.recipients

    def message(self, notice: Notice) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = f"[Campaign Publisher] {notice.subject}"
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients_of(notice))
        message["Date"] = formatdate(notice.at.timestamp(), localtime=False, usegmt=True)
        message["Message-ID"] = make_msgid(domain="campaign-publisher")
        message["X-Campaign-Publisher-Kind"] = notice.kind
        message.set_content(notice.body + "\n")
        return message

    def send(self, notice: Notice) -> None:
        if not self.recipients_of(notice):
            return  # only people's own notices are mailed (no team list configured)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                smtp.ehlo()
                if self.starttls:
                    smtp.starttls(context=self._context)
                    smtp.ehlo()
                if self.username and self._password is not None:
                    # Never log in over plain text unless STARTTLS is off on purpose.
                    smtp.login(self.username, self._password.reveal())
                smtp.send_message(self.message(notice))
        except smtplib.SMTPAuthenticationError as exc:
            raise NotifyError(
                f"email: {self.host}:{self.port} refused the login for {self.username}: "
                f"{exc.smtp_code}"
            ) from None
        except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
            raise NotifyError(
                f"email via {self.host}:{self.port} failed: {redact(str(exc)) or type(exc).__name__}"
            ) from None


class WebhookNotifier(Notifier):
    """POSTs the notice as JSON (``text`` plus structured fields) to a URL."""

    name = "webhook"

    def __init__(self, url: Secret, *, timeout: float = 10.0) -> None:
        self._url = url
        self.timeout = timeout

    def describe(self) -> str:
        from urllib.parse import urlsplit

        return f"webhook to {urlsplit(self._url.reveal()).hostname or '?'}"

    def send(self, notice: Notice) -> None:
        if notice.to:
            return  # a personal notice is email to those people; the channel hears one summary
        import requests

        try:
            response = requests.post(
                self._url.reveal(), json=notice.as_json(), timeout=self.timeout
            )
        except requests.Timeout:
            raise NotifyError(f"{self.describe()} timed out after {self.timeout} s") from None
        except requests.ConnectionError:
            raise NotifyError(f"{self.describe()} failed: cannot connect") from None
        except requests.RequestException as exc:
            # Not str(exc): requests quotes the URL, whose path is the webhook's secret.
            raise NotifyError(f"{self.describe()} failed: {type(exc).__name__}") from None
        if response.status_code >= 300:
            raise NotifyError(f"{self.describe()} answered HTTP {response.status_code}")


def build_notifiers(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> tuple[list[Notifier], list[str]]:
    """The notifiers the settings configure, and the problems that stop any of them."""
    env = os.environ if environ is None else environ
    cfg = settings.notify
    notifiers: list[Notifier] = []
    problems: list[str] = []
    personal = bool(settings.signoff.contacts)  # people told when a stage waits for them
    if cfg.smtp_host or cfg.email_to:
        try:
            if not cfg.smtp_host:
                raise SettingsError("notify: email_to is set but smtp_host is not")
            password = None
            if cfg.smtp_password_env:
                value = env.get(cfg.smtp_password_env, "").strip()
                if not value:
                    raise SettingsError(
                        f"notify: the SMTP password is missing: set the environment "
                        f"variable {cfg.smtp_password_env}"
                    )
                password = Secret(value)
            context = None
            if cfg.smtp_ca_file is not None:
                try:
                    context = ssl.create_default_context(cafile=str(cfg.smtp_ca_file))
                except (OSError, ssl.SSLError) as exc:
                    raise SettingsError(
                        f"notify: cannot read smtp_ca_file {cfg.smtp_ca_file}: {exc}"
                    ) from None
            notifiers.append(
                EmailNotifier(
                    host=cfg.smtp_host,
                    port=cfg.smtp_port,
                    sender=cfg.email_from,
                    recipients=cfg.email_to,
                    username=cfg.smtp_username,
                    password=password,
                    starttls=cfg.smtp_starttls,
                    timeout=cfg.timeout_seconds,
                    ssl_context=context,
                    personal_only=personal,
                )
            )
        except SettingsError as exc:
            problems.append(str(exc))
    if cfg.webhook_url_env:
        url = env.get(cfg.webhook_url_env, "").strip()
        if not url.startswith(("https://", "http://")):
            problems.append(
                f"notify: set the environment variable {cfg.webhook_url_env} to the "
                "webhook's URL (https://…)"
            )
        else:
            from channels.credentials import register_secret

            from .logs import webhook_secrets

            for value in webhook_secrets(url):
                register_secret(value)
            notifiers.append(WebhookNotifier(Secret(url), timeout=cfg.timeout_seconds))
    return notifiers, problems


ResultCallback = Callable[[str, bool], None]


class Notifications:
    """Fan-out to every notifier, in the background, in order. Never raises to callers."""

    def __init__(
        self,
        notifiers: Sequence[Notifier],
        *,
        on_result: ResultCallback | None = None,
    ) -> None:
        self.notifiers = tuple(notifiers)
        self._on_result = on_result
        self._queue: queue.Queue[Notice | _Marker | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False

    def notify(self, notice: Notice) -> None:
        """Log the notice and queue it for every notifier; returns at once."""
        level = logging.WARNING if notice.needs_action else logging.INFO
        log.log(level, "notice %s: %s", notice.kind, notice.subject)
        if not self.notifiers:
            return
        with self._lock:
            if self._closed:
                log.warning("notice %s after shutdown: not sent", notice.kind)
                return
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="notifications", daemon=True)
                self._thread.start()
            self._queue.put(notice)

    def deliver(self, notice: Notice) -> dict[str, bool]:
        """Send now, in this thread, to every notifier; {notifier: delivered}."""
        results: dict[str, bool] = {}
        for notifier in self.notifiers:
            try:
                notifier.send(notice)
            except Exception as exc:  # a notifier never takes anything else down
                results[notifier.name] = False
                log.warning(
                    "notifier %s failed to deliver %s (%s): %s",
                    notifier.name,
                    notice.kind,
                    notice.subject,
                    redact(str(exc)) or type(exc).__name__,
                )
            else:
                results[notifier.name] = True
                log.debug("notifier %s delivered %s", notifier.name, notice.kind)
            if self._on_result is not None:
                try:
                    self._on_result(notifier.name, results[notifier.name])
                except Exception:
                    log.exception("counting a notification failed")
        return results

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued notice has been tried; False if ``timeout`` passed."""
        done = threading.Event()
        with self._lock:
            if self._thread is None:
                return True
            self._queue.put(_Marker(done))
        return done.wait(timeout)

    def close(self, timeout: float | None = 30.0) -> None:
        """Try what is queued (for at most ``timeout`` seconds), then stop the thread."""
        with self._lock:
            self._closed = True
            thread = self._thread
            if thread is not None:
                self._queue.put(None)
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if isinstance(item, _Marker):
                item.done.set()
                continue
            self.deliver(item)


@dataclass(frozen=True)
class _Marker:
    done: threading.Event
