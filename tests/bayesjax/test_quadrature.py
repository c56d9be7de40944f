"""Midpoint quadrature against closed forms, with tolerances from the midpoint rule's error bound
``|∫g − h Σ g(mid)| ≤ Σ_axes (volume) h_i² max|∂²g/∂θ_i²| / 24``."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import bayesjax as bj
from bayesjax import conjugate, quadrature


def _bound(g, bounds, num_points, fine=4001):
    """The midpoint-rule error bound of ∫g over the box, max|g''| found on a fine grid per axis
    (all other coordinates on the same fine grid)."""
    axes = [np.linspace(lo, hi, fine if len(bounds) == 1 else 801) for lo, hi in bounds]
    mesh = np.meshgrid(*axes, indexing="ij")
    vals = g(*mesh)
    vol = np.prod([hi - lo for lo, hi in bounds])
    total = 0.0
    for i, ((lo, hi), n) in enumerate(zip(bounds, num_points, strict=True)):
        d2 = np.gradient(np.gradient(vals, axes[i], axis=i), axes[i], axis=i)
        total += vol * ((hi - lo) / n) ** 2 * np.abs(d2).max() / 24.0
    return 1.1 * total  # 10% margin for the finite-difference estimate of max|g''|


def _normalised_tol(bound_g, bound_z, z, expect):
    """Bound on |Ĝ/Ẑ − G/Z| given |Ĝ − G| ≤ bound_g and |Ẑ − Z| ≤ bound_z."""
    return (bound_g + abs(expect) * bound_z) / (z - bound_z)


def test_gaussian_1d(x64):
    mu, s = 0.3, 0.8
    bounds, n = ((mu - 9 * s, mu + 11 * s),), (400,)
    q = quadrature.grid(lambda t: -0.5 * ((t[0] - mu) / s) ** 2, bounds, n)
    z = s * math.sqrt(2 * math.pi)
    f = lambda t: np.exp(-0.5 * ((t - mu) / s) ** 2)
    bz = _bound(f, bounds, n)
    assert abs(float(q.log_normalizer) - math.log(z)) <= bz / z
    np.testing.assert_allclose(q.mean[0], mu, atol=_normalised_tol(_bound(lambda t: t * f(t), bounds, n),
                                                                   bz, z, mu))
    np.testing.assert_allclose(q.cov[0, 0], s**2, atol=_normalised_tol(
        _bound(lambda t: (t - mu) ** 2 * f(t), bounds, n), bz, z, s**2) + 1e-12)
    np.testing.assert_allclose(float(jnp.sum(q.probs)), 1.0, rtol=1e-12)
    np.testing.assert_allclose(q.density, stats.norm.pdf(np.asarray(q.points[:, 0]), mu, s),
                               atol=bz / z / s)
    assert q.axes[0].shape == (400,) and q.points.shape == (400, 1)
    np.testing.assert_allclose(q.cell_volume, 20 * s / 400, rtol=1e-14)
    # the midpoint rule on an analytic, rapidly decaying density is far better than its bound
    assert abs(float(q.log_normalizer) - math.log(z)) < 1e-12


def test_gaussian_1d_float32_and_chunking():
    q = quadrature.grid(lambda t: -0.5 * jnp.sum(t**2), ((-8.0, 8.0),), 1001)
    assert q.log_density.dtype == jnp.float32
    np.testing.assert_allclose(q.log_normalizer, 0.5 * math.log(2 * math.pi), atol=1e-5)
    small = quadrature.grid(lambda t: -0.5 * jnp.sum(t**2), ((-8.0, 8.0),), 1001, chunk_size=64)
    np.testing.assert_array_equal(small.log_density, q.log_density)


def test_correlated_gaussian_2d(x64):
    mean = np.array([0.5, -1.0])
    cov = np.array([[1.0, 0.6], [0.6, 0.5]])
    prec = np.linalg.inv(cov)
    sd = np.sqrt(np.diag(cov))
    bounds = tuple((m - 9 * s, m + 10 * s) for m, s in zip(mean, sd, strict=True))
    n = (240, 260)

    def log_f(t):
        d = t - mean
        return -0.5 * d @ prec @ d

    q = quadrature.grid(log_f, bounds, n, chunk_size=10000)
    assert q.points.shape == (240 * 260, 2) and q.axes[1].shape == (260,)
    z = 2 * math.pi * math.sqrt(np.linalg.det(cov))

    def f(x, y):
        dx, dy = x - mean[0], y - mean[1]
        return np.exp(-0.5 * (prec[0, 0] * dx**2 + 2 * prec[0, 1] * dx * dy + prec[1, 1] * dy**2))

    bz = _bound(f, bounds, n)
    assert abs(float(q.log_normalizer) - math.log(z)) <= bz / z
    for i in range(2):
        bg = _bound(lambda x, y, i=i: (x, y)[i] * f(x, y), bounds, n)
        np.testing.assert_allclose(q.mean[i], mean[i], atol=_normalised_tol(bg, bz, z, mean[i]))
        for j in range(2):
            bg = _bound(lambda x, y, i=i, j=j: ((x, y)[i] - mean[i]) * ((x, y)[j] - mean[j]) * f(x, y),
                        bounds, n)
            np.testing.assert_allclose(q.cov[i, j], cov[i, j],
                                       atol=_normalised_tol(bg, bz, z, cov[i, j]) + 1e-12)
    np.testing.assert_allclose(q.cov, cov, atol=1e-10)   # the actual error: spectrally small


def test_two_bowl_basin_masses(x64):
    w, (m0, s0), (m1, s1) = 0.3, (-2.0, 0.5), (2.0, 0.7)
    log_p = lambda t: jnp.logaddexp(jnp.log(w) + jax.scipy.stats.norm.logpdf(t[0], m0, s0),
                                    jnp.log1p(-w) + jax.scipy.stats.norm.logpdf(t[0], m1, s1))
    bounds, n = ((-8.0, 8.0),), (1600,)     # h = 0.01: the barrier 0 is a cell boundary
    q = quadrature.grid(log_p, bounds, n)
    labels = (q.points[:, 0] > 0).astype(jnp.int32)
    masses = q.masses(labels, 2)
    left = w * stats.norm.cdf(0.0, m0, s0) + (1 - w) * stats.norm.cdf(0.0, m1, s1)
    pdf = lambda t: w * stats.norm.pdf(t, m0, s0) + (1 - w) * stats.norm.pdf(t, m1, s1)
    tol = _bound(pdf, ((-8.0, 0.0),), (800,)) + 1e-12
    np.testing.assert_allclose(masses, [left, 1 - left], atol=tol)
    np.testing.assert_allclose(q.log_normalizer, 0.0, atol=2 * tol)
    np.testing.assert_allclose(q.histogram(jnp.array([-8.0, 0.0, 8.0])), masses, rtol=1e-12)
    hist = q.histogram(jnp.linspace(-8.0, 8.0, 17))          # 16 bins of 100 cells each
    np.testing.assert_allclose(hist, np.diff(w * stats.norm.cdf(np.linspace(-8, 8, 17), m0, s0)
                                             + (1 - w) * stats.norm.cdf(np.linspace(-8, 8, 17), m1, s1)),
                               atol=tol)
    np.testing.assert_allclose(q.histogram(jnp.array([-20.0, -8.0])), [0.0])   # no cell inside


def test_two_bowl_basin_masses_2d(x64):
    means = np.array([[-2.0, 0.5], [2.5, -0.5]])
    scales = np.array([0.6, 0.8])
    log_p = lambda t: jnp.logaddexp(
        jnp.log(0.4) + jnp.sum(jax.scipy.stats.norm.logpdf(t, means[0], scales[0])),
        jnp.log(0.6) + jnp.sum(jax.scipy.stats.norm.logpdf(t, means[1], scales[1])))
    q = quadrature.grid(log_p, ((-8.0, 8.0), (-7.0, 7.0)), (320, 140))
    masses = q.masses((q.points[:, 0] > 0).astype(jnp.int32), 2)
    left = 0.4 * stats.norm.cdf(0.0, -2.0, 0.6) + 0.6 * stats.norm.cdf(0.0, 2.5, 0.8)
    np.testing.assert_allclose(masses, [left, 1 - left], atol=1e-6)


def test_from_posterior_matches_normal_known_variance(x64):
    rng = np.random.default_rng(1)
    y = 1.0 + 0.5 * rng.normal(size=20)
    post = bj.Posterior.from_apply(lambda p, x: jnp.broadcast_to(p["mu"], x.shape[:1]),
                                   {"mu": jnp.zeros(())}, bj.likelihoods.Gaussian(0.5),
                                   bj.priors.Gaussian(2.0), np.zeros((20, 1)), y)
    ref = conjugate.normal_known_variance(y, noise=0.5, prior_scale=2.0)
    sd = math.sqrt(float(ref.var))
    q = quadrature.from_posterior(post, ((float(ref.mean) - 10 * sd, float(ref.mean) + 10 * sd),), 500)
    np.testing.assert_allclose(q.mean[0], ref.mean, rtol=1e-10)
    np.testing.assert_allclose(q.cov[0, 0], ref.var, rtol=1e-9)
    np.testing.assert_allclose(q.log_normalizer, ref.log_marginal_likelihood, rtol=1e-10)


def test_from_posterior_2d_matches_blr(x64):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(15, 2))
    y = x @ np.array([0.7, -0.4]) + 0.3 * rng.normal(size=15)
    post = bj.Posterior.from_apply(lambda p, x: p["a"] * x[:, 0] + p["b"] * x[:, 1],
                                   {"a": jnp.zeros(()), "b": jnp.zeros(())},
                                   bj.likelihoods.Gaussian(0.3), bj.priors.Gaussian(1.0), x, y)
    ref = conjugate.bayesian_linear_regression(x, y, noise=0.3, prior_scale=1.0)
    sd = np.sqrt(np.diag(ref.cov))
    bounds = tuple((float(m - 10 * s), float(m + 10 * s)) for m, s in zip(ref.mean, sd, strict=True))
    q = quadrature.from_posterior(post, bounds, 300)
    np.testing.assert_allclose(q.mean, ref.mean, rtol=1e-9)
    np.testing.assert_allclose(q.cov, ref.cov, rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(q.log_normalizer, ref.log_marginal_likelihood, rtol=1e-10)


@pytest.mark.parametrize("call, match", [
    (lambda: quadrature.grid(lambda t: -jnp.inf * jnp.sum(t**2) - jnp.inf, ((-1.0, 1.0),), 10),
     "not finite"),
    (lambda: quadrature.grid(lambda t: jnp.where(t[0] > 0, jnp.nan, 0.0), ((-1.0, 1.0),), 10), "not finite"),
    (lambda: quadrature.grid(lambda t: t, ((-1.0, 1.0),), 10), "scalar"),
    (lambda: quadrature.grid(lambda t: t[0], ((1.0, -1.0),), 10), "lo < hi"),
    (lambda: quadrature.grid(lambda t: t[0], ((-1.0, np.inf),), 10), "finite"),
    (lambda: quadrature.grid(lambda t: t[0], ((0, 1), (0, 1), (0, 1)), 10), "1 or 2"),
    (lambda: quadrature.grid(lambda t: t[0], ((0, 1),), 0), "num_points"),
    (lambda: quadrature.grid(lambda t: t[0], ((0, 1), (0, 1)), (3,)), "num_points"),
    (lambda: quadrature.grid(lambda t: t[0], "bad", 3), "bounds"),
    (lambda: quadrature.grid(lambda t: t[0], ((0, 1),), 4).masses(jnp.array([0, 1, 2, 3]), 3), "labels"),
    (lambda: quadrature.grid(lambda t: t[0], ((0, 1),), 4).masses(jnp.zeros(3, jnp.int32), 2), "labels"),
    (lambda: quadrature.grid(lambda t: t[0], ((0, 1),), 4).masses(jnp.zeros(4), 2), "integers"),
    (lambda: quadrature.grid(lambda t: t[0], ((0, 1),), 4).histogram(jnp.array([0.5, 0.2])), "increasing"),
    (lambda: quadrature.grid(lambda t: t[0], ((0, 1), (0, 1)), 4).histogram(jnp.array([0.0, 1.0])), "1-D"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_from_posterior_rejects_too_many_parameters():
    post = bj.Posterior.from_apply(lambda p, x: x @ p["w"], {"w": jnp.zeros(3)},
                                   bj.likelihoods.Gaussian(1.0), bj.priors.Gaussian(1.0),
                                   np.ones((4, 3)), np.ones(4))
    with pytest.raises(ValueError, match="3 scalar parameters"):
        quadrature.from_posterior(post, ((0, 1),), 10)
    one = post.replace(params={"w": jnp.zeros(1)}, x=np.ones((4, 1)))
    with pytest.raises(ValueError, match="bounds has 2"):
        quadrature.from_posterior(one, ((0, 1), (0, 1)), 10)
