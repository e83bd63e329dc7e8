"""``nbp.background(fn, *args, **kwargs)``: any callable on a kernel thread, its joblib calls on nbparallel.

The cell returns at once and other cells run.  Inside the thread, and only
there, two joblib defaults change (``joblib.parallel_config``): the backend is
``"nbparallel"`` and ``n_jobs`` is nbparallel's configured worker count.  So
``nbp.background(search.fit, X, y)`` runs scikit-learn's work on nbparallel's
warm pool even with ``n_jobs`` left unset, each ``Parallel`` call shown inside
the call's widget in the cell that started it.  A ``Parallel`` call's own
``n_jobs=`` still wins.

``cancel()`` ends the call: its joblib calls stop (their workers are
interrupted, the pool stays), no new ones start, and the thread gets the
threading backend's asynchronous exception, which stops Python code outside
joblib too.  ``result()`` raises :class:`~nbparallel.JobCancelled` at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import itertools
import threading
import time
from collections.abc import Callable, Generator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Protocol

import joblib

from ..backends import get_backend
from ..backends.threads import raise_in_thread
from ..errors import JobCancelled
from ..settings import effective_n_jobs, get_config
from ..worker.control import ChunkCancelled
from .joblib_backend import NAME, Scope, scope

__all__ = ["background", "BackgroundCall", "CallView", "install_view", "default_n_jobs"]

_ids = itertools.count(1)

#: Seconds ``cancel()`` lets the call end by itself (its joblib calls raising) before raising in its thread.
SETTLE = 0.25


class CallView(Protocol):
    """What the display shows for a background call (see :func:`install_view`)."""

    def hosting(self) -> contextlib.AbstractContextManager[Any]:
        """A block, run in the call's thread, whose joblib calls show their widgets inside this view."""

    def update(self) -> None:
        """Redraw from the call's state (it started a joblib call, was cancelled, ended)."""

    def show(self) -> None:
        """Show the view as the running cell's output (once per cell)."""


_view_factory: Callable[[BackgroundCall], CallView | None] | None = None


def install_view(factory: Callable[[BackgroundCall], CallView | None]) -> None:
    """Let ``factory`` make the view of every background call from now on (the display layer does it once)."""
    global _view_factory
    _view_factory = factory


def default_n_jobs() -> int:
    """The workers a joblib call that leaves ``n_jobs`` unset gets inside a background call.

    nbparallel's configured ``n_jobs`` (``nbp.config(n_jobs=...)``; by default
    all cores), as the configured backend counts its workers.

    Examples
    --------
    >>> default_n_jobs() >= 1
    True
    """
    settings = get_config()
    try:
        return get_backend(settings.backend).workers(settings.n_jobs)
    except Exception:  # a backend that cannot count yet (no dask client): the local meaning
        return effective_n_jobs(settings.n_jobs)


def _label(fn: Callable[..., Any]) -> str:
    """What runs, for people: ``GridSearchCV.fit`` for a bound method, the function's name otherwise."""
    if isinstance(fn, functools.partial):
        return _label(fn.func)
    owner = getattr(fn, "__self__", None)
    name = getattr(fn, "__name__", None)
    if owner is not None and name is not None and not isinstance(owner, type):
        return f"{type(owner).__name__}.{name}"
    return getattr(fn, "__qualname__", None) or name or type(fn).__name__


class BackgroundCall:
    """The handle of :func:`background`: ``result()``, ``await``, ``cancel()``, ``status``.

    Attributes
    ----------
    label : str
        What runs (``GridSearchCV.fit``).
    n_jobs : int
        The workers its joblib calls get when they leave ``n_jobs`` unset.
    jobs : list of Job
        The joblib calls it made so far, as nbparallel jobs (each with its widget).
    cancel_requested : bool
        Whether ``cancel()`` was called.
    """

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.id = next(_ids)
        self.label = _label(fn)
        self.n_jobs = default_n_jobs()
        self._fn, self._args, self._kwargs = fn, args, kwargs
        self._future: Future[Any] = Future()  # the handle's outcome: the thread's, or the cancel's
        self._future.set_running_or_notify_cancel()
        self._scope = Scope()
        self._lock = threading.Lock()
        self._in_fn = True  # the thread may still be in ``fn`` (where the cancel's exception may land)
        self._ended = threading.Event()  # the thread has ended
        self.cancel_requested = False
        self.started_at = time.perf_counter()
        self.finished_at: float | None = None
        self._view = _view_factory(self) if _view_factory is not None else None  # shown at once
        context = contextvars.copy_context()  # output and widgets go to the cell that started it
        self._thread = threading.Thread(
            target=context.run, args=(self._main,), name=f"nbparallel-background-{self.id}", daemon=True
        )
        self._thread.start()

    def _main(self) -> None:
        value: Any = None
        error: BaseException | None = None
        hosting = self._view.hosting() if self._view is not None else contextlib.nullcontext()
        try:
            try:
                with joblib.parallel_config(backend=NAME, n_jobs=self.n_jobs), scope(self._scope), hosting:
                    value = self._fn(*self._args, **self._kwargs)
            except BaseException as exc:  # handed to whoever asks for the result
                error = exc
            finally:
                with self._lock:
                    self._in_fn = False
        except ChunkCancelled:  # cancel()'s exception, arriving just as ``fn`` ended
            pass
        self._fn = self._args = self._kwargs = None  # type: ignore[assignment]
        with self._lock:
            if not self._future.done():
                self.finished_at = time.perf_counter()
                if error is None:
                    self._future.set_result(value)
                else:
                    self._future.set_exception(error)
        self._ended.set()
        if self._view is not None:
            self._view.update()

    @property
    def error(self) -> BaseException | None:
        """The exception the call ended with (``JobCancelled`` once cancelled), ``None`` while running or if none."""
        return self._future.exception() if self._future.done() else None

    @property
    def jobs(self) -> list[Any]:
        return list(self._scope.jobs)

    @property
    def status(self) -> str:
        """``running``, ``done``, ``failed``, ``cancelled``, or ``cancelling``.

        ``cancelling``: ``cancel()`` was called and the call's joblib calls and
        workers stopped, but its thread is inside code Python cannot interrupt
        (a sleep, a lock, a C function that does not return); it becomes
        ``cancelled`` when that code returns.
        """
        if not self._future.done():
            return "running"
        if self.cancel_requested:
            return "cancelled" if self._ended.is_set() else "cancelling"
        error = self._future.exception()
        if self._scope.cancelled or isinstance(error, JobCancelled):  # a joblib call's widget Cancel button
            return "cancelled"
        return "failed" if error is not None else "done"

    @property
    def elapsed(self) -> float:
        """Seconds since the call started (until it ended)."""
        return (self.finished_at or time.perf_counter()) - self.started_at

    def done(self) -> bool:
        """Whether the call has an outcome: it returned, raised, or was cancelled."""
        return self._future.done()

    def cancel(self) -> bool:
        """End the call: stop its joblib calls (their workers), start no new ones, stop its Python code.

        The call's joblib calls are cancelled first; if its thread has not ended
        within :data:`SETTLE` seconds, it gets an asynchronous exception (as
        the threading backend stops a chunk), which ends Python code at its
        next instruction.  ``result()`` raises :class:`~nbparallel.JobCancelled`
        from now on, at once.

        Returns
        -------
        bool
            ``False`` if the call had ended already.
        """
        with self._lock:
            if self._future.done():
                return False
            self.cancel_requested = True
        self._scope.cancel()
        if threading.current_thread() is self._thread:  # fn cancels itself: its next joblib call raises
            pass
        elif not self._ended.wait(SETTLE):
            with self._lock:
                if self._in_fn and self._thread.ident is not None:
                    raise_in_thread(self._thread.ident, ChunkCancelled)
            self._ended.wait(SETTLE)
        with self._lock:
            if not self._future.done():
                self.finished_at = time.perf_counter()
                stuck = (
                    ""
                    if self._ended.is_set()
                    else ("; its thread is inside code Python cannot interrupt and stops when that returns")
                )
                self._future.set_exception(
                    JobCancelled(f"background call {self.id} ({self.label}) was cancelled{stuck}")
                )
        if self._view is not None:
            self._view.update()
        return True

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the call has an outcome (``False`` if ``timeout`` seconds passed first)."""
        try:
            self._future.exception(timeout)
        except FutureTimeout:
            return False
        return True

    def result(self, timeout: float | None = None) -> Any:
        """The callable's return value; its exception if it raised.

        Raises
        ------
        JobCancelled
            If the call was cancelled (at once after ``cancel()``).
        TimeoutError
            If ``timeout`` seconds passed first.
        """
        if not self.wait(timeout):
            raise TimeoutError(f"background call {self.id} ({self.label}) still running after {timeout} s")
        error = self._future.exception()
        if self._scope.cancelled and not isinstance(error, JobCancelled):
            raise JobCancelled(f"background call {self.id} ({self.label}) was cancelled") from error
        return self._future.result()

    def __await__(self) -> Generator[Any, None, Any]:
        async def _wait() -> Any:
            await asyncio.wrap_future(self._future)
            return self.result()

        return _wait().__await__()

    def __repr__(self) -> str:
        return (
            f"<nbparallel.background {self.id} {self.label} {self.status}: {len(self._scope.jobs)} joblib call(s) "
            f"on {self.n_jobs} workers by default, {self.elapsed:.1f}s>"
        )

    def _ipython_display_(self) -> None:
        if self._view is not None:
            self._view.show()  # its widget (shown once per cell)
        else:
            print(repr(self))


def background(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> BackgroundCall:
    """Run ``fn(*args, **kwargs)`` on a kernel thread; its joblib calls run on nbparallel.

    The call returns at once and other cells run.  Inside ``fn``, and only in
    its thread, ``joblib.parallel_config(backend="nbparallel",
    n_jobs=nbparallel's worker count)`` is in force: scikit-learn's work
    (``GridSearchCV``, ``cross_val_score``, ``RandomForestClassifier``) runs on
    nbparallel's warm pool even with ``n_jobs`` unset (an explicit ``n_jobs``
    wins).  In a notebook the call shows its widget at once (what runs, its
    state, Cancel), with each ``Parallel`` call's progress inside it.

    Parameters
    ----------
    fn : callable
        What to run, say ``search.fit``.
    *args, **kwargs
        Its arguments.

    Returns
    -------
    BackgroundCall
        ``result()`` gives ``fn``'s return value (``await`` works too);
        ``cancel()`` ends it (its joblib calls, their workers, its Python
        code), after which ``result()`` raises :class:`~nbparallel.JobCancelled`
        at once; the pool stays.

    Raises
    ------
    TypeError
        If ``fn`` is not callable.

    Examples
    --------
    >>> import joblib, nbparallel as nbp
    >>> def squares(n):
    ...     return joblib.Parallel()(joblib.delayed(pow)(i, 2) for i in range(n))  # n_jobs unset
    >>> job = nbp.background(squares, 4)
    >>> job.result(), job.status
    ([0, 1, 4, 9], 'done')
    """
    if not callable(fn):
        raise TypeError(
            f"background() runs a callable, got {type(fn).__name__}: {fn!r}; "
            "pass the function and its arguments separately: nbp.background(search.fit, X, y)"
        )
    return BackgroundCall(fn, args, kwargs)
