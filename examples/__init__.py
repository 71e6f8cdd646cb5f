"""A real campaign to run ("Stop, talk, protect", English and Welsh, shipped with the
package) and the demo that plans, approves and publishes it on the embedded default."""

from pathlib import Path

EXAMPLE_CAMPAIGN = Path(__file__).resolve().parent / "stop-talk-protect"
