"""nbparallel as a joblib backend: every ``joblib.Parallel`` call becomes one nbparallel job.

``import nbparallel`` registers the backend under the name ``"nbparallel"``;
then ``joblib.parallel_config(backend="nbparallel")`` (or ``parallel_backend``)
sends every ``Parallel`` call in its scope, scikit-learn's ``n_jobs`` included,
to nbparallel's warm pool (or to the dask cluster with
``nbp.config(backend="dask")``).

joblib keeps its own semantics: it batches the calls (``batch_size="auto"``),
dispatches them (``pre_dispatch``), orders the results (``return_as``), times
out (``timeout``), prints (``verbose``) and aborts on the first error.  This
module only runs each batch: the ``Parallel`` call is one open
:class:`~nbparallel.jobs.feed.FeedJob` (started at ``start_call``, closed at
``stop_call``) and each batch one of its chunks.  So the runtime gives the call
what it gives every job: progress after about a second, worker output in the
cell, the Cancel button, Ctrl-C that stops the workers and keeps the pool.

Large NumPy arguments (``max_nbytes``, 1 MB by default, as joblib) are written
once per call to nbparallel's shared memory and reach the workers as a
reference to that file, never as a copy per batch.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import numpy as np
from joblib import register_parallel_backend
from joblib._parallel_backends import (
    AutoBatchingMixin,
    FallbackToBackend,
    ParallelBackendBase,
    SequentialBackend,
)

from ..backends import get_backend
from ..errors import JobCancelled
from ..jobs import runtime
from ..jobs.feed import FeedJob
from ..options import RunOptions
from ..settings import get_config

__all__ = ["NbparallelBackend", "register", "Scope", "scope", "NAME"]

#: The name joblib knows the backend by.
NAME = "nbparallel"

#: How many times bigger the next automatic batch may be, while batches are very quick.
GROWTH = 8

#: Seconds ``stop_call`` waits for an aborted call's batches to stop before returning.
ABORT_WAIT = 0.5


def _run_batch(batch: Any) -> Any:
    """In a worker: run one joblib batch (a ``BatchedCalls``), returning its list of results."""
    return batch()


def _in_worker() -> bool:
    """Whether this process is a worker (loky's, multiprocessing's): nested calls run in it, not in a pool."""
    import multiprocessing

    if multiprocessing.current_process().daemon:
        return True
    for name in ("loky.process_executor", "joblib.externals.loky.process_executor"):
        module = __import__(name, fromlist=["_CURRENT_DEPTH"])
        if getattr(module, "_CURRENT_DEPTH", 0) > 0:
            return True
    return False


def _total(parallel: Any) -> int | None:
    """The tasks of a ``Parallel`` call in all, once joblib knows: its input's length, or all of it read."""
    if parallel is None:
        return None
    if parallel.n_tasks is not None:
        return int(parallel.n_tasks)
    read = getattr(parallel, "_original_iterator", True) is None and not getattr(parallel, "_iterating", True)
    return int(parallel.n_dispatched_tasks) if read and parallel.n_dispatched_batches else None


class Scope:
    """The feed jobs started in one thread of the kernel (``nbp.background`` cancels them together)."""

    def __init__(self) -> None:
        self.cancelled = False
        self.jobs: list[FeedJob] = []
        self._lock = threading.Lock()

    def add(self, job: FeedJob) -> None:
        with self._lock:
            if self.cancelled:
                raise JobCancelled("the background call was cancelled: it starts no more joblib calls")
            self.jobs = [j for j in self.jobs if not j.done()] + [job]

    def cancel(self) -> None:
        """Cancel the running jobs and refuse new ones."""
        with self._lock:
            self.cancelled = True
            jobs = list(self.jobs)
        for job in jobs:
            job.cancel()


_local = threading.local()


@contextlib.contextmanager
def scope(s: Scope) -> Iterator[Scope]:
    """Register the joblib calls made in this thread (within the block) with ``s``.

    Examples
    --------
    >>> import joblib
    >>> with joblib.parallel_config(backend="nbparallel"), scope(Scope()) as s:
    ...     squares = joblib.Parallel(n_jobs=2)(joblib.delayed(pow)(i, 2) for i in range(3))
    >>> squares, [job.label for job in s.jobs]
    ([0, 1, 4], ['pow'])
    """
    previous = getattr(_local, "scope", None)
    _local.scope = s
    try:
        yield s
    finally:
        _local.scope = previous


class _Call:
    """One ``Parallel`` call: its job, its viewer and its shared arrays."""

    def __init__(self, parallel: Any, max_nbytes: int | None) -> None:
        self.parallel = parallel
        self.job: FeedJob | None = None  # started with the first batch
        self.viewer: runtime.Viewer | None = None
        self.owner: Scope | None = None
        self.max_nbytes = max_nbytes
        self.folder: str | None = None
        self.shared: dict[int, tuple[Any, Any]] = {}  # id(array) -> (array, its shared copy)
        self.aborted = False

    def share(self, value: Any) -> Any:
        """``value``, or its copy in shared memory for a large array (written once per call)."""
        limit = self.max_nbytes
        if (
            limit is None
            or type(value) is not np.ndarray
            or value.nbytes <= limit  # joblib maps arrays over max_nbytes
            or value.dtype.hasobject
            or value.size == 0
        ):
            return value
        hit = self.shared.get(id(value))
        if hit is not None:
            return hit[1]
        from ..data.shared import new_folder, share_input

        try:
            if self.folder is None:
                self.folder = new_folder(value.nbytes)
            copy = share_input(np.ascontiguousarray(value), self.folder)
        except OSError:  # no room in shared memory: pickled with each batch, as without sharing
            self.max_nbytes = None
            return value
        self.shared[id(value)] = (value, copy)
        return copy

    def share_batch(self, batch: Any) -> None:
        """Put the large array arguments of a joblib batch in shared memory (others are left alone)."""
        items = batch.items
        if not items:
            return
        _f, args, kwargs = items[0]
        if not any(type(a) is np.ndarray for a in (*args, *kwargs.values())):
            return  # the common case kept cheap (thousands of tiny calls a batch): its calls take no arrays
        for i, (f, args, kwargs) in enumerate(items):
            items[i] = (f, tuple(self.share(a) for a in args), {k: self.share(v) for k, v in kwargs.items()})

    def release(self) -> None:
        from ..data.shared import remove_folder

        self.shared.clear()
        folder, self.folder = self.folder, None
        remove_folder(folder)


class NbparallelBackend(AutoBatchingMixin, ParallelBackendBase):
    """joblib's ``ParallelBackendBase`` on nbparallel's runtime (registered as ``"nbparallel"``).

    ``n_jobs`` means what it means to joblib: ``None`` is 1 (run sequentially)
    unless ``parallel_config(n_jobs=...)`` says otherwise, ``-1`` all cores.
    Nested ``Parallel`` calls inside the workers run in threads, then
    sequentially, as with joblib's own backends.

    Examples
    --------
    >>> import joblib, nbparallel
    >>> with joblib.parallel_config(backend="nbparallel", n_jobs=2):
    ...     joblib.Parallel()(joblib.delayed(abs)(-i) for i in range(4))
    [0, 1, 2, 3]
    """

    supports_retrieve_callback = True
    supports_inner_max_num_threads = False
    uses_threads = False
    supports_sharedmem = False
    default_n_jobs = 1

    def __init__(self, nesting_level: int | None = None, inner_max_num_threads: int | None = None, **kwargs: Any):
        super().__init__(nesting_level=nesting_level, inner_max_num_threads=inner_max_num_threads, **kwargs)
        self.parallel: Any = None
        # One instance serves every Parallel call of its parallel_config block, and two
        # of them may be running at once (two generators): each call by its Parallel.
        self._calls: dict[int, _Call] = {}
        self._n_workers = 1
        self._max_nbytes: int | None = 2**20

    # -- joblib's questions --------------------------------------------------------------
    def effective_n_jobs(self, n_jobs: int | None) -> int:
        """Workers for ``n_jobs`` (joblib meaning; 1 inside a worker process)."""
        if n_jobs == 0:
            raise ValueError("n_jobs == 0 in Parallel has no meaning")
        if n_jobs is None or _in_worker():
            return 1
        backend = get_backend(get_config().backend)
        if n_jobs < 0 and not backend.local:
            return backend.workers(None)  # all of the cluster's threads
        return backend.workers(n_jobs)

    def configure(
        self, n_jobs: int = 1, parallel: Any = None, prefer: str | None = None, require: str | None = None, **kw: Any
    ) -> int:
        """Check ``n_jobs`` and remember the call's options; sequential for a single worker."""
        n_workers = self.effective_n_jobs(n_jobs)
        if n_workers == 1:
            raise FallbackToBackend(SequentialBackend(nesting_level=self.nesting_level))
        self.parallel = parallel
        self._n_workers = n_workers
        self._max_nbytes = kw.get("max_nbytes", 2**20)
        return n_workers

    # -- one call ------------------------------------------------------------------------
    def start_call(self) -> None:
        """A ``Parallel`` call begins; its job starts with its first batch (named after its function)."""
        call = _Call(self.parallel, self._max_nbytes)
        call.owner = getattr(_local, "scope", None)
        if call.owner is not None and call.owner.cancelled:
            raise JobCancelled("the background call was cancelled: it starts no more joblib calls")
        self._calls[id(self.parallel)] = call

    def _start_job(self, call: _Call, batch: Any) -> FeedJob:
        owner = call.owner
        # A background call's jobs show their widget at once (the cell that started it has returned).
        eager = owner is not None and get_config().progress in (None, "auto")
        options = RunOptions(n_jobs=self._n_workers, progress=True if eager else None).resolved()
        assert options.backend is not None
        backend = get_backend(options.backend).for_workers(self._n_workers)
        items = getattr(batch, "items", None)
        fn = items[0][0] if items else batch
        parallel = weakref.ref(self.parallel)  # the job (the last one is kept) must not keep the call's inputs
        job = FeedJob(
            _run_batch,
            total=lambda: _total(parallel()),
            options=options,
            backend=backend,
            n_workers=self._n_workers,
            label=getattr(fn, "__name__", type(fn).__name__),
        )
        if owner is not None:
            owner.add(job)  # raises JobCancelled once its background call was cancelled
        if not (backend.shares_memory and backend.processes):
            call.max_nbytes = None
        call.job = job
        call.viewer = runtime.run_fed(job)
        return job

    def submit(self, func: Any, callback: Any = None) -> Future[Any]:
        """Run one batch as a chunk of the call's job; ``callback(future)`` when it ends."""
        call = self._calls.get(id(getattr(callback, "parallel", self.parallel)))
        if call is None:
            raise RuntimeError("the nbparallel joblib backend got a batch outside of a Parallel call")
        job = call.job if call.job is not None else self._start_job(call, func)
        if call.max_nbytes is not None:
            call.share_batch(func)
        future = job.put(func, len(func))
        if callback is not None:
            future.add_done_callback(callback)
        return future

    def retrieve_result_callback(self, out: Future[Any]) -> Any:
        """The batch's results, or its exception (the worker's own type)."""
        return out.result()

    def abort_everything(self, ensure_ready: bool = True) -> None:
        """An error, a timeout or an interrupt: cancel the call's job (the pool stays)."""
        calls = [c for c in list(self._calls.values()) if getattr(c.parallel, "_aborting", False)]
        for call in calls or self._of_current():
            call.aborted = True
            if call.job is not None:
                call.job.cancel()

    def stop_call(self) -> None:
        """The ``Parallel`` call ends: close its job, show how it ended, free its shared arrays."""
        ended = [c for c in list(self._calls.values()) if not getattr(c.parallel, "_running", False)]
        for call in ended or self._of_current():
            self._calls.pop(id(call.parallel), None)
            self._end(call)

    def _of_current(self) -> list[_Call]:
        call = self._calls.get(id(self.parallel))
        return [call] if call is not None else []

    @staticmethod
    def _end(call: _Call) -> None:
        job = call.job
        try:
            if job is not None:
                job.close()
                job.wait(ABORT_WAIT if call.aborted else None)
        except BaseException:  # interrupted while waiting: the rest is cancelled, the folder still freed
            call.aborted = True
            if job is not None:
                job.cancel()
            raise
        finally:
            try:
                if call.viewer is not None:
                    call.viewer.join(ABORT_WAIT if call.aborted else 5.0)
            finally:
                call.release()

    def compute_batch_size(self) -> int:
        """joblib's automatic batch size, growing up to :data:`GROWTH` times a batch (joblib: 2).

        Tiny calls reach an efficient batch size in fewer batches; each batch
        costs nbparallel a little more than loky (a chunk record, a control-board
        row), so fewer of them matter more.  Shrinking is joblib's.
        """
        old: int = self._effective_batch_size  # type: ignore[has-type]  # (joblib's mixin is untyped)
        duration: float = self._smoothed_batch_duration  # type: ignore[has-type]
        if 0 < duration < self.MIN_IDEAL_BATCH_DURATION / GROWTH:
            size = max(1, min(GROWTH * old, 2 * int(old * self.MIN_IDEAL_BATCH_DURATION / duration)))
            if size != old:
                self._effective_batch_size = size
                self._smoothed_batch_duration = self._DEFAULT_SMOOTHED_BATCH_DURATION
            return size
        return int(super().compute_batch_size())

    def terminate(self) -> None:
        """After a call (with a backend not managed by a ``with Parallel()`` block)."""
        self.reset_batch_stats()


def register() -> None:
    """Register the backend with joblib as ``"nbparallel"`` (``import nbparallel`` does it).

    Examples
    --------
    >>> import joblib
    >>> register()
    >>> "nbparallel" in joblib.parallel.BACKENDS
    True
    """
    register_parallel_backend(NAME, NbparallelBackend)
