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
    """Busy-wait with SIGUSR1 blocked: stands in for native code that never returns to Python."""
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
    try:
        return spin(seconds)
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGUSR1])
