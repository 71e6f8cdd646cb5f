"""The worker killed with SIGKILL at random moments (a few times here; 200+ in
``python -m bench.crash``): nothing is sent twice and nothing is lost."""

from bench.crash import run
from tests.bluesky.pds import unavailable


def test_sigkill_again_and_again_sends_each_post_once() -> None:
    report = run(kills=6, days=14, seed=7)
    assert {"x", "facebook", "mastodon"} <= set(report.networks)
    if unavailable() is None:  # a real PDS: Bluesky is in the crash test too
        assert "bluesky" in report.networks
    assert report.duplicates == []
    assert report.lost == []
    assert report.published + len(report.unknown) == report.posts == 14 * len(report.networks)
    assert all(report.unknown.values())  # every unknown post says why
