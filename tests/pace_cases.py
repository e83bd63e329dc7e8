"""Calls whose outcome must not depend on what ran before them (learned chunking, ``data/pace.py``).

Each case has a function of its own (a function is remembered by its code), a
history (earlier calls of that function, cheap ones that teach the runtime it
is trivially cheap) and a target call.  :func:`fresh` runs every target as the
first call of its function in this process: run in a new process, that is the
reference; :func:`after_history` runs each history first.  Both describe what a
user sees: the value, or the exception's type and message; ``n_total`` (the
chunks, shown by progress, ``repr(job)`` and a cancel's message) where a call
asked for something per chunk.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

import nbparallel as nbp


def inc_empty_list(x: int) -> int:
    return x + 1


def inc_empty_array(x: int) -> int:
    return x + 1


def nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def five_fails(x: int) -> int:
    if x == 5:
        raise KeyError(f"no {x}")
    return x


def five_fails_retried(x: int) -> int:
    if x == 5:
        raise KeyError(f"no {x}")
    return x


def inc_background(x: int) -> int:
    return x + 1


def inc_progress(x: int) -> int:
    return x + 1


def _plain(value: Any) -> Any:
    return value.tolist() if hasattr(value, "tolist") else value


def _seen(call: Callable[[], Any], *, per_chunk: bool) -> dict[str, Any]:
    """What a user sees of ``call``."""
    before = nbp.last_job()
    try:
        value = call()
    except Exception as exc:
        seen: dict[str, Any] = {"raised": type(exc).__name__, "message": str(exc)}
    else:
        if isinstance(value, nbp.Job):
            job, value = value, value.result()
        else:
            job = nbp.last_job()
        seen = {"value": _plain(value)}
        if per_chunk:
            assert job is not before, "the call made no job"
            seen.update(n_total=job.n_total, n_retries=job.n_retries)
        return seen
    if per_chunk:
        job = nbp.last_job()
        assert job is not before, "the call made no job"
        seen.update(n_total=job.n_total, n_retries=job.n_retries)
    return seen


#: name -> (history calls, target call, whether the target asked for something per chunk)
CASES: dict[str, tuple[list[Callable[[], Any]], Callable[[], Any], bool]] = {
    "empty list": (
        [lambda: nbp.pmap(inc_empty_list, [1, 2, 3], n_jobs=2, progress=False)],
        lambda: nbp.pmap(inc_empty_list, [], n_jobs=2, progress=False),
        False,
    ),
    "empty array": (
        [lambda: nbp.pmap(inc_empty_array, [1, 2, 3], n_jobs=2, progress=False)],
        lambda: nbp.pmap(inc_empty_array, np.array([]), n_jobs=2, progress=False),
        False,
    ),
    "timeout": (  # 0.3 s items: 2 per chunk (a fresh plan) end within 1 s, 4 per chunk would not
        [lambda: nbp.pmap(nap, [0] * 200, n_jobs=2, progress=False)],
        lambda: nbp.pmap(nap, [0.3] * 8, n_jobs=2, timeout=1.0, progress=False),
        True,
    ),
    "error": (
        [lambda: nbp.pmap(five_fails, [0] * 200, n_jobs=2, progress=False)],
        lambda: nbp.pmap(five_fails, range(8), n_jobs=2, progress=False),
        False,
    ),
    "retries": (
        [lambda: nbp.pmap(five_fails_retried, [0] * 200, n_jobs=2, progress=False)],
        lambda: nbp.pmap(five_fails_retried, range(8), n_jobs=2, retries=1, progress=False),
        True,
    ),
    "background": (
        [lambda: nbp.pmap(inc_background, range(200), n_jobs=2, progress=False)],
        lambda: nbp.pmap(inc_background, range(64), n_jobs=2, background=True, progress=False),
        True,
    ),
    "progress asked for": (
        [lambda: nbp.pmap(inc_progress, range(200), n_jobs=2, progress=False)],
        lambda: nbp.pmap(inc_progress, range(64), n_jobs=2, progress="tqdm"),
        True,
    ),
}


def fresh() -> dict[str, dict[str, Any]]:
    """Each case's target call as the first call of its function (run it in a new process)."""
    return {name: _seen(target, per_chunk=per_chunk) for name, (_, target, per_chunk) in CASES.items()}


def after_history(name: str, repeats: int = 2) -> dict[str, Any]:
    """Case ``name``'s history (``repeats`` times: the second run already plans with what the first taught), then its target."""
    history, target, per_chunk = CASES[name]
    for _ in range(repeats):
        for call in history:
            call()
    return _seen(target, per_chunk=per_chunk)
