"""The result of a k-search: scores per k, the picks, a table, HTML and a plot."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["KSearchResult", "METRICS"]

#: Criterion name -> (pick name, "knee" | "max" | "min", label).  Docs, checks and
#: error messages are generated from this mapping.
METRICS: dict[str, tuple[str, str, str]] = {
    "inertia": ("inertia_knee", "knee", "inertia (within-cluster sum of squares)"),
    "silhouette": ("silhouette", "max", "mean silhouette coefficient"),
    "calinski_harabasz": ("calinski_harabasz", "max", "Calinski-Harabasz index"),
    "davies_bouldin": ("davies_bouldin", "min", "Davies-Bouldin index"),
}


@dataclass
class KSearchResult:
    """Scores per k, each criterion's pick and the answer.

    Attributes
    ----------
    k : list of int
        The cluster counts tried, ascending.
    scores : dict of str to ndarray
        Mean score per k for each metric (``inertia``, ``silhouette``, ...).
    scores_sd : dict of str to ndarray
        Standard deviation across repeats (zeros with one repeat).
    picks : dict of str to int or None
        Each criterion's k (``inertia_knee``, ``silhouette``, ``calinski_harabasz``,
        ``davies_bouldin``).
    best_k : int or None
        The answer; ``None`` with a ``reason``.
    reason : str or None
        Why ``best_k`` is ``None``.
    agreement : float
        Share of criteria that agree with ``best_k`` (1.0 with one criterion).
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
            if self.n_repeats > 1:
                cols[f"{name}_sd"] = self.scores_sd[name]
        cols["fit_time"] = self.fit_time
        cols["score_time"] = self.score_time
        return cols

    def _summary(self) -> str:
        picks = ", ".join(f"{name}={k}" for name, k in self.picks.items())
        answer = f"best_k={self.best_k}" if self.best_k is not None else f"best_k=None ({self.reason})"
        return f"{answer}; picks: {picks}"

    def __repr__(self) -> str:
        cols = self._columns()
        header = "     k " + " ".join(f"{name:>18}" for name in cols)
        rows = [f"{k:>6} " + " ".join(f"{cols[name][i]:>18.6g}" for name in cols) for i, k in enumerate(self.k)]
        return "\n".join(
            [
                f"<{self.method}: {self._summary()}; agreement {self.agreement:.0%}; "
                f"{self.n_repeats} repeat(s), {self.estimator}, {self.wall_time:.1f}s>",
                header,
                *rows,
            ]
        )

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
        return (
            f"<div><p><b>{html.escape(self.method)}</b>: {html.escape(self._summary())}; "
            f"agreement {self.agreement:.0%}</p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
        )

    def plot(self, axes: Any = None) -> Any:
        """Draw each metric's curve against k with the picks marked.

        Parameters
        ----------
        axes : sequence of matplotlib Axes, optional
            One per metric; made with ``plt.subplots`` when not given.

        Returns
        -------
        ndarray of matplotlib Axes

        Raises
        ------
        ImportError
            Without matplotlib, naming the extra to install.
        """
        try:
            import matplotlib.pyplot as plt
        except ImportError as err:  # pragma: no cover - matplotlib is in the test extra
            raise ImportError("plot() needs matplotlib: pip install matplotlib (or nbparallel[test])") from err
        names = list(self.scores)
        if axes is None:
            _, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.2), squeeze=False)
            axes = axes[0]
        axes = np.atleast_1d(axes)
        for ax, name in zip(axes, names):
            values, sd = self.scores[name], self.scores_sd[name]
            ax.plot(self.k, values, marker="o", color="C0")
            if self.n_repeats > 1:
                ax.fill_between(self.k, values - sd, values + sd, color="C0", alpha=0.2)
            pick = self.picks.get(METRICS[name][0])
            if pick is not None:
                ax.axvline(pick, color="C3", linestyle="--", label=f"{METRICS[name][0]}: k={pick}")
                ax.legend(loc="best", fontsize="small")
            ax.set_xlabel("k")
            ax.set_title(METRICS[name][2], fontsize="medium")
        return axes
