"""What the learning-curve claims rest on: the stacked logistic fits are the single fits, the
padding changes nothing, the crossover and the standard errors are computed as stated, and the
claims fail for curves that do not cross."""

import jax
import numpy as np
import pytest

import bayesjax as bj
from experiments.common import logistic
from experiments.common.curves import Curve, difference
from experiments.common.logistic import fit_splits, pad_sets
from experiments.generative_vs_discriminative import Config
from experiments.generative_vs_discriminative.checks import claims
from experiments.generative_vs_discriminative.curves import (
    crossover,
    pooled_difference,
    stratified_subsets,
)
from experiments.generative_vs_discriminative.simulate import expand, make_problem, reference_errors, sample


def _sets(seed, s, m, d=3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(s, m, d)).astype(np.float32)
    y = (x[..., 0] + rng.normal(size=(s, m)) > 0).astype(np.int32)
    return x, y


def test_stacked_fit_is_the_single_fits():
    """The sweep of fit_map over the sets equals one fit_map per set; new sets of the same shapes
    reuse the compiled sweep."""
    x, y = _sets(0, 3, 20)
    fits = fit_splits(jax.random.key(0), x, y, num_classes=2, prior_scale=1.0, num_steps=300,
                      learning_rate=0.05)
    chunk = logistic.sweep.batch_size_for(np.zeros((3, 20, 4), np.float32),
                                          np.zeros((3, 20), np.float32))
    compiled = logistic._fitter(300, 0.05, None, chunk).cache_size()
    fit_splits(jax.random.key(1), *_sets(1, 3, 20), num_classes=2, prior_scale=1.0, num_steps=300,
               learning_rate=0.05)
    assert logistic._fitter(300, 0.05, None, chunk).cache_size() == compiled == 1
    lin = lambda p, xx: xx @ p["w"] + p["b"]  # noqa: E731
    for s in range(3):
        post = bj.Posterior.from_apply(lin, {"w": np.zeros(3, np.float32),
                                             "b": np.zeros((), np.float32)},
                                       bj.likelihoods.Bernoulli(), bj.priors.Gaussian(1.0),
                                       x[s], y[s].astype(np.float32))
        one = bj.fit_map(jax.random.key(0), post, num_steps=300, learning_rate=0.05)
        np.testing.assert_allclose(fits.w[s, :, 0], one.params["w"], atol=1e-5)
        np.testing.assert_allclose(fits.b[s, 0], one.params["b"], atol=1e-5)


@pytest.mark.parametrize("num_classes", [2, 3])
def test_padding_does_not_move_the_map(num_classes):
    xa, ya = _sets(1, 2, 12)
    xb, yb = _sets(2, 2, 30)
    ya, yb = ya * (num_classes - 1), yb * (num_classes - 1)
    x, y, mask = pad_sets([(xa, ya), (xb, yb)])
    assert x.shape == (4, 30, 3) and mask[:2, 12:].sum() == 0 and mask.sum() == 2 * 12 + 2 * 30
    kw = dict(num_classes=num_classes, prior_scale=1.0, num_steps=1500, learning_rate=0.05)
    padded = fit_splits(jax.random.key(0), x, y, mask=mask, **kw)
    alone = fit_splits(jax.random.key(0), xa, ya, **kw)
    # the same maximiser (the objective is rescaled by 12/30, so compare converged fits)
    np.testing.assert_allclose(padded.w[:2], alone.w, atol=2e-3)
    np.testing.assert_allclose(padded.b[:2], alone.b, atol=2e-3)


def test_crossover_interpolates_in_log_m_and_is_nan_without_a_sign_change():
    sizes = np.array([4, 8, 16, 32])
    assert crossover(sizes, [-0.2, -0.1, 0.1, 0.2]) == pytest.approx(np.sqrt(8 * 16))
    assert crossover(sizes, [-0.3, 0.1, -0.1, 0.2]) == pytest.approx(
        np.exp(np.log(16) + np.log(2) / 3))  # the last change of sign, t = 0.1 / 0.3
    assert np.isnan(crossover(sizes, [0.1, 0.2, 0.3, 0.4]))
    assert np.isnan(crossover(sizes, [-0.1, -0.2, 0.3, -0.4]))


def _curve(rng, means, s=40, n=500):
    set_error = tuple(np.clip(mu + 0.01 * rng.normal(size=s), 0, 1) for mu in means)
    point = (rng.uniform(size=(len(means), n)) < np.array(means)[:, None]).astype(float)
    return Curve(np.array([4, 16, 64, 256][:len(means)]), set_error, point)


def test_difference_adds_the_set_and_test_point_variances():
    rng = np.random.default_rng(3)
    a, b = _curve(rng, [0.3, 0.2]), _curve(rng, [0.25, 0.22])
    mean, se = difference(a, b)
    d0 = a.set_error[0] - b.set_error[0]
    p0 = a.point_loss[0] - b.point_loss[0]
    assert mean[0] == pytest.approx(d0.mean())
    assert se[0] == pytest.approx(np.sqrt(d0.var(ddof=1) / 40 + p0.var(ddof=1) / 500))
    pm, pse = pooled_difference(a, b, [0, 1])
    assert pm == pytest.approx(mean.mean()) and pse < np.sqrt(np.sum(se ** 2))


def test_claims_fail_when_naive_bayes_never_wins():
    rng = np.random.default_rng(4)
    lr = _curve(rng, [0.3, 0.2, 0.1, 0.05])
    nb = Curve(lr.sizes, tuple(e + 0.05 for e in lr.set_error),
               np.maximum(lr.point_loss, rng.uniform(size=lr.point_loss.shape) < 0.05))
    real = {"breast_cancer": {"nb": nb, "lr": lr}}
    rows, summary = claims(nb, lr, real, rng, 50, 1)
    passed = {r["statement"].split(":")[0]: r["passed"] for r in rows}
    assert not rows[0]["passed"] and rows[1]["passed"] and not rows[2]["passed"]
    assert np.isnan(summary["simulated"]["crossover"]) and len(passed) >= 2


def test_duplicated_features_cost_naive_bayes_even_with_the_true_theta():
    problem = make_problem(num_unique=20, num_duplicated=2, copies=5, base_min=0.05,
                           base_max=0.4, effect_min=0.3, effect_max=1.0)
    strongest = np.argsort(-np.abs(np.log(problem.theta[1] / problem.theta[0])))[:2]
    assert sorted(np.flatnonzero(problem.copies)) == sorted(strongest)
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 20000)
    x = sample(rng, problem, y)
    assert x.shape == (20000, 30)
    first = np.concatenate([[0], np.cumsum(1 + problem.copies)[:-1]])
    np.testing.assert_array_equal(expand(problem, x[:, first]), x)
    ref = reference_errors(problem, x, y)
    assert ref["naive_bayes_limit"] > ref["bayes"] + 0.01


def test_stratified_subsets_keep_both_classes():
    y = np.array([0] * 30 + [1] * 10)
    idx = stratified_subsets(np.random.default_rng(0), y, 4, 50)
    assert idx.shape == (50, 4) and np.all(y[idx].sum(1) == 1)
    assert all(len(set(row)) == 4 for row in idx)
    with pytest.raises(ValueError, match="exceeds the pool"):
        stratified_subsets(np.random.default_rng(0), y, 41, 2)


def test_config_rejects_too_few_sets():
    with pytest.raises(ValueError, match="num_sets must be >= 30"):
        Config(num_sets=10)
    with pytest.raises(ValueError, match="claim_small"):
        Config(claim_small=512)
