"""The janitor: removes a process's folders when it dies, even with its whole process group.

loky's resource tracker removes a kernel's folders when the kernel dies, but it
lives in the kernel's process group: killing the group (a container stop, some
kernel managers, ``kill -9 -PGID``) kills it too.  The janitor is a tiny process
in a session of its own, started once per process that owns folders.  It waits
on a pipe whose only writer is its owner; when the pipe closes (however the
owner died), it removes the owner's folders whose ``.owner`` lock it can take
and the loky semaphores its owner claimed, then exits.  A semaphore's name holds
a pid, which another PID namespace sharing ``/dev/shm`` may reuse: so the owner
tells its janitor, through the same pipe, the semaphores it has mapped (name and
inode, :func:`claim_semaphores`), and the janitor removes only those files.  It uses the standard library only and runs as a script
(``python -I -S janitor.py``), so it costs a few megabytes, not an interpreter
with NumPy.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable

__all__ = ["sweep", "ensure_janitor", "claim_semaphores"]


def sweep(root: str, prefixes: tuple[str, ...], skip: Iterable[str] = ()) -> list[str]:
    """Remove the folders in ``root`` named with one of ``prefixes`` whose owner is gone.

    A folder's owner is gone when its ``.owner`` lock can be taken.

    Parameters
    ----------
    root : str
        Where to look.
    prefixes : tuple of str
        Folder name prefixes to judge.
    skip : iterable of str
        Folders never to touch (this process's own).

    Returns
    -------
    list of str
        The folders removed.

    Examples
    --------
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> os.mkdir(os.path.join(root, "nbparallel-shm-1-x"))
    >>> open(os.path.join(root, "nbparallel-shm-1-x", ".owner"), "w").close()
    >>> [os.path.basename(f) for f in sweep(root, ("nbparallel-shm-",))]
    ['nbparallel-shm-1-x']
    >>> os.rmdir(root)
    """
    removed: list[str] = []
    skipped = set(skip)
    try:
        names = os.listdir(root)
    except OSError:
        return removed
    for name in names:
        folder = os.path.join(root, name)
        if not name.startswith(prefixes) or folder in skipped:
            continue
        try:
            fd = os.open(os.path.join(folder, ".owner"), os.O_WRONLY)
        except OSError:
            continue  # being made right now, or not ours to judge
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # its owner is alive
        finally:
            os.close(fd)
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def _mapped_semaphores() -> set[tuple[str, int]]:
    """This process's loky semaphores: the files named ``sem.loky-<pid>-*`` that it has mapped.

    ``sem_open`` maps a temporary file and then links it under its name, so the
    mapping shows another name: files are matched by device and inode.
    """
    shm = os.stat(SHM).st_dev
    inodes = set()
    with open("/proc/self/maps") as maps:
        for parts in (line.split(None, 5) for line in maps):
            if len(parts) == 6 and parts[5].startswith(f"{SHM}/sem."):
                major, minor = (int(n, 16) for n in parts[3].split(":"))
                if os.makedev(major, minor) == shm:
                    inodes.add(int(parts[4]))
    found = set()
    for entry in os.scandir(SHM):
        if entry.name.startswith(f"sem.loky-{os.getpid()}-"):
            try:
                inode = entry.inode()
            except OSError:
                continue
            if inode in inodes:
                found.add((entry.name, inode))
    return found


#: Where loky's named semaphores live.
SHM = "/dev/shm"

_lock = threading.Lock()
_pipe: dict[int, int] = {}  # pid -> write end of its janitor's pipe (a fork needs its own janitor)


def ensure_janitor(roots: list[str], prefixes: tuple[str, ...]) -> None:
    """Start this process's janitor unless it runs already (called when a folder is made).

    It will remove this process's folders named with one of ``prefixes`` in ``roots``.
    """
    pid = os.getpid()
    with _lock:
        if pid in _pipe:
            return
        read, write = os.pipe()
        try:
            starter = subprocess.Popen(
                [sys.executable, "-I", "-S", os.path.abspath(__file__), str(pid), *roots],
                stdin=read,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                close_fds=True,
                start_new_session=True,
                env={"NBPARALLEL_JANITOR_PREFIXES": ":".join(prefixes)},
            )
            starter.wait()  # it forks the janitor and exits at once: the janitor is nobody's child
        except OSError:
            os.close(write)
            return  # no janitor: the resource tracker and later sweeps still clean up
        finally:
            os.close(read)
        _pipe[pid] = write  # held until this process dies, however it dies
    claim_semaphores()


_claimed: set[tuple[str, int]] = set()


def claim_semaphores() -> None:
    """Tell this process's janitor the loky semaphores this process has mapped (name and inode).

    Called after the pool made some.  The janitor removes only these, and only
    while each name still has the inode reported: never a live process's
    semaphore in another PID namespace that happens to have the same pid.
    """
    with _lock:
        write = _pipe.get(os.getpid())
        if write is None:
            return
        try:
            mapped = _mapped_semaphores()
        except (OSError, ValueError):
            return  # no /proc: nothing claimed, so the janitor removes no semaphore
        new = mapped - _claimed
        if not new:
            return
        try:
            os.write(write, "".join(f"{name} {inode}\n" for name, inode in sorted(new)).encode())
        except OSError:  # the janitor is gone (killed): nothing to tell
            return
        _claimed.update(new)


def _main(argv: list[str]) -> None:
    owner, folder_roots = argv[0], argv[1:]
    if os.fork():  # the starter exits; the janitor is re-parented and outlives the owner's group
        os._exit(0)
    for sig in (signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    claimed = bytearray()
    while chunk := os.read(0, 4096):  # the owner's semaphores; b"" once the owner is gone
        claimed += chunk
    prefixes = tuple(f"{p}{owner}-" for p in os.environ.get("NBPARALLEL_JANITOR_PREFIXES", "").split(":") if p)
    _sweep_while_released(folder_roots, prefixes)
    _unlink_semaphores(owner, claimed.decode(errors="replace"))
    os._exit(0)


#: Seconds the janitor waits for a dead owner's locks to be released.
RELEASE_WAIT = 5.0


def _sweep_while_released(folder_roots: list[str], prefixes: tuple[str, ...]) -> None:
    """Sweep the owner's folders, again while some are still locked, for up to :data:`RELEASE_WAIT`.

    The pipe's end of file does not mean that every file of the owner is
    closed: a killed process releases its files one by one, and the pipe can
    go first (Linux runs the deferred closes of an exiting task last opened,
    first closed), so an ``.owner`` lock may still be held for a moment.  A
    folder whose lock stays held belongs to a live process (another PID
    namespace reusing the number): it is left alone.
    """
    deadline = time.monotonic() + RELEASE_WAIT
    while True:
        for root in folder_roots:
            sweep(root, prefixes)
        if not _remaining(folder_roots, prefixes) or time.monotonic() > deadline:
            return
        time.sleep(0.05)


def _remaining(folder_roots: list[str], prefixes: tuple[str, ...]) -> bool:
    for root in folder_roots:
        try:
            if any(name.startswith(prefixes) for name in os.listdir(root)):
                return True
        except OSError:
            pass
    return False


def _unlink_semaphores(owner: str, claimed: str) -> None:
    """The dead owner's loky semaphores (its resource tracker may have died with its group).

    Only those it claimed (``name inode`` lines) whose file is still that
    inode: a name alone proves nothing, as a live process in another PID
    namespace may have the same pid.
    """
    for line in claimed.splitlines():
        name, _, inode = line.partition(" ")
        if not name.startswith(f"sem.loky-{owner}-") or "/" in name or not inode.isdigit():
            continue
        path = os.path.join(SHM, name)
        try:
            if os.stat(path).st_ino == int(inode):
                os.unlink(path)
        except OSError:
            pass


if __name__ == "__main__":
    _main(sys.argv[1:])
