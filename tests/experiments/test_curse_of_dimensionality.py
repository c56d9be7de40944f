"""What the curse-of-dimensionality claims rest on: the counts, the singular MLE raising (not NaN),
the training sets, and the claim failing for a silent implementation."""

import math

import numpy as np
import pytest

import bayesjax as bj
from experiments.curse_of_dimensionality import Config
from experiments.curse_of_dimensionality.checks import claims
from experiments.curse_of_dimensionality.counts import counts, log10_num_images, text_numbers
from experiments.curse_of_dimensionality.digits import per_class_sets, singular_mle


def test_the_texts_numbers_are_computed():
    t = text_numbers()
    assert (t["d"], t["covariance_entries"], t["logistic_weights"]) == (4096, 8_390_656, 4_097)
    assert t["log10_num_images"] == pytest.approx(24082.3996, abs=1e-4)
    assert t["num_images_scientific"].endswith("e24082")
    assert log10_num_images(2, 2, 10) == pytest.approx(4.0)


@pytest.mark.parametrize("d, k", [(3, 2), (64, 10)])
def test_counts_by_hand(d, k):
    c = counts(d, k)
    assert c["full_covariance_gaussian"] == k * d + k * d * (d + 1) // 2 + k - 1
    assert c["full_covariance_gaussian"] == bj.classifiers.GaussianClassifier.num_parameters(d, k)
    assert c["gaussian_naive_bayes"] == 2 * k * d + k - 1
    assert c["logistic_regression"] == (k - 1) * (d + 1)


def test_singular_mle_raises_and_a_bare_cholesky_is_nan():
    rng = np.random.default_rng(0)
    d = 8
    y = np.repeat(np.arange(2), 5)
    x = rng.normal(size=(10, d)).astype(np.float32)
    m = singular_mle(x, y, 5, d)
    assert "singular" in m["error"] and "InverseWishart" in m["error"]
    assert m["rank"] == 4 and m["bare_cholesky_has_nan"]
    y = np.repeat(np.arange(2), 50)
    x = rng.normal(size=(100, d)).astype(np.float32)
    full = singular_mle(x, y, 50, d)
    assert full["error"] is None and full["rank"] == d and not full["bare_cholesky_has_nan"]


def test_per_class_sets_hold_n_distinct_images_of_each_class():
    y = np.repeat(np.arange(3), 7)
    idx = per_class_sets(np.random.default_rng(1), y, 4, 5, 3)
    assert idx.shape == (5, 12)
    assert all(np.all(np.bincount(y[row], minlength=3) == 4) and len(set(row)) == 12
               for row in idx)


def test_claim_fails_for_a_classifier_that_returns_nan_silently():
    text = text_numbers()
    silent = [{"n": 5, "d": 64, "error": None, "rank": 4, "bare_cholesky_has_nan": True}]
    rng = np.random.default_rng(2)
    sizes = (5, 10)
    losses = {k: [(rng.uniform(size=(20, 300)) < p).astype(float) for p in (0.2, 0.1)]
              for k in ("gaussian_iw", "gaussian_jitter", "gaussian_nb", "logistic")}
    rows, _ = claims(text, silent, losses, sizes, 64)
    assert rows[0]["passed"] and rows[1]["passed"]
    assert not rows[2]["passed"]          # no error raised
    assert not rows[3]["passed"]          # NB no worse than the IW Gaussian here


def test_exact_digit_count_bound():
    assert 10 ** 24082 <= 256 ** 10000 < 10 ** 24083
    assert math.floor(text_numbers()["log10_num_images"]) + 1 == 24083


def test_config_rejects_too_few_sets():
    with pytest.raises(ValueError, match="num_sets"):
        Config(num_sets=1)
