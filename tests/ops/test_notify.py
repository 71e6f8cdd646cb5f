"""Email over a real SMTP server (STARTTLS + AUTH LOGIN) and webhooks over real HTTP."""

from __future__ import annotations

import ssl
import threading
from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest

from channels.credentials import Secret
from core.errors import SettingsError
from core.settings import load_settings
from ops.notify import (
    EmailNotifier,
    Notice,
    Notifications,
    Notifier,
    NotifyError,
    WebhookNotifier,
    build_notifiers,
)
from tests.ops.conftest import SMTP_PASSWORD, SMTP_USER, SmtpServer, WebhookServer, free_port

AT = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)
NOTICE = Notice(
    kind="authentication_failure",
    subject="Account gwent-x paused: its credentials were refused",
    body="Post 3 to gwent-x …\nWhat to do: `publisher resume gwent-x`. Cadwch yn ddiogel ŵ",
    at=AT,
    account="gwent-x",
    post_ids=(3,),
)


def _email(server: SmtpServer, **kw: object) -> EmailNotifier:
    options: dict[str, object] = dict(
        host="127.0.0.1",
        port=server.port,
        sender="publisher@example.police.uk",
        recipients=["duty@example.police.uk", "lead@example.police.uk"],
        username=SMTP_USER,
        password=Secret(SMTP_PASSWORD),
        timeout=5,
        ssl_context=server.client_context,
    )
    options.update(kw)
    return EmailNotifier(**options)  # type: ignore[arg-type]


def test_email_goes_over_starttls_with_auth_login(smtp_server: SmtpServer) -> None:
    _email(smtp_server).send(NOTICE)

    (received,) = smtp_server.messages
    assert received["tls"] and received["authenticated"]
    assert smtp_server.mechanisms == ["LOGIN"]
    assert received["to"] == ["duty@example.police.uk", "lead@example.police.uk"]
    message = message_from_bytes(received["content"], policy=policy.default)
    assert message["Subject"].strip() == f"[Campaign Publisher] {NOTICE.subject}"
    assert message["X-Campaign-Publisher-Kind"] == "authentication_failure"
    body = message.get_content().replace("\r\n", "\n").strip()
    assert body == NOTICE.body  # Welsh letters intact


def test_email_wrong_password_is_a_notify_error_without_the_password(
    smtp_server: SmtpServer,
) -> None:
    with pytest.raises(NotifyError, match="refused the login") as caught:
        _email(smtp_server, password=Secret("wrong-password-123")).send(NOTICE)
    assert "wrong-password-123" not in str(caught.value)
    assert smtp_server.messages == []


def test_email_refuses_a_certificate_it_cannot_verify(smtp_server: SmtpServer) -> None:
    # Default trust store: the test CA is unknown, so STARTTLS must fail before login.
    with pytest.raises(NotifyError, match="failed"):
        _email(smtp_server, ssl_context=ssl.create_default_context()).send(NOTICE)
    assert smtp_server.mechanisms == []  # the password was never offered


def test_email_to_a_closed_port_is_a_notify_error() -> None:
    notifier = EmailNotifier(
        host="127.0.0.1", port=free_port(), sender="a@b", recipients=["c@d"], timeout=2
    )
    with pytest.raises(NotifyError, match="failed"):
        notifier.send(NOTICE)


def test_webhook_posts_json(webhook_server: WebhookServer) -> None:
    WebhookNotifier(Secret(webhook_server.url), timeout=5).send(NOTICE)

    (request,) = webhook_server.requests
    assert request["content_type"] == "application/json"
    body = request["json"]
    assert body["text"].startswith(NOTICE.subject)  # what Slack and Teams show
    assert body["kind"] == "authentication_failure"
    assert body["account"] == "gwent-x" and body["post_ids"] == [3]
    assert body["at"] == "2027-01-04T12:00:00+00:00"


def test_webhook_error_status_is_a_notify_error_without_the_url(
    webhook_server: WebhookServer,
) -> None:
    webhook_server.status = 500
    with pytest.raises(NotifyError, match="HTTP 500") as caught:
        WebhookNotifier(Secret(webhook_server.url), timeout=5).send(NOTICE)
    assert "T0K3N" not in str(caught.value)


def test_webhook_unreachable_does_not_leak_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}/hooks/T0K3N-unreachable-77aa"
    with pytest.raises(NotifyError) as caught:
        WebhookNotifier(Secret(url), timeout=2).send(NOTICE)
    assert "T0K3N-unreachable-77aa" not in str(caught.value)


def test_notifiers_from_settings(tmp_path, smtp_server: SmtpServer) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[notify]
email_to = ["duty@example.police.uk"]
smtp_host = "127.0.0.1"
smtp_port = {smtp_server.port}
smtp_username = "{SMTP_USER}"
smtp_password_env = "TEST_SMTP_PASSWORD"
webhook_url_env = "TEST_WEBHOOK_URL"
""",
        encoding="utf-8",
    )
    settings = load_settings(config, environ={})
    notifiers, problems = build_notifiers(settings, {})
    assert notifiers == []
    assert any("TEST_SMTP_PASSWORD" in p for p in problems)
    assert any("TEST_WEBHOOK_URL" in p for p in problems)

    env = {"TEST_SMTP_PASSWORD": SMTP_PASSWORD, "TEST_WEBHOOK_URL": "https://hooks.example/x"}
    notifiers, problems = build_notifiers(settings, env)
    assert problems == []
    assert [n.name for n in notifiers] == ["email", "webhook"]
    assert "duty@example.police.uk" in notifiers[0].describe()
    assert SMTP_PASSWORD not in repr(vars(notifiers[0]))


def test_email_needs_recipients() -> None:
    with pytest.raises(SettingsError, match="email_to"):
        EmailNotifier(host="h", port=25, sender="", recipients=[])


class Broken(Notifier):
    name = "broken"

    def send(self, notice: Notice) -> None:
        raise RuntimeError("the relay is down")


class Recording(Notifier):
    name = "recording"

    def __init__(self) -> None:
        self.sent: list[Notice] = []

    def send(self, notice: Notice) -> None:
        self.sent.append(notice)


def test_a_failing_notifier_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    results: list[tuple[str, bool]] = []
    recording = Recording()
    notifications = Notifications(
        [Broken(), recording], on_result=lambda name, ok: results.append((name, ok))
    )
    notifications.notify(NOTICE)
    notifications.notify(NOTICE)
    assert notifications.flush(timeout=10)
    notifications.close()
    assert len(recording.sent) == 2
    assert results == [("broken", False), ("recording", True)] * 2
    assert "notifier broken failed to deliver authentication_failure" in caplog.text


def test_notify_returns_while_a_notifier_hangs() -> None:
    release = threading.Event()
    started = threading.Event()

    class Hanging(Notifier):
        name = "hanging"

        def send(self, notice: Notice) -> None:
            started.set()
            release.wait(10)

    notifications = Notifications([Hanging()])
    notifications.notify(NOTICE)
    assert started.wait(10)
    notifications.notify(NOTICE)  # returns at once although the first is still stuck
    assert not notifications.flush(timeout=0.01)
    release.set()
    assert notifications.flush(timeout=10)
    notifications.close()
