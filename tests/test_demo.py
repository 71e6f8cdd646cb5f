"""`make demo`'s job: plan, preview, approve and let the real worker publish to the outbox."""

import json
from pathlib import Path

from campaign_publisher.demo import run_demo


def test_demo_publishes_the_first_day_to_the_outbox(tmp_path: Path) -> None:
    said: list[str] = []
    run_demo(state_dir=tmp_path / "demo", occasions=1, echo=said.append)
    lines = [
        json.loads(line) for line in (tmp_path / "demo" / "outbox.jsonl").read_text().splitlines()
    ]
    # One post per account and language of the first day, each exactly once.
    assert len(lines) == len({(x["account"], x["language"]) for x in lines}) == 8
    assert {x["language"] for x in lines} == {"en", "cy"}
    assert any("$ publisher approve" in s for s in said)
