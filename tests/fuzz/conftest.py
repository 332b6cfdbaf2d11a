"""Hypothesis profiles: ``default`` (fast, ``make test``) and ``fuzz`` (``make fuzz``).

``HYPOTHESIS_PROFILE=fuzz`` selects the larger one.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("default", max_examples=40, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fuzz", max_examples=1500, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
