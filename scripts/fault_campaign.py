"""Print the fault campaign's summary table (operations x faults)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.faultcampaign import run_campaign, summary

if __name__ == "__main__":
    outcomes = run_campaign()
    print(summary(outcomes))
    sys.exit(1 if any(o.problems for o in outcomes) else 0)
