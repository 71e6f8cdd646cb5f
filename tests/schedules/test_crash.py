"""The worker killed with SIGKILL at random moments while it works, 30 times, every core
busy, on a network that holds each create longer than the lease: nothing is sent twice
and nothing is lost. And with no kill at all, sends slower than the lease go out once."""

from bench.crash import run
from tests.bluesky.pds import unavailable


def _check(report, networks_needed: set[str]) -> None:
    assert networks_needed <= set(report.networks)
    if unavailable() is None:  # a real PDS: Bluesky is in the crash test too
        assert "bluesky" in report.networks
    assert report.duplicates == []
    assert report.lost == []
    assert report.published + len(report.unknown) == report.posts
    assert all(report.unknown.values())  # every unknown post says why


def test_sigkill_again_and_again_under_load_sends_each_post_once() -> None:
    report = run(kills=30, days=10, seed=7)
    print(report.summary())
    _check(report, {"x", "facebook", "mastodon", "linkedin", "threads", "instagram"})
    assert report.burners >= 1 and report.kills == 30
    assert report.settle_seconds, "no kill caught a post in flight: the test proved nothing"


def test_sends_slower_than_the_lease_go_out_once_with_no_kill() -> None:
    report = run(kills=0, days=3, seed=3)
    print(report.summary())
    _check(report, {"x", "facebook", "mastodon", "linkedin", "threads", "instagram"})
    assert report.unknown == {} and report.published == report.posts
    assert report.reconciled == 0  # a living worker never lost a lease
