"""Who hears of a job: observers of each chunk that ends, hooks on success, done-callbacks."""

from __future__ import annotations

import _thread
import sys
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["Latch", "Watchers"]


class Latch:
    """Set once, waited on by anyone: whether a run has ended (an execution's ``finished``).

    What ``concurrent.futures.Future`` or ``threading.Event`` would give for
    "done", for a fraction of their cost: one lock held until :meth:`set`, no
    condition (whose wait runs Python code), no callbacks (a job's
    :class:`Watchers` keep those).  Made and set once per call, and asked
    several times per call, so its cost is every small call's.

    Examples
    --------
    >>> latch = Latch()
    >>> latch.done(), latch.wait(0.01)
    (False, False)
    >>> latch.set(); latch.done(), latch.wait()
    (True, True)
    """

    __slots__ = ("_held", "_set")

    def __init__(self) -> None:
        self._held = _thread.allocate_lock()  # threading.Lock() is a Python call that makes this one
        self._held.acquire()
        self._set = False

    def done(self) -> bool:
        """Whether it was set."""
        return self._set

    def set(self) -> None:
        """Set it: every waiter wakes up (a second call does nothing)."""
        if not self._set:
            self._set = True
            self._pass_on()  # a waiter timing out now may pass it on first

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until it is set (``False`` if ``timeout`` seconds passed first); an interrupt stops the wait."""
        if self._set:
            return True
        try:
            return self._held.acquire(True, -1 if timeout is None else max(0.0, timeout)) or self._set
        finally:
            # The next waiter's turn: the lock stays free once set.  In a finally, as an interrupt
            # (Ctrl-C) can be raised right after the acquire returns: the lock would stay held and
            # the threads waiting behind this one would never wake.
            if self._set:
                self._pass_on()

    def _pass_on(self) -> None:
        """Free the lock once set (a waiter may have freed it already: nothing to do then)."""
        try:
            self._held.release()
        except RuntimeError:  # free already (two waiters passed it on at once)
            pass


class Watchers:
    """The listeners of one job (its ``watchers``); the job's executions tell them what happened.

    Examples
    --------
    >>> seen = []
    >>> w = Watchers()
    >>> w.subscribe(seen.append)
    >>> w.notify(None); seen
    [None]
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._observers: list[Callable[[Any], Any]] = []
        self._hooks: list[Callable[[Any], Any]] = []
        self._callbacks: list[Callable[[Any], Any]] = []

    def subscribe(self, observer: Callable[[Any], Any]) -> None:
        """Call ``observer(outcome)`` for each chunk that ends, and ``observer(None)`` at the end of a run."""
        with self._lock:
            self._observers.append(observer)

    def notify(self, event: Any) -> None:
        """Tell every observer (``None``: the run ended); an observer's bug never stops the job."""
        for observer in list(self._observers):
            try:
                observer(event)
            except Exception as exc:  # it runs where chunks end: raising there would leave the job running
                print(f"nbparallel: observer {observer!r} raised {exc!r}", file=sys.stderr)

    def on_success(self, fn: Callable[[Any], Any]) -> None:
        """Call ``fn(result)`` when a run ends done, before anyone waiting on the job wakes up."""
        with self._lock:
            self._hooks.append(fn)

    def succeeded(self, result: Any, job_id: int) -> None:
        """A run ended done: the success hooks see its result (a hook's bug never breaks the job)."""
        for hook in list(self._hooks):
            try:
                hook(result)
            except Exception as exc:
                print(f"nbparallel: hook {hook!r} of job {job_id} raised {exc!r}", file=sys.stderr)

    def add_done_callback(self, fn: Callable[[Any], Any], done: Callable[[], bool]) -> bool:
        """Keep ``fn`` for the end of the run; ``False`` when ``done()`` already (the caller calls it now)."""
        with self._lock:
            if done():
                return False
            self._callbacks.append(fn)
            return True

    def resolve(self, finished: Latch) -> list[Callable[[Any], Any]]:
        """Set a run's ``finished`` latch; returns the done-callbacks to call (outside the lock)."""
        with self._lock:
            finished.set()
            return list(self._callbacks)
