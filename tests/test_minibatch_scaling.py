import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import bayesjax as bj
from experiments import minibatch_scaling as ms
from experiments.runner import run_experiment


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    return run_experiment("minibatch_scaling", smoke=True,
                          out=tmp_path_factory.mktemp("mbs") / "minibatch_scaling")


def test_smoke_claims_pass_and_outputs_exist(smoke_run):
    metrics, out = smoke_run
    failed = [c["statement"] for c in metrics["claims"] if not c["passed"]]
    assert not failed, failed
    assert len(metrics["claims"]) == 4
    names = {p.name for p in out.iterdir()}
    assert {"metrics.json", "config.json", "report.md", "minibatch_scaling.png"} <= names
    # the wrong run is far from the MAP and the gap is the one between the two MAPs
    assert metrics["wrong_vs_map"]["rel_dist_run0"] == pytest.approx(metrics["gap_rel"], rel=0.05)
    assert metrics["correct"]["rel_dist_run0"] < 0.05 * metrics["gap_rel"]


def test_same_seed_same_metrics(smoke_run, tmp_path):
    _, a = smoke_run
    _, b = run_experiment("minibatch_scaling", smoke=True, out=tmp_path / "b")
    assert (a / "metrics.json").read_bytes() == (b / "metrics.json").read_bytes()
    assert json.loads((b / "metrics.json").read_text())["num_data"] == 569


def _posterior(scale, dtype):
    x, y = ms.load_data()
    init = {"w": jnp.zeros(x.shape[1], dtype), "b": jnp.zeros((), dtype)}
    return bj.Posterior.from_apply(ms.logits, init, bj.likelihoods.Bernoulli(),
                                   bj.priors.Gaussian(scale), x.astype(dtype), y.astype(dtype))


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
        loss = ms.mean_loss(theta, post.x[idx], post.y[idx], post.prior, 1.0 / n)
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
    wrong = ms.mean_loss(theta, post.x[idx], post.y[idx], post.prior, 1.0)
    correct_n = ms.mean_loss(theta, post.x[idx], post.y[idx], prior_n, 1.0 / n)
    np.testing.assert_allclose(float(wrong), float(correct_n), rtol=1e-12)
    # precision × N
    np.testing.assert_allclose(float(prior_n.precision), n * float(post.prior.precision),
                               rtol=1e-12)


def test_fixed_point_test_detects_bias_and_accepts_noise():
    rng = np.random.default_rng(0)
    target = rng.normal(size=31)
    sigma = 1e-3
    noisy = target + sigma * rng.normal(size=(16, 31))
    res = ms.fixed_point_test(noisy, target, solver_bound=0.0)
    # SE of the mean of 16 isotropic draws: sigma·sqrt(31/16) before dividing by ‖target‖
    expected_se = sigma * math.sqrt(31 / 16) / np.linalg.norm(target)
    assert res["se_rel"] == pytest.approx(expected_se, rel=0.2)
    assert res["rel_dist_mean"] <= res["tolerance"]
    biased = noisy + 10 * sigma
    res_b = ms.fixed_point_test(biased, target, solver_bound=0.0)
    assert res_b["rel_dist_mean"] > res_b["tolerance"]
    # the worst-case false-alarm probability is the two-sided t tail at 4 SE
    assert 1e-4 < res["false_alarm_max"] < 2e-3


def test_unbiasedness_test_z_score():
    rng = np.random.default_rng(1)
    est = 5.0 + rng.normal(size=100_000)
    assert abs(ms.unbiasedness_test(est, 5.0)["z"]) < 4
    assert ms.unbiasedness_test(est, 5.05)["z"] < -4


def test_config_rejects_invalid_values():
    with pytest.raises(ValueError, match="prior_scale"):
        ms.Config(prior_scale=0.0)
    with pytest.raises(ValueError, match="num_runs"):
        ms.Config(num_runs=1)
    with pytest.raises(ValueError, match="learning_rate"):
        ms.Config(learning_rate=float("nan"))
    with pytest.raises(ValueError, match="batch_size"):
        ms.Config(batch_size=0)


def test_batch_larger_than_data_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="batch_size"):
        ms.run(ms.Config(batch_size=1000), tmp_path)
