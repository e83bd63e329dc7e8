"""Worker functions shared by tests (importable by worker processes)."""

from __future__ import annotations

import signal
import time


def spin(seconds: float) -> float:
    """Busy-wait in Python for ``seconds`` (interruptible between bytecodes)."""
    end = time.time() + seconds
    while time.time() < end:
        pass
    return seconds


def ignores_interrupts(seconds: float) -> float:
    """Busy-wait with SIGUSR1 ignored: stands in for native code that never returns to Python.

    Ignored process-wide (not masked in this thread): any thread of the worker,
    OpenMP's included, could otherwise take the signal and the handler would run.
    """
    previous = signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    try:
        return spin(seconds)
    finally:
        signal.signal(signal.SIGUSR1, previous)
