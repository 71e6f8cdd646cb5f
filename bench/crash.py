"""Crash test: the worker publishes to the fake platform over real HTTP (and to a real
Bluesky PDS when one can start) and is killed with SIGKILL at random moments while it runs,
again and again, and restarted each time — with every core kept busy by CPU-burning
processes, lease settings the product accepts, and a network that holds each create longer
than the lease. At the end every post is published exactly once on the network, or
``unknown`` with a reason: none duplicated, none lost. With ``kills=0`` it is the slow
network alone: one living worker whose sends take longer than its lease.

``python -m bench.crash`` prints the figures (kills, posts, duplicates, lost, unknown, and
the median and maximum time from a kill to the post it had in flight being settled).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from campaign.expand import expand
from campaign.loader import load_campaign
from core.clock import SystemClock
from core.settings import Settings, load_settings
from posts import review
from posts.db import Database
from posts.models import Event, Post
from posts.planning import store_drafts
from tests.bluesky.pds import Account, BlueskyPds
from tests.bluesky.pds import unavailable as pds_unavailable
from tests.fakeplatform import FakeConfig, FakePlatform
from tests.fakes.instagram import DEFAULT_ACCOUNTS as DEFAULT_INSTAGRAM_ACCOUNTS
from tests.fakes.instagram import FakeInstagram, real_jpeg
from tests.fakes.linkedin import ORGANIZATION as LINKEDIN_ORGANIZATION
from tests.fakes.linkedin import FakeLinkedIn
from tests.fakes.threads import FakeThreads
from tests.helpers import WebServer, who, write_campaign
from web.app import create_app

TEMPLATE = "{{ item }} ({{ date }})\n\nWorried? Call 101, or 999 in an emergency."


@dataclass
class CrashReport:
    kills: int = 0
    posts: int = 0
    networks: list[str] = field(default_factory=list)
    published: int = 0
    unknown: dict[int, str] = field(default_factory=dict)
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)
    on_platform: int = 0
    reconciled: int = 0  # leases taken over from a killed worker and looked up
    # Seconds from each kill to the post that worker had in flight leaving doubt
    # (published, or back in the queue, or left to a person).
    settle_seconds: list[float] = field(default_factory=list)
    burners: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        settle = (
            f"kill → in-flight post settled: median {statistics.median(self.settle_seconds):.1f} s,"
            f" max {max(self.settle_seconds):.1f} s over {len(self.settle_seconds)} posts"
            if self.settle_seconds
            else "no post was in flight at a kill"
        )
        return (
            f"{self.kills} kills ({self.burners} CPU burners), {self.posts} posts on "
            f"{', '.join(self.networks)}: {self.published} published once, "
            f"{len(self.unknown)} unknown (waiting for a person), "
            f"{len(self.duplicates)} duplicated, {len(self.lost)} lost; "
            f"{self.on_platform} on the networks; {self.reconciled} leases taken over; "
            f"{settle}; {self.seconds:.0f} s"
        )


def _config(
    folder: Path,
    url: str,
    fake: FakeConfig,
    bluesky: tuple[str, Account] | None,
    linkedin: FakeLinkedIn,
    threads: FakeThreads,
    instagram: FakeInstagram,
    web_url: str,
) -> tuple[Settings, dict[str, str]]:
    x, page, masto = fake.x_accounts[0], fake.facebook_pages[0], fake.mastodon_accounts[0]
    (folder / "config.toml").write_text(f"""
state_dir = "state"
[worker]
fallback_poll_seconds = 0.2
# Short leases, as a force that wants a crash settled in seconds would set them; the
# network holds each create longer than a lease (HOLD).
lease_seconds = 3
lease_renew_seconds = 1
request_timeout_seconds = 8
check_after_seconds = [2, 5, 12]
threads = 2
[health]
enabled = false
[accounts.gwent-x]
network = "x"
handle = "@{x.username}"
dry_run = false
api_base_url = "{url}"
credentials = {{ consumer_key = "CRASH_X_CK", consumer_secret = "CRASH_X_CS", access_token = "CRASH_X_AT", access_token_secret = "CRASH_X_ATS" }}
[accounts.gwent-facebook]
network = "facebook"
handle = "{page.id}"
dry_run = false
api_base_url = "{url}"
credentials = {{ page_token = "CRASH_FB_TOKEN" }}
[accounts.gwent-mastodon]
network = "mastodon"
handle = "@{masto.username}@{fake.mastodon_domain}"
dry_run = false
api_base_url = "{url}"
credentials = {{ access_token = "CRASH_MASTO_TOKEN" }}
""")
    env = {
        "CRASH_X_CK": fake.x_consumer_key,
        "CRASH_X_CS": fake.x_consumer_secret,
        "CRASH_X_AT": x.access_token,
        "CRASH_X_ATS": x.access_token_secret,
        "CRASH_FB_TOKEN": page.token,
        "CRASH_MASTO_TOKEN": masto.token,
    }
    if bluesky:  # a real PDS, when Node and @atproto/dev-env are there
        pds_url, account = bluesky
        with (folder / "config.toml").open("a") as config:
            config.write(f"""[accounts.gwent-bluesky]
network = "bluesky"
handle = "{account.handle}"
dry_run = false
api_base_url = "{pds_url}"
credentials = {{ app_password = "CRASH_BSKY_PASSWORD" }}
""")
        env["CRASH_BSKY_PASSWORD"] = account.app_password
    issued = linkedin.issue()
    with (folder / "config.toml").open("a") as config:
        config.write(f"""[accounts.gwent-linkedin]
network = "linkedin"
handle = "{LINKEDIN_ORGANIZATION}"
dry_run = false
api_base_url = "{linkedin.url}"
token_expires_at = "2099-01-01T00:00:00+00:00"
credentials = {{ access_token = "CRASH_LI_TOKEN" }}
[accounts.gwent-threads]
network = "threads"
handle = "@{THREADS_PROFILE}"
dry_run = false
api_base_url = "{threads.url}"
credentials = {{ access_token = "CRASH_THREADS_TOKEN" }}
[accounts.gwent-instagram]
network = "instagram"
handle = "{INSTAGRAM.id}"
dry_run = false
api_base_url = "{instagram.url}"
credentials = {{ access_token = "CRASH_IG_TOKEN" }}
# Instagram fetches each image from the web app's signed public link.
[web]
public_url = "{web_url}"
media_key_env = "CRASH_MEDIA_KEY"
""")
    env["CRASH_IG_TOKEN"] = INSTAGRAM.token
    env["CRASH_MEDIA_KEY"] = MEDIA_KEY
    env["CRASH_LI_TOKEN"] = issued.access_token
    env["CRASH_THREADS_TOKEN"] = threads.profile(THREADS_PROFILE).token
    return load_settings(folder / "config.toml", environ={}), env


def _plan(settings: Settings, folder: Path, days: int, spread: float) -> list[int]:
    db = Database(settings.database_url)
    db.ensure_schema()
    end = f"2027-{1 + (days - 1) // 28:02d}-{1 + (days - 1) % 28:02d}"
    campaign = write_campaign(
        folder / "campaign",
        accounts=json.dumps(sorted(settings.accounts)),
        start="2027-01-01",
        end=end,
        templates={"tip.en.j2": TEMPLATE, "tip.cy.j2": TEMPLATE},
    )
    if "gwent-instagram" in settings.accounts:  # Instagram takes only posts with an image
        (campaign / "photo.jpg").write_bytes(real_jpeg("crash"))
        toml = campaign / "campaign.toml"
        others = json.dumps(sorted(a for a in settings.accounts if a != "gwent-instagram"))
        text = toml.read_text().replace(
            'rule = "FREQ=DAILY"', f'rule = "FREQ=DAILY"\naccounts = {others}', 1
        )
        toml.write_text(text + INSTAGRAM_SERIES)
    clock = SystemClock()
    store_drafts(db, expand(load_campaign(campaign), settings), actor=who("author"), now=clock.now())
    with db.transaction() as s:
        ids = list(s.scalars(select(Post.id).order_by(Post.id)))
    start = clock.now() + timedelta(seconds=2)
    step = timedelta(seconds=spread / len(ids))
    for n, post_id in enumerate(ids):  # due one after another across the kill phase
        review.edit(db, post_id, actor=who("author"), now=clock.now(), due_at=start + step * n)
    review.submit(db, ids, actor=who("author"), now=clock.now())
    review.record_previews(db, ids, actor=who("reviewer"), now=clock.now())
    review.approve(db, ids, actor=who("reviewer"), now=clock.now())
    db.dispose()
    return ids


THREADS_PROFILE = "gwentpolice"
INSTAGRAM = DEFAULT_INSTAGRAM_ACCOUNTS[0]
MEDIA_KEY = "crash-media-key-" + "m" * 40
INSTAGRAM_SERIES = """
[[series]]
id = "photo"
rule = "FREQ=DAILY"
time = "12:00"
template = "tip"
accounts = ["gwent-instagram"]
image = { path = "photo.jpg", alt = { en = "A grey test photograph of nothing in particular.", cy = "Ffotograff prawf llwyd o ddim byd yn benodol." } }
  [[series.items]]
  en = "Photo tip one: talk to your child."
  cy = "Awgrym llun un: siaradwch â'ch plentyn."
  [[series.items]]
  en = "Photo tip two: check privacy settings."
  cy = "Awgrym llun dau: gwiriwch y gosodiadau preifatrwydd."
"""
HOLD = 4.0  # seconds the fake network holds each create: longer than the lease


@contextlib.contextmanager
def cpu_burners(count: int) -> Iterator[int]:
    """Keep ``count`` cores busy with processes that only burn CPU, for the block."""
    burners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)
    ]
    try:
        yield count
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()


def _wait_for_start(log_path: Path, starts_before: int, timeout: float = 120) -> bool:
    """Until the worker started after ``starts_before`` others says it is running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log_path.read_text(errors="replace").count(" started (database ") > starts_before:
            return True
        time.sleep(0.05)
    return False


def run(
    kills: int = 30,
    days: int = 14,
    seed: int = 1,
    verbose: bool = False,
    with_bluesky: bool = True,
    burn: bool = True,
    hold: float = HOLD,
) -> CrashReport:
    rng = random.Random(seed)
    report = CrashReport(kills=kills)
    started = time.monotonic()
    fake = FakeConfig()
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        platform = stack.enter_context(FakePlatform(fake))
        platform.hold_creates = hold
        linkedin = stack.enter_context(FakeLinkedIn())
        threads = stack.enter_context(FakeThreads())
        instagram = stack.enter_context(FakeInstagram())
        web = WebServer()
        stack.callback(web.stop)
        folder = Path(tmp)
        pds = None
        if with_bluesky and pds_unavailable() is None:
            pds = BlueskyPds.start()
            stack.callback(pds.stop)
            bsky = pds.create_account("crash")
        settings, secrets = _config(
            folder,
            platform.url,
            fake,
            (pds.url, bsky) if pds else None,
            linkedin,
            threads,
            instagram,
            web.url,
        )
        report.networks = sorted({a.network for a in settings.accounts.values()})
        report.burners = stack.enter_context(cpu_burners((os.cpu_count() or 1) if burn else 0))
        ids = _plan(settings, folder, days, spread=max(kills, 4) * 4.0)
        # The in-process web app checks links with the same key (read from the environment).
        if "CRASH_MEDIA_KEY" not in os.environ:
            os.environ["CRASH_MEDIA_KEY"] = MEDIA_KEY
            stack.callback(os.environ.pop, "CRASH_MEDIA_KEY", None)
        web.app = create_app(
            settings, Database(settings.database_url), SystemClock(), secret_key="c" * 32
        )
        report.posts = len(ids)
        env = {**os.environ, **secrets}
        command = [
            sys.executable,
            "-m",
            "publisher",
            "--config",
            str(folder / "config.toml"),
            "worker",
        ]
        log_path = folder / "worker.log"
        log = stack.enter_context(log_path.open("ab"))
        db = Database(settings.database_url)
        kill_times: list[tuple[datetime, list[int]]] = []
        for n in range(kills):
            worker = subprocess.Popen(command, env=env, stdout=log, stderr=log)
            _wait_for_start(log_path, n)  # a kill lands while it works, however loaded
            time.sleep(rng.uniform(0.2, 3.0))
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            killed_at = datetime.now(UTC)
            owner = f":{worker.pid}"
            with db.transaction() as s:
                in_flight = list(
                    s.scalars(
                        select(Post.id).where(
                            Post.state.in_(["sending", "checking"]),
                            Post.lease_owner.endswith(owner),
                        )
                    )
                )
            kill_times.append((killed_at, in_flight))
            if verbose and n % 10 == 0:
                print(f"  kill {n}: {len(in_flight)} post(s) in flight")
        # One worker runs to the end: leases are taken over and looked up, the rest is sent.
        worker = subprocess.Popen(command, env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            with db.transaction() as s:
                states = Counter(s.scalars(select(Post.state)))
            if set(states) <= {"published", "unknown", "failed"}:
                break
            time.sleep(0.2)
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=120)
        texts = (
            [("x", p["text"]) for p in platform.x_posts(fake.x_accounts[0].username)]
            + [("facebook", p["message"]) for p in platform.fb_posts(fake.facebook_pages[0].id)]
            + [
                ("mastodon", p["text"])
                for p in platform.md_statuses(fake.mastodon_accounts[0].username)
            ]
            + ([("bluesky", r["value"]["text"]) for r in pds.records(bsky.did)] if pds else [])
            + [("linkedin", p["text"]) for p in linkedin.posts()]
            + [("threads", t["text"]) for t in threads.threads_of(THREADS_PROFILE)]
            + [("instagram", m["caption"]) for m in instagram.media(INSTAGRAM.id)]
        )
        report.on_platform = len(texts)
        counts = Counter(texts)
        report.duplicates = [t for t, c in counts.items() if c > 1]
        with db.transaction() as s:
            report.reconciled = len(
                s.scalars(select(Event.id).where(Event.action == "lease_lost")).all()
            )
            for post in s.scalars(select(Post)):
                if post.state == "published" and counts.get((post.network, post.text)) == 1:
                    report.published += 1
                elif post.state == "unknown":
                    report.unknown[post.id] = post.last_error or ""
                else:
                    report.lost.append(post.id)
            for killed_at, in_flight in kill_times:
                for post_id in in_flight:
                    settled = s.scalar(
                        select(func.min(Event.at)).where(
                            Event.post_id == post_id,
                            Event.at >= killed_at,
                            Event.to_state.not_in(["sending", "checking"]),
                        )
                    )
                    if settled is not None:
                        at = settled if settled.tzinfo else settled.replace(tzinfo=UTC)
                        report.settle_seconds.append((at - killed_at).total_seconds())
        db.dispose()
    report.seconds = time.monotonic() - started
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kills", type=int, default=30)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=1, help="Repeat with seeds seed, seed+1…")
    args = parser.parse_args()
    print(
        f"Crash test: SIGKILL the worker {args.kills} times while it publishes over HTTP, "
        f"every core busy, creates held {HOLD:g} s (longer than the lease)"
    )
    for n in range(args.runs):
        report = run(args.kills, args.days, args.seed + n, verbose=True)
        print(f"  run {n + 1}: " + report.summary())
        for post_id, reason in report.unknown.items():
            print(f"  unknown post {post_id}: {reason}")


if __name__ == "__main__":
    main()
