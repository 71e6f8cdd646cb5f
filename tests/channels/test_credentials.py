"""Credentials: from the environment or a 0600 secrets file; never in a message or log."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from channels import credentials
from channels.credentials import (
    Secret,
    load_credentials,
    redact,
    register_secret,
)
from core.errors import SettingsError
from core.settings import AccountSettings

TOKEN = "EAAtoken-Zq81xWc0VhK3pL"
NAMES = ("consumer_key", "access_token")


def account(**overrides: object) -> AccountSettings:
    fields: dict[str, object] = {
        "network": "x",
        "handle": "@GwentPolice",
        "dry_run": False,
        "credentials": {"consumer_key": "GWENT_X_KEY", "access_token": "GWENT_X_TOKEN"},
    }
    fields.update(overrides)
    return AccountSettings(**fields)


def secrets_file(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "secrets.toml"
    path.write_text(text, "utf-8")
    path.chmod(mode)
    return path


def test_from_the_environment() -> None:
    env = {"GWENT_X_KEY": "key-value-123", "GWENT_X_TOKEN": TOKEN}
    assert load_credentials("gwent-x", account(), NAMES, env) == {
        "consumer_key": "key-value-123",
        "access_token": TOKEN,
    }


def test_ANY_credential_missing_names_account_and_variable_not_value() -> None:
    env = {"GWENT_X_KEY": "key-value-123"}
    with pytest.raises(SettingsError) as caught:
        load_credentials("gwent-x", account(), NAMES, env)
    message = str(caught.value)
    assert "'gwent-x'" in message and "access_token" in message and "GWENT_X_TOKEN" in message
    assert "key-value-123" not in message
    assert "consumer_key" not in message  # only what is missing


def test_blank_variable_counts_as_missing() -> None:
    with pytest.raises(SettingsError, match="GWENT_X_TOKEN"):
        load_credentials(
            "gwent-x", account(), NAMES, {"GWENT_X_KEY": "k" * 10, "GWENT_X_TOKEN": "  "}
        )


def test_no_variable_named_suggests_one() -> None:
    with pytest.raises(SettingsError, match=r"accounts\.gwent-x.*GWENT_X_PAGE_TOKEN"):
        load_credentials("gwent-x", account(credentials={}), ["page_token"], {})


def test_from_a_0600_secrets_file(tmp_path: Path) -> None:
    path = secrets_file(tmp_path, f'consumer_key = "file-key-456"\naccess_token = "{TOKEN}"\n')
    got = load_credentials("gwent-x", account(credentials={}, secrets_file=path), NAMES, {})
    assert got == {"consumer_key": "file-key-456", "access_token": TOKEN}


def test_secrets_file_with_a_table_per_account(tmp_path: Path) -> None:
    path = secrets_file(
        tmp_path,
        '[gwent-x]\nconsumer_key = "x-key-000001"\n'
        'access_token = "x-token-0001"\n'
        '[gwent-facebook]\npage_token = "fb-token-0001"\n',
    )
    acc = account(credentials={}, secrets_file=path)
    assert load_credentials("gwent-x", acc, NAMES, {})["access_token"] == "x-token-0001"
    assert load_credentials("gwent-facebook", acc, ["page_token"], {}) == {
        "page_token": "fb-token-0001"
    }


def test_environment_wins_over_the_file(tmp_path: Path) -> None:
    path = secrets_file(tmp_path, 'consumer_key = "file-key-456"\naccess_token = "file-tok-1"\n')
    got = load_credentials("gwent-x", account(secrets_file=path), NAMES, {"GWENT_X_TOKEN": TOKEN})
    assert got == {"consumer_key": "file-key-456", "access_token": TOKEN}


def test_missing_from_env_and_file_names_both(tmp_path: Path) -> None:
    path = secrets_file(tmp_path, 'consumer_key = "file-key-456"\n')
    with pytest.raises(SettingsError) as caught:
        load_credentials("gwent-x", account(secrets_file=path), NAMES, {})
    assert "GWENT_X_TOKEN" in str(caught.value) and str(path) in str(caught.value)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_ANY_secrets_file_mode(tmp_path: Path, mode: int) -> None:
    path = secrets_file(tmp_path, f'access_token = "{TOKEN}"\n', mode)
    with pytest.raises(SettingsError, match=f"mode {mode:04o}.*chmod 600") as caught:
        load_credentials("gwent-x", account(credentials={}, secrets_file=path), NAMES, {})
    assert TOKEN not in str(caught.value)


def test_secrets_file_missing(tmp_path: Path) -> None:
    acc = account(credentials={}, secrets_file=tmp_path / "nope.toml")
    with pytest.raises(SettingsError, match="cannot read secrets file"):
        load_credentials("gwent-x", acc, NAMES, {})


def test_broken_secrets_file_does_not_quote_the_value(tmp_path: Path) -> None:
    path = secrets_file(tmp_path, f"access_token = {TOKEN}\n")  # unquoted: invalid TOML
    with pytest.raises(SettingsError, match=r"not valid TOML.*line 1") as caught:
        load_credentials("gwent-x", account(credentials={}, secrets_file=path), NAMES, {})
    assert TOKEN not in str(caught.value)


def test_non_string_value(tmp_path: Path) -> None:
    path = secrets_file(tmp_path, "consumer_key = 12345\n")
    with pytest.raises(SettingsError, match="must be a string"):
        load_credentials("gwent-x", account(credentials={}, secrets_file=path), NAMES, {})


def test_secret_never_prints_itself() -> None:
    secret = Secret(TOKEN)
    assert TOKEN not in repr(secret) and TOKEN not in str(secret)
    assert TOKEN not in f"{secret}" and TOKEN not in repr([secret])
    assert secret.reveal() == TOKEN
    assert secret == Secret(TOKEN) and secret != Secret("other-token-1")


def test_redact_plain_and_url_encoded() -> None:
    register_secret("tok/en+with=odd&chars")
    text = "GET /me?access_token=tok%2Fen%2Bwith%3Dodd%26chars and tok/en+with=odd&chars"
    assert redact(text) == "GET /me?access_token=*** and ***"
    assert redact("short ab", ["ab"]) == "short ab"  # too short to redact safely
    assert redact("an unregistered-token-99 here", ["unregistered-token-99"]) == "an *** here"


def test_redact_finds_every_secret_among_many_wherever_it_stands() -> None:
    for n in range(300):
        register_secret(f"many-secret-{n:04d}-value")
    register_secret("inner-secret")
    register_secret("six6ix")  # as short as a redacted secret can be
    assert redact("six6ix") == "***" and redact("ends in six6ix") == "ends in ***"
    register_secret("outer-inner-secret-whole")
    assert redact("many-secret-0123-value") == "***"
    assert redact("ends with many-secret-0299-value") == "ends with ***"
    assert redact("x=many-secret-0007-value&y=many-secret-0008-value") == "x=***&y=***"
    assert redact("outer-inner-secret-whole; inner-secret") == "***; ***"
    assert redact("none here, many-secret-0300-value") == "none here, many-secret-0300-value"
    register_secret("with space+plus")
    assert redact("q=with+space%2Bplus and with%20space%2Bplus") == "q=*** and ***"


def test_registering_a_secret_adds_its_forms_without_changing_what_redact_holds() -> None:
    """Each new secret's forms are added to a copy (not rebuilt from every secret, which
    made building 500 accounts' channels quadratic); a ``redact`` already under way keeps
    the index it took, unchanged; the result is what a rebuild from every secret gives."""
    register_secret("shared-start-first")
    before = credentials._forms  # what a redact under way holds
    copied = {start: list(forms) for start, forms in before.items()}
    for n in range(50):
        register_secret(f"shared-start-{n:03d}")  # one first-characters key for all
        register_secret(f"own start {n:03d}/+")
    assert before == copied  # neither the dict nor its lists were changed in place
    rebuilt = credentials._forms_by_start(credentials._known)
    assert {k: sorted(v) for k, v in credentials._forms.items()} == {
        k: sorted(v) for k, v in rebuilt.items()
    }
    assert redact("a shared-start-017 and own%20start%20049%2F%2B") == "a *** and ***"


def test_http_library_logs_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    register_secret(TOKEN)
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("urllib3.connectionpool").debug(
            '%s://%s:%s "%s %s %s" %s',
            "https",
            "graph.facebook.com",
            443,
            "GET",
            f"/v25.0/me?access_token={TOKEN}",
            "HTTP/1.1",
            200,
        )
        logging.getLogger("requests_oauthlib.oauth1_auth").debug(
            "Updated headers: %s", {"Authorization": f'OAuth oauth_token="{TOKEN}"'}
        )
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert all(TOKEN not in m and "***" in m for m in messages)
