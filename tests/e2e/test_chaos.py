"""SIGKILL every command at a sample of its named fault points and at random moments (tests/chaos.py)."""

import pytest

from tests import chaos

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.mark.parametrize("scenario", chaos.SCENARIOS, ids=[s.name for s in chaos.SCENARIOS])
def test_killed_anywhere_loses_nothing_and_recovers(scenario):
    outcomes = chaos.run([scenario], cases=6, timed=2, seed=7, log=lambda line: None)
    failures = [f"{o.how}: {o.failure}" for o in outcomes if o.failure]
    assert not failures, "\n".join(failures)
    assert not any(o.data_lost for o in outcomes)
    assert sum(o.killed for o in outcomes) >= 1
