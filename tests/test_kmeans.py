"""k-searches: right answers on data where the answer is known, clear errors, parallel-invariant."""

from __future__ import annotations

import glob
import os
import sys
import tempfile

import matplotlib
import numpy as np
import pytest
from sklearn.datasets import make_blobs

import nbparallel as nbp

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def blobs7():
    X, _ = make_blobs(n_samples=10000, n_features=100, centers=7, random_state=42)
    return X


def test_every_criterion_picks_7_on_the_reference_data(blobs7):
    res = nbp.choose_k(blobs7, k=range(2, 15), n_jobs=2, progress=False)
    assert res.picks == {"inertia_knee": 7, "silhouette": 7, "calinski_harabasz": 7, "davies_bouldin": 7}
    assert res.best_k == 7 and res.agreement == 1.0
    assert res.k == list(range(2, 15))
    # the popular wrong recipe on the same curve does not find 7
    wrong = res.k[int(np.argmax(np.diff(res.scores["silhouette"]))) + 1]
    assert wrong != 7


@pytest.mark.parametrize("centers", [3, 5])
def test_well_separated_blobs(centers):
    X, _ = make_blobs(
        n_samples=900, n_features=4, centers=centers, cluster_std=0.6, center_box=(-20, 20), random_state=0
    )
    res = nbp.choose_k(X, n_jobs=2, progress=False)
    assert res.best_k == centers
    assert set(res.picks.values()) == {centers}
    assert nbp.elbow_search(X, n_jobs=2, progress=False).best_k == centers
    assert nbp.silhouette_search(X, n_jobs=2, progress=False).best_k == centers


def test_no_knee_gives_none_with_a_reason():
    # 15 equidistant groups: every extra cluster removes the same inertia, so the
    # curve is a straight line over k = 2..14 and no k stands out.
    rng = np.random.default_rng(0)
    X = np.repeat(np.eye(15) * 10, 20, axis=0) + rng.normal(scale=0.1, size=(300, 15))
    res = nbp.elbow_search(X, n_jobs=2, progress=False)
    assert res.best_k is None
    assert "no knee" in res.reason
    assert "inertia_knee" in res.pick_reasons


def test_flat_curve_has_no_knee():
    X = np.ones((50, 3))
    res = nbp.elbow_search(X, k=range(2, 6), n_jobs=1, progress=False)
    assert res.best_k is None and "flat" in res.reason


def test_results_do_not_depend_on_workers_or_backend():
    X, _ = make_blobs(n_samples=500, centers=4, random_state=3)
    one = nbp.choose_k(X, k=range(2, 9), n_jobs=1, progress=False)
    two = nbp.choose_k(X, k=range(2, 9), n_jobs=2, progress=False)
    threads = nbp.choose_k(X, k=range(2, 9), n_jobs=2, backend="threading", progress=False)
    for other in (two, threads):
        for name in one.scores:
            np.testing.assert_allclose(other.scores[name], one.scores[name], rtol=1e-10)
        assert other.picks == one.picks


def test_repeats_report_spread_and_stability():
    X, _ = make_blobs(n_samples=400, centers=3, cluster_std=0.8, random_state=5)
    res = nbp.choose_k(X, k=range(2, 7), n_repeats=3, n_jobs=2, progress=False)
    assert res.n_repeats == 3
    assert res.scores_sd["inertia"].shape == (5,)
    assert (res.scores_sd["inertia"] >= 0).all()
    for name, wins in res.stability.items():
        assert abs(sum(wins.values()) - 1.0) < 1e-9, name
    frame = res.to_frame()
    assert "inertia_sd" in frame.columns


def test_silhouette_subsample_and_full():
    X, _ = make_blobs(n_samples=4000, centers=3, cluster_std=0.6, center_box=(-20, 20), random_state=1)
    sub = nbp.silhouette_search(X, k=range(2, 5), n_jobs=2, progress=False)
    assert sub.silhouette_sample == 3000
    full = nbp.silhouette_search(X, k=range(2, 5), sample_size=None, n_jobs=2, progress=False)
    assert full.silhouette_sample is None
    assert sub.best_k == full.best_k == 3
    np.testing.assert_allclose(sub.scores["silhouette"], full.scores["silhouette"], atol=0.02)


def test_minibatch_on_request():
    X, _ = make_blobs(n_samples=2000, centers=4, cluster_std=0.5, random_state=2)
    res = nbp.choose_k(X, k=range(2, 8), estimator="minibatch", n_jobs=2, progress=False)
    assert res.estimator == "minibatch" and res.best_k == 4


def test_result_table_repr_html_and_plot():
    X, _ = make_blobs(n_samples=300, centers=3, cluster_std=0.5, random_state=0)
    res = nbp.choose_k(X, k=range(2, 7), n_jobs=1, progress=False)
    frame = res.to_frame()
    assert list(frame.index) == [2, 3, 4, 5, 6]
    assert {"inertia", "silhouette", "calinski_harabasz", "davies_bouldin", "fit_time", "score_time"} <= set(
        frame.columns
    )
    assert (frame.fit_time > 0).all() and (frame.score_time > 0).all()
    assert "best_k=3" in repr(res) and "<table>" in res._repr_html_()
    axes = res.plot()
    assert len(axes) == 4
    assert any("k=3" in text.get_text() for text in axes[1].get_legend().get_texts())
    import matplotlib.pyplot as plt

    plt.close("all")


def test_optional_plot_and_frame_say_what_to_install(monkeypatch):
    X, _ = make_blobs(n_samples=100, centers=2, random_state=0)
    res = nbp.elbow_search(X, k=range(2, 5), n_jobs=1, progress=False)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        res.plot()
    with pytest.raises(ImportError, match="pip install pandas"):
        res.to_frame()


def test_memmap_folder_is_removed():
    before = set(glob.glob(os.path.join(tempfile.gettempdir(), "nbparallel-ksearch-*")))
    X, _ = make_blobs(n_samples=5000, n_features=40, centers=3, random_state=0)  # 1.6 MB: memmapped
    nbp.elbow_search(X, k=range(2, 5), n_jobs=2, progress=False)
    shipped = nbp.last_job().func.keywords["X"]
    assert isinstance(shipped, np.memmap)  # X went to the workers as one file, not pickled per task
    after = set(glob.glob(os.path.join(tempfile.gettempdir(), "nbparallel-ksearch-*")))
    assert after <= before


@pytest.mark.parametrize(
    "X, k, message",
    [
        (np.array([[1.0, np.nan]] * 10), range(2, 4), "NaN or infinite values in 10 row"),
        (np.array([[1.0, np.inf]] * 10), range(2, 4), "drop or impute"),
        (np.zeros((5, 2)), range(2, 8), "X has 5 samples, too few for k up to 7"),
        (np.zeros((50, 2)), range(1, 4), "every k must be at least 2"),
        (np.zeros(50), range(2, 4), "X must be 2-D"),
        (np.array([["a", "b"]] * 10), range(2, 4), "X must be numeric"),
        (np.zeros((50, 2)), [], "k is empty"),
        (np.zeros((50, 2)), "abc", "k must be an iterable of ints"),
    ],
)
def test_bad_input(X, k, message):
    with pytest.raises(ValueError, match=message):
        nbp.choose_k(X, k=k, progress=False)


def test_unknown_metric_lists_choices():
    with pytest.raises(ValueError, match="choose from inertia, silhouette, calinski_harabasz, davies_bouldin"):
        nbp.choose_k(np.zeros((20, 2)), metrics=("gap",))
