"""Logs: one line per event, text or JSON, and no configured secret in any of them —
checked in process and over a full worker run against the fake networks."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import select

from campaign.expand import expand
from campaign.loader import load_campaign
from core.clock import SystemClock
from core.settings import load_settings
from ops.logs import configure_logging, register_configured_secrets
from posts import review
from posts.models import Hold, Post
from posts.planning import store_drafts
from tests.fakeplatform import FakeConfig, FakePlatform
from tests.helpers import approve_all, who, write_campaign
from tests.ops.conftest import SMTP_PASSWORD, SMTP_USER, SmtpServer, WebhookServer

log = logging.getLogger("publisher.test")


def test_text_logs_are_one_line_per_event(restore_logging: None) -> None:
    out = io.StringIO()
    configure_logging("text", stream=out)
    log.info("post %s: published as %s", 3, "17")
    try:
        raise ValueError("first line\nsecond line")
    except ValueError:
        log.exception("round failed")
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].endswith(" INFO publisher.test: post 3: published as 17")
    assert lines[0][:24].endswith("Z") and lines[0][10] == "T"
    assert "round failed Traceback" in lines[1] and "ValueError: first line ⏎ second line" in (
        lines[1]
    )


def test_json_logs(restore_logging: None) -> None:
    out = io.StringIO()
    configure_logging("json", stream=out, verbose=True)
    log.debug("debug shows with --verbose")
    log.warning("post %s: %s", 4, "retryable", extra={"post_id": 4, "account": "gwent-x"})
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        log.exception("boom")
    entries = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [e["level"] for e in entries] == ["DEBUG", "WARNING", "ERROR"]
    assert entries[1] == {
        "time": entries[1]["time"],
        "level": "WARNING",
        "logger": "publisher.test",
        "message": "post 4: retryable",
        "post_id": 4,
        "account": "gwent-x",
    }
    assert "ZeroDivisionError" in entries[2]["exception"]


def test_every_configured_secret_is_redacted(tmp_path: Path, restore_logging: None) -> None:
    secrets_file = tmp_path / "gwent-fb.toml"
    secrets_file.write_text('page_token = "EAAfile-token-from-a-secrets-file-9f"\n')
    secrets_file.chmod(0o600)
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[database]
url = "postgresql://publisher:db-Passw0rd-c4f1@127.0.0.1/publisher"
[notify]
smtp_host = "127.0.0.1"
email_to = ["duty@example.police.uk"]
smtp_password_env = "LOGTEST_SMTP_PASSWORD"
webhook_url_env = "LOGTEST_WEBHOOK"
[accounts.gwent-x]
network = "x"
handle = "@GwentPolice"
dry_run = false
credentials = {{ access_token = "LOGTEST_X_TOKEN" }}
[accounts.gwent-facebook]
network = "facebook"
handle = "GwentPolice"
secrets_file = "{secrets_file}"
""",
        encoding="utf-8",
    )
    env = {
        "LOGTEST_SMTP_PASSWORD": "smtp-Secret+with/odd=chars",
        "LOGTEST_WEBHOOK": "https://hooks.example/services/T000/B000/webhookSECRET42",
        "LOGTEST_X_TOKEN": "1500-x-access-token-abcdef",
    }
    secrets = [
        *env.values(),
        "/services/T000/B000/webhookSECRET42",  # HTTP libraries log the path alone
        "EAAfile-token-from-a-secrets-file-9f",
        "db-Passw0rd-c4f1",
    ]
    assert register_configured_secrets(load_settings(config, environ={}), env) == len(secrets)
    for log_format in ("text", "json"):
        out = io.StringIO()
        configure_logging(log_format, stream=out)
        for secret in secrets:
            log.info("plain %s", secret)
            log.info("url-encoded " + quote(secret, safe=""))
            log.info("in extra", extra={"header": f"Bearer {secret}"})
            try:
                raise RuntimeError(f"request failed: {secret}")
            except RuntimeError:
                log.exception("in a traceback")
        text = out.getvalue()
        assert "***" in text
        for secret in secrets:
            assert secret not in text and quote(secret, safe="") not in text


# -- a full run --------------------------------------------------------------------------


def _wait_for(condition, proc: subprocess.Popen[bytes], log_path: Path, deadline=60.0) -> None:
    end = time.monotonic() + deadline
    while not condition():
        if proc.poll() is not None:
            raise AssertionError("worker exited early:\n" + log_path.read_text())
        if time.monotonic() > end:
            raise AssertionError("condition not met before the deadline:\n" + log_path.read_text())
        time.sleep(0.05)


def _health_url(log_path: Path) -> str | None:
    for line in log_path.read_text().splitlines():
        try:
            message = json.loads(line)["message"]
        except ValueError:  # a line still being written
            continue
        if message.startswith("health and metrics on "):
            return message.split()[4].removesuffix("/healthz")
    return None


def test_a_full_run_logs_no_secret(
    tmp_path: Path, smtp_server: SmtpServer, webhook_server: WebhookServer
) -> None:
    fake = FakeConfig()
    webhook_server.status = 500  # the webhook fails: its failure is logged, without its URL
    ca_file = tmp_path / "relay-ca.pem"
    ca_file.write_bytes(smtp_server.ca_pem)
    with FakePlatform(fake) as platform:
        config = tmp_path / "config.toml"
        config.write_text(
            f"""
state_dir = "state"
[worker]
threads = 2
[health]
port = 0
[notify]
email_to = ["duty@example.police.uk"]
smtp_host = "127.0.0.1"
smtp_port = {smtp_server.port}
smtp_username = "{SMTP_USER}"
smtp_password_env = "RUN_SMTP_PASSWORD"
smtp_ca_file = "{ca_file}"
webhook_url_env = "RUN_WEBHOOK_URL"
daily_digest = false  # one email only, whatever the time of day
[accounts.gwent-x]
network = "x"
handle = "@GwentPolice"
dry_run = false
api_base_url = "{platform.url}"
credentials = {{ consumer_key = "RUN_X_CK", consumer_secret = "RUN_X_CS", access_token = "RUN_X_AT", access_token_secret = "RUN_X_ATS" }}
[accounts.gwent-facebook]
network = "facebook"
handle = "104857600000001"
dry_run = false
api_base_url = "{platform.url}"
credentials = {{ page_token = "RUN_FB_TOKEN" }}
""",
            encoding="utf-8",
        )
        x = fake.x_credentials("GwentPolice")
        env = {
            **os.environ,
            "RUN_X_CK": x["consumer_key"],
            "RUN_X_CS": x["consumer_secret"],
            "RUN_X_AT": x["access_token"],
            "RUN_X_ATS": x["access_token_secret"],
            "RUN_FB_TOKEN": fake.fb_credentials("104857600000001")["page_token"],
            "RUN_SMTP_PASSWORD": SMTP_PASSWORD,
            "RUN_WEBHOOK_URL": webhook_server.url,
            "PUBLISHER_WORKER_FALLBACK_POLL_SECONDS": "0.5",
        }
        settings = load_settings(config, environ={})
        from posts.db import Database

        db = Database(settings.database_url)
        db.ensure_schema()
        clock = SystemClock()
        folder = write_campaign(
            tmp_path / "c", accounts='["gwent-x", "gwent-facebook"]', start="2027-01-04",
            end="2027-01-04",
        )
        store_drafts(db, expand(load_campaign(folder), settings), actor=who("alice"), now=clock.now())
        with db.transaction() as s:
            ids = list(s.scalars(select(Post.id).order_by(Post.id)))
        for n, post_id in enumerate(ids):
            review.edit(db, post_id, actor=who("alice"), now=clock.now(),
                        due_at=clock.now() + timedelta(seconds=1, milliseconds=n))
        approve_all(db, ids, clock.now())
        # Facebook refuses the token: the account is paused and people are told.
        platform.fail_next("expired_token", path="/feed")

        log_path = tmp_path / "worker.log"
        with log_path.open("wb") as log_file:
            proc = subprocess.Popen(
                [sys.executable, "-m", "publisher", "--config", str(config),
                 "-v", "--log-format", "json", "worker"],
                env=env, stdout=log_file, stderr=subprocess.STDOUT,
            )
            try:
                def settled() -> bool:
                    with db.transaction() as s:
                        states = set(s.scalars(select(Post.state)))
                        paused = s.scalars(select(Hold).where(Hold.kind == "pause")).first()
                    return (
                        states == {"published", "retry_wait"}
                        and paused is not None
                        and webhook_server.received.is_set()
                        and smtp_server.received.is_set()
                    )

                _wait_for(settled, proc, log_path)
                _wait_for(lambda: _health_url(log_path) is not None, proc, log_path)
                base = _health_url(log_path)
                with urllib.request.urlopen(f"{base}/healthz", timeout=10) as answer:
                    assert json.loads(answer.read())["status"] == "ok"
                expected = [
                    'publisher_publish_failures_total{channel="gwent-facebook",'
                    'outcome="authentication"} 1.0',
                    'publisher_notification_failures_total{notifier="webhook"} 1.0',
                ]

                def scrape() -> str:
                    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as answer:
                        return answer.read().decode()

                # The counters move just after the database and the webhook see the result.
                _wait_for(lambda: all(line in scrape() for line in expected), proc, log_path)
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=60)
        db.dispose()
    assert proc.returncode == 0

    output = log_path.read_text()
    entries = [json.loads(line) for line in output.splitlines()]  # every line is JSON
    messages = [e["message"] for e in entries]
    assert any("published as" in m for m in messages)
    # Lines about a post carry its id, account, network and outcome as fields.
    published = next(e for e in entries if "published as" in e["message"])
    assert published["outcome"] == "published" and published["network"] == "x"
    assert published["account"] == "gwent-x" and isinstance(published["post_id"], int)
    refused = next(e for e in entries if e.get("outcome") == "authentication")
    assert refused["account"] == "gwent-facebook" and refused["network"] == "facebook"
    assert any(m.startswith("notice authentication_failure") for m in messages)
    assert any(m.startswith("notifier webhook failed") for m in messages)
    assert any(e["level"] == "DEBUG" for e in entries)  # -v: the HTTP libraries spoke too
    secrets = [*fake.secrets(), SMTP_PASSWORD, webhook_server.url, "T0K3N-webhook-5a8e1f"]
    for secret in secrets:
        assert secret not in output, f"a secret leaked into the logs: {secret[:4]}…"
        assert quote(secret, safe="") not in output
    (message,) = smtp_server.messages
    assert b"gwent-facebook paused" in message["content"]
