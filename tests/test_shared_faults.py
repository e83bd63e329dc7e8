"""Shared memory faults: a small /dev/shm, structured results, copies that outlive the work,
folders of processes in other PID namespaces."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np
import psutil
import pytest

import nbparallel as nbp
from nbparallel.data import janitor
from nbparallel.data.shared import PROCESS_PREFIX, SHARE_ABOVE, shared_root, sweep_orphans
from tests.helpers import child_env

ROOT = os.geteuid() == 0 and shutil.which("unshare") is not None
needs_root = pytest.mark.skipif(not ROOT, reason="needs root and unshare (private mounts, PID namespaces)")


def _run_with_small_shm(code: str, tmp_path, size: str = "32m") -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a Python with a private ``size`` tmpfs on /dev/shm and its own TMPDIR."""
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(code))
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = child_env(TMPDIR=str(tmpdir))
    shell = f"mount -t tmpfs -o size={size} tmpfs /dev/shm && exec {sys.executable} {script}"
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", shell], env=env, capture_output=True, text=True, timeout=300, check=False
    )


@needs_root
def test_input_larger_than_dev_shm_runs_to_the_right_result(tmp_path):
    proc = _run_with_small_shm(
        """
        import os, tempfile
        import numpy as np, nbparallel as nbp
        x = np.arange(6 * 2**20, dtype=np.float64)  # 48 MiB, /dev/shm holds 32
        assert nbp.pmap_chunks(np.sum, x, merge="sum", n_jobs=2, progress=False) == x.sum()
        out = nbp.pmap_chunks(lambda c: c + 1, x, n_jobs=2, progress=False)  # 48 MiB of results too
        assert (out == x + 1).all()
        assert nbp.pmap(lambda r: float(r.sum()), x.reshape(-1, 4096), n_jobs=2, progress=False)[3] == x.reshape(-1, 4096)[3].sum()
        nbp.shutdown()
        print("ok", sorted(n for n in os.listdir(tempfile.gettempdir()) if n.startswith("nbparallel-shm")))
        """,
        tmp_path,
    )
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-3000:])  # 135 was SIGBUS
    assert proc.stdout.split() == ["ok", "[]"]  # the disk fallback went with each finished job
    assert not os.listdir(tmp_path / "tmp") or all(not n.startswith("nbparallel") for n in os.listdir(tmp_path / "tmp"))


@needs_root
def test_an_almost_full_dev_shm_still_runs_jobs(tmp_path):
    proc = _run_with_small_shm(
        """
        import numpy as np, nbparallel as nbp
        with open("/dev/shm/filler", "wb") as fh:  # shared memory all but full (loky's semaphores fit)
            fh.write(bytes(7 * 2**20))
        x = np.arange(3 * 2**20, dtype=np.float64)
        big_global = np.ones(2**18)
        assert nbp.pmap_chunks(lambda c: c * 2, x, n_jobs=2, progress=False).sum() == 2 * x.sum()
        assert nbp.pmap(lambda i: float(big_global[i]), range(4), n_jobs=2, progress=False) == [1.0] * 4
        nbp.shutdown()
        print("ok")
        """,
        tmp_path,
        size="8m",
    )
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-3000:])
    assert proc.stdout.strip() == "ok"


def test_structured_dtype_results_keep_their_fields():
    dtype = [("a", "<i4"), ("b", "<f8"), ("c", "S4")]
    data = np.zeros(2 * 2**20 // 16 * 16, dtype=dtype)  # chunk results of 1 MiB and more
    data["a"] = np.arange(len(data))
    data["c"] = b"ab"
    out = nbp.pmap_chunks(lambda c: c, data, n_jobs=2, progress=False)
    assert out.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(out, data)


@needs_root
def test_no_room_anywhere_at_start_ends_the_job_failed_with_the_cause(tmp_path):
    script = tmp_path / "full.py"
    script.write_text(
        textwrap.dedent(
            """
            import os, tempfile
            import nbparallel as nbp
            for folder in ("/dev/shm", tempfile.gettempdir()):  # both full before nbparallel starts
                with open(os.path.join(folder, "filler"), "wb") as fh:
                    try:
                        fh.write(bytes(2 * 2**20))
                    except OSError:
                        pass
            try:
                nbp.pmap(abs, range(10), n_jobs=2, progress=False)
            except OSError as exc:
                print("raised", type(exc).__name__, exc.errno)
            job = nbp.last_job()
            print("job", job.wait(10), job.status, type(job.errors[0].error).__name__ if job.errors else None)
            """
        )
    )
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = child_env(TMPDIR=str(tmpdir))
    shell = (
        f"mount -t tmpfs -o size=1m tmpfs /dev/shm && mount -t tmpfs -o size=1m tmpfs {tmpdir} "
        f"&& exec {sys.executable} {script}"
    )
    proc = subprocess.run(["unshare", "-m", "sh", "-c", shell], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    raised, job = proc.stdout.strip().splitlines()
    assert raised == "raised OSError 28"  # the cause, catchable as what it is
    assert job.split()[:3] == ["job", "True", "failed"]  # never left running


@needs_root
def test_a_live_process_in_another_pid_namespace_keeps_its_folders():
    code = (
        "import sys; from nbparallel.data.shared import process_folder; "
        "print(process_folder(), flush=True); sys.stdin.read()"
    )
    env = child_env()
    other = subprocess.Popen(
        ["unshare", "-p", "-f", "--mount-proc", sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        folder = other.stdout.readline().strip()
        assert os.path.basename(folder).startswith(f"{PROCESS_PREFIX}1-")  # pid 1 over there: alive here too
        assert os.path.dirname(folder) == shared_root()
        assert folder not in sweep_orphans() and os.path.isdir(folder)  # alive: kept
    finally:
        other.stdin.close()
        other.wait(30)
    # Its namespace died with it (its janitor too), so the folder is left: the next sweep takes it.
    assert folder in sweep_orphans() or not os.path.exists(folder)
    assert not os.path.exists(folder)


def test_a_successful_job_leaves_no_shared_copy_mapped():
    data = np.arange(SHARE_ABOVE // 8 + 1000, dtype=np.float64)
    assert nbp.pmap_chunks(np.sum, data, merge="sum", n_jobs=2, progress=False) == data.sum()
    job = nbp.last_job()  # still held: the registry keeps the last job
    assert job.shared_folder is not None
    with open("/proc/self/maps") as fh:
        mapped = [line.split()[-2] for line in fh if os.path.basename(job.shared_folder) in line]
    assert mapped == []  # its deleted input copy no longer holds RAM in /dev/shm


def test_the_janitor_waits_for_a_dead_owners_locks_to_be_released(tmp_path):
    # A killed owner's pipe can close before its other files: the janitor must not give up on a
    # folder whose lock is still held at that moment.
    folder = tmp_path / "nbparallel-shm-0-x"  # owner "0": no real process's folders or semaphores
    folder.mkdir()
    lock = os.open(folder / ".owner", os.O_CREAT | os.O_WRONLY, 0o600)
    fcntl.flock(lock, fcntl.LOCK_EX)
    read, write = os.pipe()
    try:
        subprocess.run(
            [sys.executable, "-I", "-S", janitor.__file__, "0", str(tmp_path)],
            stdin=read,
            env={"NBPARALLEL_JANITOR_PREFIXES": "nbparallel-shm-"},
            start_new_session=True,
            check=True,
            timeout=30,
        )
    finally:
        os.close(read)
    os.close(write)  # the owner is gone, but its lock is released only a little later
    time.sleep(0.5)
    assert folder.is_dir()
    os.close(lock)
    deadline = time.monotonic() + 10
    while folder.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not folder.exists()
    janitors = [p for p in psutil.process_iter(["cmdline"]) if str(tmp_path) in " ".join(p.info["cmdline"] or [])]
    assert psutil.wait_procs(janitors, timeout=10)[1] == []


def test_a_successful_retry_of_failed_items_frees_the_shared_copy():
    rows = np.ones((1000, 4096))  # 32 MiB: shared with the workers
    rows[[3, 500]] = -1.0

    def positive_sum(row):
        if row[0] < 0:
            raise ValueError("negative row")
        return float(row.sum())

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "2 of 1000 items failed"
        values = nbp.pmap(positive_sum, rows, n_jobs=2, progress=False, errors="collect")
    job = nbp.last_job()
    assert sum(isinstance(v, nbp.Failed) for v in values) == 2
    assert job.shared_folder is not None and os.path.isdir(job.shared_folder)  # kept: the retry needs the rows
    fixed = job.retry_failed(lambda row: float(abs(row).sum()))
    assert fixed[3] == fixed[500] == 4096.0 and not job.errors
    assert not os.path.exists(job.shared_folder)  # nothing left to retry: the copy is gone
