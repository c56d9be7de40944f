"""Conjugate posteriors against independent routes: numerical integration of likelihood × prior,
scipy.stats, brute-force sums and dense linear algebra."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, special, stats

import bayesjax as bj
from bayesjax import conjugate

rng = np.random.default_rng(0)


def _moments_by_quad(log_unnorm, lo, hi, points=()):
    """Z, mean, var of exp(log_unnorm) on [lo, hi] by adaptive quadrature (shifted by a max)."""
    grid = np.linspace(lo, hi, 2003)[1:-1]
    shift = max(log_unnorm(t) for t in grid)
    f = lambda t, k: t**k * math.exp(log_unnorm(t) - shift)
    kw = dict(points=list(points) or None, limit=200, epsabs=0.0, epsrel=1e-12)
    z = integrate.quad(f, lo, hi, args=(0,), **kw)[0]
    m = integrate.quad(f, lo, hi, args=(1,), **kw)[0] / z
    m2 = integrate.quad(f, lo, hi, args=(2,), **kw)[0] / z
    return math.log(z) + shift, m, m2 - m * m


# ----------------------------------------------------------------------------- Normal–Normal
def test_normal_known_variance_against_quadrature(x64):
    x = 1.3 + 0.7 * rng.normal(size=25)
    sigma, m0, s0 = 0.7, -0.5, 2.0
    post = conjugate.normal_known_variance(x, noise=sigma, prior_mean=m0, prior_scale=s0)

    def log_unnorm(mu):
        return (stats.norm.logpdf(x, mu, sigma).sum() + stats.norm.logpdf(mu, m0, s0))

    sd = math.sqrt(float(post.var))
    log_z, m, v = _moments_by_quad(log_unnorm, float(post.mean) - 20 * sd, float(post.mean) + 20 * sd,
                                   points=[float(post.mean)])
    np.testing.assert_allclose(post.log_marginal_likelihood, log_z, rtol=1e-10)
    np.testing.assert_allclose(post.mean, m, rtol=1e-9)
    np.testing.assert_allclose(post.var, v, rtol=1e-8)
    assert post.map == post.mean
    np.testing.assert_allclose(post.predictive_var, post.var + sigma**2, rtol=1e-15)
    # the evidence is the multivariate normal N(m₀1, σ²I + s₀²11ᵀ)
    cov = sigma**2 * np.eye(x.size) + s0**2 * np.ones((x.size, x.size))
    ref = stats.multivariate_normal(np.full(x.size, m0), cov).logpdf(x)
    np.testing.assert_allclose(post.log_marginal_likelihood, ref, rtol=1e-12)
    assert post.mean.dtype == jnp.float64


def test_normal_known_variance_float32_and_empty():
    x = (3.0 + rng.normal(size=1000)).astype(np.float32)
    post = conjugate.normal_known_variance(x, noise=1.0)
    assert post.mean.dtype == jnp.float32 and post.log_marginal_likelihood.dtype == jnp.float32
    with jax.enable_x64(True):
        ref = conjugate.normal_known_variance(x.astype(np.float64), noise=1.0)
    assert abs(float(post.log_marginal_likelihood) - float(ref.log_marginal_likelihood)) < 1e-3 * 1.0 \
        + 1e-6 * abs(float(ref.log_marginal_likelihood))
    empty = conjugate.normal_known_variance(np.zeros(0), noise=1.0, prior_mean=2.0, prior_scale=3.0)
    assert (float(empty.mean), float(empty.var), float(empty.log_marginal_likelihood)) == (2.0, 9.0, 0.0)


def test_normal_known_variance_is_jittable():
    f = jax.jit(lambda x, s: conjugate.normal_known_variance(x, noise=s))
    post = f(jnp.array([1.0, 2.0]), 1.0)
    np.testing.assert_allclose(post.mean, 1.0, rtol=1e-6)


# ----------------------------------------------------------------------------- Beta–Bernoulli
@pytest.mark.parametrize("s, n, a, b", [(70, 100, 2.0, 2.0), (3, 10, 0.5, 0.5), (0, 5, 1.0, 3.0)])
def test_beta_bernoulli_against_quadrature(s, n, a, b, x64):
    post = conjugate.beta_bernoulli(s, n, alpha=a, beta=b)
    assert (float(post.alpha), float(post.beta)) == (a + s, b + n - s)

    def log_unnorm(t):  # log p(sequence | θ) + log Beta(θ; a, b)
        return s * math.log(t) + (n - s) * math.log1p(-t) + stats.beta.logpdf(t, a, b)

    log_z, m, v = _moments_by_quad(log_unnorm, 0.0, 1.0)
    np.testing.assert_allclose(post.log_marginal_likelihood, log_z, rtol=1e-8)
    np.testing.assert_allclose(post.mean, m, rtol=1e-8)
    np.testing.assert_allclose(post.var, v, rtol=1e-7)
    lo, hi = post.interval(0.9)
    np.testing.assert_allclose(stats.beta.cdf([lo, hi], a + s, b + n - s), [0.05, 0.95], rtol=1e-10)


def test_beta_bernoulli_mode_and_vectorised(x64):
    post = conjugate.beta_bernoulli(np.array([3.0, 0.0, 2.0]), np.array([10.0, 4.0, 2.0]),
                                    alpha=np.array([1.0, 0.5, 1.0]), beta=np.array([1.0, 2.0, 1.0]))
    # (α−1)/(α+β−2): 3/10; α < 1 → NaN; Beta(3, 1) → mode 1
    np.testing.assert_allclose(post.mode, [0.3, np.nan, 1.0])
    assert post.log_marginal_likelihood.shape == (3,)
    assert np.isnan(conjugate.beta_bernoulli(0, 0).mode)   # Beta(1, 1) is flat


# ----------------------------------------------------------------------------- Dirichlet–categorical
def test_dirichlet_categorical_brute_force_k3(x64):
    counts, alpha = np.array([3, 1, 2]), np.array([0.7, 1.5, 2.0])
    post = conjugate.dirichlet_categorical(counts, alpha=alpha)
    # p(sequence) = E_π[Π π_k^{n_k}] by integrating over the 2-simplex
    f = lambda p2, p1: (p1 ** counts[0] * p2 ** counts[1] * (1 - p1 - p2) ** counts[2]
                        * stats.dirichlet.pdf([p1, p2, 1 - p1 - p2], alpha))
    val = integrate.dblquad(f, 1e-12, 1 - 1e-12, 1e-12, lambda p1: 1 - p1 - 1e-12,
                            epsabs=0, epsrel=1e-10)[0]
    np.testing.assert_allclose(post.log_marginal_likelihood, math.log(val), rtol=1e-6)
    # the multinomial pmf is p(sequence) times the number of orderings
    log_orderings = special.gammaln(counts.sum() + 1) - special.gammaln(counts + 1).sum()
    ref = stats.dirichlet_multinomial.logpmf(counts, alpha, counts.sum()) - log_orderings
    np.testing.assert_allclose(post.log_marginal_likelihood, ref, rtol=1e-12)
    # sequential predictive: p(x₁, …, x_N) = Π p(x_i | x_<i) for one ordering of the counts
    seq = np.repeat(np.arange(3), counts)
    c, lp = alpha.copy(), 0.0
    for k in seq:
        lp += math.log(c[k] / c.sum())
        c[k] += 1
    np.testing.assert_allclose(post.log_marginal_likelihood, lp, rtol=1e-12)
    np.testing.assert_allclose(post.mean, (counts + alpha) / (counts + alpha).sum(), rtol=1e-14)
    np.testing.assert_allclose(post.mode, (counts + alpha - 1) / (counts.sum() + alpha.sum() - 3))
    ref_dir = stats.dirichlet(counts + alpha)
    np.testing.assert_allclose(post.mean, ref_dir.mean(), rtol=1e-14)
    lo, hi = post.marginal_interval(0.8)
    c = counts + alpha
    np.testing.assert_allclose(stats.beta.cdf(lo, c, c.sum() - c), 0.1, rtol=1e-10)
    np.testing.assert_allclose(stats.beta.cdf(hi, c, c.sum() - c), 0.9, rtol=1e-10)


def test_dirichlet_categorical_bigram_matrix(x64):
    v = 4
    counts = rng.integers(0, 6, size=(v, v))
    counts[2] = 0
    post = conjugate.dirichlet_categorical(counts, alpha=0.5)
    assert post.concentration.shape == (v, v) and post.log_marginal_likelihood.shape == (v,)
    for i in range(v):
        log_orderings = special.gammaln(counts[i].sum() + 1) - special.gammaln(counts[i] + 1).sum()
        ref = stats.dirichlet_multinomial.logpmf(counts[i], np.full(v, 0.5), counts[i].sum()) \
            - log_orderings if counts[i].sum() else 0.0
        np.testing.assert_allclose(post.log_marginal_likelihood[i], ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(post.mean[2], 1.0 / v)          # an unseen context: the prior mean
    assert np.all(np.isnan(post.mode[2]))                       # c = 0.5 < 1: no interior mode
    np.testing.assert_allclose(post.mean.sum(-1), 1.0, rtol=1e-14)


def test_dirichlet_categorical_float32():
    counts = rng.integers(0, 50, size=(3, 5))
    post = conjugate.dirichlet_categorical(counts, alpha=np.ones(5, np.float32))
    assert post.concentration.dtype == jnp.float32
    with jax.enable_x64(True):
        ref = conjugate.dirichlet_categorical(counts.astype(np.float64), alpha=1.0)
    np.testing.assert_allclose(post.log_marginal_likelihood, ref.log_marginal_likelihood, rtol=1e-6)


# ----------------------------------------------------------------------------- linear regression
N, D = 30, 3
PHI = rng.normal(size=(N, D))
Y = PHI @ np.array([1.0, -2.0, 0.5]) + 0.4 * rng.normal(size=N)


@pytest.mark.parametrize("scale, m0", [(0.7, None), (np.array([0.5, 2.0, 1.0]), np.array([0.3, -1.0, 0.0]))])
def test_blr_against_dense_solve_and_multivariate_normal(scale, m0, x64):
    sigma = 0.4
    post = conjugate.bayesian_linear_regression(PHI, Y, noise=sigma, prior_scale=scale, prior_mean=m0)
    s0 = np.diag(np.broadcast_to(np.square(scale), (D,)))
    mu0 = np.zeros(D) if m0 is None else m0
    prec = PHI.T @ PHI / sigma**2 + np.linalg.inv(s0)
    cov = np.linalg.inv(prec)
    mean = np.linalg.solve(prec, PHI.T @ Y / sigma**2 + np.linalg.solve(s0, mu0))
    np.testing.assert_allclose(post.precision, prec, rtol=1e-12)
    np.testing.assert_allclose(post.cov, cov, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(post.mean, mean, rtol=1e-10)
    ref = stats.multivariate_normal(mean=PHI @ mu0, cov=sigma**2 * np.eye(N) + PHI @ s0 @ PHI.T).logpdf(Y)
    assert abs(float(post.log_marginal_likelihood) - ref) < 1e-8
    phi_t = rng.normal(size=(5, D))
    pred = post.predictive(phi_t)
    assert isinstance(pred, bj.predictive.Predictive)
    np.testing.assert_allclose(pred.mean, phi_t @ mean, rtol=1e-10)
    np.testing.assert_allclose(pred.aleatoric_var, sigma**2)
    np.testing.assert_allclose(pred.epistemic_var, np.einsum("md,de,me->m", phi_t, cov, phi_t), rtol=1e-10)


def test_blr_agrees_with_laplace(x64):
    post = bj.Posterior.from_apply(lambda p, x: x @ p["w"], {"w": jnp.zeros(D)},
                                   bj.likelihoods.Gaussian(0.4), bj.priors.Gaussian(0.7), PHI, Y)
    ref = conjugate.bayesian_linear_regression(PHI, Y, noise=0.4, prior_scale=0.7)
    lap = bj.laplace(post, {"w": ref.mean})
    np.testing.assert_allclose(lap.posterior_precision(), ref.precision, rtol=1e-10)
    np.testing.assert_allclose(lap.log_marginal_likelihood(), ref.log_marginal_likelihood, rtol=1e-10)


def test_blr_float32_evidence_close_to_float64():
    post = conjugate.bayesian_linear_regression(PHI.astype(np.float32), Y.astype(np.float32),
                                                noise=0.4, prior_scale=0.7)
    assert post.mean.dtype == jnp.float32
    with jax.enable_x64(True):
        ref = conjugate.bayesian_linear_regression(PHI, Y.astype(np.float32).astype(np.float64),
                                                   noise=0.4, prior_scale=0.7)
    assert abs(float(post.log_marginal_likelihood) - float(ref.log_marginal_likelihood)) < 1e-3


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("call, match", [
    (lambda: conjugate.normal_known_variance([1.0], noise=0.0), "noise"),
    (lambda: conjugate.normal_known_variance([1.0], noise=1.0, prior_scale=-1.0), "prior_scale"),
    (lambda: conjugate.normal_known_variance([1.0, np.nan], noise=1.0), "x"),
    (lambda: conjugate.normal_known_variance(np.ones((2, 2)), noise=1.0), "x must have shape"),
    (lambda: conjugate.beta_bernoulli(3, 2), "successes <= trials"),
    (lambda: conjugate.beta_bernoulli(-1, 2), "successes"),
    (lambda: conjugate.beta_bernoulli(1, 2, alpha=0.0), "alpha"),
    (lambda: conjugate.beta_bernoulli(1, 2, beta=np.nan), "beta"),
    (lambda: conjugate.beta_bernoulli(np.ones(2), np.ones(3)), "share one shape"),
    (lambda: conjugate.beta_bernoulli(1, 2).interval(1.5), "prob"),
    (lambda: conjugate.dirichlet_categorical([1, -1, 2], alpha=1.0), "counts must be >= 0"),
    (lambda: conjugate.dirichlet_categorical([1, 1, 2], alpha=[1.0, 1.0]), "alpha must be a scalar"),
    (lambda: conjugate.dirichlet_categorical([1, 1, 2], alpha=[1.0, 0.0, 1.0]), "alpha"),
    (lambda: conjugate.dirichlet_categorical([1.0, np.inf], alpha=1.0), "counts"),
    (lambda: conjugate.bayesian_linear_regression(PHI, Y[:, None], noise=1.0, prior_scale=1.0), "y must"),
    (lambda: conjugate.bayesian_linear_regression(PHI, Y, noise=-1.0, prior_scale=1.0), "noise"),
    (lambda: conjugate.bayesian_linear_regression(PHI, Y, noise=1.0, prior_scale=np.ones(2)), "prior_scale"),
    (lambda: conjugate.bayesian_linear_regression(PHI, Y, noise=1.0, prior_scale=0.0), "prior_scale"),
    (lambda: conjugate.bayesian_linear_regression(PHI, Y, noise=1.0, prior_scale=1.0, prior_mean=np.ones(4)),
     "prior_mean"),
    (lambda: conjugate.bayesian_linear_regression(PHI[0], Y, noise=1.0, prior_scale=1.0), "phi"),
    (lambda: conjugate.bayesian_linear_regression(PHI, Y, noise=1.0, prior_scale=1.0).predictive(
        np.ones((2, D + 1))), "phi_test"),
])
def test_bad_input_raises_naming_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()



def test_dtype_follows_the_data_not_the_hyperparameters(x64):
    x32 = np.ones(3, np.float32)
    assert conjugate.normal_known_variance(x32, noise=1.0, prior_mean=0.5).mean.dtype == jnp.float32
    assert conjugate.dirichlet_categorical(np.ones((2, 3), np.float32), alpha=0.5).concentration.dtype \
        == jnp.float32
    assert conjugate.bayesian_linear_regression(PHI.astype(np.float32), Y.astype(np.float32), noise=1.0,
                                                prior_scale=np.ones(D)).mean.dtype == jnp.float32
    assert conjugate.beta_bernoulli(1, 2).alpha.dtype == jnp.float64   # integers: the default float


# ----------------------------------------------------------------------------- probabilistic PCA
def _ppca_data(n=300, d=5, seed=3):
    r = np.random.default_rng(seed)
    w = r.normal(size=(d, 2)) * np.array([3.0, 1.5])
    return r.normal(size=(n, 2)) @ w.T + 0.6 * r.normal(size=(n, d)) + r.normal(size=d)


def test_ppca_is_the_maximum_of_the_low_rank_plus_isotropic_gaussian_likelihood(x64):
    """Direct numerical maximisation of Σ_n log N(x_n | x̄, WWᵀ + σ²I) over (W, log σ²)."""
    from scipy.optimize import minimize

    x = _ppca_data()
    n, d = x.shape
    fit = conjugate.ppca(x, 2)
    xbar = x.mean(0)

    s_cov = np.cov(x.T, bias=True)

    def negll(theta):  # N/2 [D log 2π + log|C| + tr(C⁻¹S)], C = WWᵀ + σ²I
        w, s2 = theta[:-1].reshape(d, 2), math.exp(theta[-1])
        c = w @ w.T + s2 * np.eye(d)
        return 0.5 * n * (d * math.log(2 * math.pi) + np.linalg.slogdet(c)[1]
                          + np.trace(np.linalg.solve(c, s_cov)))

    start = np.r_[0.5 * rng.normal(size=2 * d), math.log(np.trace(s_cov) / d)]
    best = minimize(negll, start, method="L-BFGS-B", bounds=[(None, None)] * (2 * d) + [(-8, 8)],
                    options=dict(gtol=1e-10, ftol=1e-15, maxiter=10000))
    w_opt, s2_opt = best.x[:-1].reshape(d, 2), math.exp(best.x[-1])
    assert float(fit.log_likelihood) == pytest.approx(-best.fun, rel=1e-9)
    at_fit = np.r_[np.asarray(fit.W).ravel(), math.log(fit.noise_var)]
    assert float(fit.log_likelihood) == pytest.approx(
        stats.multivariate_normal(xbar, fit.W @ fit.W.T + fit.noise_var * np.eye(d)).logpdf(x).sum(),
        rel=1e-12)
    assert negll(at_fit) <= best.fun + 1e-9                    # no optimiser beats the closed form
    assert float(fit.noise_var) == pytest.approx(s2_opt, rel=1e-5)
    np.testing.assert_allclose(fit.W @ fit.W.T, w_opt @ w_opt.T, atol=1e-4)   # W up to rotation
    np.testing.assert_allclose(fit.mean, xbar, atol=1e-12)
    lam = np.linalg.eigvalsh(np.cov(x.T, bias=True))[::-1]                   # the 1/N covariance
    np.testing.assert_allclose(fit.eigenvalues, lam, rtol=1e-10)
    assert float(fit.noise_var) == pytest.approx(lam[2:].mean(), rel=1e-12)


def test_ppca_dtype_follows_the_data_and_bad_input_raises():
    x = _ppca_data().astype(np.float32)
    fit = conjugate.ppca(x, 1)
    assert fit.W.dtype == jnp.float32 and fit.log_likelihood.dtype == jnp.float32
    for q in (0, 5, 1.5):
        with pytest.raises(ValueError, match="latent_dim"):
            conjugate.ppca(x, q)
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        conjugate.ppca(bad, 1)
    with pytest.raises(ValueError, match="rank"):                  # rank 1 data, q = 1: σ² = 0
        conjugate.ppca(np.outer(np.arange(10.0), np.ones(3)).astype(np.float32), 1)
