"""Service figures: dispatch lateness, the morning burst, an idle worker, CLI start-up."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from datetime import timedelta
from pathlib import Path
from typing import Any

from core.clock import SystemClock

from .common import median, percentile, row
from .fleet import Fleet, FleetResult, client_floor, run_fleet


def _fleets(
    accounts: int = 50, baseline: Path | None = None, **options: Any
) -> Iterator[tuple[str, FleetResult]]:
    """The same run with 1 worker on SQLite, then 4 on PostgreSQL when it is reachable;
    with ``baseline`` (another checkout), each case is run again on that code right after
    ours, so the two share the machine's load."""
    from tests import pg

    cases: list[tuple[str, int, Callable[[], AbstractContextManager[str]]]] = [
        ("1 worker, SQLite", 1, lambda: nullcontext(""))
    ]
    if pg.available():
        cases.append(("4 workers, PostgreSQL", 4, pg.schema_url))
    sources: list[tuple[str, Path | None]] = [("", None)]
    if baseline is not None:
        sources.append((" (baseline)", baseline))
    for name, workers, database in cases:
        for suffix, source in sources:
            with database() as url, tempfile.TemporaryDirectory() as tmp:
                yield (
                    name + suffix,
                    run_fleet(
                        Path(tmp),
                        workers=workers,
                        accounts=accounts,
                        database_url=url,
                        due_in=15.0,
                        fallback_poll_seconds=5,
                        source=source,
                        **options,
                    ),
                )


def lateness() -> None:
    print("Dispatch lateness: due → published (recorded after the network call), 50 accounts")
    for name, result in _fleets(posts=300, spread=30.0, threads=8):
        late = [x * 1000 for x in result.lateness]
        row(
            name,
            f"p50 {percentile(late, 50):.0f} ms · p99 {percentile(late, 99):.0f} ms",
            f"{result.sent} sent, {result.duplicates} duplicates",
        )


def morning_burst(posts: int = 1000, latency: float = 0.2, baseline: Path | None = None) -> None:
    """The burst with 50 and with 500 accounts, beside the network's limit (an account's
    posts go one at a time) and the machine's floor: the same requests to the same fake
    platform from a bare client (the same X channel code, a thread per account, no
    database, no worker), in the same run. ``baseline`` (or ``BENCH_BASELINE``): another
    checkout whose workers run each case again beside ours."""
    if baseline is None and os.environ.get("BENCH_BASELINE"):
        baseline = Path(os.environ["BENCH_BASELINE"])
    print("load average (1, 5, 15 min) " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    for accounts in (50, 500):
        per_account = -(-posts // accounts)
        limit = per_account * latency
        print(
            f"Morning burst: {posts:,} posts due at the same instant to {accounts} accounts, "
            f"the fake platform answering in {latency * 1000:.0f} ms; the limit is "
            f"{per_account} posts x {latency} s = {limit:.1f} s per account"
        )
        with tempfile.TemporaryDirectory() as tmp:
            floor = client_floor(Path(tmp), posts=posts, accounts=accounts, latency=latency)
        row(
            "floor: bare client, no database, no worker",
            f"all sent in {floor.seconds:.1f} s ({floor.seconds / limit:.2f} x the limit)",
            f"{floor.sent} sent, {len(floor.out_of_order_accounts)} accounts out of order; "
            f"CPU a request: client {_ms(floor.client_cpu, posts)} / fake platform "
            f"{_ms(floor.platform_cpu, posts)}",
        )
        for name, result in _fleets(accounts, baseline, posts=posts, spread=0.0, latency=latency):
            took = max(result.lateness)
            row(
                name,
                f"all sent in {took:.1f} s ({took / limit:.2f} x the limit, "
                f"{took / floor.seconds:.2f} x the floor)",
                f"{result.sent} sent, {result.duplicates} duplicates, "
                f"{len(result.out_of_order_accounts)} accounts out of order",
            )
            row(
                "  CPU a request: workers / fake platform",
                f"{_ms(result.worker_cpu, posts)} / {_ms(result.platform_cpu, posts)}",
                f"{result.worker_cpu + result.platform_cpu:.1f} CPU s on "
                f"{os.cpu_count()} cores from the due time; workers' start-up and wait "
                f"before it {result.startup_cpu:.1f} s",
            )
            row(
                "  claims per worker",
                " ".join(str(n) for n in sorted(result.claims_per_worker.values())),
                f"load {os.getloadavg()[0]:.2f}",
            )


def _ms(cpu: float, requests: int) -> str:
    return f"{cpu / requests * 1000:.1f} ms"


def idle_worker(seconds: float = 60.0) -> None:
    """CPU and memory of a worker with nothing due: the limits are 0.2% of a core and
    60 MB. CPU per round (one every fallback poll, 5 s) depends less on the machine's load
    than the share does; it includes the heartbeat and the health server between rounds."""
    poll = 5.0
    print(f"Idle worker: 10,000 future posts queued, measured over {seconds:.0f} s")
    with tempfile.TemporaryDirectory() as tmp:
        fleet = Fleet(Path(tmp), 50, "", fallback_poll_seconds=poll)
        try:
            fleet.seed(10_000, SystemClock().now() + timedelta(days=1), timedelta(days=300))
            fleet.start(1)
            worker = fleet.workers[0]
            time.sleep(5)  # start-up is not idling
            before = _cpu_seconds(worker.pid)
            time.sleep(seconds)
            used = _cpu_seconds(worker.pid) - before
            rss = _rss_mb(worker.pid)
            load = os.getloadavg()
            fleet.stop()
            log = (Path(tmp) / "worker-0.log").read_text(errors="replace")
        finally:
            fleet.close()
    # Another process on the health port (another benchmark) leaves this worker without
    # its health server: cheaper than a real one, so say so.
    health = "" if "cannot serve health" not in log else " (health server NOT running)"
    row("CPU share", f"{used / seconds:.2%} of a core", f"limit 0.20%{health}")
    row(
        "CPU per round",
        f"{used / (seconds / poll) * 1000:.1f} ms",
        f"{seconds / poll:.0f} rounds, one per {poll:g} s",
    )
    row("resident memory", f"{rss:.0f} MB", "limit 60 MB")
    row("load average (1, 5, 15 min)", " ".join(f"{x:.2f}" for x in load))


def cli_startup(runs: int = 15) -> None:
    print(
        "Command line: start-up of `publisher --help` against a bare Python in the same run; "
        "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    exe = str(Path(sys.executable).with_name("publisher"))
    cases = {
        "bare `python -c pass`": [sys.executable, "-c", "pass"],
        "publisher --help": [exe, "--help"],
        "publisher queue --help": [exe, "queue", "--help"],
    }
    timed = time_commands(cases, runs)
    bare_wall, bare_cpu = timed["bare `python -c pass`"]
    for name, (wall, cpu) in timed.items():
        row(
            f"{name} (median of {runs})",
            f"{wall * 1000:.0f} ms wall, {cpu * 1000:.0f} ms CPU",
            f"{wall / bare_wall:.1f}x bare wall, {cpu / bare_cpu:.1f}x bare CPU"
            + ("  (target: --help <= 2x)" if name == "publisher --help" else ""),
        )


def time_commands(
    cases: dict[str, list[str]], runs: int, cwd: Path | None = None
) -> dict[str, tuple[float, float]]:
    """Median wall and CPU seconds (the child's user + system) of each command, the cases
    taken in turn each round so that the machine's load falls on all of them alike."""
    import resource

    walls: dict[str, list[float]] = {name: [] for name in cases}
    cpus: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, argv in cases.items():
            used = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(argv, stdout=subprocess.DEVNULL, check=True, cwd=cwd)
            walls[name].append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus[name].append(after.ru_utime - used.ru_utime + after.ru_stime - used.ru_stime)
    return {name: (median(walls[name]), median(cpus[name])) for name in cases}


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")
