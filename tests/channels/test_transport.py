"""ChannelSession: the environment's proxy settings kept, read once per origin."""

from collections.abc import Iterator

import pytest
import requests

from channels import transport
from channels.transport import ChannelSession


@pytest.fixture(autouse=True)
def fresh_environment() -> Iterator[None]:
    transport.environment.cache_clear()
    yield
    transport.environment.cache_clear()


def _settings(session: requests.Session, url: str) -> dict:
    # What Session.request passes for a request that sets none of these itself.
    return dict(session.merge_environment_settings(url, {}, None, None, None))


def test_the_environments_proxies_apply_and_are_read_once_per_origin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "direct.example")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/our-bundle.pem")
    reads: list[str] = []
    real = transport.get_environ_proxies

    def counted(url: str, no_proxy: str | None = None) -> dict[str, str]:
        reads.append(url)
        return real(url, no_proxy=no_proxy)

    monkeypatch.setattr(transport, "get_environ_proxies", counted)
    sessions = [ChannelSession(5.0), ChannelSession(5.0)]
    plain = requests.Session()
    for url in ("https://api.example/2/tweets", "https://direct.example/a"):
        for session in sessions:
            ours = _settings(session, url)
            assert ours == _settings(plain, url)
            ours["proxies"]["https"] = "changed by a caller"
    assert len(reads) == 2  # once per origin, whichever session asks
    assert _settings(sessions[0], "https://api.example/x")["proxies"]["https"] == (
        "http://proxy.example:3128"
    )
    assert "https" not in _settings(sessions[1], "https://direct.example/x")["proxies"]
    assert _settings(sessions[1], "https://api.example/")["verify"] == "/etc/ssl/our-bundle.pem"
    # The session's own settings still count, as requests merges them.
    sessions[0].proxies = {"http": "http://session-proxy.example"}
    sessions[0].verify = False
    url = "http://api.example/y"
    plain.proxies, plain.verify = sessions[0].proxies, False
    assert _settings(sessions[0], url) == _settings(plain, url)
    # A request that sets its own is left to requests.
    own = {"https": "http://own.example"}
    assert sessions[0].merge_environment_settings(
        url, dict(own), None, None, None
    ) == plain.merge_environment_settings(url, dict(own), None, None, None)
