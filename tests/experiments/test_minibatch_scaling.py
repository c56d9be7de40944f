"""minibatch_scaling: the correct mean loss is the library's unbiased estimate, the wrong one is
the correct loss of an N-times-more-precise prior, the two sampled tests hold for unbiased noise
and catch a bias at the suite's level, the data are the suite's protocol, and bad configs are
rejected."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import bayesjax as bj
from experiments import minibatch_scaling as ms
from experiments.common import stats
from experiments.common.data import load
from experiments.minibatch_scaling.significance import fixed_point_test, unbiasedness_test
from experiments.minibatch_scaling.training import logits, mean_loss
from experiments.runner import run_experiment


def _posterior(scale, dtype):
    d = load("breast_cancer", test_fraction=0.0)
    x, y = d.x_train, d.y_train
    init = {"w": jnp.zeros(x.shape[1], dtype), "b": jnp.zeros((), dtype)}
    return bj.Posterior.from_apply(logits, init, bj.likelihoods.Bernoulli(),
                                   bj.priors.Gaussian(scale), x.astype(dtype), y.astype(dtype))


def test_data_are_breast_cancer_standardised_over_all_569_points():
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    d = load("breast_cancer", test_fraction=0.0)
    assert d.x_train.shape == (ms.NUM_DATA, 30) and d.x_test.shape == (0, 30)
    np.testing.assert_array_equal(d.x_train, ((x - x.mean(0)) / x.std(0)).astype(np.float32))
    np.testing.assert_array_equal(d.y_train, y)


def test_wrong_run_is_as_far_as_the_gap_between_the_maps(tmp_path):
    """The wrong run's distance to the MAP is the distance between the two MAPs, and the correct
    run is far closer than that (the smoke test over the registry checks the claims; two runs
    and few estimates suffice here)."""
    metrics, _ = run_experiment("minibatch_scaling", smoke=True, out=tmp_path / "mbs",
                                overrides=["num_runs=2", "num_estimates=100"])
    assert metrics["num_data"] == ms.NUM_DATA
    assert metrics["wrong_vs_map"]["rel_dist_run0"] == pytest.approx(metrics["gap_rel"], rel=0.05)
    assert metrics["correct"]["rel_dist_run0"] < 0.05 * metrics["gap_rel"]
    assert sum(c["sampled_tests"] for c in metrics["claims"]) == 5


def test_correct_mean_loss_is_scaled_log_joint_estimate(x64):
    """N · (mean BCE + penalty/N) = -log_joint_estimate + const, the const being the prior's
    normaliser: the user's loss with the /N is the library's unbiased estimate."""
    post = _posterior(0.7, jnp.float64)
    n = post.num_data
    const = float(post.prior.log_prob(post.params) + post.prior.penalty(post.params))
    keys = jax.random.split(jax.random.key(0), 5)
    for k in keys:
        kp, kb, ki = jax.random.split(k, 3)
        theta = {"w": jax.random.normal(kp, (30,), jnp.float64),
                 "b": jax.random.normal(kb, (), jnp.float64)}
        idx = jax.random.choice(ki, n, (17,), replace=False)
        loss = mean_loss(theta, post.x[idx], post.y[idx], post.prior, 1.0 / n)
        np.testing.assert_allclose(n * float(loss), -float(post.log_joint_estimate(theta, idx))
                                   + const, rtol=1e-12)


def test_wrong_loss_is_correct_loss_of_n_times_precise_prior(x64):
    """mean BCE + penalty_s = mean BCE + penalty_{s/√N} / N, for every θ and batch."""
    post = _posterior(1.3, jnp.float64)
    n = post.num_data
    prior_n = bj.priors.Gaussian(1.3 / math.sqrt(n))
    k1, k2 = jax.random.split(jax.random.key(1))
    theta = {"w": jax.random.normal(k1, (30,), jnp.float64), "b": jnp.asarray(0.4, jnp.float64)}
    idx = jax.random.randint(k2, (32,), 0, n)
    wrong = mean_loss(theta, post.x[idx], post.y[idx], post.prior, 1.0)
    correct_n = mean_loss(theta, post.x[idx], post.y[idx], prior_n, 1.0 / n)
    np.testing.assert_allclose(float(wrong), float(correct_n), rtol=1e-12)
    # precision × N
    np.testing.assert_allclose(float(prior_n.precision), n * float(post.prior.precision),
                               rtol=1e-12)


def test_fixed_point_test_detects_bias_and_accepts_noise():
    rng = np.random.default_rng(0)
    target = rng.normal(size=31)
    sigma = 1e-3
    noisy = target + sigma * rng.normal(size=(16, 31))
    res = fixed_point_test(noisy, target, solver_bound=0.0)
    # SE of the mean of 16 isotropic draws: sigma·sqrt(31/16) before dividing by ‖target‖
    expected_se = sigma * math.sqrt(31 / 16) / np.linalg.norm(target)
    assert res["se_rel"] == pytest.approx(expected_se, rel=0.2)
    assert res["rel_dist_mean"] <= res["tolerance"]
    assert res["false_alarm_max"] == pytest.approx(stats.ALPHA, rel=1e-6)
    biased = noisy + 10 * sigma  # a bias of ~13 SE of the mean along every coordinate
    res_b = fixed_point_test(biased, target, solver_bound=0.0)
    assert res_b["rel_dist_mean"] > res_b["tolerance"]


def test_fixed_point_test_worst_case_noise_along_one_direction():
    """All the noise along one axis: the statistic is |t_15|, so its (1 − α) quantile is the
    threshold — a bias of 2k SE is caught, 0.5k SE is not."""
    rng = np.random.default_rng(2)
    target = np.ones(31)
    u = np.eye(31)[0]
    noise = rng.normal(size=(16, 1)) * u
    noise -= noise.mean(0)  # mean exactly 0, SE from the spread
    k = stats.t_threshold(16)
    se = np.linalg.norm(stats.mean_se(noise, axis=0)[1])
    for shift, caught in ((2.0 * k, True), (0.5 * k, False)):
        res = fixed_point_test(target + noise + shift * se * u, target, solver_bound=0.0)
        assert (res["rel_dist_mean"] > res["tolerance"]) == caught


def test_unbiasedness_test_z_score():
    rng = np.random.default_rng(1)
    est = 5.0 + rng.normal(size=100_000)
    ok, biased = unbiasedness_test(est, 5.0), unbiasedness_test(est, 5.05)
    assert ok["within"] and abs(ok["z"]) < stats.Z
    assert not biased["within"] and biased["z"] < -stats.Z


def test_config_rejects_invalid_values():
    with pytest.raises(ValueError, match="prior_scale"):
        ms.Config(prior_scale=0.0)
    with pytest.raises(ValueError, match="num_runs"):
        ms.Config(num_runs=1)
    with pytest.raises(ValueError, match="learning_rate"):
        ms.Config(learning_rate=float("nan"))
    with pytest.raises(ValueError, match="batch_size"):
        ms.Config(batch_size=0)
    with pytest.raises(ValueError, match="batch_size"):
        ms.Config(batch_size=ms.NUM_DATA + 1)
