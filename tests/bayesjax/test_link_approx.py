"""Link approximations of the Laplace GLM classification predictive (``link_approx``): the K × K logit
covariance against J P⁻¹ Jᵀ, ``"mc"`` and ``"probit"`` against an independent Monte Carlo of the
logit Gaussian, the Laplace bridge against its closed-form inverse and laplace-torch's numbers."""

import functools
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from scipy.special import expit, softmax

import bayesjax as bj
from bayesjax import curvature, likelihoods, predictive

LINKS_JSON = Path(__file__).resolve().parents[1] / "data" / "laplace_torch_links.json"
rng = np.random.default_rng(0)
N, D = 40, 3
X = rng.normal(size=(N, D))
XT = 2.0 * X[:8]                      # test inputs a little outside the data: larger variances
LABELS = rng.integers(0, 3, N)


class MLP(nnx.Module):
    def __init__(self, k):
        rngs, dtype = nnx.Rngs(1), jnp.result_type(float)
        self.layers = nnx.List([nnx.Linear(D, 5, rngs=rngs, param_dtype=dtype),
                                nnx.Linear(5, k, rngs=rngs, param_dtype=dtype)])

    def __call__(self, x):
        return self.layers[1](jnp.tanh(self.layers[0](x)))


def _lap(lik="categorical", structure="full"):
    return _lap_cached(lik, structure, jnp.result_type(float))


@functools.cache
def _lap_cached(lik, structure, dtype):
    """Laplace at the initial weights (the GGN plus the prior is positive definite there): what is
    tested is the map from (μ, Σ_x) to probabilities, which needs no mode."""
    if lik == "categorical":
        post = bj.Posterior(MLP(3), likelihoods.Categorical(), bj.priors.Gaussian(1.0), X, LABELS)
    else:
        post = bj.Posterior(MLP(1), likelihoods.Bernoulli(), bj.priors.Gaussian(1.0), X, LABELS % 2)
    return bj.laplace(post, structure=structure)


def _mc_reference(mean, cov, categorical, draws=100_000):
    """E[link(f)], f ~ N(mean, cov) per input, by NumPy draws (float64, Cholesky): mean, std error."""
    mean, cov = np.asarray(mean), np.asarray(cov)
    z = np.random.default_rng(1).normal(size=(draws, *mean.shape))
    f = mean + np.einsum("mkl,sml->smk", np.linalg.cholesky(cov), z)
    p = softmax(f, axis=-1) if categorical else expit(f)
    return p.mean(0), p.std(0) / np.sqrt(draws), p.std(0)


@pytest.mark.parametrize("structure", ["full", "diag", "kfac"])
def test_logit_covariance_is_j_sigma_jt_and_probit_is_unchanged(structure, x64):
    lap = _lap(structure=structure)
    mean, cov = predictive.logit_covariance(lap, XT)
    out, jac = curvature.jacobian(lap.post, lap.mean, lap.view, jnp.asarray(XT))   # (M,K), (M,K,P)
    jac = np.asarray(jac)
    if structure == "kfac":       # P⁻¹ Jᵀ by the sampling route (Kronecker eigenbases), not the taps
        p0, c = lap._prec(None)
        sj = np.asarray(lap._scaled(jnp.asarray(jac.reshape(-1, lap.num_params).T), p0, c, -1))
        ref = np.einsum("mkp,pml->mkl", jac, sj.reshape(lap.num_params, *out.shape))
    else:
        prec = np.asarray(lap.posterior_precision())
        sigma = np.linalg.inv(prec if structure == "full" else np.diag(prec))
        ref = np.einsum("mkp,pq,mlq->mkl", jac, sigma, jac)
    np.testing.assert_allclose(mean, out, rtol=1e-12)
    np.testing.assert_allclose(cov, ref, rtol=1e-9, atol=1e-12 * np.abs(ref).max())
    # the probit default still uses the per-class variances only, through the same numbers
    pred = lap.predictive(XT)
    np.testing.assert_allclose(np.diagonal(cov, axis1=1, axis2=2), pred.epistemic_var, rtol=1e-10)
    np.testing.assert_array_equal(lap.predictive(XT, link_approx="probit").probs, pred.probs)
    np.testing.assert_allclose(pred.probs, predictive.probit(likelihoods.Categorical(), mean,
                                                             pred.epistemic_var), rtol=1e-12)


@pytest.mark.parametrize("lik", ["categorical", "bernoulli"])
def test_mc_and_probit_links_against_monte_carlo_of_the_logit_gaussian(lik, x64):
    lap, s = _lap(lik), 20_000
    mean, cov = predictive.logit_covariance(lap, XT)
    truth, se_ref, sd = _mc_reference(mean, cov, lik == "categorical")
    mc = np.asarray(lap.predictive(XT, link_approx="mc", key=jax.random.key(3), num_samples=s).probs)
    tol = 5 * np.sqrt(se_ref**2 + sd**2 / s)            # 5 standard errors of the difference
    assert np.all(np.abs(mc - truth) <= tol)
    plugin = softmax(np.asarray(mean), axis=-1) if lik == "categorical" else expit(np.asarray(mean))
    assert np.abs(plugin - truth).max() > 2 * tol.max()     # the variance matters at these inputs
    # probit: a deterministic approximation, at least twice as close as ignoring the variance
    # (measured: 0.28 of the plug-in's error for the 3 classes, 0.07 for the Bernoulli)
    err = np.abs(np.asarray(lap.predictive(XT).probs) - truth).max()
    assert err < 0.5 * np.abs(plugin - truth).max()
    if lik == "categorical":
        np.testing.assert_allclose(mc.sum(-1), 1.0, rtol=1e-12)
    else:
        assert mc.shape == (len(XT), 1)


def _dirichlet_laplace(alpha):
    """The Laplace approximation of Dirichlet(α) in the softmax basis (Hobbhahn et al. 2022, eq. 6),
    the Gaussian that the Laplace bridge maps back to α exactly."""
    k, inv = alpha.shape[-1], 1.0 / alpha
    mu = np.log(alpha) - np.log(alpha).mean(-1, keepdims=True)
    s = inv.sum(-1)[:, None, None]
    cov = -(inv[:, :, None] + inv[:, None, :]) / k + s / k**2
    idx = np.arange(k)
    cov[:, idx, idx] = inv * (1 - 2 / k) + s[:, :, 0] / k**2
    return mu, cov


def test_bridge_inverts_the_laplace_approximation_of_a_dirichlet(x64):
    alpha = np.random.default_rng(2).gamma(2.0, size=(6, 4)) + 0.2
    mu, cov = _dirichlet_laplace(alpha)
    np.testing.assert_allclose(cov.sum((1, 2)), 0.0, atol=1e-12)   # it lives on Σ_k f_k = 0: add a
    shift = 0.7 * np.ones((4, 4))                                   # common logit noise and offset,
    p = predictive.laplace_bridge(jnp.asarray(mu + 1.5), jnp.asarray(cov + shift))   # softmax-blind
    np.testing.assert_allclose(p, alpha / alpha.sum(-1, keepdims=True), rtol=1e-12)


def test_bridge_is_scale_free_and_bridge_norm_becomes_one_hot(x64):
    mean, cov = predictive.logit_covariance(_lap(), XT)
    base = predictive.laplace_bridge(mean, cov)
    for c in (1e-6, 1e3):                 # the Dirichlet's mean ignores the size of Σ (its Σα has it)
        np.testing.assert_allclose(predictive.laplace_bridge(mean, c * cov), base, rtol=1e-9)
    np.testing.assert_allclose(base.sum(-1), 1.0, rtol=1e-12)
    assert np.all(base > 0)
    norm = predictive.laplace_bridge(mean, 1e-8 * cov, normalise=True)
    np.testing.assert_allclose(norm.max(-1), 1.0, atol=1e-6)
    # probit and mc do tend to softmax(μ) as Σ → 0
    for link in ("probit", "mc"):
        p = predictive.link_predictive(jax.random.key(0), likelihoods.Categorical(), mean, 1e-10 * cov,
                                       link, num_samples=10).probs
        np.testing.assert_allclose(p, softmax(np.asarray(mean), axis=-1), atol=1e-5)


def test_links_equal_laplace_torch_on_the_same_logit_gaussians(x64):
    cases = json.loads(LINKS_JSON.read_text())["cases"]
    assert {(c["k"], c["scale"]) for c in cases} == {(k, s) for k in (4, 2) for s in (0.01, 1.0, 10.0)}
    for case in cases:
        mean, cov = jnp.asarray(case["mean"]), jnp.asarray(case["cov"])
        for link, ref in case["probs"].items():
            p = predictive.link_predictive(None, likelihoods.Categorical(), mean, cov, link).probs
            np.testing.assert_allclose(p, ref, rtol=1e-10, atol=1e-14, err_msg=f"{link} {case['k']}")


def test_bad_links_raise_clear_errors(x64):
    lap, blr = _lap(), bj.laplace(bj.Posterior.from_apply(
        lambda p, x: x @ p["w"], {"w": jnp.zeros(D)}, likelihoods.Gaussian(0.3), bj.priors.Gaussian(1.0),
        X, X @ np.ones(D)))
    with pytest.raises(ValueError, match="unknown link_approx 'bridged'; valid: probit, bridge, "
                                         "bridge_norm, mc"):
        lap.predictive(XT, link_approx="bridged")
    with pytest.raises(ValueError, match="link_approx='mc' draws logits.*pass key="):
        lap.predictive(XT, link_approx="mc")
    with pytest.raises(ValueError, match="applies to method='glm'"):
        lap.predictive(XT, "mc", link_approx="bridge", key=jax.random.key(0))
    with pytest.raises(ValueError, match="applies to classification.*Gaussian likelihood"):
        blr.predictive(X[:3], link_approx="bridge")
    with pytest.raises(ValueError, match="for one Bernoulli logit f it is degenerate"):
        _lap("bernoulli").predictive(XT, link_approx="bridge_norm")
    np.testing.assert_allclose(blr.predictive(X[:3]).mean, X[:3] @ np.zeros(D))   # probit: regression ok
    # the public building blocks refuse a regression likelihood too (no sigmoid of a mean)
    mean, cov = np.zeros((2, 1)), np.ones((2, 1, 1))
    for call in (lambda: predictive.link_predictive(None, likelihoods.Gaussian(0.3), mean, cov, "probit"),
                 lambda: predictive.mc_link(jax.random.key(0), likelihoods.HeteroscedasticGaussian(),
                                            mean, cov)):
        with pytest.raises(ValueError, match="must be Bernoulli or Categorical, got"):
            call()


def test_links_run_in_float32_under_jit_without_recompiling():
    lap = _lap(structure="diag")
    f = jax.jit(lambda lap, z: lap.predictive(z, link_approx="bridge").probs)
    p = f(lap, XT)
    assert p.dtype == jnp.float32 and np.all(p > 0)
    np.testing.assert_allclose(p.sum(-1), 1.0, rtol=1e-6)
    first = lap.predictive(XT, link_approx="mc", key=jax.random.key(0), num_samples=50).probs
    compiled = predictive._mc_link._cache_size()
    second = lap.predictive(XT, link_approx="mc", key=jax.random.key(1), num_samples=50).probs
    assert predictive._mc_link._cache_size() == compiled
    assert first.dtype == jnp.float32 and not np.array_equal(first, second)
