"""The predictive_uncertainty experiment: the closed forms its claims test against are right (each
checked against an independent route), a wrong implementation fails the claims' criteria, and bad
config values are rejected."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import bayesjax as bj
from bayesjax import conjugate
from experiments.common import stats
from experiments.predictive_uncertainty import Config, claims, coverage, hetero, linear

D, N, SIGMA, S = 5, 30, 0.3, 1.0
X = np.random.default_rng(0).uniform(-1.0, 1.0, N)
PHI = linear.features(X, D)


def _posterior(y=None):
    y = np.zeros(N) if y is None else y
    return bj.Posterior.from_apply(linear.poly, {"w": jnp.zeros(D + 1)},
                                   bj.likelihoods.Gaussian(SIGMA), bj.priors.Gaussian(S),
                                   jnp.asarray(X), jnp.asarray(y))


def _cov():
    """Σ = (ΦᵀΦ/σ² + I/s²)⁻¹ by numpy's inverse: a route independent of the library's."""
    return np.linalg.inv(PHI.T @ PHI / SIGMA**2 + np.eye(D + 1) / S**2)


def test_config_rejects_invalid_values():
    for bad in (dict(degree=0), dict(noise=0.0), dict(prior_scale=-1.0), dict(grid_points=2),
                dict(test_half_width=1.0), dict(mlp_test_half_width=float("inf")),
                dict(num_replicates=1.5), dict(mlp_learning_rate=float("nan")),
                dict(hetero_train=0), dict(hetero_noise_base=0.0), dict(hetero_noise_slope=-0.1),
                dict(hetero_test_half_width=0.5)):
        with pytest.raises(ValueError):
            dataclasses.replace(Config(), **bad)


def test_features_are_the_polynomial_design():
    x = np.array([-2.0, 0.5, 3.0])
    np.testing.assert_array_equal(linear.features(x, 3), np.stack([x**0, x, x**2, x**3], 1))
    w = jnp.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(linear.poly({"w": w}, jnp.asarray(x)), 1.0 - 2.0 * x + 0.5 * x**2,
                               rtol=1e-6)


def test_laplace_equals_the_conjugate_posterior_within_the_claimed_bound(x64):
    """The exactness claim: bj.laplace's precision and GLM predictive equal the conjugate closed
    form (itself checked against numpy's inverse) within κ(P)·(N + d + 1)·u₆₄; a precision with σ
    in place of σ² is far outside that bound."""
    y = np.random.default_rng(4).normal(size=N)
    exact = conjugate.bayesian_linear_regression(PHI, y, noise=SIGMA, prior_scale=S)
    np.testing.assert_allclose(exact.cov, _cov(), rtol=1e-10)
    post = _posterior(y)
    lap = bj.laplace(post, post.params)
    prec = np.asarray(exact.precision)
    bound = np.linalg.cond(prec) * (N + D + 1) * linear.U64
    assert np.max(np.abs(lap.posterior_precision() - prec)) / np.max(np.abs(prec)) <= bound
    grid = np.linspace(-1.5, 1.5, 31)
    pred, ref = lap.predictive(jnp.asarray(grid)), exact.predictive(linear.features(grid, D))
    assert np.max(np.abs(pred.epistemic_var - ref.epistemic_var) / ref.epistemic_var) <= bound
    np.testing.assert_allclose(pred.aleatoric_var, SIGMA**2, rtol=1e-12)
    wrong = PHI.T @ PHI / SIGMA + np.eye(D + 1) / S**2
    assert np.max(np.abs(wrong - prec)) / np.max(np.abs(prec)) > 1e6 * bound


def test_newton_step_lands_on_the_conjugate_mean_from_any_start(x64):
    y = np.random.default_rng(1).normal(size=N)
    post = _posterior(y)
    exact = conjugate.bayesian_linear_regression(PHI, y, noise=SIGMA, prior_scale=S)
    start = {"w": jnp.asarray(np.random.default_rng(5).normal(size=D + 1) * 10.0)}
    prec = bj.laplace(post, start).posterior_precision()
    mode = linear.newton_step(post, start, prec)
    np.testing.assert_allclose(mode["w"], _cov() @ PHI.T @ y / SIGMA**2, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(mode["w"], exact.mean, rtol=1e-9, atol=1e-12)


def test_plugin_coverage_formula():
    assert coverage.plugin_coverage(0.0, SIGMA) == pytest.approx(0.95, abs=1e-9)
    v = 0.5
    err = np.random.default_rng(2).normal(0.0, np.sqrt(SIGMA**2 + v), 400_000)
    p = coverage.plugin_coverage(v, SIGMA)
    assert stats.within(np.mean(np.abs(err) <= coverage.Z95 * SIGMA), p,
                        stats.binomial_se(p, err.size))


def test_fixed_w_coverage_matches_a_simulation_and_averages_to_95_percent_over_the_prior():
    """For one w: a numpy simulation of the noise. Over w ~ N(0, s²I): the law of total
    probability makes the average exactly 0.95 at every x (the prior-predictive claim)."""
    rng = np.random.default_rng(3)
    cov = _cov()
    phi_t = linear.features(np.array([-1.4, -0.3, 0.8, 1.5]), D)
    half = coverage.Z95 * np.sqrt(SIGMA**2 + np.einsum("mi,ij,mj->m", phi_t, cov, phi_t))

    w = rng.normal(0.0, S, D + 1)
    n = 100_000
    y = PHI @ w + SIGMA * rng.normal(size=(n, N))
    mu = y @ PHI @ cov / SIGMA**2
    y_star = phi_t @ w + SIGMA * rng.normal(size=(n, phi_t.shape[0]))
    mc = np.mean(np.abs(y_star - mu @ phi_t.T) <= half, axis=0)
    p = coverage.fixed_w_coverage(phi_t, w, PHI, cov, SIGMA, S)
    assert stats.within(mc, p, stats.binomial_se(p, n))

    cover = coverage.fixed_w_coverage(phi_t, rng.normal(0.0, S, (4000, D + 1)), PHI, cov, SIGMA, S)
    assert cover.shape == (4000, phi_t.shape[0])
    mean, se = stats.mean_se(cover)
    assert stats.within(mean, 0.95, se)
    # the shrinkage bias φᵀΣw/s²: for a w far from the prior mean, coverage out of range drops
    big = coverage.fixed_w_coverage(linear.features(np.array([1.5]), D), 10.0 * np.ones(D + 1),
                                    PHI, cov, SIGMA, S)
    assert big[0] < 0.9


def test_out_of_range_points_cover_both_sides():
    x = np.asarray(linear.out_of_range_points(jax.random.key(0), 4000, 1.5))
    assert np.all((np.abs(x) > 1.0) & (np.abs(x) <= 1.5))
    assert 0.45 < np.mean(x > 0) < 0.55


def test_replicate_coverage_compiles_once_and_only_the_bayesian_interval_covers(x64):
    """Two calls with new draws of the same shapes reuse the compiled program; with w from the
    prior the Bayesian coverage is 0.95 and the plug-in the closed form, within Z s.e.; the
    plug-in (a predictive that forgets φᵀΣφ) fails the 95% criterion out of range."""
    phi_test = linear.features(np.array([-1.4, 0.0, 1.3]), D)
    v = np.einsum("mi,ij,mj->m", phi_test, _cov(), phi_test)
    r = 4000
    se = stats.binomial_se(0.95, r)
    sweep = coverage._replicates(SIGMA, S)
    before = sweep.cache_size()
    for seed in (0, 1):
        k1, k2 = jax.random.split(jax.random.key(seed))
        ws = S * jax.random.normal(k1, (r, D + 1))
        # two shared test inputs and one per replicate (here the same for all)
        bayes, plug = (np.asarray(c) for c in coverage.replicate_coverage(
            jnp.asarray(PHI), ws, jax.random.split(k2, r), jnp.asarray(phi_test[:2]),
            jnp.broadcast_to(phi_test[2:], (r, 1, D + 1)), noise=SIGMA, prior_scale=S))
        assert bayes.shape == plug.shape == (3,)
        assert stats.within(bayes, 0.95, se)
        expected = coverage.plugin_coverage(v, SIGMA)
        assert stats.within(plug, expected, stats.binomial_se(expected, r))
        assert not stats.within(plug[[0, 2]], 0.95, se)
    assert sweep.cache_size() == before + 1


def test_simultaneous_z_spends_one_test_of_the_suite_budget():
    assert coverage.simultaneous_z(1) == pytest.approx(stats.Z)
    z61 = coverage.simultaneous_z(61)
    assert z61 > stats.Z
    from scipy.stats import norm
    assert 61 * 2 * norm.sf(z61) == pytest.approx(stats.ALPHA)


def test_hetero_data_have_the_stated_noise_and_pooled_sigma():
    """The simulated residuals y − sin(3x) have std σ(x) = base + slope·|x| (checked in two bins,
    within 5 s.e. of a sample std, ≈ σ/√(2n)), and ``pooled_noise`` is sqrt(E σ(x)²) for x uniform on
    [-1, 1] (numerical integration)."""
    base, slope = 0.05, 0.2
    x, y, *_ = hetero.draws(jax.random.key(0), 40_000, 2, base, slope)
    x, r = np.asarray(x[:, 0], np.float64), np.asarray(y, np.float64) - np.sin(3.0 * np.asarray(x[:, 0]))
    for lo, hi in ((0.0, 0.1), (0.9, 1.0)):
        sel = (np.abs(x) >= lo) & (np.abs(x) < hi)
        expected = np.sqrt(np.mean((base + slope * np.abs(x[sel])) ** 2))
        assert abs(r[sel].std() - expected) <= 5 * expected / np.sqrt(2 * sel.sum())
    grid = np.linspace(-1.0, 1.0, 200_001)
    pooled = np.sqrt(np.trapezoid((base + slope * np.abs(grid)) ** 2, grid) / 2.0)
    assert hetero.pooled_noise(base, slope) == pytest.approx(pooled, rel=1e-9)


def _hetero_result(aleatoric_of_sd, lpd_gain=0.1):
    """A HeteroResult whose learned noise is ``aleatoric_of_sd(true σ)`` (variance), with an
    epistemic std 0.02 in range and 0.5 out of range, and per-point log densities that differ by
    ``lpd_gain`` nats plus noise of sd 0.5 (a paired z of about 9 for a gain of 0.1)."""
    grid = np.linspace(-2.0, 2.0, 201)
    sd = 0.05 + 0.2 * np.abs(grid)
    epi = np.where(np.abs(grid) <= 1.0, 0.02, 0.5) ** 2
    rng = np.random.default_rng(0)
    lpd_homo = rng.normal(size=2000)
    z = np.zeros(0)
    return hetero.HeteroResult(
        x=z, y=z, grid=grid, mean=np.zeros_like(grid), aleatoric=aleatoric_of_sd(sd),
        epistemic=epi, true_sd=sd, homo_mean=np.zeros_like(grid), homo_epistemic=epi,
        homo_noise=0.16, lpd_het=lpd_homo + lpd_gain + 0.5 * rng.normal(size=2000), lpd_homo=lpd_homo,
        grad_norm={}, num_params=0, width=16, base=0.05, slope=0.2, prior_scale=1.0, steps=1,
        half_width=2.0)


def test_hetero_claims_fail_for_wrong_aleatoric_variances():
    """The right variance σ² passes; a constant (homoscedastic) noise, a log-variance read as a
    log-std (σ in place of σ²) and a noise that ignores the data all fail; an LPD gain of 0 fails."""
    def passed(res):
        return [c["passed"] for c in claims.hetero_claims(res)]

    assert passed(_hetero_result(np.square)) == [True, True]
    for wrong in (lambda sd: np.full_like(sd, 0.16**2),      # homoscedastic
                  lambda sd: sd,                            # σ read as σ²
                  lambda sd: np.square(sd) * 4.5):          # 2.1× the std everywhere
        assert passed(_hetero_result(wrong))[0] is False
    assert passed(_hetero_result(np.square, lpd_gain=0.0))[1] is False
