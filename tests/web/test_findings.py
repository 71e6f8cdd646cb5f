"""The web findings of issue 16, each with its test: odd and huge values answer 400/404,
never 500, on every route; the approve form is bound to the version it shows; a refusal
speaks to a web user; the audit CSV is not cached; one half of a Welsh/English pair is
not sent for review without a warning; ``resolve --published`` takes https links only."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from posts import review
from posts.db import Database
from publisher import cli
from tests.helpers import token_for, who
from tests.web.conftest import DAY, fresh, login, post, post_where, text_of

CEA_DAY = f"cea-day/{DAY}"

ODD = [
    "99999999999999999999",
    "9223372036854775808",
    "-1",
    "0",
    "²",
    "١٢",  # Arabic-Indic digits: isdigit() is true, int() would take them
    "9999-12-31",
    "0001-01-01",
    "9999-13",
    "2027-02-30",
    "２０２７-０３-１８",
    "nan",
    "x" * 3000,
    "%00",
    "' OR 1=1 --",
]
QUERY_KEYS = (
    "post", "person", "action", "from", "to", "words", "before", "month", "day", "state",
    "account", "campaign", "language", "next", "ids",
)  # fmt: skip


def _urls(app: Flask, value: str) -> list[tuple[str, str, str]]:
    """(endpoint, method, url) of every route with ``value`` in each path argument."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        url = rule.rule
        for name in rule.arguments:
            url = re.sub(rf"<(?:\w+:)?{name}>", value.replace("%", "%25"), url)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, url))
    return found


@pytest.mark.parametrize("value", ODD)
def test_odd_values_on_every_route_never_answer_500(
    app: Flask, client: FlaskClient, value: str
) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = False  # a crash answers 500, as in production
    login(client, "carol")  # an administrator reaches every page
    query = {key: value for key in QUERY_KEYS}
    checked = 0
    for endpoint, method, url in _urls(app, value):
        if endpoint == "auth.logout":
            continue
        for args in ({}, query):
            if method == "GET":
                response = client.get(url, query_string=args)
            else:
                response = post(client, url + "?" + "&".join(f"{k}=1" for k in args), dict(args))
            assert response.status_code < 500, (endpoint, method, url[:60], args and "query")
            checked += 1
    assert checked > 40


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/posts/99999999999999999999", 404),
        ("/posts/9223372036854775808", 404),
        ("/day/9999-12-31", 404),
        ("/day/0001-01-01", 404),
        ("/day/２０２７-０３-１８", 404),
        ("/audit?post=²", 400),
        ("/audit?post=99999999999999999999", 400),
        ("/audit?before=²", 400),
        ("/audit?from=9999-12-31", 400),
        ("/audit.csv?post=²", 400),
        ("/queue?day=9999-12-31", 400),
        ("/calendar?month=9999-13", 200),  # not a month: this month is shown
    ],
)
def test_the_inputs_that_answered_500(
    app: Flask, client: FlaskClient, url: str, status: int
) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = False
    login(client, "carol")
    response = client.get(url)
    assert response.status_code == status, text_of(response)[:300]


def test_the_audit_csv_is_not_cached(client: FlaskClient) -> None:
    login(client, "bob")
    response = client.get("/audit.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Cache-Control"] == "no-store"


def test_the_approve_form_is_bound_to_the_version_it_shows(
    client: FlaskClient, world: Database, clock
) -> None:
    """Two tabs: the first shows version A; the post is edited and sent again; a second
    tab shows version B (a preview of B is recorded). The first tab's approve must not
    approve B."""
    target = post_where(world, occasion=CEA_DAY, account="gwent-x", language="cy")
    login(client, "bob")
    first_tab = text_of(client.get(f"/posts/{target.id}"))
    shown = re.search(r'name="content_hash" value="([0-9a-f]{64})"', first_tab)
    assert shown and shown.group(1) == target.content_hash
    assert f"content {target.content_hash[:12]}" in first_tab
    review.edit(world, target.id, actor=who("alice"), now=clock.now(), text="Diolch. " + target.text)
    review.submit(world, [target.id], actor=who("alice"), now=clock.now())
    client.get(f"/posts/{target.id}")  # the second tab: B is previewed
    response = post(client, f"/posts/{target.id}/approve", {"content_hash": shown.group(1)})
    assert response.status_code == 303
    assert fresh(world, target.id).state == "in_review"
    message = text_of(client.get(response.headers["Location"]))
    assert "changed since you opened it, so nothing was approved — reload the page" in message
    assert "publisher" not in message.split("changed since")[1][:200]  # no command line talk
    new = fresh(world, target.id).content_hash
    assert post(client, f"/posts/{target.id}/approve", {"content_hash": new}).status_code == 303
    assert fresh(world, target.id).state == "approved"


def test_one_half_of_a_pair_is_not_sent_without_a_warning(
    client: FlaskClient, world: Database, clock
) -> None:
    cy = post_where(world, occasion=CEA_DAY, account="gwent-x", language="cy")
    en = post_where(world, occasion=CEA_DAY, account="gwent-x", language="en")
    review.reject(world, [cy.id, en.id], actor=who("bob"), reason="Redo both", now=clock.now())
    login(client, "alice")
    page = text_of(client.get(f"/posts/{cy.id}"))
    assert (
        f'Its counterpart, <a href="/posts/{en.id}">post {en.id}</a> (en), is still a draft' in page
    )
    assert "Send both for review" in page and "Send only this one" in page
    refused = post(client, f"/posts/{cy.id}/submit")  # a form without the author's choice
    assert refused.status_code == 303 and fresh(world, cy.id).state == "draft"
    assert "was not sent: its counterpart" in text_of(client.get(refused.headers["Location"]))
    assert post(client, f"/posts/{cy.id}/submit", {"with_pair": "1"}).status_code == 303
    assert fresh(world, cy.id).state == fresh(world, en.id).state == "in_review"


def test_resolve_published_takes_only_https_on_the_command_line(settings, world: Database) -> None:
    target = post_where(world, occasion=CEA_DAY, account="gwent-x", language="cy")
    with world.transaction() as s:
        s.get(type(target), target.id).state = "unknown"
    runner = CliRunner()
    for url in ("http://x.com/GwentPolice/status/1", "javascript:alert(1)", "x.com/a"):
        result = runner.invoke(
            cli,
            ["--config", str(settings.config_path), "resolve", str(target.id),
             "--published", url, "--reason", "seen"],
            env={"PUBLISHER_TOKEN": token_for(world, "bob")},
        )  # fmt: skip
        assert result.exit_code == 1 and "https://" in result.output, result.output
    assert fresh(world, target.id).state == "unknown"
