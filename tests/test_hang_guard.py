"""A test that hangs fails, with the stacks of its threads, instead of holding CI.

The suite's configuration (``timeout`` and ``faulthandler_timeout`` in pyproject.toml) is
run here on a test that blocks forever, in a pytest of its own with the limit shortened."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

HANGS = """
import threading

def test_waits_for_an_event_nobody_sets():
    threading.Event().wait()
"""


def test_the_suite_has_a_per_test_limit(pytestconfig: pytest.Config) -> None:
    assert float(pytestconfig.getini("timeout")) > 0
    assert 0 < float(pytestconfig.getini("faulthandler_timeout")) <= float(pytestconfig.getini("timeout"))


def test_a_hanging_test_fails_with_a_stack_dump(tmp_path: Path) -> None:
    (tmp_path / "test_hangs.py").write_text(HANGS)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(tmp_path),
         "-p", "no:cacheprovider", "-o", "timeout=3", "-o", "faulthandler_timeout=2", str(tmp_path / "test_hangs.py")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    out = run.stdout + run.stderr
    assert run.returncode == 1, out
    assert "1 failed" in out, out
    assert "Timeout" in out, out
    # the stack names the line that blocked, so the hang can be read, not guessed
    assert "test_waits_for_an_event_nobody_sets" in out and "wait" in out, out
