"""ChannelSession: the environment's proxy settings kept, read once per origin."""

import pytest
import requests.sessions

from channels.transport import ChannelSession


def _settings(session: ChannelSession, url: str) -> dict:
    # What Session.request passes for a request that sets none of these itself.
    return dict(session.merge_environment_settings(url, {}, None, None, None))


def test_the_environments_proxies_apply_and_are_read_once_per_origin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "direct.example")
    reads: list[str] = []
    real = requests.sessions.get_environ_proxies

    def counted(url: str, no_proxy: str | None = None) -> dict[str, str]:
        reads.append(url)
        return real(url, no_proxy=no_proxy)

    monkeypatch.setattr(requests.sessions, "get_environ_proxies", counted)
    session = ChannelSession(5.0)
    plain = requests.Session()
    for url in ("https://api.example/2/tweets", "https://direct.example/a"):
        first = _settings(session, url)
        assert first == plain.merge_environment_settings(url, {}, None, None, None)
        first["proxies"]["https"] = "changed by a caller"
        assert _settings(session, url + "?again") == plain.merge_environment_settings(
            url, {}, None, None, None
        )
    assert _settings(session, "https://api.example/x")["proxies"]["https"] == (
        "http://proxy.example:3128"
    )
    assert "https" not in _settings(session, "https://direct.example/x")["proxies"]
    ours = [url for url in reads if "again" in url or url.endswith("/x")]
    assert ours == []  # the second look at each origin read nothing
    # A request that sets its own proxies is requests' own business, every time.
    before = len(reads)
    session.merge_environment_settings("https://api.example/y", {"https": "x"}, None, None, None)
    assert len(reads) == before + 1
