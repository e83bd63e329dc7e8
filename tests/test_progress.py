"""Progress displays: exact widget states with an injected clock, text bar, factory choice."""

from __future__ import annotations

import ipywidgets as widgets
import pytest

from nbparallel.display.progress import (
    SHOW_AFTER,
    NoProgress,
    ProgressState,
    TextProgress,
    WidgetProgress,
    describe,
    make_progress,
)


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def state(status="running", done=0, chunks=0, failed=0, elapsed=0.0, total=100, total_chunks=4):
    return ProgressState(status, done, total, chunks, total_chunks, failed, elapsed)


@pytest.fixture
def shown():
    return []


def make_widget(shown, clock, show_after=SHOW_AFTER, on_cancel=None):
    return WidgetProgress(
        100, 4, desc="bogosort", on_cancel=on_cancel, show_after=show_after, clock=clock, display=shown.append
    )


def test_widget_is_one_bar_line_one_text_line_and_a_collapsed_output(shown):
    w = make_widget(shown, FakeClock(), show_after=0)
    top, text, out = w.widget.children
    assert isinstance(top, widgets.HBox)
    assert [type(c) for c in top.children] == [widgets.HTML, widgets.FloatProgress, widgets.Button]
    assert text is w.text and out is w.out
    assert out.layout.display == "none"  # collapsed while empty
    assert shown == [w.widget]  # show_after=0 displays at once


def test_widget_states_through_a_job(shown):
    clock = FakeClock()
    w = make_widget(shown, clock)
    w.update(state(elapsed=0.5))
    assert shown == []  # quick work shows nothing
    clock.now += 1.2
    w.update(state(done=50, chunks=2, elapsed=5.0))
    assert shown == [w.widget]
    assert w.bar.value == 50 and w.bar.max == 100 and w.bar.bar_style == ""
    assert w.text.value == "chunks 2/4 · 10.0 items/s · 0:05 elapsed · ETA 0:05"
    w.update(state(done=75, chunks=3, failed=1, elapsed=6.0))
    assert w.bar.bar_style == "warning"
    assert w.text.value.endswith("1 failed")
    w.close(state("failed", done=75, chunks=4, failed=1, elapsed=7.0))
    assert w.bar.bar_style == "danger" and w.button.disabled
    assert "failed" in w.text.value


def test_widget_green_on_success(shown):
    w = make_widget(shown, FakeClock(), show_after=0)
    w.close(state("done", done=100, chunks=4, elapsed=2.0))
    assert w.bar.bar_style == "success" and w.bar.value == 100
    assert w.text.value == "chunks 4/4 · 50.0 items/s · 0:02 elapsed · done"


def test_widget_red_on_cancel_and_button_calls_cancel(shown):
    calls = []
    w = make_widget(shown, FakeClock(), show_after=0, on_cancel=lambda: calls.append("cancel"))
    w.button.click()
    assert calls == ["cancel"]
    w.close(state("cancelled", done=10, chunks=1, elapsed=1.0))
    assert w.bar.bar_style == "danger" and w.button.description == "cancelled"


def test_widget_output_area_opens_on_first_output(shown):
    clock = FakeClock()
    w = make_widget(shown, clock)
    w.output(0, "[chunk 0] hello\n")
    assert shown == [w.widget]  # output is shown even for quick work
    assert w.out.layout.display is None
    assert w.out.outputs == ({"output_type": "stream", "name": "stdout", "text": "[chunk 0] hello\n"},)


def test_describe_formats():
    assert describe(state(done=0, elapsed=0.0)) == "chunks 0/4 · 0.0 items/s · 0:00 elapsed · ETA ?"
    assert describe(state(done=5000, total=10000, chunks=1, elapsed=3725.0)).startswith(
        "chunks 1/4 · 1.3 items/s · 1:02:05 elapsed"
    )
    assert (
        describe(state(done=5000, total=10000, chunks=1, elapsed=2.0))
        == "chunks 1/4 · 2,500 items/s · 0:02 elapsed · ETA 0:02"
    )


def test_factory_outside_a_kernel():
    assert isinstance(make_progress(False, total_items=1, total_chunks=1), NoProgress)
    sink = make_progress("auto", total_items=1, total_chunks=1)
    assert isinstance(sink, TextProgress)
    sink.bar.close()
    forced = make_progress("widget", total_items=3, total_chunks=1, background=False)
    assert isinstance(forced, WidgetProgress)


def test_text_bar_counts_items_and_reports_status(capsys):
    sink = make_progress(True, total_items=10, total_chunks=2, desc="work")
    sink.update(state(done=5, chunks=1, total=10, total_chunks=2))
    sink.output(0, "[chunk 0] hi\n")
    sink.close(state("cancelled", done=5, chunks=1, total=10, total_chunks=2))
    captured = capsys.readouterr()
    assert "[chunk 0] hi" in captured.out
    assert "work [cancelled]" in captured.err and "5/10" in captured.err
