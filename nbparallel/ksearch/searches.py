"""Parallel searches for the number of KMeans clusters: elbow, silhouette, and ``choose_k``.

Every (k, repeat) fit, every gap reference set and every stability split is one
task run through :func:`~nbparallel.pmap`, largest k first (the slowest fits start
first, so no worker idles at the end).  ``X`` is written once to a memory-mapped
file that every worker opens, instead of being pickled into every task.  Each task
draws its seed from ``np.random.SeedSequence``, so results do not depend on
``n_jobs`` or on scheduling.
"""

from __future__ import annotations

import functools
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ..api import pmap
from ..backends import get_backend
from ..settings import cpu_count, get_config
from .bic import SAMPLE as BIC_SAMPLE
from .bic import mixture_space, one_cluster_bic
from .consensus import decide
from .criteria import METRICS, pick
from .data import check_k, check_X, dense_rows, is_sparse, n_distinct_rows, principal_axes, total_ss
from .result import KSearchResult
from .tasks import FitTask, GapTask, StabilityTask, run_task

__all__ = ["search", "ESTIMATORS"]

ESTIMATORS = ("auto", "kmeans", "minibatch")

#: Above this many samples, ``estimator="auto"`` uses MiniBatchKMeans.
MINIBATCH_ABOVE = 50_000

#: Default number of samples the silhouette is computed on (one subsample shared by every k).
SILHOUETTE_SAMPLE = 2_000

#: Points the gap statistic clusters (a subsample of the data, and each reference set):
#: on the benchmark 1,000 recovered no more sets than 500, at twice the cost.
GAP_SAMPLE = 500

#: Principal axes the gap statistic keeps (the most variance first): on the benchmark every
#: axis gave the same best_k, at five times the cost on 100 features.
GAP_DIMS = 20

#: Gap reference sets (Tibshirani et al. used 10 to 20).
GAP_REFS = 10

#: Points the k-means++ restarts run on before one fit on all points (``n_init="auto"``).
SEED_SAMPLE = 2_000

#: Points the prediction strength splits in halves, and how many splits per k (2,000 points
#: gave the same best_k on the benchmark, and prediction strength alone 7 more of 460 sets).
STABILITY_SAMPLE = 1_000
STABILITY_SPLITS = 3


def _seed(*parts: int) -> int:
    return int(np.random.SeedSequence(list(parts)).generate_state(1)[0])


def _check_metrics(metrics: Sequence[str] | str) -> tuple[str, ...]:
    metrics = (metrics,) if isinstance(metrics, str) else tuple(metrics)  # "gap" is not ("g", "a", "p")
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise ValueError(
            f"unknown metric(s) {unknown}; choose from {', '.join(METRICS)}"
            if unknown
            else f"metrics is empty; choose from {', '.join(METRICS)}"
        )
    return metrics


def _check_options(n_repeats: int, estimator: str, random_state: int, sample_size: int | str | None) -> None:
    whole = isinstance(sample_size, (int, np.integer)) and not isinstance(sample_size, bool)
    if not (whole or sample_size is None or sample_size == "auto"):  # 0.5 is no fraction here: int() made it 0
        raise ValueError(
            f"sample_size must be an int, None (every point) or 'auto' ({SILHOUETTE_SAMPLE:,} points), got {sample_size!r}"
        )
    if isinstance(n_repeats, bool) or not isinstance(n_repeats, int) or n_repeats < 1:
        raise ValueError(f"n_repeats must be a positive int, got {n_repeats!r}")
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r}; choose one of {', '.join(map(repr, ESTIMATORS))}")
    if not isinstance(random_state, (int, np.integer)) or isinstance(random_state, bool):
        raise ValueError(
            f"random_state must be an int (seeds are derived per task with np.random.SeedSequence), got {random_state!r}"
        )


def _subsample(n: int, size: int, random_state: int, salt: int) -> np.ndarray | None:
    if size >= n:
        return None
    rng = np.random.default_rng(np.random.SeedSequence([random_state, salt]))
    return np.sort(rng.choice(n, size=size, replace=False))


def _gap_data(X: Any, random_state: int) -> np.ndarray:
    """The gap statistic's subsample, centred and rotated onto its :data:`GAP_DIMS` leading principal axes."""
    Z = dense_rows(X, _subsample(X.shape[0], GAP_SAMPLE, random_state, 0x6A9))
    Z = Z - Z.mean(axis=0)
    axes = principal_axes(Z, GAP_DIMS)[1]
    return Z @ axes if axes.shape[1] else Z[:, :1]  # a subsample of one repeated point: one flat axis


def _distinct_limit(X: Any, ks: list[int]) -> tuple[list[int], str | None]:
    """Drop the k above the number of distinct points (KMeans cannot make more clusters).

    The note also marks a range that reaches that number: its top is then no bound
    (``decide(capped=True)``), and no wider range is suggested.
    """
    distinct = n_distinct_rows(X, ks[-1] + 1)  # counted past the top: "as many as the top" is not "more"
    if distinct == 1:
        return [1], None
    if distinct > ks[-1]:
        return ks, None
    if distinct == ks[-1]:
        return ks, f"X has only {distinct} distinct points, so no k above {distinct} can be tried"
    kept = [k for k in ks if k <= distinct]
    if not kept:
        raise ValueError(
            f"X has only {distinct} distinct points, fewer than the smallest k ({ks[0]}): "
            f"try k up to {distinct}, or remove the duplicate rows and check the data"
        )
    return kept, f"X has only {distinct} distinct points, so k above {distinct} was not tried"


def _stability_limit(rows: np.ndarray | None, n: int, fit_ks: list[int]) -> tuple[list[int], str | None]:
    """The k prediction strength can score: each half of its split must hold more points than k."""
    m = n if rows is None else len(rows)
    half = m // 2
    kept = [k for k in fit_ks if k < half]
    left = [k for k in fit_ks if k >= half]
    if not left:
        return kept, None
    return kept, (
        f"prediction strength was not computed for k = {', '.join(map(str, left))}: each half of the "
        f"{m} points it splits holds {half}, and a half needs more points than clusters"
    )


def search(
    method: str,
    X: Any,
    k: Iterable[int],
    *,
    metrics: Sequence[str],
    n_repeats: int = 1,
    sample_size: int | str | None = "auto",
    estimator: str = "auto",
    n_init: int | str = "auto",
    random_state: int = 0,
    n_jobs: int | None = None,
    backend: str | None = None,
    progress: bool | str | None = None,
) -> KSearchResult:
    """Run a k-search: the engine behind :func:`~nbparallel.choose_k` and the other searches.

    Parameters are those of :func:`~nbparallel.choose_k`; ``method`` names the
    search in the result and the progress bar.

    Returns
    -------
    KSearchResult

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> X, _ = make_blobs(n_samples=200, centers=2, random_state=0)
    >>> search("demo", X, range(2, 5), metrics=("gap",), n_jobs=1, progress=False).best_k
    2
    """
    began = time.perf_counter()
    metrics = _check_metrics(metrics)
    arr = check_X(X)
    n = arr.shape[0]
    ks = check_k(k, n)
    _check_options(n_repeats, estimator, random_state, sample_size)  # every argument checked before any copy
    if not is_sparse(arr):  # no criterion moves with a shift; scikit-learn's distances (|x|² + |y|² - 2x·y)
        arr = arr - arr.mean(axis=0)  # lose every digit far from the origin (unix times, a constant 1e12)
    chosen = estimator if estimator != "auto" else ("minibatch" if n > MINIBATCH_ABOVE else "kmeans")
    tss = total_ss(arr)
    ks, note = _distinct_limit(arr, ks)
    shown = [m for m in METRICS if m in metrics]
    fit_ks = [kk for kk in ks if kk >= 2]

    sample = None
    if "silhouette" in metrics:
        size = SILHOUETTE_SAMPLE if sample_size == "auto" else sample_size
        if size is not None and int(size) < n:
            if int(size) <= ks[-1]:
                raise ValueError(f"sample_size={size} must exceed the largest k ({ks[-1]})")
            sample = _subsample(n, int(size), random_state, 0x5117)
    gap_k = sorted({1, *fit_ks}) if "gap" in metrics and fit_ks else []
    shared_data: dict[str, Any] = {"X": arr}
    if gap_k:
        shared_data["gap"] = _gap_data(arr, random_state)
        gap_k = [kk for kk in gap_k if kk < shared_data["gap"].shape[0]]
    mixture = {"bic", "icl"} & set(metrics)
    space = mixture_space(arr, _subsample(n, BIC_SAMPLE, random_state, 0xB1C)) if mixture and tss > 0 else None
    bic_space = space if not isinstance(space, str) else None
    ctx = {
        "bic_space": bic_space,
        "metrics": metrics,
        "sample": sample,
        "estimator": chosen,
        "n_init": n_init,
        "gap_k": gap_k,
        "token": uuid.uuid4().hex,  # names this search's cached silhouette distances in the workers
        "seed_rows": _subsample(n, SEED_SAMPLE, random_state, 0x5EED),
        "stability_rows": _subsample(n, STABILITY_SAMPLE, random_state, 0x57AB),
        "stability_splits": STABILITY_SPLITS,
    }

    tasks: list[FitTask | GapTask | StabilityTask] = [
        FitTask(kk, r, _seed(random_state, kk, r)) for kk in reversed(fit_ks) for r in range(n_repeats)
    ]
    if gap_k:
        tasks += [GapTask(b, _seed(random_state, 0x6A9, b + 1)) for b in range(-1, GAP_REFS)]
    notes = [note] if note else []
    sampled = ctx["stability_rows"]
    stability_ks, stability_note = _stability_limit(sampled if isinstance(sampled, np.ndarray) else None, n, fit_ks)
    if "prediction_strength" in metrics:
        tasks += [StabilityTask(kk, 0, _seed(random_state, 0x57AB, kk)) for kk in reversed(stability_ks)]
        if stability_note:
            notes.append(stability_note)
    backend = backend or get_config().backend
    runner = get_backend(backend)
    workers = runner.workers(n_jobs)
    rows: list[dict[str, Any]] = []
    if tasks:
        # each task's BLAS/OpenMP threads: the cores left per concurrent task (one per
        # thread of a remote cluster: it already runs one task per core)
        ctx["inner_threads"] = max(1, cpu_count() // min(workers, len(tasks))) if runner.local else 1
        # X travels once: the function's large arrays go through shared memory
        # (worker processes) or are scattered once (dask), never once per task.
        task_func = functools.partial(run_task, shared=shared_data, ctx=ctx)
        task_func.__name__ = method  # type: ignore[attr-defined]  # the progress label
        done = pmap(task_func, tasks, n_jobs=workers, chunk_size=1, backend=backend, progress=progress)
        assert isinstance(done, list)  # not a background Job
        rows = done

    index = {kk: i for i, kk in enumerate(ks)}
    per = {m: np.full((len(ks), n_repeats), np.nan) for m in ("inertia", *metrics) if m not in ("gap",)}
    fit = np.zeros((len(ks), n_repeats))
    score = np.zeros((len(ks), n_repeats))
    bic_one = one_cluster_bic(bic_space) if bic_space is not None else None
    if 1 in index:
        per["inertia"][index[1], :] = tss
        for m in mixture & set(per):  # one Gaussian: the ICL is the BIC
            if bic_one is not None:
                per[m][index[1], :] = bic_one
    gap_rows = [row for row in rows if row["kind"] == "gap"]
    ps = np.full((len(ks), STABILITY_SPLITS), np.nan)
    for row in rows:
        if row["kind"] == "fit":
            i, r = index[row["k"]], row["repeat"]
            for m in per:
                if m in row:
                    per[m][i, r] = row[m]
            fit[i, r], score[i, r] = row["fit_time"], row["score_time"]
        elif row["kind"] == "stability":
            ps[index[row["k"]]] = row["ps"]
    with warnings.catch_warnings():  # a k whose every repeat is undefined (NaN) stays NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        scores = {m: np.nanmean(per[m], axis=1) if m in per else np.full(len(ks), np.nan) for m in shown}
        scores_sd = {m: np.nanstd(per[m], axis=1) if m in per else np.zeros(len(ks)) for m in shown}
    if "prediction_strength" in metrics:
        if 1 in index and stability_ks:  # one cluster is always stable, but only a computed k compares with it
            ps[index[1]] = 1.0
        scores["prediction_strength"] = ps.mean(axis=1)
        scores_sd["prediction_strength"] = ps.std(axis=1)
    baseline: dict[str, float] = {} if 1 in index else {"inertia": tss}
    if bic_one is not None and 1 not in index:
        baseline.update(dict.fromkeys(sorted(mixture), bic_one))
    gap_curve: tuple[list[int], np.ndarray, np.ndarray] | None = None
    if gap_rows:
        data = next(r["log_w"] for r in gap_rows if r["ref"] == -1)
        refs = np.array([[r["log_w"][kk] for kk in gap_k] for r in gap_rows if r["ref"] >= 0])
        gap = refs.mean(axis=0) - np.array([data[kk] for kk in gap_k])
        s = refs.std(axis=0) * np.sqrt(1 + 1 / len(refs))
        gap_curve = (gap_k, gap, s)
        at = {kk: i for i, kk in enumerate(gap_k)}
        scores["gap"] = np.array([gap[at[kk]] if kk in at else np.nan for kk in ks])
        scores_sd["gap"] = np.array([s[at[kk]] if kk in at else np.nan for kk in ks])
        if 1 not in index:
            baseline.update(gap=float(gap[0]), gap_sd=float(s[0]))

    picks: dict[str, int | None] = {}
    pick_reasons: dict[str, str] = {}
    stability: dict[str, dict[int | None, float]] = {}
    why: str | None
    for m in shown:
        name = METRICS[m][0]
        if m == "gap":
            if gap_curve is None:
                picks[name], why = None, "the gap statistic needs k above 1 to compare with"
            else:
                picks[name], why = pick(m, gap_curve[0], gap_curve[1], spread=gap_curve[2])
        elif m in mixture and isinstance(space, str):
            picks[name], why = None, space
        else:
            picks[name], why = pick(m, ks, scores[m], total_ss=tss, one=bic_one)
        if why:
            pick_reasons[name] = why
        if n_repeats > 1 and m in per:
            wins = Counter(pick(m, ks, per[m][:, r], total_ss=tss, one=bic_one)[0] for r in range(n_repeats))
            stability[name] = {
                kk: c / n_repeats for kk, c in sorted(wins.items(), key=lambda kv: (kv[0] is None, kv[0]))
            }

    if picks.get("prediction_strength", 0) is None and stability_note:
        pick_reasons["prediction_strength"] = stability_note
    decision = decide(picks, ks, pick_reasons=pick_reasons, constant=tss <= 0, capped=note is not None)
    reason = "; ".join(([decision.reason] if decision.reason else []) + notes) or None
    return KSearchResult(
        method=method,
        k=ks,
        scores=scores,
        scores_sd=scores_sd,
        picks=picks,
        best_k=decision.best_k,
        reason=reason,
        agreement=decision.agreement,
        confidence=decision.confidence,
        edge=decision.edge,
        split=decision.split,
        n_repeats=n_repeats,
        fit_time=fit.mean(axis=1),
        score_time=score.mean(axis=1),
        wall_time=time.perf_counter() - began,
        estimator=chosen,
        silhouette_sample=None if sample is None else len(sample),
        baseline=baseline,
        pick_reasons=pick_reasons,
        stability=stability,
    )
