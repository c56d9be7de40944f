import flax.nnx as nnx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special
import scipy.stats

import bayesjax as bj

rng = np.random.default_rng(0)


def test_gaussian_matches_scipy_and_is_a_sum(x64):
    f, y = rng.normal(size=20), rng.normal(size=20)
    lik = bj.likelihoods.Gaussian(noise=0.3)
    expected = scipy.stats.norm(f, 0.3).logpdf(y).sum()
    np.testing.assert_allclose(lik.log_prob(jnp.asarray(f), jnp.asarray(y)), expected, rtol=1e-12)
    # a one-unit output layer (N, 1) against targets (N,)
    np.testing.assert_allclose(lik.log_prob(jnp.asarray(f)[:, None], jnp.asarray(y)), expected,
                               rtol=1e-12)


def test_bernoulli_matches_scipy(x64):
    logits, y = rng.normal(size=30) * 3, rng.integers(0, 2, size=30).astype(float)
    expected = scipy.stats.bernoulli(scipy.special.expit(logits)).logpmf(y).sum()
    got = bj.likelihoods.Bernoulli().log_prob(jnp.asarray(logits), jnp.asarray(y))
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_categorical_matches_scipy(x64):
    logits, y = rng.normal(size=(25, 4)), rng.integers(0, 4, size=25)
    p = scipy.special.softmax(logits, axis=1)
    expected = sum(scipy.stats.multinomial(1, p[i]).logpmf(np.eye(4)[y[i]]) for i in range(25))
    got = bj.likelihoods.Categorical().log_prob(jnp.asarray(logits), jnp.asarray(y))
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_shape_mismatch_is_an_error_not_a_broadcast():
    with pytest.raises(ValueError, match=r"outputs of shape \(5, 2\) do not match targets"):
        bj.likelihoods.Gaussian(1.0).log_prob(jnp.ones((5, 2)), jnp.ones(5))


@pytest.mark.parametrize("noise", [0.0, -0.1, np.nan, np.inf])
def test_bad_noise_raises(noise):
    with pytest.raises(ValueError, match="noise must be"):
        bj.likelihoods.Gaussian(noise)


# ---------------------------------------------------------------- HeteroscedasticGaussian
HET = bj.likelihoods.HeteroscedasticGaussian()


def test_heteroscedastic_matches_scipy_with_log_variance_outputs(x64):
    """Outputs (..., 2) = (μ, s = log σ²): the sum of N(μ, exp(s)) log densities, for targets (N,)
    and (N, D)."""
    for shape in ((20,), (6, 3)):
        f, y = rng.normal(size=shape + (2,)), rng.normal(size=shape)
        expected = scipy.stats.norm(f[..., 0], np.exp(0.5 * f[..., 1])).logpdf(y).sum()
        np.testing.assert_allclose(HET.log_prob(jnp.asarray(f), jnp.asarray(y)), expected,
                                   rtol=1e-12)
        np.testing.assert_array_equal(HET.mean(jnp.asarray(f)), f[..., 0])


def test_heteroscedastic_output_precision_is_the_expected_hessian_and_psd(x64):
    """Λ = E_y[∂²(−log p)/∂f²] over y ~ N(μ, e^s), by 3-point Gauss–Hermite (exact: the Hessian is
    a quadratic in y), equals diag(e^{−s}, 1/2) per target; M Mᵀ = Λ for two targets (K = 4,
    interleaved); the Hessian itself is indefinite at any nonzero residual (det = −r²e^{−2s}/2)."""
    f = jnp.array([0.3, -1.2, -0.5, 0.8])                     # (μ₁, s₁, μ₂, s₂)

    hess = jax.jit(lambda y: jax.hessian(lambda g: -HET.log_prob(g.reshape(2, 2), y))(f))

    nodes, weights = np.polynomial.hermite_e.hermegauss(3)   # ∫ g(z) φ(z) dz, exact to degree 5
    sd = np.exp(0.5 * np.asarray(f[1::2]))
    expected_h = sum(w * hess(jnp.asarray(np.asarray(f[0::2]) + sd * z))
                     for z, w in zip(nodes, weights, strict=True)) / np.sqrt(2 * np.pi)
    lam = HET.output_precision(f)
    np.testing.assert_allclose(lam, expected_h, atol=1e-12)
    np.testing.assert_allclose(np.diag(lam), [np.exp(1.2), 0.5, np.exp(-0.8), 0.5], rtol=1e-12)
    m = HET.output_precision_sqrt(f)
    np.testing.assert_allclose(m @ m.T, lam, rtol=1e-12)
    near = np.asarray(f[0::2]) + 0.1 * sd                    # a residual of 0.1σ
    assert np.linalg.eigvalsh(hess(jnp.asarray(near))).min() < 0


def test_heteroscedastic_needs_two_outputs_per_target():
    with pytest.raises(ValueError, match=r"\(5, 1\) must be \(5,\) \+ \(2,\)"):
        HET.check_outputs((5, 1), np.zeros(5))
    with pytest.raises(ValueError, match=r"must be \(5,\) \+ \(2,\)"):
        HET.log_prob(jnp.ones((5,)), jnp.ones(5))
    with pytest.raises(ValueError, match="y must be a float array"):
        HET.check_targets(np.arange(3))
    post_ok = bj.Posterior.from_apply(lambda p, x: x @ p["w"], {"w": jnp.zeros((3, 2))}, HET,
                                      bj.priors.Gaussian(1.0), jnp.ones((4, 3)), jnp.ones(4))
    assert post_ok.num_params == 6
    with pytest.raises(ValueError, match="a mean and a log-variance per target"):
        bj.Posterior.from_apply(lambda p, x: x @ p["w"], {"w": jnp.zeros((3, 1))}, HET,
                                bj.priors.Gaussian(1.0), jnp.ones((4, 3)), jnp.ones(4))


def _het_linear(x, y, prior_scale=1.0):
    """A dense layer with 2 outputs (μ, s): the GGN with the Fisher Λ_n = diag(e^{−s_n}, 1/2) is
    ``Σ_n φ_n φ_nᵀ ⊗ Λ_n`` over the features φ_n = (1, x_n) (the flat order: bias, then kernel)."""
    return bj.Posterior(nnx.Linear(x.shape[1], 2, rngs=nnx.Rngs(0), param_dtype=x.dtype), HET,
                        bj.priors.Gaussian(prior_scale), x, y)


def _het_params(post, s_slope):
    params = {"bias": jnp.array([0.2, -1.0]),
              "kernel": jnp.stack([jnp.array([0.5, -0.3]), s_slope * jnp.array([1.0, 0.4])], 1)}
    return jax.tree.map(lambda r, p: jnp.asarray(p, r.dtype), post.params, params)


def test_heteroscedastic_laplace_ggn_and_glm_predictive_match_the_closed_form(x64):
    """Full and diag GGN Laplace equal ``Σ φφᵀ ⊗ diag(e^{−s}, 1/2) + I/s₀²``; the GLM predictive
    splits it: epistemic = Var[μ] = φ P⁻¹_μμ φᵀ, aleatoric = exp(s* + Var[s]/2). KFAC (its
    evidence) is exact when s does not vary with x (the Fisher is then the same for every example)."""
    x = rng.normal(size=(30, 2))
    y = rng.normal(size=30)
    post = _het_linear(jnp.asarray(x), jnp.asarray(y))
    params = _het_params(post, 1.0)
    phi = np.concatenate([np.ones((30, 1)), x], 1)
    b, w = np.asarray(params["bias"]), np.asarray(params["kernel"])
    s = phi @ np.concatenate([b[None], w])[:, 1]
    prec = sum(np.kron(np.outer(p, p), np.diag([np.exp(-sn), 0.5])) for p, sn in zip(phi, s, strict=True))
    prec = prec + np.eye(6)
    lap = bj.laplace(post, params)
    np.testing.assert_allclose(lap.posterior_precision(), prec, rtol=1e-10)
    np.testing.assert_allclose(bj.laplace(post, params, structure="diag").posterior_precision(),
                               np.diag(prec), rtol=1e-10)
    xt = rng.normal(size=(4, 2))
    pt = np.concatenate([np.ones((4, 1)), xt], 1)
    cov = np.linalg.inv(prec)
    pred = lap.predictive(jnp.asarray(xt))
    assert pred.mean.shape == pred.aleatoric_var.shape == pred.epistemic_var.shape == (4,)
    mu_star = pt @ np.concatenate([b[None], w])
    var_mu = np.einsum("mi,ij,mj->m", pt, cov[0::2, 0::2], pt)
    var_s = np.einsum("mi,ij,mj->m", pt, cov[1::2, 1::2], pt)
    np.testing.assert_allclose(pred.mean, mu_star[:, 0], rtol=1e-12)
    np.testing.assert_allclose(pred.epistemic_var, var_mu, rtol=1e-10)
    np.testing.assert_allclose(pred.aleatoric_var, np.exp(mu_star[:, 1] + 0.5 * var_s), rtol=1e-10)

    def evidence(p, structure):
        return float(bj.laplace(post, p, structure=structure).log_marginal_likelihood())

    flat = _het_params(post, 0.0)                               # s = bias[1] for every x
    assert evidence(flat, "kfac") == pytest.approx(evidence(flat, "full"), rel=1e-10)
    # with s varying the Fisher differs between examples and KFAC is only an approximation
    assert abs(evidence(params, "kfac") - float(lap.log_marginal_likelihood())) > 1e-3


def _within(measured, target, se, k=5.0):
    """Every |measured − target| ≤ k standard errors (k = 5: a false alarm ~6e-7 per element)."""
    return bool(np.all(np.abs(np.asarray(measured) - np.asarray(target)) <= k * np.asarray(se)))


def test_heteroscedastic_predictive_from_moments_is_the_monte_carlo_of_the_outputs(x64):
    """from_moments (the GLM closed form) against from_samples over Gaussian draws of (μ, s) with
    those moments, within Monte Carlo error: E[exp(s)] is the lognormal mean, not exp(s*)."""
    mean = jnp.array([[0.5, -1.0], [-2.0, 0.3]])
    var = jnp.array([[0.2, 0.5], [0.05, 1.2]])
    n = 200_000
    draws = mean[None] + jnp.sqrt(var)[None] * jax.random.normal(jax.random.key(0), (n, 2, 2), mean.dtype)
    exact = bj.predictive.from_moments(HET, mean, var, (2, 2))
    mc = bj.predictive.from_samples(HET, draws)
    lognormal_sd = np.sqrt((np.exp(var[:, 1]) - 1) * np.exp(2 * mean[:, 1] + var[:, 1]))
    assert _within(mc.aleatoric_var, exact.aleatoric_var, lognormal_sd / np.sqrt(n))
    assert _within(mc.mean, exact.mean, np.sqrt(var[:, 0] / n))
    assert _within(mc.epistemic_var, exact.epistemic_var, var[:, 0] * np.sqrt(2 / n))
    assert not _within(np.exp(mean[:, 1]), exact.aleatoric_var, lognormal_sd / np.sqrt(n))
