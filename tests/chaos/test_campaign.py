"""A short seeded kill -9 campaign per kind, in the suite: two kills per kind (one at a
drawn time, one the instant a device applies its drawn n-th write), then every
invariant read from the devices must hold. `scripts/chaos` runs long ones."""

from __future__ import annotations

import pytest

from tests.chaos.campaign import Plan, run_campaign
from tests.chaos.kinds import KINDS

pytestmark = pytest.mark.chaos

SEED = 1
PLAN = Plan(kills=2, seed=SEED, kills_per_run=(2, 2))


@pytest.mark.parametrize("kind", list(KINDS))
async def test_a_short_campaign_breaks_no_invariant(kind, admin_url, tmp_path):
    figures = await run_campaign(KINDS[kind], PLAN, admin_url=admin_url, workdir=tmp_path)
    assert figures.kills == PLAN.kills and figures.operations >= 1
    assert figures.broken() == {}, figures.notes
