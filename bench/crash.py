"""Crash test: the worker publishes to the fake platform over real HTTP and is killed with
SIGKILL at random moments, again and again, and restarted each time. At the end every post
is published exactly once on the fake platform, or ``unknown`` with a reason — none
duplicated, none lost.

``python -m bench.crash --kills 200`` (the figures in the note); the test suite runs a few.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

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
from tests.helpers import write_campaign

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
    reconciled: int = 0  # leases found expired and settled by looking the post up
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"{self.kills} kills, {self.posts} posts on {', '.join(self.networks)}: "
            f"{self.published} published once, "
            f"{len(self.unknown)} unknown (waiting for a person), "
            f"{len(self.duplicates)} duplicated, {len(self.lost)} lost; "
            f"{self.on_platform} on the fake platform; {self.reconciled} expired leases "
            f"reconciled; {self.seconds:.0f} s"
        )


def _config(
    folder: Path, url: str, fake: FakeConfig, bluesky: tuple[str, Account] | None
) -> tuple[Settings, dict[str, str]]:
    x, page, masto = fake.x_accounts[0], fake.facebook_pages[0], fake.mastodon_accounts[0]
    (folder / "config.toml").write_text(f"""
state_dir = "state"
[worker]
fallback_poll_seconds = 0.2
lease_seconds = 2
request_timeout_seconds = 2
threads = 2
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
    clock = SystemClock()
    store_drafts(db, expand(load_campaign(campaign), settings), actor="author", now=clock.now())
    with db.transaction() as s:
        ids = list(s.scalars(select(Post.id).order_by(Post.id)))
    start = clock.now() + timedelta(seconds=2)
    step = timedelta(seconds=spread / len(ids))
    for n, post_id in enumerate(ids):  # due one after another across the kill phase
        review.edit(db, post_id, actor="author", now=clock.now(), due_at=start + step * n)
    review.submit(db, ids, actor="author", now=clock.now())
    review.record_previews(db, ids, actor="reviewer", now=clock.now())
    review.approve(db, ids, actor="reviewer", now=clock.now())
    db.dispose()
    return ids


def run(
    kills: int = 200,
    days: int = 56,
    seed: int = 1,
    latency: float = 0.05,
    verbose: bool = False,
    with_bluesky: bool = True,
) -> CrashReport:
    rng = random.Random(seed)
    report = CrashReport(kills=kills)
    started = time.monotonic()
    fake = FakeConfig()
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        platform = stack.enter_context(FakePlatform(fake))
        platform.latency = latency
        folder = Path(tmp)
        pds = None
        if with_bluesky and pds_unavailable() is None:
            pds = BlueskyPds.start()
            stack.callback(pds.stop)
            bsky = pds.create_account("crash")
        settings, secrets = _config(folder, platform.url, fake, (pds.url, bsky) if pds else None)
        report.networks = sorted({a.network for a in settings.accounts.values()})
        # Worker start-up takes ~2 s (imports): kills land from then on, ~2.75 s apart.
        ids = _plan(settings, folder, days, spread=kills * 2.75)
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
        log = (folder / "worker.log").open("ab")
        for n in range(kills):
            worker = subprocess.Popen(command, env=env, stdout=log, stderr=log)
            time.sleep(rng.uniform(1.5, 4.0))
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            if verbose and n % 20 == 0:
                print(f"  kill {n}: {len(platform.x_posts(fake.x_accounts[0].username))} on X")
        # Let one worker run to the end: leases expire and are reconciled, the rest is sent.
        worker = subprocess.Popen(command, env=env, stdout=log, stderr=log)
        db = Database(settings.database_url)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with db.transaction() as s:
                states = Counter(s.scalars(select(Post.state)))
            if set(states) <= {"published", "unknown"}:
                break
            time.sleep(0.2)
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
        texts = (
            [("x", p["text"]) for p in platform.x_posts(fake.x_accounts[0].username)]
            + [("facebook", p["message"]) for p in platform.fb_posts(fake.facebook_pages[0].id)]
            + [
                ("mastodon", p["text"])
                for p in platform.md_statuses(fake.mastodon_accounts[0].username)
            ]
            + ([("bluesky", r["value"]["text"]) for r in pds.records(bsky.did)] if pds else [])
        )
        report.on_platform = len(texts)
        counts = Counter(texts)
        report.duplicates = [t for t, c in counts.items() if c > 1]
        with db.transaction() as s:
            report.reconciled = len(
                s.scalars(select(Event.id).where(Event.action == "lease_expired")).all()
            )
            for post in s.scalars(select(Post)):
                if post.state == "published" and counts.get((post.network, post.text)) == 1:
                    report.published += 1
                elif post.state == "unknown":
                    report.unknown[post.id] = post.last_error or ""
                else:
                    report.lost.append(post.id)
        db.dispose()
    report.seconds = time.monotonic() - started
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--days", type=int, default=56)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(
        f"Crash test: SIGKILL the worker {args.kills} times while it publishes to the fake "
        "platform over HTTP"
    )
    report = run(args.kills, args.days, args.seed, verbose=True)
    print("  " + report.summary())
    for post_id, reason in report.unknown.items():
        print(f"  unknown post {post_id}: {reason}")


if __name__ == "__main__":
    main()
