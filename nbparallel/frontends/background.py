"""``nbp.background(fn, *args, **kwargs)``: any callable on a kernel thread, its joblib calls on nbparallel.

The cell returns at once and other cells run.  Inside the thread,
``joblib.parallel_config(backend="nbparallel")`` is in force, so
``nbp.background(search.fit, X, y)`` runs scikit-learn's ``n_jobs`` work on
nbparallel's warm pool, each ``Parallel`` call shown by its widget in the cell
that started the call.  ``cancel()`` cancels those calls and refuses new ones.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import threading
import time
from collections.abc import Callable, Generator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import joblib

from ..errors import JobCancelled
from ..jobs import runtime
from .joblib_backend import NAME, Scope, scope

__all__ = ["background", "BackgroundCall"]

_ids = itertools.count(1)

#: Seconds displaying a background call waits for its first joblib call (whose widget it shows).
SHOW_WAIT = 1.0


class BackgroundCall:
    """The handle of :func:`background`: ``result()``, ``await``, ``cancel()``, ``status``.

    Attributes
    ----------
    label : str
        The callable's name.
    jobs : list of Job
        The joblib calls it made so far, as nbparallel jobs (each with its widget).
    """

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.id = next(_ids)
        self.label = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", type(fn).__name__)
        self._fn, self._args, self._kwargs = fn, args, kwargs
        self._future: Future[Any] = Future()
        self._scope = Scope()
        self.started_at = time.perf_counter()
        self.finished_at: float | None = None
        context = contextvars.copy_context()  # output and widgets go to the cell that started it
        self._thread = threading.Thread(
            target=context.run, args=(self._main,), name=f"nbparallel-background-{self.id}", daemon=True
        )
        self._thread.start()

    def _main(self) -> None:
        self._future.set_running_or_notify_cancel()
        try:
            with joblib.parallel_config(backend=NAME), scope(self._scope):
                value = self._fn(*self._args, **self._kwargs)
        except BaseException as exc:  # handed to whoever asks for the result
            self.finished_at = time.perf_counter()
            self._future.set_exception(exc)
        else:
            self.finished_at = time.perf_counter()
            self._future.set_result(value)
        finally:
            self._fn = self._args = self._kwargs = None  # type: ignore[assignment]

    @property
    def jobs(self) -> list[Any]:
        return list(self._scope.jobs)

    @property
    def status(self) -> str:
        """``running``, ``done``, ``failed`` or ``cancelled``."""
        if not self._future.done():
            return "running"
        error = self._future.exception()
        if self._scope.cancelled or isinstance(error, JobCancelled):  # cancel(), or a widget's Cancel button
            return "cancelled"
        return "failed" if error is not None else "done"

    @property
    def elapsed(self) -> float:
        """Seconds since the call started (until it ended)."""
        return (self.finished_at or time.perf_counter()) - self.started_at

    def done(self) -> bool:
        """Whether the callable has returned or raised."""
        return self._future.done()

    def cancel(self) -> bool:
        """Cancel the call's joblib calls (their workers stop) and refuse new ones.

        Returns
        -------
        bool
            ``False`` if the call had ended already.
        """
        if self.done():
            return False
        self._scope.cancel()
        return True

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the call has ended (``False`` if ``timeout`` seconds passed first)."""
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
            If the call was cancelled.
        TimeoutError
            If ``timeout`` seconds passed first.
        """
        if not self.wait(timeout):
            raise TimeoutError(f"background call {self.id} ({self.label}) still running after {timeout} s")
        if self._scope.cancelled:
            error = self._future.exception()
            if isinstance(error, JobCancelled):
                raise error
            raise JobCancelled(f"background call {self.id} ({self.label}) was cancelled") from error
        return self._future.result()

    def __await__(self) -> Generator[Any, None, Any]:
        async def _wait() -> Any:
            await asyncio.wrap_future(self._future)
            return self.result()

        return _wait().__await__()

    def __repr__(self) -> str:
        return (
            f"<nbparallel.background {self.id} {self.label} {self.status}: {len(self._scope.jobs)} joblib call(s), "
            f"{self.elapsed:.1f}s>"
        )

    def _ipython_display_(self) -> None:
        deadline = time.monotonic() + SHOW_WAIT
        while not self._shown() and not self.done() and time.monotonic() < deadline:
            time.sleep(0.02)  # the first joblib call, and its widget, are usually a moment away
        jobs = self._scope.jobs
        if jobs and jobs[-1].widget is not None:
            runtime.show(jobs[-1])  # the widget of its latest joblib call (once per cell)
        else:
            print(repr(self))

    def _shown(self) -> bool:
        jobs = self._scope.jobs
        return bool(jobs) and jobs[-1].widget is not None


def background(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> BackgroundCall:
    """Run ``fn(*args, **kwargs)`` on a kernel thread; its joblib calls run on nbparallel.

    The call returns at once and other cells run.  Inside ``fn``,
    ``joblib.parallel_config(backend="nbparallel")`` is in force, so
    scikit-learn's ``n_jobs`` work (``GridSearchCV``, ``cross_val_score``,
    ``RandomForestClassifier``) uses nbparallel's warm pool, and each
    ``Parallel`` call shows its progress widget.

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
        ``cancel()`` stops its joblib calls within a few seconds, after which
        ``result()`` raises :class:`~nbparallel.JobCancelled`; the pool stays.

    Raises
    ------
    TypeError
        If ``fn`` is not callable.

    Examples
    --------
    >>> import joblib, nbparallel as nbp
    >>> def squares(n):
    ...     return joblib.Parallel(n_jobs=2)(joblib.delayed(pow)(i, 2) for i in range(n))
    >>> job = nbp.background(squares, 4)
    >>> job.result()
    [0, 1, 4, 9]
    """
    if not callable(fn):
        raise TypeError(
            f"background() runs a callable, got {type(fn).__name__}: {fn!r}; "
            "pass the function and its arguments separately: nbp.background(search.fit, X, y)"
        )
    return BackgroundCall(fn, args, kwargs)
