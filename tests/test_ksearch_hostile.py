"""choose_k as a hostile user calls it: odd k, data far from the origin or tiny, one k only.

Each case is compared with what a careful user expects: the same call on the
same clusters (shifted, scaled), or a clear error.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs

import nbparallel as nbp


@pytest.fixture(scope="module")
def blobs():
    X, _ = make_blobs(n_samples=300, centers=4, cluster_std=0.6, random_state=0)
    return X


@pytest.fixture(scope="module")
def reference(blobs):
    return nbp.choose_k(blobs, k=range(2, 8), n_jobs=1, progress=False)


@pytest.mark.parametrize("k", ["2345", ["2", "3", "4"], [2.5, 3.9, 4.2], [True, 3, 4]])
def test_k_as_text_fractions_or_booleans_is_a_clear_error(blobs, k):
    # int() took each of them: "2345" became k = 2, 3, 4, 5, and 2.5 quietly became 2
    with pytest.raises(ValueError, match="k must be an iterable of ints"):
        nbp.choose_k(blobs, k=k, n_jobs=1, progress=False)


def test_k_as_numpy_ints_or_whole_floats_is_taken(blobs):
    assert nbp.elbow_search(blobs, k=np.arange(2, 5), n_jobs=1, progress=False).k == [2, 3, 4]
    assert nbp.elbow_search(blobs, k=[2.0, 3.0], n_jobs=1, progress=False).k == [2, 3]


@pytest.mark.parametrize(
    "shift",
    [
        pytest.param(lambda X: X + 1.7e9, id="every column near a unix time"),
        pytest.param(lambda X: np.c_[X, np.full(len(X), 1e12)], id="a constant column of 1e12"),
    ],
)
def test_data_far_from_the_origin_gets_the_same_picks(blobs, reference, shift):
    # every criterion is unchanged by a shift; distances as |x|^2 + |y|^2 - 2 x.y lose every digit there
    res = nbp.choose_k(shift(blobs), k=range(2, 8), n_jobs=1, progress=False)
    assert res.picks == reference.picks
    assert res.best_k == reference.best_k == 4


@pytest.mark.parametrize("scale", [1e-9, 1e-150])
def test_tiny_units_get_the_same_picks(blobs, reference, scale):
    # Davies-Bouldin was 0 at every k below an absolute tolerance of 1e-8, so it picked k = 2
    res = nbp.choose_k(blobs * scale, k=range(2, 8), n_jobs=1, progress=False)
    assert res.picks == reference.picks


@pytest.mark.parametrize("k, tried", [([3], "k=range(2, 7)"), ([2], "k=range(2, 5)")])
def test_one_k_is_not_an_answer(blobs, k, tried):
    # with one k the criteria compare it with one cluster at most: 3 on four clusters was "high"
    res = nbp.choose_k(blobs, k=k, n_jobs=1, progress=False)
    assert res.best_k == k[0] and res.edge == "top" and res.confidence == "low"
    assert tried in res.reason
    for text in (repr(res), res._repr_html_()):
        assert f"no answer inside the range: best_k={k[0]} is at its top edge" in text
        assert tried in text


def test_k_of_one_alone_is_a_clear_error(blobs):
    # the ICL "picked" the only k it was given and the result said "no cluster structure" on four blobs
    with pytest.raises(ValueError, match="k = 1 alone"):
        nbp.choose_k(blobs, k=[1], n_jobs=1, progress=False)


def test_pandas_nullable_numbers_are_numbers_and_their_missing_values_are_named_as_such(blobs, reference):
    pd = pytest.importorskip("pandas")
    # Int64 / Float64 columns (read_csv(dtype_backend=...), convert_dtypes()) were "not numeric: encode categorical columns"
    frame = pd.DataFrame(blobs, columns=["a", "b"]).astype("Float64")
    assert nbp.choose_k(frame, k=range(2, 8), n_jobs=1, progress=False).picks == reference.picks
    assert nbp.elbow_search(frame.round().astype("Int64"), k=range(2, 4), n_jobs=1, progress=False).k == [2, 3]
    frame.loc[3, "a"] = pd.NA
    with pytest.raises(ValueError, match=r"NaN or infinite values in 1 row\(s\) \(first: \[3\]\)"):
        nbp.choose_k(frame, k=range(2, 4), n_jobs=1, progress=False)


def test_a_frame_with_text_columns_names_them(blobs):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(blobs, columns=["a", "b"]).assign(city="Oslo", when=pd.Timestamp("2020-01-01"))
    with pytest.raises(ValueError, match=r"X must be numeric; not the column\(s\) 'city' \(\w+\), 'when' \(datetime64"):
        nbp.choose_k(frame, k=range(2, 4), n_jobs=1, progress=False)


def test_one_metric_given_as_a_string_is_that_metric(blobs):
    # metrics="gap" was "unknown metric(s) ['g', 'a', 'p']"
    res = nbp.choose_k(blobs, k=range(2, 6), metrics="calinski_harabasz", n_jobs=1, progress=False)
    assert list(res.picks) == ["calinski_harabasz"] and res.best_k == 4


def test_a_tie_of_votes_is_a_tie_whatever_the_arithmetic_and_the_order_of_the_picks():
    from nbparallel.ksearch.consensus import decide

    # 3: the knee and the whole partition family (1/3 + 1/3 + 1/3 was 0.9999999999999999 in floats),
    # 5: the mixture and the gap; two votes each, so the k that more criteria picked wins: 3, not 5
    picks = {
        "inertia_knee": 3,
        "silhouette": 3,
        "calinski_harabasz": 3,
        "davies_bouldin": 3,
        "bic": 5,
        "icl": 5,
        "gap": 5,
        "prediction_strength": 1,
    }
    ks = list(range(2, 10))
    first = decide(picks, ks)
    assert first.best_k == 3
    for order in (sorted(picks), sorted(picks, reverse=True)):
        again = decide({name: picks[name] for name in order}, ks)
        assert (again.best_k, again.confidence, again.agreement) == (first.best_k, first.confidence, first.agreement)


def test_the_split_line_starts_with_the_answer():
    from nbparallel.ksearch.consensus import decide

    # iris (raw) with k=range(2, 10): the answer 5 came second, after the 2 that three criteria picked
    picks = {
        "inertia_knee": 2,
        "silhouette": 2,
        "davies_bouldin": 2,
        "gap": 5,
        "bic": 5,
        "icl": 5,
        "calinski_harabasz": 3,
        "prediction_strength": 3,
    }
    decision = decide(picks, list(range(2, 10)))
    assert decision.best_k == 5
    assert (
        decision.split
        == "5 (gap, bic, icl), 2 (inertia_knee, silhouette, davies_bouldin), 3 (calinski_harabasz, prediction_strength)"
    )


@pytest.mark.parametrize("k", [[2], range(2, 4)])
def test_a_range_that_reaches_the_number_of_distinct_points_is_not_told_to_go_further(k):
    # three distinct points: k = 3 is the most there can be, yet the result said "try k=range(2, 7)"
    X = np.repeat(np.eye(max(k)), 40, axis=0)  # as many distinct rows as the largest k
    res = nbp.choose_k(X, k=k, n_jobs=1, progress=False)
    assert res.best_k == res.k[-1] and res.edge is None
    assert "try k=range" not in res.reason and f"X has only {res.k[-1]} distinct points" in res.reason


def test_no_structure_names_its_tests_as_a_sentence_does():
    from nbparallel.ksearch.consensus import decide

    picks = {"icl": 1, "gap": 1, "prediction_strength": 1, "calinski_harabasz": 7}
    assert (
        "no cluster structure: icl, gap and prediction_strength find no k" in decide(picks, [2, 3, 4, 5, 6, 7]).reason
    )


@pytest.mark.parametrize("size", ["all", 0.5])
def test_a_silhouette_sample_size_that_is_no_count_is_a_clear_error(blobs, size):
    # "all" failed inside int() ("invalid literal for int() with base 10"); 0.5 read as 0 points
    with pytest.raises(ValueError, match="sample_size must be an int, None"):
        nbp.choose_k(blobs, k=range(2, 4), sample_size=size, n_jobs=1, progress=False)
