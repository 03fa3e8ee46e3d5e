"""Settings shared by every test directory of the workspace (pytest loads this file first).

Hypothesis: no per-example deadline (its default 200 ms fails property tests at random on a
shared 2-core machine, where one core can vanish for a while) and a fixed example budget.
``HYPOTHESIS_PROFILE=thorough`` runs ten times as many examples.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "tessera", deadline=None, max_examples=100, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("thorough", parent=settings.get_profile("tessera"), max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "tessera"))
