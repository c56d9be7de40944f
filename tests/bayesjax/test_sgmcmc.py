"""SGLD and SGD iterates on a conjugate Gaussian target: moments within Monte Carlo error."""

import arviz_stats as azs
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import bayesjax as bj

rng = np.random.default_rng(0)
N, SIGMA = 50, 1.0
Y = (1.0 + SIGMA * rng.normal(size=N)).astype(np.float32)
V = 1.0 / (N / SIGMA**2 + 1.0)          # posterior variance of the mean under a N(0, 1) prior
M = V * Y.sum() / SIGMA**2


def _post():
    return bj.Posterior.from_apply(lambda p, x: jnp.broadcast_to(p["mu"], x.shape[:1]),
                                   {"mu": jnp.zeros(())}, bj.likelihoods.Gaussian(SIGMA),
                                   bj.priors.Gaussian(1.0), np.zeros((N, 1), np.float32), Y)


def test_langevin_matches_the_gaussian_posterior():
    eps = 1e-3
    res = bj.sgld(jax.random.key(0), _post(), step_size=eps, num_steps=100_000, thin=10)
    s = np.asarray(res.samples["mu"], np.float64)[500:]   # drop burn-in from 0
    ess = float(azs.ess(s[None, :]))
    # on a quadratic potential the Langevin chain is AR(1) with stationary variance v/(1-ε/4v)
    v_eps = V / (1.0 - eps / (4 * V))
    assert abs(s.mean() - M) < 4 * np.sqrt(v_eps / ess)
    assert abs(s.var() - v_eps) < 4 * v_eps * np.sqrt(2.0 / ess)
    assert res.log_joint.shape == (10_000,)


def test_minibatch_sgld_and_sgd_iterates_run_and_centre_on_the_mode():
    res = bj.sgld(jax.random.key(1), _post(), step_size=1e-3, num_steps=20_000, batch_size=10,
                  thin=20)
    assert res.samples["mu"].shape == (1000,)
    assert abs(float(np.mean(res.samples["mu"][100:])) - M) < 0.05
    it = bj.sgd_iterates(jax.random.key(2), _post(), learning_rate=0.1, num_steps=5000,
                         batch_size=5, thin=5)
    assert abs(float(np.mean(it.samples["mu"][100:])) - M) < 0.05


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(step_size=0.0, num_steps=10), "sgld: step_size must be finite and > 0"),
        (dict(step_size=1e-3, num_steps=0), "num_steps must be an integer >= 1"),
        (dict(step_size=1e-3, num_steps=10, batch_size=N + 1), "exceeds the 50 data points"),
        (dict(step_size=1e-3, num_steps=10, thin=20), "thin=20 exceeds num_steps=10"),
        (dict(step_size=1e-3, num_steps=10, thin=3), "num_steps=10 is not a multiple of thin=3"),
        (dict(step_size=1e-3, num_steps=10, init_params={"nu": jnp.zeros(())}),
         r"sgld: init_params must have the structure and shapes of post.params \(paths \['mu'\]"),
        (dict(step_size=1e-3, num_steps=10, init_params={"mu": jnp.zeros(2)}),
         "sgld: init_params must have the structure and shapes"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        bj.sgld(jax.random.key(0), _post(), **kwargs)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(learning_rate=-1.0), "sgd_iterates: learning_rate must be finite and > 0"),
        (dict(learning_rate=0.1, thin=4), "sgd_iterates: num_steps=10 is not a multiple of thin=4"),
        (dict(learning_rate=0.1, init_params={"mu": jnp.zeros((1, 1))}),
         "sgd_iterates: init_params must have the structure and shapes"),
    ],
)
def test_sgd_iterates_reports_its_own_argument_names(kwargs, match):
    with pytest.raises(ValueError, match=match):
        bj.sgd_iterates(jax.random.key(0), _post(), num_steps=10, batch_size=5, **kwargs)


def test_init_params_is_the_start_and_thinning_keeps_num_steps_over_thin():
    start = {"mu": jnp.asarray(3.0)}
    res = bj.sgd_iterates(jax.random.key(0), _post(), learning_rate=1e-3, num_steps=6,
                          batch_size=None, thin=3, init_params=start)
    # full-batch gradient descent from 3.0: the kept states are steps 3 and 6, both still near 3
    assert res.samples["mu"].shape == (2,)
    g = lambda mu: (Y.sum() - N * mu) / SIGMA**2 - mu      # d log_joint / d mu
    mu = 3.0
    for _ in range(3):
        mu = mu + 1e-3 * g(mu) / N
    np.testing.assert_allclose(res.samples["mu"][0], mu, rtol=1e-5)
