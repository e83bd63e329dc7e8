"""The dask backend on a cluster started with dask's own command line, as on other machines.

A ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1.  Each worker
runs in its own mount namespace with a private ``/tmp`` and ``/dev/shm``
(``unshare -m``, as root), so any path on the kernel's machine that reaches a
worker fails as it would on another host.  Where ``unshare`` is not possible
the workers only get a separate ``TMPDIR``, and ``test_workers_do_not_see_the_kernels_files``
skips saying so.

A checkout cloned under ``/tmp`` would vanish behind the workers' private ``/tmp``
(its ``.venv``, so the ``dask`` command itself, and the tests the workers import
functions from): the folder under ``/tmp`` that holds the checkout and the
environment is mounted back into each worker's private ``/tmp``
(:func:`_isolate`), and the workers start in ``/``, so nothing depends on the
kernel's current folder.

The scheduler runs with ``allowed-failures=0``, so a worker's death reaches
nbparallel at once (a default scheduler first runs the task again itself, up
to three times).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
from sklearn.datasets import make_blobs

import nbparallel as nbp
from tests.helpers import child_env, fail_noisily

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")

DASK = str(Path(sys.executable).with_name("dask"))
ISOLATE = 'mount -t tmpfs tmpfs /tmp && mount -t tmpfs tmpfs /dev/shm && exec "$@"'


def _isolate() -> str:
    """The worker's shell prelude: private ``/tmp`` and ``/dev/shm``, the checkout's folder mounted back.

    Only the top folder under ``/tmp`` that holds the checkout or the environment
    is kept (moved through ``/mnt`` while ``/tmp`` is replaced); every other path
    of the kernel's ``/tmp`` stays unreachable, as on another host.
    """
    needed = {Path(__file__).resolve().parents[1], Path(sys.prefix).resolve()}
    tmp = Path("/tmp")
    tops = sorted({str(tmp / p.relative_to(tmp).parts[0]) for p in needed if p.is_relative_to(tmp) and p != tmp})
    if not tops:
        return ISOLATE
    hold = ["mount -t tmpfs tmpfs /mnt"] + [f"mkdir /mnt/{i} && mount --bind {t} /mnt/{i}" for i, t in enumerate(tops)]
    back = [f"mkdir -p {t} && mount --move /mnt/{i} {t}" for i, t in enumerate(tops)] + ["umount /mnt"]
    return " && ".join([*hold, "mount -t tmpfs tmpfs /tmp && mount -t tmpfs tmpfs /dev/shm", *back, 'exec "$@"'])


def _die_with_parent() -> None:
    """In a child before exec: SIGTERM when the test process dies (even when killed)."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _can_unshare() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c", ISOLATE, "sh", "true"], capture_output=True)
    return probe.returncode == 0


class Cluster:
    """A scheduler and workers started as separate processes; ``stop`` ends every one."""

    def __init__(self) -> None:
        self.root = tempfile.mkdtemp(prefix="nbparallel-test-cluster-")
        self.isolation = "unshare" if _can_unshare() else "tmpdir"
        self.env = child_env(DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES="0")
        self.procs: list[subprocess.Popen[bytes]] = []
        file = os.path.join(self.root, "scheduler.json")
        self._start(
            [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", file],
            env={**self.env, "DASK_TEMPORARY_DIRECTORY": self.root},  # no dask-scratch-space left in /tmp
        )
        deadline = time.monotonic() + 30
        while not os.path.exists(file) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.2)
        self.address = json.loads(Path(file).read_text())["address"]

    def _start(self, cmd: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            cmd,
            env=env or self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            cwd="/",  # not the kernel's folder, which a worker on another host would not have
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        self.procs.append(proc)
        return proc

    def worker(self, name: str, nanny: bool = True) -> subprocess.Popen[bytes]:
        """Start a worker with one thread, in private ``/tmp`` and ``/dev/shm`` when possible."""
        args = [DASK, "worker", self.address, "--name", name, "--nthreads", "1", "--host", "127.0.0.1"]
        args += ["--no-dashboard", "--local-directory", "/tmp" if self.isolation == "unshare" else self.root]
        args += [] if nanny else ["--no-nanny"]
        if self.isolation == "unshare":
            return self._start(["unshare", "-m", "sh", "-c", _isolate(), "sh", *args])
        private = tempfile.mkdtemp(prefix=f"{name}-", dir=self.root)
        return self._start(args, env={**self.env, "TMPDIR": private})

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        for proc in self.procs:  # a nanny's worker left behind
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)


def _wait_for_workers(client, n: int) -> None:
    deadline = time.monotonic() + 60
    while len(client.nthreads()) < n:
        assert time.monotonic() < deadline, f"{len(client.nthreads())} of {n} dask workers joined"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client

    before = {p.pid for p in psutil.Process().children(recursive=True)}
    cluster = Cluster()
    client = None
    try:
        cluster.worker("a")
        cluster.worker("b")
        client = Client(cluster.address, timeout=30)
        _wait_for_workers(client, 2)
        print(f"dask cluster at {cluster.address}, workers isolated by {cluster.isolation}")
        yield cluster, client
    finally:
        if client is not None:
            client.close()
        cluster.stop()
        deadline = time.monotonic() + 20
        while True:
            left = {p.pid for p in psutil.Process().children(recursive=True) if p.status() != psutil.STATUS_ZOMBIE}
            left -= before | set(nbp.backends.worker_pids())
            left = {p for p in left if "resource_tracker" not in " ".join(psutil.Process(p).cmdline())}
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert not left, f"cluster processes left: {left}"


@pytest.fixture
def client(cluster):
    return cluster[1]


def test_workers_do_not_see_the_kernels_files(cluster):
    the_cluster, client = cluster
    if the_cluster.isolation != "unshare":
        pytest.skip("unshare -m is not possible here (not root?): workers only have a separate TMPDIR")
    with tempfile.NamedTemporaryFile(dir="/dev/shm") as shm, tempfile.NamedTemporaryFile() as tmp:
        paths = [shm.name, tmp.name]
        seen = client.run(lambda: [os.path.exists(p) for p in paths])
    assert list(seen.values()) == [[False, False], [False, False]]


def test_pmap_errors_and_output(client):
    data = list(range(37))
    assert nbp.pmap(lambda x: x * x, data, backend="dask", progress=False) == [x * x for x in data]

    fail_noisily("dask")
    job = nbp.pmap(
        lambda x: print("hello", x) or x, range(4), chunks=2, backend="dask", background=True, progress=False
    )
    assert job.result() == [0, 1, 2, 3]
    assert "hello 3" in job.output


def test_seeds_equal_local_runs(client):
    def draw(x):
        return random.random() + float(np.random.rand())

    on_dask = nbp.pmap(draw, range(12), chunks=5, seed=11, backend="dask", progress=False)
    assert on_dask == nbp.pmap(draw, range(12), chunks=3, seed=11, n_jobs=1, progress=False)


def test_choose_k_equals_local(client):
    X, _ = make_blobs(n_samples=600, centers=4, cluster_std=0.5, random_state=3)
    on_dask = nbp.choose_k(X, k=range(2, 6), metrics=["inertia", "silhouette"], backend="dask", progress=False)
    local = nbp.choose_k(X, k=range(2, 6), metrics=["inertia", "silhouette"], n_jobs=1, progress=False)
    assert on_dask.picks == local.picks and on_dask.best_k == local.best_k
    assert on_dask.picks["silhouette"] == 4
    for metric in ("inertia", "silhouette"):
        np.testing.assert_allclose(on_dask.scores[metric], local.scores[metric])


def test_64_mib_pmap_chunks(client):
    big = np.arange(8 * 2**20, dtype=np.float64)  # 64 MiB
    out = nbp.pmap_chunks(lambda c: c + 1.0, big, chunks=4, backend="dask", progress=False)
    assert out.shape == big.shape and out[0] == 1.0 and out[-1] == big[-1] + 1.0


def test_a_chunk_runs_again_after_its_worker_is_killed(cluster):
    the_cluster, client = cluster
    victim = the_cluster.worker("victim", nanny=False)  # this test's own worker: it dies here
    _wait_for_workers(client, 3)

    def work(x):
        from distributed import get_worker

        time.sleep(0.3)
        if get_worker().name == "victim":
            os.kill(os.getpid(), signal.SIGKILL)
        return x * 2

    got = nbp.pmap(work, range(9), chunks=3, n_jobs=3, retries=1, backend="dask", progress=False)
    assert got == [x * 2 for x in range(9)]
    assert victim.wait(10) == -signal.SIGKILL
    assert nbp.last_job().n_retries >= 1
    _wait_for_workers(client, 2)


def _spin(x):
    while True:  # pure Python that never returns between items
        pass


def test_cancel_stops_running_chunks_within_5_s(client):
    job = nbp.pmap(_spin, range(2), chunks=2, n_jobs=2, backend="dask", background=True, progress=False)
    time.sleep(1.5)
    asked = time.monotonic()
    job.cancel()
    assert job.wait(10)
    assert time.monotonic() - asked <= 5.0
    assert job.status == "cancelled"
    began = time.monotonic()  # the workers' threads are free again
    assert nbp.pmap(abs, [-1, -2], chunks=2, backend="dask", progress=False) == [1, 2]
    assert time.monotonic() - began < 5.0


def test_cancel_with_only_a_dask_address_and_no_default_client(cluster):
    script = f"""
import time
import nbparallel as nbp
def spin(x):
    while True:
        pass
nbp.config(dask_address={cluster[0].address!r})  # nbparallel opens its own Client; none is the default
job = nbp.pmap(spin, range(4), chunks=4, n_jobs=2, backend="dask", background=True, progress=False)
time.sleep(1.5)
job.cancel()
print(job.wait(10), job.status, nbp.pmap(abs, [-1, -2], backend="dask", progress=False))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split("\n")[-2] == "True cancelled [1, 2]"


def test_timeout_stops_a_stuck_chunk_within_8_s(client):
    began = time.monotonic()
    with pytest.raises(nbp.ChunkTimeout, match="chunk 0"):
        nbp.pmap(_spin, [1], timeout=2, backend="dask", progress=False)
    assert time.monotonic() - began <= 8.0
    assert nbp.pmap(abs, [-3], backend="dask", progress=False) == [3]


def test_cache_is_read_and_written_in_the_kernel(client, tmp_path):
    folder = tmp_path / "cache"  # a path the workers cannot see
    first = nbp.pmap(lambda x: x + 1, range(6), chunks=3, cache=folder, backend="dask", progress=False)
    again = nbp.pmap(lambda x: x + 1, range(6), chunks=3, cache=folder, backend="dask", progress=False)
    assert first == again == [1, 2, 3, 4, 5, 6]
    assert nbp.last_job().n_cached == 3


def test_magic_runs_on_the_cluster(client):
    from IPython.core.interactiveshell import InteractiveShell

    main = sys.modules["__main__"]  # an IPython shell replaces it; dask's LocalCluster tests need it back
    ip = InteractiveShell.instance()
    try:
        ip.run_line_magic("load_ext", "nbparallel")
        ip.user_ns.update(xs=list(range(10)), offset=3)
        ip.run_cell_magic(
            "parallel", "--split xs --out ys --backend dask --no-progress", "ys = [x + offset for x in xs]"
        )
        assert ip.user_ns["ys"] == [x + 3 for x in range(10)]
    finally:
        ip.reset()
        InteractiveShell.clear_instance()
        sys.modules["__main__"] = main


def test_a_chunk_in_native_code_is_released_at_its_timeout(client):
    began = time.monotonic()
    with pytest.raises(nbp.ChunkTimeout, match="its task was released"):
        nbp.pmap(time.sleep, [4.0], timeout=1, backend="dask", progress=False)  # C code: no interrupt lands
    assert time.monotonic() - began <= 8.0
    time.sleep(3.0)  # its worker thread is busy until the call returns
