"""Through a real Jupyter kernel: background jobs leave it free, output lands in the
starting cell's widget, an interrupt stops the workers, %load_ext warms the pool."""

from __future__ import annotations

import ast
import os
import re
import time

import psutil
import pytest
from jupyter_client.manager import start_new_kernel

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(scope="module")
def kernel():
    km, kc = start_new_kernel(kernel_name="python3")
    try:
        yield km, kc
    finally:
        pids = []
        try:
            _reply, outputs = run(
                kc,
                "from nbparallel.backends import worker_pids\nprint(worker_pids())\nimport nbparallel as nbp\nnbp.shutdown()",
            )
            pids = ast.literal_eval(stdout(outputs).strip().splitlines()[0])
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
        assert _all_gone(pids), "kernel's workers outlived it"


def _alive(pid):
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _all_gone(pids, within=15.0):
    deadline = time.monotonic() + within
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not any(_alive(p) for p in pids)


def run(kc, code, timeout=120):
    outputs = []
    reply = kc.execute_interactive(code, timeout=timeout, output_hook=outputs.append, allow_stdin=False)
    return reply, outputs


def stdout(outputs):
    return "".join(
        m["content"].get("text", "") for m in outputs if m["msg_type"] == "stream" and m["content"]["name"] == "stdout"
    )


def interrupt_while_running(km, kc, code):
    """Run ``code``, interrupt the kernel 2 s later; the reply, checked to be a one-line ``JobInterrupted``."""
    msg_id = kc.execute(code)
    time.sleep(2.0)
    km.interrupt_kernel()
    reply = kc.get_shell_msg(timeout=30)
    assert reply["parent_header"]["msg_id"] == msg_id
    assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "JobInterrupted"
    return reply


#: Kernel code: ``idle`` is whether the workers use almost no CPU over half a second.
WORKERS_IDLE = """
import psutil
procs = [psutil.Process(p) for p in worker_pids()]
for p in procs: p.cpu_percent(None)
time.sleep(0.5)
idle = max(p.cpu_percent(None) for p in procs) < 30
"""


def plain(traceback_lines):
    """The error as the user reads it: the kernel's traceback lines without colours."""
    return re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(traceback_lines))


def check(reply, outputs):
    assert reply["content"]["status"] == "ok", "\n".join(reply["content"].get("traceback", []))


def test_load_ext_warms_the_pool(kernel):
    _, kc = kernel
    reply, outputs = run(
        kc,
        """
%load_ext nbparallel
import time
from nbparallel.backends import worker_pids
deadline = time.monotonic() + 20
while not worker_pids() and time.monotonic() < deadline:
    time.sleep(0.05)
print(len(worker_pids()) > 0)
""",
    )
    check(reply, outputs)
    assert stdout(outputs).strip() == "True"


def test_background_job_leaves_the_kernel_free(kernel):
    _, kc = kernel
    reply, first = run(
        kc,
        """
import time
import nbparallel as nbp

def slow(x):
    print("working on", x)
    time.sleep(1.0)
    return x * 10

job = nbp.pmap(slow, range(10), chunks=10, n_jobs=2, background=True)
""",
    )
    check(reply, first)
    # the first cell displayed the job's widget
    views = [
        m["content"]["data"][WIDGET_MIME]["model_id"]
        for m in first
        if m["msg_type"] == "display_data" and WIDGET_MIME in m["content"]["data"]
    ]
    reply, outputs = run(kc, f"print(job.widget.model_id in {views!r}, job.done(), job.status)")
    check(reply, outputs)
    assert stdout(outputs).strip() == "True False running"  # a second cell ran while it worked
    reply, second = run(kc, "print(sum(range(100)))")
    assert stdout(second).strip() == "4950"
    reply, outputs = run(
        kc,
        """
result = job.result(timeout=60)
print(result)
print(job.status, job.widget.children[0].children[1].bar_style)
shown = "".join(o["text"] for o in job.widget.children[2].outputs)
print(sorted(line for line in shown.splitlines()))
""",
    )
    check(reply, outputs)
    lines = stdout(outputs).strip().splitlines()
    assert lines[0] == str([x * 10 for x in range(10)])
    assert lines[1] == "done success"
    # every worker print is in the first cell's widget, labelled with its chunk
    assert lines[2] == str(sorted(f"[chunk {i}] working on {i}" for i in range(10)))
    # and none leaked into the cells that ran meanwhile
    assert "working on" not in stdout(second)


def test_foreground_worker_output_is_ordinary_cell_output_even_with_the_widget(kernel):
    _, kc = kernel
    check(*run(kc, "import nbparallel as nbp\ndef loud(x):\n    print('saw', x)\n    return x\n"))
    reply, outputs = run(
        kc,
        "nbp.pmap(loud, range(4), chunks=2, n_jobs=2, progress=True)\nprint(nbp.last_job().widget.children[2].outputs)",
    )
    check(reply, outputs)
    text = stdout(outputs)
    assert "[chunk 0] saw 0" in text and "[chunk 1] saw 3" in text  # stream output: saved with the notebook
    assert any(m["msg_type"] == "display_data" and WIDGET_MIME in m["content"]["data"] for m in outputs)
    assert text.strip().endswith("()")  # and nothing went into the widget's output area


def test_worker_traceback_shows_source_of_a_function_from_an_earlier_cell(kernel):
    _, kc = kernel
    check(*run(kc, "import nbparallel as nbp\ndef parse(s):\n    value = int(s)\n    return value\n"))
    check(*run(kc, "scale = 2\nhalve = lambda v: 1 // (v - v) * scale\n"))
    reply, _ = run(kc, 'nbp.pmap(parse, ["1", "2", "three", "4"], chunks=2, n_jobs=2, progress=False)')
    assert reply["content"]["ename"] == "ValueError"
    shown = plain(reply["content"]["traceback"])
    assert "value = int(s)" in shown, shown  # the failing line of the earlier cell
    assert "<dynamic-code>" not in shown, shown
    assert "item 2 ('three') in chunk 1 of 2" in shown
    assert not re.search(r"nbparallel[/\\]\w+\.py", shown), shown  # no frame of ours
    reply, _ = run(kc, "nbp.pmap(halve, [1, 2], n_jobs=2, progress=False)")
    shown = plain(reply["content"]["traceback"])
    assert "halve = lambda v: 1 // (v - v) * scale" in shown, shown
    assert not re.search(r"nbparallel[/\\]\w+\.py", shown), shown


def test_interrupt_during_a_foreground_call_frees_the_workers(kernel):
    km, kc = kernel
    reply, outputs = run(
        kc,
        """
import time
import nbparallel as nbp
from nbparallel.backends import worker_pids
nbp.pmap(abs, range(4), n_jobs=2, progress=False)
before = worker_pids()
def spin(x):
    end = time.time() + 60
    while time.time() < end:
        pass
    return x
""",
    )
    check(reply, outputs)
    reply = interrupt_while_running(km, kc, "nbp.pmap(spin, range(4), chunks=4, n_jobs=2)")
    # a short message: which job, how many chunks finished, how to get them; no plumbing
    shown = plain(reply["content"]["traceback"])
    assert len(shown.splitlines()) <= 15, shown
    assert "0 of 4 chunks finished" in shown and "partial_result()" in shown
    assert "nbparallel/" not in shown and "threading.py" not in shown, shown
    reply, outputs = run(
        kc,
        WORKERS_IDLE
        + """
print(worker_pids() == before, idle)
print(nbp.jobs()[-1].status)
print(nbp.pmap(abs, [-1, -2], n_jobs=2, progress=False))
""",
    )
    check(reply, outputs)
    assert stdout(outputs).strip().splitlines() == ["True True", "cancelled", "[1, 2]"]


def test_interrupt_of_an_imap_loop_cancels_the_stream(kernel):
    km, kc = kernel
    reply, outputs = run(
        kc,
        """
import itertools, time
import nbparallel as nbp
from nbparallel.backends import worker_pids
def slow(x):
    end = time.time() + 60
    while time.time() < end:
        pass
    return x
seen = []
""",
    )
    check(reply, outputs)
    interrupt_while_running(km, kc, "for v in nbp.imap(slow, itertools.count(), n_jobs=2):\n    seen.append(v)")
    reply, outputs = run(
        kc,
        """
job = nbp.jobs()[-1]
print(job.wait(2.0), job.status, seen)
"""
        + WORKERS_IDLE
        + """
print(idle)
print(list(nbp.imap(abs, [-1, -2], n_jobs=2, progress=False)))
""",
    )
    check(reply, outputs)
    assert stdout(outputs).strip().splitlines() == ["True cancelled []", "True", "[1, 2]"]


def test_cell_magic_in_a_notebook_run_by_nbclient():
    import nbformat
    from nbclient import NotebookClient

    cells = [
        "%load_ext nbparallel",
        "import time\ndef slow_double(v):\n    time.sleep(0.3)\n    return 2 * v\ndata = list(range(12))",
        "%%parallel --split data --out doubled --no-progress\ndoubled = [slow_double(v) for v in data]",
        "print(doubled == [2 * v for v in range(12)])",
        "%%parallel --split data --out later --bg --no-progress\nlater = [slow_double(v) for v in data]",
        "print('free:', _job.done(), 'later' in globals())",
        "_job.result()\nprint(later == [2 * v for v in range(12)], _job.status)",
        "import nbparallel as nbp\nnbp.shutdown()",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    texts = ["".join(o.get("text", "") for o in c.outputs if o.output_type == "stream") for c in nb.cells]
    assert texts[3].strip() == "True"
    assert texts[5].strip() == "free: False False"
    assert texts[6].strip() == "True done"


def test_kernel_restart_then_resume_from_cache(tmp_path):
    runs, cache = tmp_path / "runs", tmp_path / "cache"
    runs.mkdir()
    define = f"""
import os, time
import nbparallel as nbp
def work(x):
    time.sleep(0.6)
    open(os.path.join({str(runs)!r}, f"{{x}}-{{os.getpid()}}-{{time.time_ns()}}"), "w").close()
    return x * 3
"""
    km, kc = start_new_kernel(kernel_name="python3")
    try:
        check(*run(kc, define))
        old_pid = int(stdout(run(kc, "print(os.getpid())")[1]).strip())
        kc.execute(f"nbp.pmap(work, range(10), chunks=10, n_jobs=2, cache={str(cache)!r}, progress=False)")
        deadline = time.monotonic() + 60
        while len(list(runs.iterdir())) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        first_pids = {int(p.name.split("-")[1]) for p in runs.iterdir()}
        km.restart_kernel(now=True)
        kc.wait_for_ready(timeout=60)
        done_before = len(list(runs.iterdir()))
        check(*run(kc, define))
        reply, outputs = run(
            kc,
            f"""
print(nbp.pmap(work, range(10), chunks=10, n_jobs=2, cache={str(cache)!r}, progress=False))
print(nbp.last_job().n_cached)
nbp.shutdown()
""",
        )
        check(reply, outputs)
        result, cached = stdout(outputs).strip().splitlines()
        assert result == str([x * 3 for x in range(10)])
        computed_after = len(list(runs.iterdir())) - done_before
        assert int(cached) >= 3  # what finished before the restart was not lost
        assert int(cached) + computed_after == 10  # and only the rest was computed
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert _all_gone(first_pids), "workers of the restarted kernel outlived it"
    # the restarted kernel's shared-memory folders are gone: its process group was
    # killed, resource tracker included, and the new kernel swept them
    from nbparallel.data.shared import shared_root

    assert not [n for n in os.listdir(shared_root()) if n.startswith(f"nbparallel-rt-{old_pid}-")]
