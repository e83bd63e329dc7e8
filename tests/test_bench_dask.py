"""The dask part of the bench runs on its own real LocalCluster and leaves nothing behind."""

from __future__ import annotations

import tempfile

import psutil
import pytest

from nbparallel.__main__ import main

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")


def _children() -> set[int]:
    return {
        p.pid
        for p in psutil.Process().children(recursive=True)
        if p.is_running() and p.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in " ".join(p.cmdline())
    }


def test_bench_only_dask_quick_runs_and_cleans_up(tmp_path, monkeypatch, capsys):
    from distributed import get_client

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the cluster's scratch folder goes here
    before = _children()
    assert main(["bench", "--only", "dask", "--quick", "-n", "2"]) == 0
    out = capsys.readouterr().out
    assert "LocalCluster of 2 workers x 1 thread" in out
    assert "300 items" in out and "MB array" in out
    assert out.count("client.map batched (<= 1.2x)") == 2  # each workload's verdict, met or MISSED
    assert not list(tmp_path.iterdir()), "the cluster's scratch folder was not removed"
    with pytest.raises(ValueError):
        get_client()  # its client is closed, not left as the default
    left = _children() - before
    assert not left, f"cluster processes left: {left}"  # closing the cluster waits for its workers
