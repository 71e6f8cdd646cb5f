"""Small builders shared by tests: a campaign folder written on the fly, posts made ready."""

from __future__ import annotations

import textwrap
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server

from people.rights import Actor
from posts import review
from posts.db import Database

TIP_EN = "{{ item }}\n\nWorried? Call 101, or 999 in an emergency.\n\n{{ hashtag }}"
TIP_CY = "{{ item }}\n\nYn poeni? Ffoniwch 101, neu 999 mewn argyfwng.\n\n{{ hashtag }}"


def write_campaign(
    folder: Path,
    toml: str | None = None,
    templates: dict[str, str] | None = None,
    accounts: str = '["gwent-x"]',
    languages: str = '["en"]',
    series_time: str = "07:30",
    start: str = "2027-01-04",
    end: str = "2027-01-10",
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "templates").mkdir(exist_ok=True)
    if toml is None:
        toml = f"""
        [campaign]
        name = "test-campaign"
        title = "Test"
        start = {start}
        end = {end}
        accounts = {accounts}
        languages = {languages}

        [vars]
        crimestoppers = "0800 555 111"
        [vars.en]
        hashtag = "#StopTalkProtect"
        [vars.cy]
        hashtag = "#StopioSiaradAmddiffyn"

        [[series]]
        id = "tip"
        rule = "FREQ=DAILY"
        time = "{series_time}"
        template = "tip"
        tags = ["safeguarding"]
          [[series.items]]
          en = "Tip one: talk to your child."
          cy = "Awgrym un: siaradwch â'ch plentyn."
          [[series.items]]
          en = "Tip two: check privacy settings."
          cy = "Awgrym dau: gwiriwch y gosodiadau preifatrwydd."
        """
    (folder / "campaign.toml").write_text(textwrap.dedent(toml), encoding="utf-8")
    for name, body in (templates or {"tip.en.j2": TIP_EN, "tip.cy.j2": TIP_CY}).items():
        (folder / "templates" / name).write_text(body, encoding="utf-8")
    return folder


def who(name: str, role: str = "administrator", accounts: tuple[str, ...] = ("*",)) -> Actor:
    """An acting person for library calls: by default one with every right, so a test
    about something else need not register anyone (four eyes still goes by the name)."""
    return Actor(name, role, frozenset(accounts))


def token_for(
    db: Database,
    name: str,
    role: str = "administrator",
    accounts: tuple[str, ...] = (),
    *,
    now: datetime | None = None,
) -> str:
    """A registered user ``name`` (made if missing, with a password nobody knows) and a new
    personal token for them: what a test puts in PUBLISHER_TOKEN."""
    from datetime import UTC

    from sqlalchemy import select

    from people import tokens
    from people.users import User, UserAccount

    at = now or datetime(2027, 1, 1, tzinfo=UTC)
    db.ensure_schema()
    with db.transaction() as session:
        if session.scalar(select(User.id).where(User.username == name)) is None:
            user = User(
                username=name,
                display_name="",
                role=role,
                password_hash="!",  # no password: signs in nowhere, acts by token only
                disabled=False,
                failed_logins=0,
                created_at=at,
                updated_at=at,
            )
            session.add(user)
            session.flush()
            session.add_all(UserAccount(user_id=user.id, account=a) for a in accounts or ("*",))
    return tokens.issue(db, name, actor=who("test-setup"), now=at)


def approve_all(
    db: Database, ids: list[int], now: datetime, author: str = "alice", reviewer: str = "bob"
) -> None:
    review.submit(db, ids, actor=who(author), now=now)
    review.record_previews(db, ids, actor=who(reviewer), now=now)
    review.approve(db, ids, actor=who(reviewer), now=now)


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # one line per image fetch would bury the crash bench's figures


class WebServer:
    """The real web app (``web.app.create_app``) on 127.0.0.1, served by werkzeug."""

    def __init__(self) -> None:
        self.app: Any = None
        self._server = make_server(
            "127.0.0.1", 0, self._wsgi, threaded=True, request_handler=_QuietHandler
        )
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_port}"

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.app(environ, start_response)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def publisher_imports(
    args: list[str], heavy: tuple[str, ...], env: dict[str, str]
) -> tuple[list[str], list[str]]:
    """Run ``publisher ARGS`` in a new Python (``env`` added to this one's environment):
    what it printed, and which of the ``heavy`` modules it imported. It must exit 0."""
    import json
    import os
    import subprocess
    import sys

    code = (
        "import json, sys\n"
        f"sys.argv = ['publisher', *{args!r}]\n"
        "import publisher\n"
        "try:\n"
        "    publisher.main()\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        f"print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
        env={**os.environ, **env},
    )
    *printed, imported = result.stdout.splitlines()
    return printed, json.loads(imported)
