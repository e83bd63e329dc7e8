"""choose_k at the edges: tiny inputs, criteria that cannot be computed for some k, answers at the range's ends."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_iris

import nbparallel as nbp


def test_six_points_answer_and_say_which_k_prediction_strength_left_out():
    # prediction strength fits k clusters on each half (3 points): k = 3 and 4 cannot be
    # computed there, the other criteria still answer
    X = load_iris().data[:6]
    res = nbp.choose_k(X, k=range(2, 5), n_jobs=1, progress=False)
    assert res.k == [2, 3, 4]
    assert np.isnan(res.scores["prediction_strength"][1:]).all()
    assert np.isfinite(res.scores["prediction_strength"][0])
    assert "prediction strength was not computed for k = 3, 4" in res.reason
    assert res.picks["calinski_harabasz"] in (2, 3, 4)


@pytest.mark.parametrize("n", [3, 4, 5, 7])
def test_every_k_below_the_samples_runs_without_crashing(n):
    X = load_iris().data[:n, :1]
    res = nbp.choose_k(X, k=range(1, n), n_jobs=1, progress=False)
    assert res.k == list(range(1, n)) or "distinct points" in (res.reason or "")


def test_prediction_strength_with_no_k_computable_has_no_pick_and_says_why():
    X = load_iris().data[:5]
    res = nbp.choose_k(X, k=range(3, 5), n_jobs=1, progress=False)
    assert res.picks["prediction_strength"] is None
    assert "prediction strength was not computed for k = 3, 4" in res.pick_reasons["prediction_strength"]


def test_fewer_samples_than_the_smallest_k_is_a_clear_error_up_front():
    with pytest.raises(ValueError, match="X has 4 samples, fewer than the smallest k \\(5\\) needs"):
        nbp.choose_k(np.random.default_rng(0).normal(size=(4, 2)), k=range(5, 9), progress=False)


def test_one_sample_is_told_to_bring_more_data_not_an_impossible_k():
    # "pass k below 1" asked for a k that does not exist (every k is at least 1)
    with pytest.raises(ValueError, match="X has 1 samples") as err:
        nbp.choose_k(np.zeros((1, 2)), progress=False)
    assert "k below 1" not in str(err.value) and "at least 2 samples" in str(err.value)
