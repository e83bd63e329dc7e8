"""The janitor never removes another PID namespace's loky semaphores, whose names hold the same pid.

Two processes run with the same pid in their own PID namespaces and share a
``/dev/shm`` (a private one, so that no other process on this host touches it).
One is killed; its janitor removes what it left, and the other's semaphores
(``sem.loky-<pid>-*`` too) stay, so its pool keeps working.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from tests.helpers import child_env

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None, reason="PID namespaces need root and unshare"
)

PROCESS = textwrap.dedent(
    """
    import os, signal, sys
    import nbparallel as nbp

    def mapped():  # sem_open maps a temporary file, then names it: matched by inode
        with open("/proc/self/maps") as fh:
            inodes = {int(l.split()[4]) for l in fh if "/dev/shm/sem." in l}
        return sorted(e.name for e in os.scandir("/dev/shm") if e.name.startswith("sem.loky-") and e.inode() in inodes)

    assert nbp.pmap(abs, range(-5, 5), n_jobs=2, progress=False) == [abs(x) for x in range(-5, 5)]
    print(os.getpid(), " ".join(mapped()), flush=True)
    if sys.argv[1] == "die":
        os.kill(os.getpid(), signal.SIGKILL)  # its janitor cleans up after it
    sys.stdin.readline()
    for pid in nbp.backends.worker_pids():  # a worker dies: the pool replaces it
        os.kill(pid, signal.SIGKILL)
    print(nbp.pmap(abs, range(-5, 5), n_jobs=2, progress=False, retries=2) == [abs(x) for x in range(-5, 5)], flush=True)
    nbp.shutdown()
    """
)

# Runs in a mount namespace of its own, with a fresh /dev/shm that both PID namespaces share.
ORCHESTRATE = textwrap.dedent(
    """
    import json, os, subprocess, sys

    script, pid = sys.argv[1], 4242

    def in_namespace(how):
        # sh is pid 1 (the namespace lives as long as it does); python gets the same pid in each,
        # and this stdin (sh gives a job run with & /dev/null unless told otherwise).
        shell = (
            f"echo {pid - 1} > /proc/sys/kernel/ns_last_pid; exec 3<&0; "
            f"{sys.executable} {script} {how} <&3 & wait; sleep 8"
        )
        return subprocess.Popen(
            ["unshare", "--pid", "--fork", "--mount-proc", "sh", "-c", shell],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )

    alive = in_namespace("live")
    live_pid, *semaphores = alive.stdout.readline().split()
    dying = in_namespace("die")
    dying_pid, *its_semaphores = dying.stdout.readline().split()
    dying.communicate(timeout=120)  # killed; its janitor has had its time (the namespace's sleep)
    gone = [name for name in semaphores if not os.path.exists(os.path.join("/dev/shm", name))]
    left = [name for name in its_semaphores if os.path.exists(os.path.join("/dev/shm", name))]
    out, err = alive.communicate("go\\n", timeout=120)
    print(json.dumps({"pids": [live_pid, dying_pid], "semaphores": semaphores, "gone": gone, "left": left, "out": out, "err": err}))
    """
)


@needs_root
def test_a_janitor_leaves_the_semaphores_of_a_live_process_with_the_same_pid(tmp_path):
    (tmp_path / "process.py").write_text(PROCESS)
    (tmp_path / "orchestrate.py").write_text(ORCHESTRATE)
    shell = f"mount -t tmpfs -o size=64m tmpfs /dev/shm && exec {sys.executable} orchestrate.py process.py"
    done = subprocess.run(
        ["unshare", "--mount", "sh", "-c", shell],
        cwd=tmp_path,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["pids"] == ["4242", "4242"] and seen["semaphores"]  # same pid, both with loky semaphores
    assert seen["gone"] == []  # none of the live process's semaphores was removed
    assert seen["left"] == []  # the dead one's were
    assert seen["out"].split() == ["True"], seen["err"][-3000:]
    assert "FileNotFoundError" not in seen["err"]
