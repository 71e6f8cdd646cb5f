"""Several worker processes over one database, publishing to the fake platform over HTTP.

Used by the multi-worker tests and by the benchmarks (dispatch lateness, morning burst).
``client_floor`` is what the machine can do without us: the same requests to the same fake
platform from a bare client (``python -m bench.fleet CONFIG POSTS``: the same X channel
code, one thread per account, no database, no worker).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from core.clock import SystemClock
from posts.db import Database
from posts.models import Event, Post
from tests.fakeplatform import FakeConfig, FakePlatform, XAccount

from .common import post_text, seed_due_posts


def fake_config(accounts: int) -> FakeConfig:
    return FakeConfig(
        x_accounts=[
            XAccount(
                f"17000000000000{n:05d}",
                f"acct{n}",
                f"17000000000000{n:05d}-token{n}x",
                f"secret-{n}-x",
            )
            for n in range(accounts)
        ]
    )


def write_config(
    folder: Path, url: str, fake: FakeConfig, database_url: str = "", **worker: object
) -> dict[str, str]:
    """config.toml for one X account per fake user; returns the credentials' environment."""
    lines = ['state_dir = "state"', "[database]", f'url = "{database_url}"', "[worker]"]
    lines += [f"{k} = {v!r}" for k, v in worker.items()]
    env = {"FLEET_CK": fake.x_consumer_key, "FLEET_CS": fake.x_consumer_secret}
    for n, account in enumerate(fake.x_accounts):
        lines += [
            f"[accounts.acct-{n}]",
            'network = "x"',
            f'handle = "@{account.username}"',
            "dry_run = false",
            f'api_base_url = "{url}"',
            f'credentials = {{ consumer_key = "FLEET_CK", consumer_secret = "FLEET_CS", '
            f'access_token = "FLEET_AT_{n}", access_token_secret = "FLEET_ATS_{n}" }}',
        ]
        env[f"FLEET_AT_{n}"] = account.access_token
        env[f"FLEET_ATS_{n}"] = account.access_token_secret
    (folder / "config.toml").write_text("\n".join(lines) + "\n")
    return env


@dataclass
class FleetResult:
    posts: int
    sent: int
    duplicates: int
    out_of_order_accounts: list[str]
    unfinished: Counter[str]
    seconds: float
    lateness: list[float] = field(default_factory=list)  # due -> published_at, seconds
    locked_errors: int = 0
    # Claims each worker made ("host:pid" -> count): how the work spread.
    claims_per_worker: Counter[str] = field(default_factory=Counter)
    # CPU seconds from the posts' due time until every post was published: the worker
    # processes together, and this process (the fake platform's server threads, plus a
    # look at the database every 0.1 s). The workers' start-up and idling before the due
    # time are apart (``startup_cpu``): they are not a cost of the requests.
    worker_cpu: float = 0.0
    platform_cpu: float = 0.0
    startup_cpu: float = 0.0


class Fleet:
    """A fake platform, a database with due posts, and N worker processes."""

    def __init__(
        self,
        folder: Path,
        accounts: int,
        database_url: str,
        latency: float = 0.0,
        source: Path | None = None,
        keep_alive: bool = True,
        **worker: object,
    ) -> None:
        self.folder = folder
        # Another checkout's code for the workers (a baseline measured in the same run).
        self.source = source
        self.accounts = accounts
        self.fake = fake_config(accounts)
        self.platform = FakePlatform(self.fake).start(keep_alive=keep_alive)
        self.platform.latency = latency
        self.env = {
            **os.environ,
            **write_config(folder, self.platform.url, self.fake, database_url, **worker),
        }
        from core.settings import load_settings

        self.settings = load_settings(folder / "config.toml", environ={})
        self.db = Database(self.settings.database_url)
        self.db.ensure_schema()
        self.workers: list[subprocess.Popen[bytes]] = []

    def seed(self, posts: int, due: datetime, spread: timedelta) -> None:
        seed_due_posts(self.db, posts, self.accounts, due=due, spread=spread)

    def start(self, count: int) -> None:
        command = [
            sys.executable,
            "-m",
            "publisher",
            "--config",
            str(self.folder / "config.toml"),
            "worker",
        ]
        env, cwd = self.env, None
        if self.source is not None:
            env, cwd = {**self.env, "PYTHONPATH": str(self.source)}, self.source
        for n in range(count):
            log = (self.folder / f"worker-{n}.log").open("ab")
            self.workers.append(subprocess.Popen(command, env=env, cwd=cwd, stdout=log, stderr=log))

    def wait_until_done(self, posts: int, timeout: float) -> float:
        """Seconds until every post is published (or the timeout). A count every 0.1 s:
        reading the published posts' ids was this process's CPU too, counted as the fake
        platform's, and taken from the two cores the burst runs on."""
        start = time.monotonic()
        published = select(func.count()).select_from(Post).where(Post.state == "published")
        while time.monotonic() - start < timeout:
            with self.db.transaction() as s:
                done = s.scalar(published) or 0
            if done >= posts:
                break
            time.sleep(0.1)
        return time.monotonic() - start

    def workers_cpu(self) -> float:
        """CPU seconds the running worker processes have used so far."""
        return sum(_cpu_seconds(w.pid) for w in self.workers if w.poll() is None)

    def stop(self) -> None:
        for worker in self.workers:
            worker.send_signal(signal.SIGTERM)
        for worker in self.workers:
            worker.wait(timeout=60)

    def result(self, posts: int, seconds: float) -> FleetResult:
        sent = []
        out_of_order = []
        with self.db.transaction() as s:
            rows = s.scalars(select(Post).order_by(Post.due_at, Post.id)).all()
            claimed_by = Counter(
                detail.rsplit(" by ", 1)[-1].split(" ")[0]
                for detail in s.scalars(select(Event.detail).where(Event.action == "claim"))
            )
        by_account: dict[str, list[str]] = {}
        for post in rows:
            by_account.setdefault(post.account, []).append(post.text or "")
        for n, account in enumerate(self.fake.x_accounts):
            texts = [p["text"] for p in self.platform.x_posts(account.username)]
            sent += texts
            expected = [t for t in by_account.get(f"acct-{n}", []) if t in set(texts)]
            if texts != expected:
                out_of_order.append(f"acct-{n}")
        counts = Counter(sent)
        lateness = [(p.published_at - p.due_at).total_seconds() for p in rows if p.published_at]
        locked = sum(
            log.read_text(errors="replace").count("database is locked")
            for log in self.folder.glob("worker-*.log")
        )
        return FleetResult(
            posts=posts,
            sent=len(sent),
            duplicates=sum(c - 1 for c in counts.values() if c > 1),
            out_of_order_accounts=out_of_order,
            unfinished=Counter(p.state for p in rows if p.state != "published"),
            seconds=seconds,
            lateness=lateness,
            locked_errors=locked,
            claims_per_worker=claimed_by,
        )

    def close(self) -> None:
        self.db.dispose()
        self.platform.stop()


def run_fleet(
    folder: Path,
    *,
    workers: int,
    posts: int,
    accounts: int,
    database_url: str,
    due_in: float = 3.0,
    spread: float = 30.0,
    latency: float = 0.0,
    timeout: float = 180.0,
    source: Path | None = None,
    keep_alive: bool = True,
    **worker: object,
) -> FleetResult:
    fleet = Fleet(
        folder,
        accounts,
        database_url,
        latency=latency,
        source=source,
        keep_alive=keep_alive,
        **worker,
    )
    try:
        due = SystemClock().now() + timedelta(seconds=due_in)
        fleet.seed(posts, due, timedelta(seconds=spread))
        fleet.start(workers)
        # The posts fall due after the workers started (unless they start slower than
        # ``due_in``): the CPU counted from here on is the burst's.
        time.sleep(max(0.0, (due - SystemClock().now()).total_seconds()))
        startup_cpu = fleet.workers_cpu()
        platform_cpu = time.process_time()
        seconds = fleet.wait_until_done(posts, timeout)
        platform_cpu = time.process_time() - platform_cpu
        worker_cpu = fleet.workers_cpu() - startup_cpu
        fleet.stop()
        result = fleet.result(posts, seconds)
        result.worker_cpu, result.platform_cpu = worker_cpu, platform_cpu
        result.startup_cpu = startup_cpu
        return result
    finally:
        for process in fleet.workers:
            if process.poll() is None:
                process.kill()
        fleet.close()


@dataclass
class FloorResult:
    """The bare client's burst: seconds from its first request to its last answer, and
    CPU seconds in the client and in the fake platform meanwhile."""

    posts: int
    sent: int
    out_of_order_accounts: list[str]
    seconds: float
    client_cpu: float
    platform_cpu: float


def client_floor(
    folder: Path, *, posts: int, accounts: int, latency: float, keep_alive: bool = True
) -> FloorResult:
    """The burst's floor on this machine: ``posts`` posts over ``accounts`` accounts sent
    to a fresh fake platform by a bare client in its own process."""
    fake = fake_config(accounts)
    platform = FakePlatform(fake).start(keep_alive=keep_alive)
    platform.latency = latency
    try:
        env = {**os.environ, **write_config(folder, platform.url, fake)}
        cpu = time.process_time()
        done = subprocess.run(
            [sys.executable, "-m", "bench.fleet", str(folder / "config.toml"), str(posts)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        platform_cpu = time.process_time() - cpu  # the client's start-up: the fake idles
        answer = json.loads(done.stdout.splitlines()[-1])
        sent, out_of_order = 0, []
        for n, account in enumerate(fake.x_accounts):
            texts = [p["text"] for p in platform.x_posts(account.username)]
            sent += len(texts)
            if texts != [post_text(k) for k in range(n, posts, accounts)]:
                out_of_order.append(f"acct-{n}")
    finally:
        platform.stop()
    return FloorResult(posts, sent, out_of_order, answer["seconds"], answer["cpu"], platform_cpu)


def _bare_client(config: Path, posts: int) -> dict[str, float]:
    """Send post ``n`` to account ``n % accounts`` through the accounts' channels, one
    thread per account taking its posts in order; the channels are made first."""
    import threading

    from channels.base import OutgoingPost
    from channels.registry import channel_for
    from core.settings import load_settings

    settings = load_settings(config)
    names = list(settings.accounts)
    channels = {name: channel_for(name, settings.account(name), settings) for name in names}
    start = threading.Barrier(len(names) + 1)

    def send(k: int, name: str) -> None:
        account = settings.account(name)
        start.wait()
        for n in range(k, posts, len(names)):
            channels[name].publish(OutgoingPost(n, 1, name, account, "en", post_text(n)))

    threads = [threading.Thread(target=send, args=(k, name)) for k, name in enumerate(names)]
    for thread in threads:
        thread.start()
    start.wait()
    began, cpu = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.join()
    return {"seconds": time.perf_counter() - began, "cpu": time.process_time() - cpu}


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    print(json.dumps(_bare_client(Path(sys.argv[1]), int(sys.argv[2]))))
