"""A job's :class:`Report` (made by :func:`~.report.report_of`) and how it looks: its HTML and its Gantt chart."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from .timeline import ChunkRecord

__all__ = ["Report", "Advice", "WorkerUse", "render", "gantt", "COLOURS"]

#: Bar colours by how a chunk run ended.
COLOURS = {
    "ok": "#4c9f70",
    "failed": "#d1495b",
    "retried": "#edae49",
    "timeout": "#a05195",
    "lost": "#444444",
    "cancelled": "#9e9e9e",
    "cached": "#66a3d2",
}


@dataclass(frozen=True)
class Advice:
    """A plain mistake the timings show, in one line with its fix.

    ``kind`` is ``small-chunks``, ``straggler``, ``startup`` or ``transfer``.
    """

    kind: str
    text: str


@dataclass(frozen=True)
class WorkerUse:
    """One worker's part of the job."""

    worker: str
    chunks: int
    busy_s: float
    utilisation: float  # busy / the job's wall time


@dataclass
class Report:
    """Where a job's time went (made by :meth:`~nbparallel.Job.report`).

    Attributes
    ----------
    label, status : str
    wall_s : float
        From the job's start to its end (every execution), wall clock.
    busy_s : float
        Sum over chunk runs of the time a worker spent on them.
    speedup : float
        ``busy_s / wall_s``: how many workers were busy on average.
    transfer_share : float
        Share of the chunks' time spent pickling and unpickling inputs and results.
    workers : list of WorkerUse
    slowest : list of ChunkRecord
        The five slowest chunk runs, slowest first.
    advice : list of Advice
    records : list of ChunkRecord
    """

    label: str
    status: str
    n_workers: int
    wall_s: float
    began: float
    records: list[ChunkRecord] = field(repr=False)
    workers: list[WorkerUse] = field(default_factory=list)
    slowest: list[ChunkRecord] = field(default_factory=list)
    advice: list[Advice] = field(default_factory=list)
    dropped: int = 0  # chunk runs past the timeline's limit, not in the records

    @property
    def n_chunks(self) -> int:
        """Chunks with at least one record."""
        return len({r.chunk for r in self.records})

    @property
    def busy_s(self) -> float:
        return sum(r.busy_s for r in self._ran())

    @property
    def compute_s(self) -> float:
        return sum(r.compute_s for r in self._ran())

    @property
    def transfer_s(self) -> float:
        return sum(r.recv_s + r.send_s for r in self._ran())

    @property
    def speedup(self) -> float:
        return self.busy_s / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def transfer_share(self) -> float:
        total = self.transfer_s + self.compute_s
        return self.transfer_s / total if total > 0 else 0.0

    def _ran(self) -> list[ChunkRecord]:
        return [r for r in self.records if r.worker]

    def __repr__(self) -> str:
        lines = [
            f"<nbparallel.Report {self.label} {self.status}: {self.n_chunks} chunks on {len(self.workers)} workers, "
            f"wall {self.wall_s:.3g} s, speed-up {self.speedup:.2f}x over the chunk times, "
            f"transfer {self.transfer_share:.0%}>"
        ]
        lines += [f"  {w.worker}: {w.chunks} chunks, busy {w.busy_s:.3g} s ({w.utilisation:.0%})" for w in self.workers]
        lines += [f"  ! {a.text}" for a in self.advice]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return render(self)

    def plot(self, ax: Any = None) -> Any:
        """A Gantt chart: a row per worker, chunks coloured by outcome, transfer hatched at their ends.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Where to draw (default: a new figure).

        Returns
        -------
        matplotlib.axes.Axes

        Examples
        --------
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import nbparallel as nbp
        >>> job = nbp.pmap(abs, range(8), chunks=2, n_jobs=1, background=True, progress=False)
        >>> job.result() and job.report().plot().get_xlabel()
        'seconds since the job started'
        """
        return gantt(self, ax)


def _seconds(s: float) -> str:
    return f"{s * 1e3:.3g} ms" if s < 1 else f"{s:.3g} s"


def _bar(share: float) -> str:
    width = max(0.0, min(share, 1.0)) * 100
    return (
        '<div style="background:#e6e6e6;width:120px;height:10px;display:inline-block">'
        f'<div style="background:#4c9f70;width:{width:.0f}%;height:10px"></div></div> {share:.0%}'
    )


def _row(cells: list[str], tag: str = "td") -> str:
    return "<tr>" + "".join(f"<{tag} style='text-align:left;padding:1px 8px'>{c}</{tag}>" for c in cells) + "</tr>"


def _slow_row(r: ChunkRecord) -> str:
    return _row(
        [
            str(r.chunk),
            html.escape(r.worker),
            f"{r.start_item}-{r.stop_item - 1}" if r.items else "-",
            _seconds(r.busy_s),
            _seconds(r.compute_s),
            _seconds(r.recv_s + r.send_s),
            r.outcome,
        ]
    )


def render(report: Report) -> str:
    """The report as HTML: summary, workers, the five slowest chunks, advice.

    Examples
    --------
    >>> import nbparallel as nbp
    >>> job = nbp.pmap(abs, range(8), chunks=2, n_jobs=1, background=True, progress=False)
    >>> "speed-up" in (job.wait(), render(job.report()))[1]
    True
    """
    summary = (
        f"<b>nbparallel report: {html.escape(report.label)}</b> ({report.status}) &middot; "
        f"wall {_seconds(report.wall_s)} &middot; {report.n_chunks} chunks on {len(report.workers)} workers "
        f"&middot; speed-up <b>{report.speedup:.2f}x</b> over the sum of chunk times "
        f"({_seconds(report.busy_s)}) &middot; transfer {report.transfer_share:.0%} of chunk time"
    )
    if report.dropped:
        summary += f" &middot; the first {len(report.records):,} chunk runs only ({report.dropped:,} more not kept)"
    workers = "".join(
        _row([html.escape(w.worker), str(w.chunks), _seconds(w.busy_s), _bar(w.utilisation)]) for w in report.workers
    )
    slow = "".join(_slow_row(r) for r in report.slowest)
    advice = "".join(f"<li>{html.escape(a.text)}</li>" for a in report.advice)
    parts = [
        f"<div class='nbparallel-report'><p>{summary}</p>",
        "<table>" + _row(["worker", "chunks", "busy", "utilisation"], "th") + workers + "</table>",
        "<p>Slowest chunks</p><table>"
        + _row(["chunk", "worker", "items", "time", "compute", "transfer", "outcome"], "th")
        + slow
        + "</table>",
        f"<ul style='color:#a0522d'>{advice}</ul>" if advice else "<p>No plain mistake in the timings.</p>",
        "</div>",
    ]
    return "".join(parts)


def gantt(report: Report, ax: Any = None) -> Any:
    """Draw ``report`` as a Gantt chart on ``ax`` (a new figure by default); returns the axes.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import nbparallel as nbp
    >>> job = nbp.pmap(abs, range(8), chunks=2, n_jobs=1, background=True, progress=False)
    >>> len((job.wait(), gantt(job.report()))[1].get_yticklabels())  # one row: the one worker thread
    1
    """
    try:
        import matplotlib.pyplot as plt
        from matplotlib.patches import Patch
    except ImportError as err:  # pragma: no cover - matplotlib is in the test extra
        raise ImportError("Report.plot() draws with matplotlib: pip install matplotlib") from err
    ran = [r for r in report.records if r.worker]
    workers = sorted({r.worker for r in ran})
    if ax is None:
        _fig, ax = plt.subplots(figsize=(9, 0.45 * max(len(workers), 2) + 1.2))
    t0 = report.began
    for y, worker in enumerate(workers):
        for r in (r for r in ran if r.worker == worker):
            start, width = r.started - t0, max(r.busy_s, 0.0)
            ax.broken_barh(
                [(start, width)], (y - 0.4, 0.8), facecolor=COLOURS.get(r.outcome, "#777"), edgecolor="white"
            )
            recv, send = min(r.recv_s, width), min(r.send_s, max(width - r.recv_s, 0.0))
            if recv > 0:
                ax.broken_barh([(start, recv)], (y - 0.4, 0.8), facecolor="none", hatch="///", edgecolor="#333")
            if send > 0:
                ax.broken_barh(
                    [(start + width - send, send)], (y - 0.4, 0.8), facecolor="none", hatch="\\\\\\", edgecolor="#333"
                )
    ax.set_yticks(range(len(workers)), workers)
    ax.set_ylim(-0.6, len(workers) - 0.4)
    ax.set_xlim(0, max(report.wall_s, 1e-6))
    ax.set_xlabel("seconds since the job started")
    ax.set_title(
        f"{report.label}: {report.n_chunks} chunks, wall {_seconds(report.wall_s)}, speed-up {report.speedup:.2f}x"
    )
    outcomes = sorted({r.outcome for r in ran}, key=list(COLOURS).index)
    handles = [Patch(facecolor=COLOURS[o], label=o) for o in outcomes]
    handles += [
        Patch(facecolor="white", hatch="///", edgecolor="#333", label="receiving inputs"),
        Patch(facecolor="white", hatch="\\\\\\", edgecolor="#333", label="sending the result"),
    ]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small", frameon=False)
    ax.figure.tight_layout()
    return ax
