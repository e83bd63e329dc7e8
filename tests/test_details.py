"""The widget's collapsed "details" view: each worker's current chunk, its running time, CPU% and RSS,
and the slowest chunk so far, redrawn while the job runs."""

from __future__ import annotations

import time

import ipywidgets as widgets

import nbparallel as nbp
from nbparallel.display.details import DetailsView, ProcessProbe
from nbparallel.display.progress import WidgetProgress
from nbparallel.jobs.state import state_of
from tests.helpers import spin


def slow(x: float) -> float:
    return spin(x)


def _wait_for(condition, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


def test_details_show_each_worker_process_its_chunk_cpu_and_rss():
    from nbparallel.insights.timeline import recorder_of, running_of

    nbp.warm(2, wait=True)
    # the long chunks outlast any load on the machine: the job is cancelled once the view is read
    job = nbp.pmap(slow, [0.05, 0.05, 10.0, 10.0], n_jobs=2, chunks=4, background=True, progress=False)
    try:
        # the two short chunks ended (one is the slowest so far) and the long ones run: waited for, not slept
        _wait_for(lambda: sorted(r[2] for r in running_of(job)) == [2, 3] and recorder_of(job).slowest() is not None)
        view = DetailsView(job, every=0.0)
        view.refresh()
        time.sleep(0.2)
        view.refresh()  # CPU% is measured between two samples
        text = view.html.value
        assert text.count("chunk 2") + text.count("chunk 3") == 2, text
        assert "MiB" in text and "%" in text and " s<" in text
        assert "slowest chunk so far: chunk " in text
        assert isinstance(view.widget, widgets.Accordion) and view.widget.selected_index is None  # collapsed
        assert view.widget.get_title(0) == "details"
    finally:
        job.cancel()
        job.wait()


def test_details_are_part_of_the_widget_and_end_with_the_job():
    shown: list = []
    job = nbp.pmap(slow, [0.01] * 6, n_jobs=2, chunks=6, backend="threading", background=True, progress=False)
    bar = WidgetProgress(6, 6, display=shown.append)
    bar.add_details(DetailsView(job, every=0.0))
    assert len(bar.widget.children) == 4 and bar.widget.children[-1] is bar.details.widget
    job.wait()
    bar.close(state_of(job))
    text = bar.details.html.value
    assert "idle" not in text and "slowest chunk so far: chunk " in text and "nbpool-thread" in text


def test_the_details_view_refreshes_at_most_every_so_often():
    now = [100.0]
    job = nbp.pmap(abs, [1, 2], n_jobs=1, background=True, progress=False)
    job.wait()
    view = DetailsView(job, clock=lambda: now[0], every=0.5)
    view.refresh()
    first = view.html.value
    view.html.value = "stale"
    now[0] += 0.1
    view.refresh()
    assert view.html.value == "stale"
    now[0] += 0.5
    view.refresh()
    assert view.html.value == first


def test_probe_without_psutil_gives_dashes(monkeypatch):
    import builtins

    real = builtins.__import__

    def no_psutil(name, *args, **kwargs):
        if name == "psutil":
            raise ImportError("no psutil")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_psutil)
    assert ProcessProbe().sample(1) == (None, None)


def test_a_jobs_widget_has_the_details_view():
    job = nbp.pmap(slow, [0.01] * 4, n_jobs=1, background=True, progress="widget")
    job.result()
    details = job.widget.children[-1]
    assert isinstance(details, widgets.Accordion) and details.get_title(0) == "details"
    assert "slowest chunk so far: chunk " in details.children[0].value
