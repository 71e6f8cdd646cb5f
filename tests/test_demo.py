"""`make demo`'s job, from a non-editable install run in an empty folder: plan, preview,
approve and let the real worker publish to the outbox."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_an_installed_demo_publishes_the_first_day_from_an_empty_folder(tmp_path: Path) -> None:
    # `pip install .` (not editable) into a folder of its own, ahead of the checkout; built
    # from a copy, so that no build/ folder is left in the checkout.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "state", "*.egg-info", "__pycache__", ".*_cache", "tests",
    ))
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(site), str(source)],
        check=True, timeout=300,
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")}
    env["PYTHONPATH"] = str(site)
    where = subprocess.run(
        [sys.executable, "-c", "import publisher, examples; print(publisher.__file__, examples.__file__)"],
        cwd=empty, env=env, capture_output=True, text=True, check=True,
    ).stdout
    assert str(ROOT) not in where and str(site) in where  # the installed copy runs
    result = subprocess.run(
        [sys.executable, "-m", "publisher", "demo", "--occasions", "1"],
        cwd=empty, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    outbox = empty / "state" / "demo" / "outbox.jsonl"
    lines = [json.loads(line) for line in outbox.read_text().splitlines()]
    # One post per account and language of the first day, each exactly once.
    assert len(lines) == len({(x["account"], x["language"]) for x in lines}) == 10  # 5 × 2
    assert {x["language"] for x in lines} == {"en", "cy"}
    assert "$ publisher approve" in result.stdout
