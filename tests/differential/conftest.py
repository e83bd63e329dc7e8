"""Hypothesis profiles of the differential suite.

``quick`` (the default, used by ``make test``): few examples, derandomized, so the
whole suite stays within its time budget and a failure is the same on every run.
``thorough`` (``make fuzz``: ``pytest tests/differential --hypothesis-profile thorough``):
many random examples, shrunk to a minimal failing one.  The suite's tests take their
settings from :func:`tests.differential.common.diff_settings`, so the choice of profile
reaches them and no other test of the repository.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

_COMMON = {
    "deadline": None,  # a call's time depends on the machine's load, not on the example
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
}

settings.register_profile("quick", max_examples=12, derandomize=True, database=None, print_blob=True, **_COMMON)
settings.register_profile("thorough", max_examples=300, print_blob=True, **_COMMON)
