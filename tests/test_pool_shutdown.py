"""A kernel that loaded nbparallel shuts down and restarts as quickly and cleanly as a bare one.

ipykernel signals the children in its process group with SIGTERM until they
are gone; loky's and multiprocessing's resource trackers ignore SIGTERM, so
nbparallel stops its pool and lets the trackers go when the kernel is asked to
shut down, before ipykernel starts signalling.
"""

from __future__ import annotations

import os
import tempfile
import time

import psutil
from jupyter_client.manager import start_new_kernel

from nbparallel.data.shared import roots

LOAD = """
%load_ext nbparallel
import numpy as np
import nbparallel as nbp
nbp.warm(2, wait=True)
print(nbp.pmap_chunks(lambda c: c.sum(), np.ones(2**20), chunks=4, n_jobs=2, merge="sum", progress=False))
"""


def _leftovers(pid: int) -> list[str]:
    """The kernel's folders and loky's semaphores in /dev/shm and /tmp."""
    left = []
    for root in {*roots(), "/dev/shm", tempfile.gettempdir()}:
        for name in os.listdir(root):
            if name.startswith((f"nbparallel-shm-{pid}-", f"nbparallel-rt-{pid}-", f"sem.loky-{pid}-")):
                left.append(os.path.join(root, name))
    return left


def _start(load: bool):
    km, kc = start_new_kernel(kernel_name="python3")
    if load:
        reply = kc.execute_interactive(LOAD, timeout=120, allow_stdin=False)
        assert reply["content"]["status"] == "ok", reply["content"].get("traceback")
    else:
        kc.execute_interactive("print(1)", timeout=60, allow_stdin=False)
    return km, kc


def _shutdown(load: bool) -> tuple[float, int | None, list[str], list[int]]:
    """Seconds to shut a kernel down, its exit status, what it left, and its processes still alive."""
    km, kc = _start(load)
    process = km.provisioner.process
    tree = [p.pid for p in psutil.Process(process.pid).children(recursive=True)]
    kc.stop_channels()
    start = time.perf_counter()
    km.shutdown_kernel(now=False)
    took = time.perf_counter() - start
    status = process.wait(timeout=30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (alive := [p for p in tree if psutil.pid_exists(p)]):
        time.sleep(0.1)
    return took, status, _leftovers(process.pid), alive


def _restart(load: bool) -> tuple[float, int | None]:
    km, kc = _start(load)
    process = km.provisioner.process
    start = time.perf_counter()
    km.restart_kernel(now=False)
    took = time.perf_counter() - start
    status = process.wait(timeout=30)
    kc.stop_channels()
    km.shutdown_kernel(now=True)
    return took, status


#: Kernels of each kind, alternating: the fastest of each is compared (the host may be busy).
PAIRS = 2


def test_a_kernel_that_loaded_nbparallel_shuts_down_as_a_bare_one():
    bare, loaded = [], []
    for _ in range(PAIRS):
        bare.append(_shutdown(load=False))
        loaded.append(_shutdown(load=True))
    print(f"shutdown: bare {[round(b[0], 2) for b in bare]} s, with nbparallel {[round(w[0], 2) for w in loaded]} s")
    assert [b[1:] for b in bare] == [(0, [], [])] * PAIRS
    assert [w[1:] for w in loaded] == [(0, [], [])] * PAIRS  # exit 0 (not killed), nothing left
    assert min(w[0] for w in loaded) <= min(b[0] for b in bare) + 0.5


def test_a_kernel_that_loaded_nbparallel_restarts_as_a_bare_one():
    bare, loaded = [], []
    for _ in range(PAIRS):
        bare.append(_restart(load=False))
        loaded.append(_restart(load=True))
    print(f"restart: bare {[round(b[0], 2) for b in bare]} s, with nbparallel {[round(w[0], 2) for w in loaded]} s")
    assert [b[1] for b in bare] == [0] * PAIRS
    assert [w[1] for w in loaded] == [0] * PAIRS
    assert min(w[0] for w in loaded) <= min(b[0] for b in bare) + 0.5
