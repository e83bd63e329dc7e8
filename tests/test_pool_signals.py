"""A kernel interrupt (SIGINT to the whole process group) never breaks a pool that is starting.

Each case runs a fresh process, in a group of its own, that stands for a kernel:
it ignores the interrupt the way ipykernel does between cells, starts a
background job on a cold pool and signals its whole group some milliseconds
after the first submit, while the workers are still starting.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import child_env

KERNEL = """
import os, signal, sys, time
import nbparallel as nbp

def square(x):
    time.sleep(0.05)
    return x * x

if __name__ == "__main__":
    interrupts = []
    signal.signal(signal.SIGINT, lambda *_: interrupts.append(time.monotonic()))  # the kernel's own handler
    job = nbp.pmap(square, range(12), n_jobs=2, chunks=6, background=True, progress=False)
    started = nbp.backends.worker_pids()  # spawned by the first submit, still starting
    time.sleep(float(sys.argv[1]))
    os.killpg(0, signal.SIGINT)
    try:
        print(job.result(timeout=120) == [x * x for x in range(12)], len(interrupts), job.status)
    except BaseException as e:
        print("failed", type(e).__name__, str(e).splitlines()[0])
    print(len(started) == 2 and nbp.backends.worker_pids() == started)  # none died, none respawned
    nbp.shutdown()
"""


@pytest.mark.parametrize("delay", [0.0, 0.01, 0.05, 0.2, 0.5])
def test_a_group_interrupt_while_the_pool_starts_leaves_a_background_job_whole(tmp_path, delay):
    script = tmp_path / "kernel.py"
    script.write_text(KERNEL)
    done = subprocess.run(
        [sys.executable, str(script), str(delay)],
        capture_output=True,
        text=True,
        timeout=300,
        start_new_session=True,  # its own process group: the signal stays there
        env=child_env(),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "1", "done", "True"], done.stderr
    assert "KeyboardInterrupt" not in done.stderr
