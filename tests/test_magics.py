"""%%parallel and %nbparallel through a real InteractiveShell."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

import nbparallel as nbp


@pytest.fixture(scope="module")
def ip(shell):
    return shell


def cell(ip, line, body):
    with capture_output() as captured:
        ip.run_cell_magic("parallel", line, body)
    return captured


def setup(ip, code):
    result = ip.run_cell(code)
    assert result.success, result.error_in_exec


def test_split_out_equals_the_sequential_cell(ip):
    setup(
        ip,
        """
import random
import numpy as np
def bogosort(row):
    row = list(row)
    while any(a > b for a, b in zip(row, row[1:])):
        random.shuffle(row)
    return row
bigdata = np.random.default_rng(0).integers(0, 50, size=(40, 5))
""",
    )
    cell(ip, "--split bigdata --out sorted_rows -n 2 --no-progress", "sorted_rows = [bogosort(r) for r in bigdata]")
    assert ip.user_ns["sorted_rows"] == [sorted(r.tolist()) for r in ip.user_ns["bigdata"]]


def test_lambdas_constants_and_imports_in_the_body(ip):
    setup(ip, "scale = 3\nsquare = lambda v: v * v\nxs = list(range(25))")
    cell(
        ip,
        "--split xs --out ys,total --merge auto --chunks 5 --no-progress",
        "import math\nys = [math.floor(square(x) * scale) for x in xs]\ntotal = [sum(ys)]",
    )
    assert ip.user_ns["ys"] == [x * x * 3 for x in range(25)]
    assert sum(ip.user_ns["total"]) == sum(x * x * 3 for x in range(25))


def test_merge_sum(ip):
    setup(ip, "values = np.arange(100)")
    cell(ip, "--split values --out s --merge sum --no-progress", "s = int(values.sum())")
    assert ip.user_ns["s"] == 4950


def test_dataframe_split_keeps_the_index(ip):
    setup(ip, "import pandas as pd\ndf = pd.DataFrame({'x': range(30)}, index=[f'r{i}' for i in range(30)])")
    cell(ip, "--split df --out out --no-progress", "out = df.assign(y=df.x * 2)")
    out = ip.user_ns["out"]
    assert isinstance(out, pd.DataFrame) and out.index.equals(ip.user_ns["df"].index)
    assert (out.y == out.x * 2).all()


def test_aligned_split(ip):
    setup(ip, "a = np.arange(12)\nb = np.arange(12) * 10")
    cell(ip, "--split a,b --out c --no-progress", "c = a + b")
    assert np.array_equal(ip.user_ns["c"], np.arange(12) * 11)


def test_without_split_runs_once_in_a_worker(ip):
    import os

    cell(ip, "--out pid,answer --no-progress", "import os\npid = os.getpid()\nanswer = 42")
    assert ip.user_ns["answer"] == 42 and ip.user_ns["pid"] != os.getpid()


def test_prints_appear_labelled_by_chunk(ip):
    setup(ip, "words = ['a', 'b', 'c', 'd']")
    captured = cell(
        ip, "--split words --out n --chunks 2 --no-progress", "print('chunk has', list(words))\nn = [len(words)]"
    )
    assert captured.stdout == "[chunk 0] chunk has ['a', 'b']\n[chunk 1] chunk has ['c', 'd']\n"


def test_bg_returns_a_job_and_assigns_when_done(ip):
    setup(ip, "import time\nitems = list(range(8))")
    cell(
        ip,
        "--split items --out doubled --bg --name myjob --no-progress",
        "import time\ntime.sleep(0.5)\ndoubled = [2 * i for i in items]",
    )
    job = ip.user_ns["myjob"]
    assert isinstance(job, nbp.Job)
    assert job.result(timeout=60) == {"doubled": [2 * i for i in range(8)]}
    assert ip.user_ns["doubled"] == [2 * i for i in range(8)]


@pytest.mark.parametrize(
    "line, body, message",
    [
        ("--split nothing_here --out x", "x = 1", "--split variable 'nothing_here' is not defined in the notebook"),
        ("--split xs --out zz", "y = [1]", "--out 'zz': the cell body never assigns it"),
        ("--split xs --out y", "   \n", "%%parallel needs a cell body"),
        ("--split xs,short --out y", "y = xs", "--split variables must have the same length, got xs: 25, short: 2"),
        (
            "--split xs --out y",
            "y = [fh.write('x') for _ in xs]",
            "cannot send 'fh' to the workers: TextIOWrapper objects cannot be pickled",
        ),
        (
            "--split xs --out y",
            "y = [lock for _ in xs]",
            "cannot send 'lock' to the workers: lock objects cannot be pickled",
        ),
        ("--split xs --out y", "y = [", "the cell body is not valid Python"),
    ],
)
def test_usage_errors(ip, tmp_path, line, body, message):
    path = tmp_path / "f.txt"
    path.write_text("hi")
    setup(
        ip,
        f"import threading\nxs = list(range(25))\nshort = [1, 2]\nlock = threading.Lock()\nfh = open({str(path)!r}, 'w')",
    )
    try:
        with pytest.raises(UsageError) as info:
            ip.run_cell_magic("parallel", line, body)
        assert message in str(info.value)
    finally:
        ip.run_cell("fh.close()")


def test_failing_body_raises_its_own_error_with_the_cell_line(ip):
    setup(ip, "xs = list(range(10))")
    with pytest.raises(ZeroDivisionError) as info:
        ip.run_cell_magic("parallel", "--split xs --out y --chunks 2 --no-progress", "y = [1 / (x - 7) for x in xs]")
    assert "chunk 1 of 2" in "\n".join(info.value.__notes__)
    assert "y = [1 / (x - 7) for x in xs]" in info.value.__cause__.text


def test_help_has_an_example(ip):
    doc = ip.find_cell_magic("parallel").__doc__
    assert "%%parallel --split bigdata --out sorted_rows" in doc
    assert "--split NAMES" in doc and "--bg" in doc


def test_nbparallel_line_magic(ip):
    with capture_output() as captured:
        ip.run_line_magic("nbparallel", "")
    assert "nbparallel configuration:" in captured.stdout and "workers alive:" in captured.stdout
    with capture_output() as captured:
        ip.run_line_magic("nbparallel", "config n_jobs=1 backend=threading")
    try:
        assert nbp.get_config().n_jobs == 1 and nbp.get_config().backend == "threading"
        assert "backend = 'threading'" in captured.stdout
    finally:
        nbp.config(n_jobs=None, backend="loky")
    with pytest.raises(UsageError, match="write KEY=VALUE with KEY one of n_jobs, backend, progress"):
        ip.run_line_magic("nbparallel", "config colour=red")
    with pytest.raises(UsageError, match="unknown backend"):
        ip.run_line_magic("nbparallel", "config backend=spark")
    with pytest.raises(UsageError, match="unknown %nbparallel command 'frobnicate'"):
        ip.run_line_magic("nbparallel", "frobnicate")


def test_nbparallel_jobs_and_cancel(ip):
    setup(ip, "import time\nlong_items = list(range(4))")
    cell(
        ip,
        "--split long_items --out r --bg --name slowjob --no-progress",
        "import time\ntime.sleep(60)\nr = list(long_items)",
    )
    with capture_output() as captured:
        ip.run_line_magic("nbparallel", "jobs")
    assert "running" in captured.stdout and "%%parallel" in captured.stdout
    with capture_output() as captured:
        ip.run_line_magic("nbparallel", "cancel slowjob")
    assert "cancelling" in captured.stdout
    job = ip.user_ns["slowjob"]
    with pytest.raises(nbp.JobCancelled):
        job.result(timeout=10)
    with pytest.raises(UsageError, match="no job called 'nosuchjob'"):
        ip.run_line_magic("nbparallel", "cancel nosuchjob")


def test_reliability_options_are_forwarded(ip, tmp_path):
    setup(ip, "vals = list(range(6))")
    line = f"--split vals --out sq --chunks 3 --retries 1 --timeout 30 --seed 5 --cache {tmp_path} --no-progress"
    cell(ip, line, "import random\nsq = [v * v + random.random() * 0 for v in vals]")
    first = ip.user_ns["sq"]
    job = nbp.last_job()
    assert job.options.retries == 1 and job.options.timeout == 30 and job.options.seed == 5
    cell(ip, line, "import random\nsq = [v * v + random.random() * 0 for v in vals]")
    assert ip.user_ns["sq"] == first and nbp.last_job().n_cached == 3
