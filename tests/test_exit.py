"""Leaving the interpreter while background chunks run: quick, and no worker left."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
import time

import psutil

from tests.helpers import child_env

SCRIPT = """
import time
import nbparallel as nbp
from nbparallel.backends import worker_pids

def slow(x):
    time.sleep(20)
    return x

job = nbp.pmap(slow, range(8), chunks=8, n_jobs=2, background=True, progress=False)
while job.n_done == 0 and len(worker_pids()) < 2:
    time.sleep(0.05)
time.sleep(0.5)  # the chunks are running
print(worker_pids(), flush=True)
"""


def test_exit_cancels_running_jobs_and_stops_the_workers_quickly():
    env = child_env()
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(SCRIPT)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    line = proc.stdout.readline()
    began = time.monotonic()  # the script ends right after printing
    _out, err = proc.communicate(timeout=60)
    took = time.monotonic() - began
    workers = ast.literal_eval(line.decode())
    assert len(workers) == 2 and proc.returncode == 0, err.decode()[-2000:]
    assert took < 5, f"exit took {took:.1f} s: it waited for chunks nobody will read"
    deadline = time.monotonic() + 5
    while any(psutil.pid_exists(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(psutil.pid_exists(w) for w in workers), "a worker outlived the interpreter"


def test_exit_lets_a_foreground_call_in_a_running_thread_finish():
    script = """
import threading, time
import nbparallel as nbp

def slow(x):
    time.sleep(1.0)
    return 2 * x

def work():
    print(nbp.pmap(slow, range(4), chunks=4, n_jobs=2, progress=False), flush=True)

threading.Thread(target=work).start()  # not a daemon: the program waits for it
time.sleep(0.5)  # the main thread ends while the chunks run
"""
    env = child_env()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[0, 2, 4, 6]"
