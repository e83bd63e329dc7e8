"""Hypothesis profiles of the differential suite.

``quick`` (the default, used by ``make test``): few examples, derandomized, so the
whole suite stays within its time budget and a failure is the same on every run.
``thorough`` (``make fuzz``: ``pytest tests/differential --hypothesis-profile thorough``):
many random examples, shrunk to a minimal failing one.  The suite's tests take their
settings from :func:`tests.differential.common.diff_settings`, so the choice of profile
reaches them and no other test of the repository.
"""

from __future__ import annotations

from tests.differential.common import register_profiles

register_profiles()
