"""A kernel killed mid-job (SIGKILL, alone or with its whole process group) leaves nothing behind."""

from __future__ import annotations

import ast
import os
import signal
import tempfile
import time

import psutil
import pytest
from jupyter_client.manager import start_new_kernel

from nbparallel.data.shared import roots

JOB = """
import os, time
import numpy as np
import nbparallel as nbp
from nbparallel.backends import worker_pids
from nbparallel.data.shared import process_folder

def slow(chunk):
    time.sleep(30)
    return chunk.sum()

x = np.ones(3 * 2**20)  # 24 MiB: shared with the workers through a copy in /dev/shm
job = nbp.pmap_chunks(slow, x, chunks=8, n_jobs=2, merge="sum", background=True, progress=False)
deadline = time.monotonic() + 60
while len(worker_pids()) < 2 and time.monotonic() < deadline:
    time.sleep(0.05)
time.sleep(1.0)  # the chunks are running
print(repr((os.getpid(), worker_pids(), job.shared_folder, process_folder(), job.status)))
"""


def _leftovers(pid: int) -> list[str]:
    """What the dead kernel ``pid`` left: its folders, loky's semaphores, its processes."""
    left = []
    for root in {*roots(), tempfile.gettempdir()}:
        for name in os.listdir(root):
            if name.startswith((f"nbparallel-shm-{pid}-", f"nbparallel-rt-{pid}-", f"sem.loky-{pid}-")):
                left.append(os.path.join(root, name))
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if "janitor.py" in cmdline and f" {pid} " in f"{cmdline} ":
            left.append(f"janitor process {proc.pid}")
    return left


@pytest.mark.parametrize("how", ["process", "group"])
def test_a_kernel_killed_mid_job_leaves_nothing_behind(how):
    km, kc = start_new_kernel(kernel_name="python3")
    try:
        outputs: list[dict] = []
        reply = kc.execute_interactive(JOB, timeout=120, output_hook=outputs.append, allow_stdin=False)
        assert reply["content"]["status"] == "ok", reply["content"].get("traceback")
        text = "".join(m["content"].get("text", "") for m in outputs if m["msg_type"] == "stream")
        pid, workers, shared, own, status = ast.literal_eval(text.strip().splitlines()[-1])
        assert status == "running" and len(workers) == 2
        assert os.path.isdir(shared) and os.path.isdir(own)
        if how == "process":
            os.kill(pid, signal.SIGKILL)
        else:
            group = os.getpgid(pid)
            assert group != os.getpgid(0)  # the kernel's own group, not this test's
            os.killpg(group, signal.SIGKILL)
        deadline = time.monotonic() + 30  # loky's tracker and the janitor notice within seconds

        def alive() -> list[int]:
            found = []
            for w in workers:
                try:
                    if psutil.Process(w).status() != psutil.STATUS_ZOMBIE:
                        found.append(w)
                except psutil.NoSuchProcess:
                    pass
            return found

        while (alive() or _leftovers(pid)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert alive() == [], "workers outlived their kernel"
        assert _leftovers(pid) == []
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
