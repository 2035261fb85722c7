"""The whole fault campaign runs in CI: 0 failures."""

from __future__ import annotations

import pytest

from .faultcampaign import FAULTS, OPERATIONS, run_campaign, summary


@pytest.mark.timeout(600)
def test_fault_campaign_has_no_failures() -> None:
    outcomes = run_campaign()
    report = summary(outcomes)
    print(report)
    assert len(outcomes) == len(OPERATIONS) * len(FAULTS)
    failures = [o for o in outcomes if o.problems]
    assert not failures, report
