"""k-searches: right answers on data where the answer is known, clear errors, parallel-invariant."""

from __future__ import annotations

import sys

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
    assert set(res.picks) == {
        "inertia_knee",
        "gap",
        "silhouette",
        "calinski_harabasz",
        "davies_bouldin",
        "bic",
        "icl",
        "prediction_strength",
    }
    assert set(res.picks.values()) == {7}
    assert res.best_k == 7 and res.agreement == 1.0 and res.confidence == "high" and res.reason is None
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
    assert res.best_k == centers and res.confidence == "high"
    assert {res.picks[name] for name in ("gap", "calinski_harabasz", "prediction_strength", "silhouette")} == {centers}
    assert abs(nbp.elbow_search(X, n_jobs=2, progress=False).best_k - centers) <= 1  # the knee is the weakest
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


def test_knee_can_be_the_first_k():
    X, _ = make_blobs(500, 2, centers=[[0, 0], [20, 20]], cluster_std=0.5, random_state=0)
    assert nbp.elbow_search(X, k=range(2, 15), n_jobs=2, progress=False).best_k == 2


def test_answers_do_not_depend_on_the_scale_of_the_data():
    X, _ = make_blobs(n_samples=300, centers=3, random_state=0)
    for scale in (1.0, 1e-8, 1e8):
        assert nbp.elbow_search(X * scale, k=range(2, 8), n_jobs=1, progress=False).best_k == 3, scale
        assert nbp.choose_k(X * scale, k=range(2, 8), n_jobs=1, progress=False).best_k == 3, scale


@pytest.mark.parametrize(
    "X",
    [
        np.random.default_rng(1).normal(size=(500, 2)),
        np.random.default_rng(2).normal(size=(800, 15)),
        np.random.default_rng(3).uniform(size=(600, 3)),
        np.random.default_rng(4).uniform(size=(600, 10)),
    ],
    ids=["gaussian-2d", "gaussian-15d", "uniform-3d", "uniform-10d"],
)
def test_no_structure_is_reported_as_one_cluster(X):
    res = nbp.choose_k(X, n_jobs=2, progress=False)
    assert res.best_k == 1
    assert "no cluster structure" in res.reason
    assert res.picks["gap"] == 1 and res.picks["prediction_strength"] == 1


def test_the_gap_finds_many_clusters_whose_gap_climbs_in_steps():
    # Eleven clusters: the gap rises in steps, and Tibshirani's first-k rule
    # stopped at the first step (here k = 1, which also counted toward "no structure").
    X, _ = make_blobs(n_samples=1100, n_features=8, centers=11, cluster_std=1.0, random_state=9)
    res = nbp.choose_k(X, n_jobs=2, progress=False)
    assert res.picks["gap"] == 11
    assert res.best_k == 11


def test_a_pick_at_the_top_of_the_range_says_to_widen_it():
    X, _ = make_blobs(n_samples=600, centers=6, cluster_std=0.4, center_box=(-30, 30), random_state=0)
    res = nbp.choose_k(X, k=range(2, 5), n_jobs=2, progress=False)
    assert res.best_k == 4 and res.edge == "top"
    assert res.confidence == "low" and "the best k is at the edge of the range you gave" in res.reason
    assert "k = 4 is the largest k tried, so it is a lower bound, not an answer; try k=range(2, 9)" in res.reason
    for text in (repr(res), res._repr_html_()):
        assert "no answer inside the range: best_k=4 is at its top edge" in text
        assert "try k=range(2, 9)" in text


def test_a_pick_at_the_bottom_of_the_range_says_to_widen_it():
    X, _ = make_blobs(n_samples=400, centers=3, cluster_std=0.5, center_box=(-20, 20), random_state=0)
    res = nbp.choose_k(X, k=range(5, 9), n_jobs=2, progress=False)
    assert res.best_k == 5 and res.edge == "bottom" and res.confidence == "low"
    assert "k = 5 is the smallest k tried, so it is an upper bound, not an answer; try k=range(2, 9)" in res.reason


def test_constant_data_is_one_cluster():
    res = nbp.choose_k(np.ones((50, 3)), n_jobs=1, progress=False)
    assert res.best_k == 1 and "constant" in res.reason
    elbow = nbp.elbow_search(np.ones((50, 3)), k=range(2, 6), n_jobs=1, progress=False)
    assert elbow.best_k == 1


def test_fewer_distinct_points_than_k():
    X = np.repeat(np.eye(3) * 10, 20, axis=0)  # 60 rows, 3 distinct points
    res = nbp.choose_k(X, k=range(2, 10), n_jobs=1, progress=False)
    assert res.best_k == 3
    assert "only 3 distinct points" in res.reason and "widen" not in res.reason
    assert res.k == [2, 3]
    with pytest.raises(ValueError, match="only 3 distinct points, fewer than the smallest k"):
        nbp.choose_k(X, k=range(5, 8), progress=False)


def test_k_range_with_one():
    X, _ = make_blobs(n_samples=300, centers=3, cluster_std=0.5, random_state=0)
    res = nbp.choose_k(X, k=range(1, 7), n_jobs=1, progress=False)
    assert res.k[0] == 1 and res.best_k == 3
    assert res.scores["inertia"][0] == pytest.approx(((X - X.mean(axis=0)) ** 2).sum())
    assert np.isnan(res.scores["silhouette"][0])


def test_results_do_not_depend_on_workers_or_backend():
    X, _ = make_blobs(n_samples=500, centers=4, random_state=3)
    one = nbp.choose_k(X, k=range(2, 9), n_jobs=1, progress=False)
    two = nbp.choose_k(X, k=range(2, 9), n_jobs=2, progress=False)
    threads = nbp.choose_k(X, k=range(2, 9), n_jobs=2, backend="threading", progress=False)
    for other in (two, threads):
        for name in one.scores:
            np.testing.assert_allclose(other.scores[name], one.scores[name], rtol=1e-10)
        assert other.picks == one.picks
        assert other.best_k == one.best_k


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
    assert sub.silhouette_sample == 2000
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
    from matplotlib.figure import Figure

    fig = res.plot()
    assert isinstance(fig, Figure)  # a notebook shows the plot, not an array of Axes
    assert len(fig.axes) == len(res.scores) == len(nbp.ksearch.METRICS)  # one per criterion
    titles = [ax.get_title() for ax in fig.axes]
    silhouette_ax = fig.axes[titles.index("mean silhouette coefficient")]
    assert any("k=3" in text.get_text() for text in silhouette_ax.get_legend().get_texts())
    gap_ax = fig.axes[titles.index("gap statistic (Tibshirani et al. 2001)")]
    assert gap_ax.lines[0].get_xdata()[0] == 1  # the gap curve starts at k = 1
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


def test_X_travels_once_through_shared_memory_not_per_task():
    from nbparallel.backends.shipping import pack

    X, _ = make_blobs(n_samples=5000, n_features=40, centers=3, random_state=0)  # 1.6 MB
    nbp.elbow_search(X, k=range(2, 5), n_jobs=2, progress=False)
    packed = pack(nbp.last_job().func, label="elbow", share=True)
    assert packed.blob is not None and len(packed.blob) < X.nbytes / 20  # X is a reference to one shared copy


@pytest.mark.parametrize(
    "X, k, message",
    [
        (np.array([[1.0, np.nan]] * 10), range(2, 4), "NaN or infinite values in 10 row"),
        (np.array([[1.0, np.inf]] * 10), range(2, 4), "drop or impute"),
        (np.zeros((5, 2)), range(2, 8), "X has 5 samples, too few for k up to 7"),
        (np.zeros((50, 2)), range(4), "every k must be at least 1"),
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
    with pytest.raises(ValueError, match="choose from inertia, gap, silhouette, calinski_harabasz, davies_bouldin"):
        nbp.choose_k(np.zeros((20, 2)), metrics=("gapp",))


@pytest.fixture(scope="module")
def blobs4():
    X, _ = make_blobs(n_samples=1200, n_features=6, centers=4, cluster_std=1.0, random_state=7)
    return X


def test_polars_and_pyarrow_give_the_same_k(blobs4):
    pl = pytest.importorskip("polars")
    pa = pytest.importorskip("pyarrow")
    dense = nbp.choose_k(blobs4, k=range(2, 9), n_jobs=2, progress=False)
    frame = pl.DataFrame(blobs4, schema=[f"x{i}" for i in range(blobs4.shape[1])])
    table = pa.table({f"x{i}": blobs4[:, i] for i in range(blobs4.shape[1])})
    assert dense.best_k == 4
    for other in (frame, table):
        res = nbp.choose_k(other, k=range(2, 9), n_jobs=2, progress=False)
        assert res.best_k == dense.best_k and res.picks == dense.picks


def test_sparse_stays_sparse_and_gives_the_same_k(blobs4):
    sparse = pytest.importorskip("scipy.sparse")
    dense = nbp.choose_k(blobs4, k=range(2, 9), n_jobs=2, progress=False)
    for kind in (sparse.csr_matrix, sparse.csc_matrix):
        res = nbp.choose_k(kind(blobs4), k=range(2, 9), n_jobs=2, progress=False)
        assert res.best_k == dense.best_k == 4
        # the same clusters up to the true k, so the same scores (scikit-learn's on dense data, ours on sparse);
        # above it, KMeans' sparse and dense code paths may split the blobs a little differently
        for name in ("inertia", "calinski_harabasz", "davies_bouldin"):
            np.testing.assert_allclose(res.scores[name][:3], dense.scores[name][:3], rtol=1e-6)
    big = sparse.random(20_000, 500, density=0.01, format="csr", random_state=0)
    nbp.elbow_search(big, k=range(2, 4), n_jobs=2, progress=False)
    assert sparse.issparse(nbp.last_job().func.keywords["shared"]["X"])  # not densified


def test_data_kinds_not_used_are_not_imported():
    code = (
        "import sys, numpy as np; from nbparallel.ksearch.data import check_X, total_ss; "
        "total_ss(check_X(np.random.default_rng(0).normal(size=(100, 2)))); "
        "print(sorted(m for m in ('polars', 'pyarrow', 'scipy.sparse', 'pandas') if m in sys.modules))"
    )
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_warming_preloads_scikit_learn_in_the_workers():
    assert callable(nbp.choose_k)  # the k-search is reached for: warming preloads it from now on
    nbp.warm(2, wait=True)
    loaded = nbp.pmap(lambda _: "sklearn.cluster" in sys.modules, range(2), n_jobs=2, progress=False)
    assert all(loaded)
