"""Web pages under load: a year for 10 accounts (~30,000 posts, 1,000,000 audit events)
against a week of the same (the baseline measured in the same run).

The data set is built once with Core ``executemany`` and kept under the temp directory
(``campaign-publisher-bench/``), copied afresh for each run (the day page records
previews). The real web app is served by waitress, as ``publisher web`` serves it, in a
subprocess; this process is the load: two connections on 127.0.0.1 asking for each page
in turn. Server time is the app's own (a WSGI timer that puts ``Server-Timing`` on the
response before the body goes out); the CSV exports and ``publisher log`` are timed end
to end, with the server's peak RSS.

    python -m bench.web_pages            # the figures
    python -m bench.web_pages --pages calendar --rounds 40   # only pages whose name has a word
    python -m bench.web_pages serve DIR  # (used by the bench) serve DIR's data set
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from tests.helpers import who

from .common import percentile, row

VERSION = 2  # bump when the data set's shape changes: the cached copies are rebuilt
ACCOUNTS = 10
NETWORKS = ("x", "facebook", "bluesky", "mastodon", "linkedin", "instagram", "threads")
NOW = datetime(2027, 11, 1, 8, 0, tzinfo=UTC)  # the server's clock
# A year is 10 months of history and 2 months planned ahead; a week is 4 days and 3.
BUSIEST = date(2027, 11, 3)  # an awareness day ahead: 19 posts per account, in review
EVENTS_PER_YEAR = 1_000_000
PEOPLE = ("sian", "rhys", "alys", "gareth", "nia", "owen")
PASSWORD = "bench password, not a secret"
RARE_WORD = "Abergavenny"  # in one detail in a thousand: the word search's hard case
SLOTS = ("07:30", "12:15", "17:00", "19:30")
TIPS = [
    "Tip {n}: talk to your child about who they chat to online. Ask, don't accuse.",
    "Tip {n}: check the privacy settings on every app your child uses, together.",
    "Tip {n}: a stranger asking for photos is a warning sign. Save it, block, report.",
    "Tip {n}: keep devices out of bedrooms at night; charge them downstairs.",
    "Tip {n}: gaming chats are social media too. Know who is on the headset.",
]
CY = "Awgrym {n}: siaradwch â'ch plentyn am bwy maen nhw'n sgwrsio â nhw ar-lein."
TAIL = "\n\nWorried? Call 101, or 999 in an emergency. https://www.gwent.police.uk/safe #StopTalkProtect @NSPCC"
ACTIONS = ("plan", "edit", "submit", "preview", "approve", "claim", "published", "note")


def account_networks() -> dict[str, str]:
    return {f"acct-{n}": NETWORKS[n % len(NETWORKS)] for n in range(ACCOUNTS)}


def write_config(folder: Path, url: str = "") -> Path:
    lines = ['state_dir = "state"', 'timezone = "Europe/London"', "[database]", f'url = "{url}"']
    for name, network in account_networks().items():
        lines += [
            f"[accounts.{name}]",
            f'network = "{network}"',
            f'handle = "{name.replace("-", "")}"',
            'display_name = "Gwent Police"',
            'languages = ["en", "cy"]',
        ]
    path = folder / "config.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def build(folder: Path, days: int) -> None:
    """A data set of ``days`` days around NOW: 8 posts per account a day (4 times,
    English and Welsh), 19 on the busiest day, and about 33 events per post, every one
    before NOW."""
    from sqlalchemy import insert

    from core.settings import load_settings
    from people import users
    from posts.db import Database
    from posts.models import Event, Post, content_hash

    folder.mkdir(parents=True, exist_ok=True)
    settings = load_settings(write_config(folder), environ={})
    db = Database(settings.database_url)
    db.ensure_schema()
    rng = random.Random(17)
    posts: list[dict[str, Any]] = []
    first = first_day(days)
    for d in range(days):
        day = first + timedelta(days=d)
        slots = list(SLOTS) + (
            [f"{h:02d}:{m:02d}" for h in range(8, 20) for m in (0, 40)][:15]
            if day == BUSIEST
            else []
        )
        for s, slot in enumerate(slots):
            hour, minute = map(int, slot.split(":"))
            due = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
            n = d * 4 + s
            for account, network in account_networks().items():
                for language in ("en", "cy") if s < 4 or s % 2 else ("en",):
                    text = (TIPS[n % len(TIPS)] if language == "en" else CY).format(n=n) + TAIL
                    digest = content_hash(
                        text=text, media=[], account=account, language=language, due_at=due
                    )
                    past = due < NOW
                    state = (
                        rng.choice(["published"] * 30 + ["failed", "cancelled"])
                        if past
                        else "in_review"
                        if due < NOW + timedelta(days=14)
                        else rng.choice(["draft", "approved", "approved"])
                    )
                    posts.append(
                        dict(
                            campaign=f"campaign-{d // 91}",
                            occasion=f"tip/{day}/{slot}",
                            account=account,
                            language=language,
                            title="Child Exploitation Awareness Day"
                            if day == BUSIEST
                            else "Daily top tip",
                            network=network,
                            due_at=due,
                            text=text,
                            media=[],
                            tags=["safeguarding"],
                            problems=[],
                            content_hash=digest,
                            state=state,
                            author="sian",
                            approved_by="rhys" if state != "draft" else None,
                            approved_hash=digest if state != "draft" else None,
                            approved_at=due - timedelta(days=3) if state != "draft" else None,
                            pair_key=f"tip/{day}/{slot}/{account}",
                            urgent=False,
                            attempt=1 if past else 0,
                            published_at=due if state == "published" else None,
                            created_at=due - timedelta(days=20),
                            updated_at=due - timedelta(days=3),
                        )
                    )
    with db.transaction() as session:
        for start in range(0, len(posts), 5000):
            session.execute(insert(Post), posts[start : start + 5000])
    total_events = EVENTS_PER_YEAR * days // 365
    per_post = total_events / len(posts)
    events: list[dict[str, Any]] = []
    for post_id, p in enumerate(posts, start=1):
        count = int(per_post) + (rng.random() < per_post % 1)
        for k in range(count):
            action = ACTIONS[min(k, len(ACTIONS) - 1)] if k < 7 else rng.choice(ACTIONS[1:4])
            at = p["due_at"] - timedelta(days=20) + timedelta(seconds=rng.random() * 1.7e6)
            if at > NOW:  # a post ahead was planned, edited and reviewed in the past
                at = NOW - timedelta(seconds=rng.random() * 1.7e6)
            word = RARE_WORD if rng.random() < 0.001 else rng.choice(("Newport", "Cwmbran"))
            events.append(
                dict(
                    at=at,
                    actor="worker" if action in ("claim", "published") else rng.choice(PEOPLE),
                    action=action,
                    post_id=post_id,
                    from_state="draft",
                    to_state="draft",
                    content_hash=p["content_hash"],
                    detail=f"{action} by the {word} team, round {k}",
                )
            )
    events.sort(key=lambda e: e["at"])
    with db.transaction() as session:
        for start in range(0, len(events), 20000):
            session.execute(insert(Event), events[start : start + 20000])
    for name in PEOPLE:
        users.add_user(db, name, PASSWORD, role="administrator", actor=who("bench"), now=NOW)
    db.dispose()


def first_day(days: int) -> date:
    return NOW.date() - timedelta(days=days - 61 if days > 61 else 4)


def data_set(days: int) -> Path:
    """A fresh copy of the cached data set of ``days`` days (built the first time)."""
    # Keyed by the migrations too: a cached file of an older schema would fail the pages.
    import posts

    migrations = sorted((Path(posts.__file__).parent / "migrations" / "versions").glob("*.py"))
    schema = hashlib.sha1(b"".join(m.read_bytes() for m in migrations)).hexdigest()[:10]
    cache = (
        Path(tempfile.gettempdir())
        / "campaign-publisher-bench"
        / f"web-{days}d-v{VERSION}-{schema}"
    )
    if not (cache / "done").exists():
        shutil.rmtree(cache, ignore_errors=True)
        started = time.perf_counter()
        build(cache, days)
        (cache / "done").write_text(f"{time.perf_counter() - started:.1f}")
    work = Path(tempfile.mkdtemp(prefix="bench-web-"))
    shutil.copytree(cache, work / "data")
    return work / "data"


# ── the server (a subprocess) ─────────────────────────────────────────────────────────


def serve(folder: Path) -> None:
    """Serve ``folder``'s data set with waitress on a free port; print the port; stop
    when standard input closes."""
    from waitress import create_server

    from core.clock import FakeClock
    from core.settings import load_settings
    from posts.db import Database
    from web.app import create_app

    settings = load_settings(folder / "config.toml", environ={})
    db = Database(settings.database_url)
    app = create_app(settings, db, FakeClock(NOW), secret_key="bench", secure_cookies=False)

    def timed(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        started, cpu = time.perf_counter(), time.thread_time()

        def start(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            # A page's body is made before its headers go: this is the app's whole time,
            # and the CPU its thread spent (steadier on a shared machine).
            spent = (time.perf_counter() - started) * 1000
            used = (time.thread_time() - cpu) * 1000
            timing = f"app;dur={spent:.2f}, cpu;dur={used:.2f}"
            return start_response(status, [*headers, ("Server-Timing", timing)], *rest)

        return app(environ, start)

    server = create_server(timed, host="127.0.0.1", port=0, threads=4, ident="bench")
    if not os.environ.get("BENCH_NO_FREEZE"):  # as ``publisher web`` does (an A/B without)
        from core.heap import freeze_loaded

        freeze_loaded()
    print(server.effective_port, flush=True)
    threading.Thread(target=server.run, daemon=True).start()
    sys.stdin.read()


class Server:
    def __init__(self, folder: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.web_pages", "serve", str(folder)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())

    def peak_rss_mb(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]

    def reset_peak(self) -> None:
        # Where that is not allowed, the peak is the whole run's.
        with contextlib.suppress(OSError):
            Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.terminate()
        self.process.wait(10)


# ── the load (this process) ───────────────────────────────────────────────────────────


class Client:
    """One keep-alive connection, signed in."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        self.cookie = ""
        self.jar: dict[str, str] = {}
        page = self.get("/login")[2]
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        body = urlencode({"csrf_token": token, "username": "rhys", "password": PASSWORD})
        status, _, _ = self.request("POST", "/login", body)
        assert status == 303, status

    def request(
        self, method: str, path: str, body: str | None = None
    ) -> tuple[int, tuple[float, float], str]:
        headers = {"Cookie": self.cookie}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.connection.request(method, path, body, headers)
        response = self.connection.getresponse()
        text = response.read().decode()
        # Every cookie set (the session's and the form state's), as a browser keeps them.
        for cookie in response.headers.get_all("Set-Cookie") or []:
            name, _, value = cookie.split(";", 1)[0].partition("=")
            self.jar[name] = value
        self.cookie = "; ".join(f"{k}={v}" for k, v in self.jar.items())
        timing = [
            float(x) for x in re.findall(r"dur=([\d.]+)", response.getheader("Server-Timing") or "")
        ]
        return response.status, (timing[0], timing[1]) if len(timing) == 2 else (0.0, 0.0), text

    def get(self, path: str) -> tuple[int, tuple[float, float], str]:
        return self.request("GET", path)

    def download(self, path: str) -> tuple[float, int]:
        """Seconds and bytes of a streamed download, read a chunk at a time."""
        started = time.perf_counter()
        self.connection.request("GET", path, headers={"Cookie": self.cookie})
        response = self.connection.getresponse()
        size = 0
        while chunk := response.read(1 << 16):
            size += len(chunk)
        return time.perf_counter() - started, size


def pages(client: Client) -> dict[str, str]:
    """The 16 pages, by name: the same addresses on every data set."""
    found = {
        "queue": "/queue",
        "queue, approved": "/queue?state=approved",
        "queue, one account": "/queue?account=acct-3",
        "calendar month": f"/calendar?month={NOW:%Y-%m}",
        "calendar, one account": f"/calendar?month={NOW:%Y-%m}&account=acct-3",
        "calendar week (busiest)": f"/calendar/week?start={BUSIEST}",
        "day (busiest)": f"/day/{BUSIEST}",
        "day (ordinary)": f"/day/{NOW.date() + timedelta(days=1)}",
        "post": "/posts/20",
        "audit": "/audit",
        "audit by post": "/audit?post=20",
        "audit by action": "/audit?action=approve",
        "audit by person": "/audit?person=gar",
        "audit, a common word": "/audit?words=Newport",
        "audit, a rare word": f"/audit?words={RARE_WORD}",
    }
    # The queue's fifth page, by following its links as a person would.
    path = "/queue"
    for _ in range(4):
        html = client.get(path)[2]
        link = re.search(r'<a rel="next" href="([^"]+)"', html)
        if link is None:
            break
        path = link.group(1).replace("&amp;", "&")
    found["queue, page 5"] = path
    return found


def load(port: int, named: dict[str, str], rounds: int) -> dict[str, list[tuple[float, float]]]:
    """Two connections asking for every page ``rounds`` times each, in a shuffled
    order; the server's (time, CPU time) of each answer by page."""
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in named}
    order = [name for name in named for _ in range(rounds)]
    random.Random(1).shuffle(order)
    lock = threading.Lock()

    # Signed in one after the other: the app answers a second sign-in from the same
    # address while the first is being checked with 429 (people/throttle.py).
    clients = [Client(port) for _ in range(2)]

    def worker(client: Client) -> None:
        while True:
            with lock:
                if not order:
                    return
                name = order.pop()
            status, spent, _ = client.get(named[name])
            assert status == 200, (name, status)
            with lock:
                times[name].append(spent)

    failures: list[BaseException] = []

    def guarded(client: Client) -> None:
        try:
            worker(client)
        except BaseException as exc:  # told below, in the bench's own thread
            failures.append(exc)
            order.clear()

    threads = [threading.Thread(target=guarded, args=(client,)) for client in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise failures[0]
    return times


def publisher_log(folder: Path, *args: str) -> tuple[float, float]:
    """Seconds and peak RSS (MB) of ``publisher log ARGS`` on ``folder``'s data set."""
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import resource, sys, runpy; sys.argv = ['publisher', *sys.argv[1:]]\n"
            "try:\n    runpy.run_module('publisher', run_name='__main__')\n"
            "except SystemExit: pass\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)",
            "--config",
            str(folder / "config.toml"),
            "log",
            *args,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=True,
    )
    return time.perf_counter() - started, int(done.stderr.split()[-1]) / 1024


def measure(days: int, rounds: int, only: tuple[str, ...] = ()) -> dict[str, Any]:
    """``only``: the pages whose name has one of these words, and no exports."""
    folder = data_set(days)
    try:
        server = Server(folder)
        try:
            client = Client(server.port)
            named = chosen(pages(client), only)
            load(server.port, named, 1)  # warm up: imports, caches, the first templates
            times = load(server.port, named, rounds)
            if only or os.environ.get("BENCH_PAGES_ONLY"):  # e.g. timing an older version's pages
                return {"times": times}
            server.reset_peak()
            month = f"/audit.csv?{urlencode({'from': '2027-03-01', 'to': '2027-03-31'})}"
            csv_month = client.download(month)
            csv_all = client.download("/audit.csv")
            rss = server.peak_rss_mb()
        finally:
            server.stop()
        return {
            "times": times,
            "csv_month": csv_month,
            "csv_all": csv_all,
            "rss": rss,
            "log": publisher_log(folder),
            "log_csv": publisher_log(folder, "--csv"),
        }
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)


def chosen(named: dict[str, str], only: tuple[str, ...]) -> dict[str, str]:
    if not only:
        return named
    picked = {name: path for name, path in named.items() if any(w in name for w in only)}
    if not picked:
        raise SystemExit(
            f"--pages {','.join(only)}: no page has that in its name ({', '.join(named)})"
        )
    return picked


def run(rounds: int = 20, only: tuple[str, ...] = ()) -> None:
    print(
        "Web pages: a year for 10 accounts (~30,000 posts, 1,000,000 events) against a "
        f"week of the same; server time under two connections from another process, {rounds} "
        "answers per page"
    )
    week = measure(7, rounds, only)
    year = measure(365, rounds, only)
    over = 0
    for name in year["times"]:
        y = [t for t, _ in year["times"][name]]
        w = [t for t, _ in week["times"][name]]
        cpu = [c for _, c in year["times"][name]]
        p95 = percentile(y, 95)
        over += p95 > 100
        row(
            name,
            f"p50 {percentile(y, 50):.0f} · p95 {p95:.0f} ms",
            f"CPU p50 {percentile(cpu, 50):.0f} ms · week p95 {percentile(w, 95):.0f} ms, "
            f"year/week {p95 / max(percentile(w, 95), 0.01):.1f}×"
            + ("  OVER 100 ms" if p95 > 100 else ""),
        )
    row("pages over 100 ms (p95)", f"{over} of {len(year['times'])}", "target 0")
    if only:
        return
    for key, name in (("csv_month", "audit CSV, a month"), ("csv_all", "audit CSV, the whole log")):
        seconds, size = year[key]
        row(name, f"{seconds:.1f} s, {size / 1e6:.1f} MB", f"week {week[key][0]:.2f} s")
    row("server peak RSS during the CSVs", f"{year['rss']:.0f} MB", f"week {week['rss']:.0f} MB")
    for key, name in (
        ("log", "publisher log (default: the last events)"),
        ("log_csv", "publisher log --csv (everything)"),
    ):
        seconds, peak = year[key]
        row(name, f"{seconds:.1f} s, {peak:.0f} MB peak", f"week {week[key][0]:.1f} s")


def main(argv: Iterable[str]) -> None:
    args = list(argv)
    if args[:1] == ["serve"]:
        serve(Path(args[1]))
        return
    if args[:1] == ["json"]:  # raw figures for a notebook
        print(json.dumps(measure(int(args[1]), int(args[2])), default=str))
        return
    only: tuple[str, ...] = ()
    rounds = 20
    while args:
        option = args.pop(0)
        if option in ("--pages", "--rounds") and not args:
            raise SystemExit(f"{option} needs a value")
        if option == "--pages":  # e.g. "calendar" or "calendar month,day"
            only = tuple(w.strip() for w in args.pop(0).split(",") if w.strip())
        elif option == "--rounds" or option.isdigit():
            value = args.pop(0) if option == "--rounds" else option
            if not value.isdigit() or int(value) < 1:
                raise SystemExit(f"--rounds: {value!r} is not a whole number of at least 1")
            rounds = int(value)
        else:
            raise SystemExit(f"{option!r}: not an option (--pages WORDS, --rounds N)")
    run(rounds, only)


if __name__ == "__main__":
    main(sys.argv[1:])
