"""The result of a k-search: scores per k, the picks, the answer, a table, HTML and a plot."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..settings import in_kernel
from .criteria import METRICS

__all__ = ["KSearchResult"]


@dataclass
class KSearchResult:
    """Scores per k, each criterion's pick and the answer.

    Attributes
    ----------
    k : list of int
        The cluster counts tried, ascending.
    scores : dict of str to ndarray
        Mean score per k for each metric (``inertia``, ``gap``, ``silhouette``, ...).
    scores_sd : dict of str to ndarray
        Standard deviation across repeats; for ``gap``, the 1-SE rule's ``s(k)``.
    picks : dict of str to int or None
        Each criterion's k (``inertia_knee``, ``gap``, ``silhouette``, ...).
    best_k : int or None
        The answer: 1 means no cluster structure; ``None`` comes with a ``reason``.
    reason : str or None
        Why ``best_k`` is ``None``, 1, at an end of the range, or not confidently chosen.
    agreement : float
        Share of the criteria with a pick that picked ``best_k``.
    confidence : str
        ``"high"``, ``"medium"`` or ``"low"`` (see ``nbparallel.ksearch.consensus.decide``).
    edge : str or None
        ``"top"`` or ``"bottom"`` when ``best_k`` is at that end of the range tried:
        it is then a bound, not an answer (``reason`` suggests a wider range).
    split : str or None
        When the criteria disagree, which picked what, in one line
        (``"6 (inertia_knee, calinski_harabasz), 13 (bic, icl)"``).
    baseline : dict of str to float
        Values at k = 1 (one cluster) when k = 1 is not in ``k``: ``inertia`` (the
        total sum of squares), ``bic`` and ``icl`` (equal for one cluster) and, with
        the gap statistic, ``gap`` and ``gap_sd``.
    stability : dict of str to dict of int to float
        With ``n_repeats > 1``: per criterion, how often each k won across repeats.
    fit_time, score_time : ndarray
        Mean seconds per k spent fitting and scoring (inside the workers).
    wall_time : float
        Seconds the whole search took.
    """

    method: str
    k: list[int]
    scores: dict[str, np.ndarray]
    scores_sd: dict[str, np.ndarray]
    picks: dict[str, int | None]
    best_k: int | None
    reason: str | None
    agreement: float
    n_repeats: int
    fit_time: np.ndarray
    score_time: np.ndarray
    wall_time: float
    estimator: str
    silhouette_sample: int | None
    confidence: str = "high"
    edge: str | None = None
    split: str | None = None
    baseline: dict[str, float] = field(default_factory=dict)
    pick_reasons: dict[str, str] = field(default_factory=dict)
    stability: dict[str, dict[int | None, float]] = field(default_factory=dict)

    def to_frame(self) -> Any:
        """The per-k table as a pandas DataFrame (index ``k``).

        Raises
        ------
        ImportError
            Without pandas, naming the extra to install.
        """
        try:
            import pandas as pd
        except ImportError as err:  # pragma: no cover - pandas is in the test extra
            raise ImportError("to_frame() needs pandas: pip install pandas (or nbparallel[test])") from err
        return pd.DataFrame(self._columns(), index=pd.Index(self.k, name="k"))

    def _columns(self) -> dict[str, np.ndarray]:
        cols: dict[str, np.ndarray] = {}
        for name, values in self.scores.items():
            cols[name] = values
            if self.n_repeats > 1 or name == "gap":
                cols[f"{name}_sd"] = self.scores_sd[name]
        cols["fit_time"] = self.fit_time
        cols["score_time"] = self.score_time
        return cols

    def _summary(self) -> str:
        """One line: the answer (or the bound at an edge) and why it may be weak."""
        if self.edge is not None:
            answer = f"no answer inside the range: best_k={self.best_k} is at its {self.edge} edge"
        else:
            answer = f"best_k={self.best_k}"
        if self.reason:
            answer += f" ({self.reason})"
        if self.split is None:
            return f"{answer}; every criterion with a pick chose {self.best_k}" if self.best_k is not None else answer
        return answer

    def _lines(self) -> list[str]:
        return [
            f"{self.method}: {self._summary()}",
            f"agreement {self.agreement:.0%}, confidence {self.confidence}; "
            f"{self.n_repeats} repeat(s), {self.estimator}, {self.wall_time:.1f}s",
        ]

    def __repr__(self) -> str:
        cols = self._columns()
        header = "     k " + " ".join(f"{name:>18}" for name in cols)
        rows = [f"{k:>6} " + " ".join(f"{cols[name][i]:>18.6g}" for name in cols) for i, k in enumerate(self.k)]
        first, second = self._lines()
        return "\n".join([f"<{first}", f" {second}>", header, *rows])

    def _repr_html_(self) -> str:
        cols = self._columns()
        head = "".join(f"<th>{html.escape(n)}</th>" for n in ["k", *cols])
        body = "".join(
            "<tr"
            + (' style="font-weight:bold"' if k == self.best_k else "")
            + ">"
            + f"<td>{k}</td>"
            + "".join(f"<td>{cols[n][i]:.6g}</td>" for n in cols)
            + "</tr>"
            for i, k in enumerate(self.k)
        )
        first, second = self._lines()
        method, _, summary = first.partition(": ")
        return (
            f"<div><p><b>{html.escape(method)}</b>: {html.escape(summary)}<br>{html.escape(second)}</p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
        )

    def _curve(self, name: str) -> tuple[list[int], np.ndarray, np.ndarray]:
        ks, values, sd = list(self.k), self.scores[name], self.scores_sd[name]
        if name in self.baseline and 1 not in ks:  # the k = 1 point the knee and the gap start from
            ks = [1, *ks]
            values = np.concatenate([[self.baseline[name]], values])
            sd = np.concatenate([[self.baseline.get(f"{name}_sd", 0.0)], sd])
        return ks, values, sd

    def plot(self, axes: Any = None) -> Any:
        """Draw each metric's curve against k with the picks and the answer marked.

        Parameters
        ----------
        axes : sequence of matplotlib Axes, optional
            One per metric; made with ``plt.subplots`` when not given.

        Returns
        -------
        matplotlib.figure.Figure
            The figure holding the axes (``fig.axes`` lists them).  In a notebook it
            is shown as the cell's value (or with ``display(fig)``), once.

        Raises
        ------
        ImportError
            Without matplotlib, naming the extra to install.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sklearn.datasets import make_blobs
        >>> from nbparallel import elbow_search
        >>> X, _ = make_blobs(n_samples=200, centers=3, random_state=0)
        >>> fig = elbow_search(X, k=range(2, 6), n_jobs=1, progress=False).plot()
        >>> len(fig.axes)
        1
        """
        try:
            import matplotlib.pyplot as plt
        except ImportError as err:  # pragma: no cover - matplotlib is in the test extra
            raise ImportError("plot() needs matplotlib: pip install matplotlib (or nbparallel[test])") from err
        names = list(self.scores)
        if axes is None:
            fig, grid = plt.subplots(1, len(names), figsize=(4 * len(names), 3.2), squeeze=False)
            axes = grid[0]
            if in_kernel():  # shown once, as the cell's value, not also by the inline backend
                plt.close(fig)
        axes = np.atleast_1d(axes)
        for ax, name in zip(axes, names):
            ks, values, sd = self._curve(name)
            ax.plot(ks, values, marker="o", color="C0")
            if self.n_repeats > 1 or name == "gap":
                ax.fill_between(ks, values - sd, values + sd, color="C0", alpha=0.2)
            pick = self.picks.get(METRICS[name][0])
            if pick is not None:
                ax.axvline(pick, color="C3", linestyle="--", label=f"{METRICS[name][0]}: k={pick}")
            if self.best_k is not None and self.best_k != pick:
                ax.axvline(self.best_k, color="C2", linestyle=":", label=f"best_k={self.best_k}")
            if ax.get_legend_handles_labels()[0]:
                ax.legend(loc="best", fontsize="small")
            ax.set_xlabel("k")
            ax.set_title(METRICS[name][2], fontsize="medium")
        fig = axes[0].figure
        fig.tight_layout()
        return fig
