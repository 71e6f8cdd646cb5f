"""Several worker processes over one database, publishing to the fake platform over HTTP:
every post exactly once, each account's posts in their order."""

from __future__ import annotations

from pathlib import Path

from bench.fleet import run_fleet
from tests import pg


def test_four_workers_on_postgresql(tmp_path: Path) -> None:
    with pg.schema_url() as url:
        result = run_fleet(
            tmp_path,
            workers=4,
            posts=2000,
            accounts=50,
            database_url=url,
            spread=30.0,
            threads=8,
            fallback_poll_seconds=10,
        )
    assert result.unfinished == {}
    assert result.sent == 2000 and result.duplicates == 0
    assert result.out_of_order_accounts == []


def test_a_burst_spreads_over_four_workers(tmp_path: Path) -> None:
    """Every post due at once: each worker claims only what it can start now, so the
    work spreads instead of piling up on the first worker to wake."""
    with pg.schema_url() as url:
        result = run_fleet(
            tmp_path,
            workers=4,
            posts=800,
            accounts=50,
            database_url=url,
            spread=0.01,
            latency=0.1,
            threads=8,
            fallback_poll_seconds=10,
            # Due once all four have started, even on a loaded machine (1-5 s each): a
            # worker still starting when the burst comes cannot take its share.
            due_in=30.0,
        )
    assert result.unfinished == {} and result.duplicates == 0
    assert result.out_of_order_accounts == []
    print("claims per worker:", sorted(result.claims_per_worker.values()))
    assert len(result.claims_per_worker) == 4
    assert min(result.claims_per_worker.values()) >= 800 / 4 / 4


def test_two_workers_on_one_sqlite_file(tmp_path: Path) -> None:
    result = run_fleet(
        tmp_path,
        workers=2,
        posts=2000,
        accounts=50,
        database_url="",
        spread=30.0,
        threads=8,
        fallback_poll_seconds=1,
    )
    assert result.unfinished == {}
    assert result.sent == 2000 and result.duplicates == 0
    assert result.out_of_order_accounts == []
    assert result.locked_errors == 0
