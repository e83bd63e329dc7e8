"""The runtime core: functions shipped once by content, stale code never runs, jobs the
user dropped free their memory, workers deaf to SIGINT from the start and gone with
their parent."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import psutil
import pytest
from IPython.utils.capture import capture_output

import nbparallel as nbp
from nbparallel.backends import get_backend, worker_pids
from nbparallel.backends.shipping import pack
from nbparallel.data.shared import shared_root


def run(shell, code):
    with capture_output() as captured:
        result = shell.run_cell(code)
    if not result.success:
        raise AssertionError(f"cell failed: {result.error_in_exec}\n{captured.stdout}{captured.stderr}")
    return shell.user_ns


def test_editing_a_function_or_a_global_never_runs_stale_code(shell):
    ns = run(shell, "import nbparallel as nbp\nFACTOR = 2\ndef scale(x):\n    return x * FACTOR\n")
    assert nbp.pmap(ns["scale"], range(6), n_jobs=2, progress=False) == [0, 2, 4, 6, 8, 10]
    run(shell, "FACTOR = 3")  # a global it reads, rebound
    assert nbp.pmap(ns["scale"], range(6), n_jobs=2, progress=False) == [0, 3, 6, 9, 12, 15]
    ns = run(shell, "def scale(x):\n    return x * FACTOR + 1\n")  # the function, edited
    assert nbp.pmap(ns["scale"], range(3), n_jobs=2, progress=False) == [1, 4, 7]


def test_a_big_global_changed_in_place_is_seen_by_the_workers(shell):
    ns = run(shell, "import numpy as np\nBIG = np.zeros(2**18)\ndef at(i):\n    return float(BIG[i])\n")
    assert nbp.pmap(ns["at"], range(4), n_jobs=2, progress=False) == [0.0] * 4
    run(shell, "BIG[:4] = 7.0")  # same object, new content
    assert nbp.pmap(ns["at"], range(4), n_jobs=2, progress=False) == [7.0] * 4


def test_a_big_global_travels_as_a_reference_not_inside_each_chunk(shell):
    ns = run(
        shell, "import numpy as np\nTABLE = np.arange(2**21, dtype=np.float64)\ndef look(i):\n    return TABLE[i]\n"
    )
    packed = pack(ns["look"], label="look", share=True)
    assert packed.blob is not None and len(packed.blob) < 10_000  # 16 MiB of table: only a reference
    assert nbp.pmap(ns["look"], [0, 5, 2**21 - 1], n_jobs=2, progress=False) == [0.0, 5.0, 2**21 - 1.0]


def _shm_folders():
    return [n for n in os.listdir(shared_root()) if n.startswith(f"nbparallel-shm-{os.getpid()}-")]


def boom(chunk):
    raise ValueError("no")


def test_dropped_failed_jobs_do_not_keep_their_shared_copies():
    before = len(_shm_folders())
    for _ in range(4):
        big = np.ones(3 * 2**21)  # 48 MiB: shared through /dev/shm
        with pytest.raises(ValueError):
            nbp.pmap_chunks(boom, big, n_jobs=2, progress=False)
        del big
    gc.collect()
    assert len(_shm_folders()) - before <= 1  # only the last job is kept, for last_job()


def test_workers_ignore_sigint_from_the_moment_they_start():
    nbp.shutdown()
    nbp.warm(2, wait=True)
    pids = worker_pids()
    for pid in pids:
        os.kill(pid, signal.SIGINT)  # a kernel interrupt reaches the whole process group
    time.sleep(0.5)
    assert worker_pids() == pids
    assert nbp.pmap(abs, [-1, -2, -3], n_jobs=2, progress=False) == [1, 2, 3]


def test_workers_exit_when_their_parent_is_killed(tmp_path):
    script = textwrap.dedent(
        """
        import sys, time
        import nbparallel as nbp
        from nbparallel.backends import worker_pids
        nbp.warm(2, wait=True)
        print(" ".join(map(str, worker_pids())), flush=True)
        time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(p) for p in proc.stdout.readline().split()]
        assert len(pids) == 2
        family = psutil.Process(proc.pid).children(recursive=True)  # the workers and loky's resource tracker
        assert {p.pid for p in family} > set(pids)
        proc.kill()  # SIGKILL: no atexit, no clean-up of its own
        proc.wait(10)
        alive = psutil.wait_procs(family, timeout=8)[1]
        assert not alive, f"outlived their parent: {[(p.pid, p.cmdline()[-3:]) for p in alive]}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_the_warm_ups_of_load_ext_and_the_cell_share_one_pool():
    # In a kernel, `%load_ext nbparallel` warms twice (on import and as the extension) while
    # the cell already asks for the workers: three threads get the backend at once.  Making
    # it is slowed down here (a busy machine) so that all three ask before it exists.
    script = textwrap.dedent(
        """
        import threading, time
        import nbparallel as nbp
        from nbparallel.backends import get_backend, warm, worker_pids
        from nbparallel.backends.local import LocalProcesses

        made = LocalProcesses.__init__
        def slow_init(self):
            time.sleep(0.3)
            made(self)
        LocalProcesses.__init__ = slow_init
        seen = set()
        def ask():
            seen.add(id(get_backend("loky")))
        threads = [warm(2), warm(2), threading.Thread(target=ask)]
        threads[-1].start()
        deadline = time.monotonic() + 30
        while not worker_pids() and time.monotonic() < deadline:
            time.sleep(0.05)
        print(len(worker_pids()) > 0, len(seen | {id(get_backend("loky"))}), flush=True)
        for t in threads:
            t.join()
        nbp.shutdown()
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["True", "1"], out.stderr[-2000:]


def test_backends_say_what_they_can_do():
    loky, threads = get_backend("loky"), get_backend("threading")
    assert loky.processes and loky.can_interrupt and loky.can_kill_workers and loky.shares_memory
    assert not threads.processes and threads.serial_seeds
    assert loky.for_workers(1) is threads  # one worker: in-process, no pickling


def _spin(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def cheap(x):
    return x + 1


def costly(x):
    _spin(0.002)
    return x


def test_a_function_whose_items_were_cheap_last_time_gets_one_chunk_per_worker():
    data = list(range(4000))
    nbp.pmap(cheap, data, n_jobs=2, progress=False)
    first = nbp.last_job().n_total
    assert nbp.pmap(cheap, data, n_jobs=2, progress=False) == [x + 1 for x in data]
    assert (first, nbp.last_job().n_total) == (len(nbp.data.partition.guided_bounds(4000, 2)), 2)
    # A slow function keeps the balancing chunks: 400 items of 2 ms are 0.8 s of work.
    for _ in range(2):
        assert nbp.pmap(costly, range(400), n_jobs=2, progress=False) == list(range(400))
        assert nbp.last_job().n_total == len(nbp.data.partition.guided_bounds(400, 2))


def test_explicit_chunks_win_over_what_the_runtime_remembers():
    nbp.pmap(cheap, range(100), n_jobs=2, progress=False)
    nbp.pmap(cheap, range(100), n_jobs=2, progress=False, chunks=10)
    assert nbp.last_job().n_total == 10


@pytest.mark.parametrize("imported", [True, False])
def test_a_new_pool_imports_scikit_learn_before_its_first_chunk_when_the_script_asked_for_choose_k(imported):
    # A script that imported choose_k finds workers that have imported what it needs; a script
    # that imported scikit-learn but no k-search pays nothing (idle workers stay light).
    script = textwrap.dedent(
        f"""
        import sys
        import sklearn
        if {imported}:
            from nbparallel import choose_k
        import nbparallel as nbp

        def loaded(_):
            import sys
            return "sklearn.cluster" in sys.modules

        print(nbp.pmap(loaded, range(4), n_jobs=2, progress=False))
        nbp.shutdown()
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.stdout.split("\n")[0] == str([imported] * 4), out.stderr[-2000:]


def test_a_cached_call_keeps_its_chunks_when_the_function_was_cheap_last_time(tmp_path):
    # The cache finds a chunk by its bounds: a re-run reads every chunk back, whatever the
    # runtime learnt about the function in between.
    data = list(range(400))
    nbp.pmap(cheap, data, n_jobs=2, cache=tmp_path, progress=False)
    nbp.pmap(cheap, data, n_jobs=2, progress=False)  # learnt: cheap
    assert nbp.pmap(cheap, data, n_jobs=2, cache=tmp_path, progress=False) == [x + 1 for x in data]
    assert nbp.last_job().n_cached == nbp.last_job().n_total > 2
