"""A worker's exception comes back as the sequential loop raises it: same type, same message, workers alive.

Each case is compared with its reference: the plain loop ``[f(x) for x in data]``
(and ``joblib.Parallel`` on loky where it can answer at all).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading

import joblib
import pytest

import nbparallel as nbp
from nbparallel.backends import worker_pids
from tests.helpers import child_env, local_cluster

BACKENDS = ["loky", "threading", "dask", "joblib"]


@pytest.fixture(scope="module")
def backend(request):
    """Where a test runs: ``"dask"`` starts a real LocalCluster once for the module's dask cases
    (module scope: set up before the leak check snapshots the processes)."""
    if request.param != "dask":
        yield request.param
        return
    pytest.importorskip("distributed", reason="the dask extra is not installed")
    with local_cluster():
        yield "dask"


def on(*backends):
    return pytest.mark.parametrize("backend", backends, indirect=True)


def _run(backend, func, data, **options):
    """``pmap(func, data)`` on ``backend`` (``"joblib"``: ``joblib.Parallel`` on the nbparallel backend)."""
    if backend == "joblib":
        with joblib.parallel_config(backend="nbparallel"):
            return joblib.Parallel(n_jobs=2, batch_size=1)(joblib.delayed(func)(x) for x in data)
    return nbp.pmap(func, data, n_jobs=2, chunks=len(data), backend=backend, progress=False, **options)


def _reference(func, data):
    """What the sequential loop raises."""
    try:
        [func(x) for x in data]
    except BaseException as exc:  # SystemExit and KeyboardInterrupt are compared too
        return exc
    raise AssertionError("the reference raised nothing")


@on(*BACKENDS)
def test_an_exception_class_that_plain_pickle_cannot_find_keeps_its_type(backend):
    class NotebookError(Exception):  # like a class of a notebook cell: pickled by value, never by name
        pass

    def check(x):
        if x == 2:
            raise NotebookError(f"bad item {x}")
        return x

    expected = _reference(check, [1, 2, 3])
    with pytest.raises(NotebookError) as info:
        _run(backend, check, [1, 2, 3])
    assert type(info.value) is NotebookError and str(info.value) == str(expected) == "bad item 2"
    assert isinstance(info.value.__cause__, nbp.RemoteTraceback)
    assert ", in check\n" in str(info.value.__cause__)
    if backend != "joblib":  # the joblib backend's batches are its own chunks: its note names the batch
        assert "raise NotebookError" in str(info.value.__cause__)  # source lines (not on joblib's batches yet)
        assert "item 1 (2) in chunk 1 of 3" in info.value.__notes__[0]


_SCRIPT = """
import joblib
import nbparallel as nbp

class MainError(Exception):
    pass

def check(x):
    if x == 2:
        raise MainError(f"bad item {x}")
    return x

def outcome(call):
    try:
        call()
    except MainError as exc:
        return f"MainError: {exc}"
    except Exception as exc:
        return f"other {type(exc).__name__}: {exc}"

if __name__ == "__main__":
    print("joblib-loky", outcome(lambda: joblib.Parallel(n_jobs=2)(joblib.delayed(check)(x) for x in [1, 2, 3])))
    print("pmap", outcome(lambda: nbp.pmap(check, [1, 2, 3], n_jobs=2, chunks=3, progress=False)))
    with joblib.parallel_config(backend="nbparallel"):
        print("joblib-nbparallel", outcome(lambda: joblib.Parallel(n_jobs=2)(joblib.delayed(check)(x) for x in [1, 2, 3])))
    print("collect", repr(nbp.pmap(check, [1, 2, 3], n_jobs=2, chunks=3, progress=False, errors="collect")[1].exception))
    nbp.shutdown()
"""


def test_an_exception_class_of_a_scripts_main_is_caught_by_its_class(tmp_path):
    script = tmp_path / "main_error.py"
    script.write_text(textwrap.dedent(_SCRIPT))
    run = subprocess.run(
        [sys.executable, "-W", "ignore", str(script)], capture_output=True, text=True, env=child_env(), timeout=300
    )
    assert run.returncode == 0, run.stderr
    lines = dict(line.split(" ", 1) for line in run.stdout.splitlines())
    assert lines["joblib-loky"] == "MainError: bad item 2"  # the reference
    assert lines["pmap"] == lines["joblib-loky"]
    assert lines["joblib-nbparallel"] == lines["joblib-loky"]
    assert lines["collect"] == "MainError('bad item 2')"


def _exits(x):
    if x == 1:
        raise SystemExit(3)
    return x


def _interrupts(x):
    if x == 1:
        raise KeyboardInterrupt("stop here")
    return x


class OwnBase(BaseException):
    pass


def _own_base(x):
    if x == 1:
        raise OwnBase("not an Exception")
    return x


def _generator_exit(x):
    if x == 1:
        raise GeneratorExit("closed")
    return x


@on(*BACKENDS)
@pytest.mark.parametrize("func", [_exits, _interrupts, _own_base, _generator_exit])
def test_a_base_exception_raised_by_the_function_comes_back_as_it_is(backend, func):
    expected = _reference(func, [0, 1, 2])
    before = set(worker_pids())
    with pytest.raises(BaseException) as info:  # the type is compared just below
        _run(backend, func, [0, 1, 2])
    assert type(info.value) is type(expected)
    assert info.value.args == expected.args
    assert isinstance(info.value.__cause__, nbp.RemoteTraceback)
    if backend in ("loky", "joblib"):  # the workers survive: no respawn
        assert before <= set(worker_pids()) or not before
    assert nbp.pmap(
        abs, [-1, -2], n_jobs=2, backend="threading" if backend == "threading" else None, progress=False
    ) == [1, 2]


@on("dask")
def test_a_system_exit_on_dask_kills_no_worker(backend):
    from distributed import get_client

    client = get_client()
    pids = client.run(os.getpid)
    with pytest.raises(SystemExit) as info:
        nbp.pmap(_exits, [0, 1, 2], n_jobs=2, chunks=3, backend="dask", progress=False)
    assert info.value.code == 3
    assert client.run(os.getpid) == pids
    assert nbp.pmap(abs, [-1, -2], backend="dask", progress=False) == [1, 2]


def test_base_exceptions_stop_a_collecting_job_as_they_stop_a_collecting_loop():
    # errors="collect" turns Exceptions into records; SystemExit is no Exception, as in `except Exception`
    with pytest.raises(SystemExit):
        nbp.pmap(_exits, [0, 1, 2], n_jobs=2, chunks=3, progress=False, errors="collect")


class TwoArgs(ValueError):
    """Its ``__init__`` takes other arguments than its ``args``: plain pickle cannot rebuild it."""

    def __init__(self, a, b):
        super().__init__(f"{a}/{b}")
        self.a, self.b = a, b


class HoldsLock(ValueError):
    def __init__(self, message):
        super().__init__(message)
        self.lock = threading.Lock()


class RefusesPickling(KeyError):
    def __reduce__(self):
        raise TypeError("no pickling for you")


class OwnReduce(ValueError):
    def __init__(self, message, *, tag):
        super().__init__(message)
        self.tag = tag

    def __reduce__(self):
        return _own_reduce, (self.args[0], self.tag)


def _own_reduce(message, tag):
    return OwnReduce(message, tag=tag)


def _hostile(kind):
    if kind == "two":
        raise TwoArgs(1, 2)
    if kind == "lock":
        raise HoldsLock("locked")
    if kind == "refuses":
        raise RefusesPickling("nope")
    if kind == "reduce":
        raise OwnReduce("reduced", tag=7)
    return kind


@on("loky", "dask", "joblib")
def test_an_exception_whose_init_takes_other_arguments_comes_back_whole(backend):
    with pytest.raises(TwoArgs) as info:
        _run(backend, _hostile, ["ok", "two"])
    assert str(info.value) == str(TwoArgs(1, 2)) and (info.value.a, info.value.b) == (1, 2)


@on("loky", "dask", "joblib")
def test_an_exception_with_its_own_reduce_keeps_it(backend):
    with pytest.raises(OwnReduce) as info:
        _run(backend, _hostile, ["ok", "reduce"])
    assert str(info.value) == "reduced" and info.value.tag == 7


@on("loky", "dask", "joblib")
@pytest.mark.parametrize(
    ("kind", "base", "text"),
    [("lock", ValueError, "HoldsLock('locked')"), ("refuses", KeyError, "RefusesPickling('nope')")],
)
def test_an_exception_that_cannot_travel_gets_a_stand_in_catchable_by_its_builtin_base(backend, kind, base, text):
    with pytest.raises(base) as info:
        _run(backend, _hostile, ["ok", kind])
    err = info.value
    assert isinstance(err, nbp.WorkerError)
    assert err.type_name == text.split("(")[0]
    assert text in str(err) and "could not be sent back from the worker" in str(err)
    assert isinstance(err.__cause__, nbp.RemoteTraceback) and f"raise {err.type_name}" in str(err.__cause__)
    assert str(err.__cause__).rstrip().endswith(f"{err.type_name}: {err.message}")  # the original, by name


def test_a_stand_in_pickles_and_keeps_its_base():
    import pickle

    from nbparallel.errors import WorkerError

    stand_in = WorkerError.standing_in(HoldsLock("locked"), "TypeError: cannot pickle '_thread.lock' object")
    again = pickle.loads(pickle.dumps(stand_in))
    assert isinstance(again, ValueError) and isinstance(again, WorkerError)
    assert str(again) == str(stand_in)


@pytest.mark.parametrize("kind", ["two", "lock", "refuses", "reduce"])
def test_threads_give_back_the_very_exception(kind):
    # nothing is pickled between threads: the reference's own exception, attributes and all
    expected = _reference(_hostile, [kind])
    with pytest.raises(type(expected)) as info:
        nbp.pmap(_hostile, ["ok", kind], n_jobs=2, chunks=2, backend="threading", progress=False)
    assert type(info.value) is type(expected) and str(info.value) == str(expected)
    assert not isinstance(info.value, nbp.WorkerError)


@on("loky", "threading", "dask")
def test_collected_records_keep_the_exception_type(backend):
    class CellError(Exception):
        pass

    def check(x):
        if x == "cell":
            raise CellError("from a cell")
        return _hostile(x)

    data = ["ok", "cell", "two", "reduce"]
    with pytest.warns(UserWarning, match="3 of 4 items"):
        out = nbp.pmap(check, data, n_jobs=2, chunks=2, backend=backend, progress=False, errors="collect")
    assert out[0] == "ok"
    for record, expected_type in zip(out[1:], [CellError, TwoArgs, OwnReduce], strict=True):
        assert isinstance(record, nbp.Failed) and type(record.exception) is expected_type
    assert out[3].exception.tag == 7 and (out[2].exception.a, out[2].exception.b) == (1, 2)


class Mute(ValueError):
    def __str__(self):
        raise RuntimeError("no words")


def _mute(x):
    if x == 1:
        raise Mute("hidden")
    return x


@on("loky", "threading")
def test_an_exception_whose_str_raises_still_ends_the_job(backend):
    # it used to stop the job's bookkeeping (a log line called str()): pmap never returned
    with pytest.raises(Mute) as info:
        _run(backend, _mute, [0, 1, 2])
    assert info.value.args == ("hidden",)
    with pytest.warns(UserWarning, match="1 of 3 items"):
        out = _run(backend, _mute, [0, 1, 2], errors="collect")
    assert type(out[1].exception) is Mute and "Mute object at" in repr(out[1])


@pytest.mark.kernel
def test_a_notebook_s_exception_class_is_caught_by_its_class_in_a_real_kernel():
    from jupyter_client.manager import start_new_kernel

    code = textwrap.dedent(
        """
        import nbparallel as nbp

        class CellError(Exception):
            pass

        def check(x):
            if x == 2:
                raise CellError(f"bad item {x}")
            return x

        try:
            nbp.pmap(check, [1, 2, 3], n_jobs=2, chunks=3, progress=False)
        except CellError as err:
            print("caught", type(err).__name__, err, type(err.__cause__).__name__)
        nbp.shutdown()
        """
    )
    km, kc = start_new_kernel(kernel_name="python3")
    try:
        outputs = []
        reply = kc.execute_interactive(code, timeout=180, output_hook=outputs.append, allow_stdin=False)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    text = "".join(m["content"].get("text", "") for m in outputs if m["msg_type"] == "stream")
    assert reply["content"]["status"] == "ok", reply["content"]
    assert "caught CellError bad item 2 RemoteTraceback" in text
