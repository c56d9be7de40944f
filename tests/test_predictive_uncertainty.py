"""The predictive_uncertainty experiment: the smoke run passes its claims, and the closed forms it
tests against are right (each checked against an independent route)."""

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import bayesjax as bj
from experiments import predictive_uncertainty as exp
from experiments.runner import run_experiment

D, N, SIGMA, S = 5, 30, 0.3, 1.0
X = np.random.default_rng(0).uniform(-1.0, 1.0, N)


def _posterior(y=None):
    y = np.zeros(N) if y is None else y
    return bj.Posterior.from_apply(exp.poly, {"w": jnp.zeros(D + 1)},
                                   bj.likelihoods.Gaussian(SIGMA), bj.priors.Gaussian(S),
                                   jnp.asarray(X), jnp.asarray(y))


def test_smoke_run_passes_every_claim(tmp_path):
    metrics, outdir = run_experiment("predictive_uncertainty", smoke=True,
                                     out=tmp_path / "predictive_uncertainty")
    failed = [c for c in metrics["claims"] if not c["passed"]]
    assert not failed, failed
    assert len(metrics["claims"]) == 8
    for name in ("metrics.json", "config.json", "report.md", "blr_predictive.png",
                 "coverage_vs_x.png", "mlp_predictive.png"):
        assert (outdir / name).is_file(), name
    assert json.loads((outdir / "metrics.json").read_text())["claims"] == metrics["claims"]


def test_config_rejects_invalid_values():
    for bad in (dict(degree=0), dict(noise=0.0), dict(prior_scale=-1.0), dict(grid_points=2),
                dict(test_half_width=1.0), dict(mlp_test_half_width=float("inf")),
                dict(num_replicates=1.5), dict(mlp_learning_rate=float("nan"))):
        with pytest.raises(ValueError):
            dataclasses.replace(exp.Config(), **bad)


def test_features_are_the_polynomial_design():
    x = np.array([-2.0, 0.5, 3.0])
    np.testing.assert_array_equal(exp.features(x, 3), np.stack([x**0, x, x**2, x**3], 1))
    w = jnp.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(exp.poly({"w": w}, jnp.asarray(x)), 1.0 - 2.0 * x + 0.5 * x**2,
                               rtol=1e-6)


def test_laplace_is_the_closed_form_posterior(x64):
    """Σ = (ΦᵀΦ/σ² + I/s²)⁻¹ and the GLM epistemic variance φᵀΣφ, against numpy in float64; a
    precision with σ in place of σ² would be far off."""
    post = _posterior()
    lap = bj.laplace(post, post.params)
    prec, cov = exp.closed_form(X, SIGMA, S, D)
    np.testing.assert_allclose(lap.posterior_precision(), prec, rtol=1e-12)
    grid = np.linspace(-1.5, 1.5, 31)
    pred = lap.predictive(jnp.asarray(grid))
    np.testing.assert_allclose(pred.epistemic_var, exp.epistemic_var(grid, cov, D), rtol=1e-10)
    np.testing.assert_allclose(pred.aleatoric_var, SIGMA**2, rtol=1e-12)
    phi = exp.features(X, D)
    wrong = phi.T @ phi / SIGMA + np.eye(D + 1) / S**2
    assert np.max(np.abs(wrong - prec) / np.abs(prec)) > 0.5


def test_newton_step_gives_the_closed_form_mean_for_any_targets(x64):
    post = _posterior()
    lap = bj.laplace(post, post.params)
    chol = jnp.linalg.cholesky(lap.posterior_precision())
    _, cov = exp.closed_form(X, SIGMA, S, D)
    ys = np.random.default_rng(1).normal(size=(4, N))
    mus = jax.vmap(lambda y: exp.posterior_mean(post, post.params, chol, y))(jnp.asarray(ys))
    expected = ys @ exp.features(X, D) @ cov / SIGMA**2   # rows: Σ Φᵀ y / σ²
    np.testing.assert_allclose(mus["w"], expected, rtol=1e-10, atol=1e-12)


def test_plugin_coverage_formula():
    assert exp.plugin_coverage(0.0, SIGMA) == pytest.approx(0.95, abs=1e-9)
    v = 0.5
    rng = np.random.default_rng(2)
    err = rng.normal(0.0, np.sqrt(SIGMA**2 + v), 400_000)
    mc = np.mean(np.abs(err) <= exp.Z * SIGMA)
    p = exp.plugin_coverage(v, SIGMA)
    assert abs(mc - p) < 4 * np.sqrt(p * (1 - p) / err.size)


def test_fixed_w_coverage_matches_a_simulation_and_averages_to_95_percent_over_the_prior():
    """For one w: a numpy simulation of the noise. Over w ~ N(0, s²I): the law of total
    probability makes the average exactly 0.95 at every x (the prior-predictive claim)."""
    rng = np.random.default_rng(3)
    x_test = np.array([-1.4, -0.3, 0.8, 1.5])
    _, cov = exp.closed_form(X, SIGMA, S, D)
    phi, phi_t = exp.features(X, D), exp.features(x_test, D)
    half = exp.Z * np.sqrt(SIGMA**2 + exp.epistemic_var(x_test, cov, D))

    w = rng.normal(0.0, S, D + 1)
    n = 100_000
    y = phi @ w + SIGMA * rng.normal(size=(n, N))
    mu = y @ phi @ cov / SIGMA**2
    y_star = phi_t @ w + SIGMA * rng.normal(size=(n, x_test.size))
    mc = np.mean(np.abs(y_star - mu @ phi_t.T) <= half, axis=0)
    p = exp.fixed_w_coverage(x_test, w, X, SIGMA, S, D)
    assert np.all(np.abs(mc - p) < 4 * np.sqrt(p * (1 - p) / n))

    m = 4000
    cover = np.array([exp.fixed_w_coverage(x_test, wi, X, SIGMA, S, D)
                      for wi in rng.normal(0.0, S, (m, D + 1))])
    assert np.all(np.abs(cover.mean(0) - 0.95) < 4 * cover.std(0) / np.sqrt(m))
    # the shrinkage bias φᵀΣw/s²: for a w far from the prior mean, coverage out of range drops
    big = exp.fixed_w_coverage(np.array([1.5]), 10.0 * np.ones(D + 1), X, SIGMA, S, D)
    assert big[0] < 0.9


def test_out_of_range_points_cover_both_sides():
    x = np.asarray(exp.out_of_range_points(jax.random.key(0), 4000, 1.5))
    assert np.all((np.abs(x) > 1.0) & (np.abs(x) <= 1.5))
    assert 0.45 < np.mean(x > 0) < 0.55


def test_coverage_simulation_compiles_once_and_the_bayesian_interval_covers(x64):
    """Two calls with new draws of the same shapes reuse the compiled program; with w from the
    prior, the Bayesian coverage at a few inputs is 0.95 within its binomial error."""
    post = _posterior()
    lap = bj.laplace(post, post.params)
    x_test = jnp.asarray([-1.4, 0.0, 1.3])
    v = lap.predictive(x_test).epistemic_var
    r = 4000
    before = exp._coverage._cache_size()
    for seed in (0, 1):
        k1, k2 = jax.random.split(jax.random.key(seed))
        ws = S * jax.random.normal(k1, (r, D + 1))
        # two shared test inputs and one per replicate (here the same for all)
        bayes, plug = exp._coverage(post, post.params, lap.posterior_precision(), ws,
                                    jax.random.split(k2, r), x_test[:2], v[:2],
                                    jnp.broadcast_to(x_test[2:], (r, 1)),
                                    jnp.broadcast_to(v[2:], (r, 1)))
        assert bayes.shape == plug.shape == (r, 3)
        cov = np.asarray(bayes, np.float64).mean(0)
        assert np.all(np.abs(cov - 0.95) < 4 * np.sqrt(0.95 * 0.05 / r))
        expected = exp.plugin_coverage(np.asarray(v), SIGMA)
        got = np.asarray(plug, np.float64).mean(0)
        assert np.all(np.abs(got - expected) < 4 * np.sqrt(expected * (1 - expected) / r))
    assert exp._coverage._cache_size() == before + 1
