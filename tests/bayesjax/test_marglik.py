"""Online marginal-likelihood training (``bayesjax.marglik``) against the closed-form type-II maximum
likelihood of Bayesian linear regression (``bayesjax.conjugate``), where the Laplace evidence is exact."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize
from flax import nnx

import bayesjax as bj
from bayesjax import marglik
from bayesjax.marglik import fit_marglik

rng = np.random.default_rng(0)
N, D = 40, 3
X = rng.normal(size=(N, D))
Y = X @ np.array([1.0, -1.0, 0.5]) + 0.3 + 0.3 * rng.normal(size=N)
PHI = np.concatenate([X, np.ones((N, 1))], axis=1)      # nnx.Linear: kernel rows, then the bias


class Linear(nnx.Module):
    def __init__(self):
        self.lin = nnx.Linear(D, 1, rngs=nnx.Rngs(0), param_dtype=jnp.result_type(float))

    def __call__(self, x):
        return self.lin(x)[:, 0]


def _nnx_post():
    return bj.Posterior(Linear(), bj.likelihoods.Gaussian(1.0), bj.priors.Gaussian(1.0), X, Y)


def _apply_post():
    return bj.Posterior.from_apply(lambda p, x: x @ p["w"], {"w": jnp.zeros(D + 1)},
                                   bj.likelihoods.Gaussian(1.0), bj.priors.Gaussian(1.0), PHI, Y)


def _diag_laplace_evidence(s, sigma):
    """The diag-Laplace evidence at the exact MAP (BLR's posterior mean), by hand: its H is diag(ΦᵀΦ)/σ²."""
    mean = np.asarray(bj.conjugate.bayesian_linear_regression(PHI, Y, noise=sigma, prior_scale=s).mean)
    p0 = s**-2.0
    ll = -0.5 * np.sum((Y - PHI @ mean) ** 2) / sigma**2 - N * np.log(sigma * np.sqrt(2 * np.pi))
    return ll - 0.5 * np.sum(p0 * mean**2) - 0.5 * np.sum(np.log(np.sum(PHI**2, 0) / sigma**2 + p0)
                                                          - np.log(p0))


@functools.lru_cache(maxsize=4)
def _type2_optimum(layerwise: bool, diag: bool = False):
    """argmax over log precisions (kernel, bias) and log σ of BLR's exact evidence (or, ``diag``, of its
    diagonal-GGN Laplace evidence at the exact MAP): (precisions, σ, log evidence)."""
    def neg(z):
        alpha = (z[0], z[1] if layerwise else z[0])
        s = np.exp(-0.5 * np.array([alpha[0]] * D + [alpha[1]]))
        if diag:
            return -_diag_laplace_evidence(s, np.exp(z[-1]))
        return -float(bj.conjugate.bayesian_linear_regression(PHI, Y, noise=np.exp(z[-1]), prior_scale=s)
                      .log_marginal_likelihood)
    with jax.enable_x64(True):
        res = scipy.optimize.minimize(neg, np.zeros(3 if layerwise else 2), method="Nelder-Mead",
                                      options=dict(xatol=1e-12, fatol=1e-14, maxiter=8000))
    return np.exp(res.x[:-1]), float(np.exp(res.x[-1])), -float(res.fun)


def _fit(post, **kw):
    return fit_marglik(jax.random.key(0), post, num_steps=2000, learning_rate=0.05, hyper_every=50,
                          hyper_steps=50, **kw)


# Tolerances: at the fixed point θ is the MAP and (α, σ) maximise the exact evidence (module docstring of
# bayesjax.marglik), so only the optimisers' convergence is left: measured 2e-6 (α), 4e-7 (σ) relative and
# 1e-8 nats; the evidence is flat at its optimum, so its error is quadratic in theirs.
@pytest.mark.parametrize("make,structure", [(_apply_post, "full"), (_nnx_post, "kfac"), (_nnx_post, "diag")])
def test_reaches_the_closed_form_evidence_optimum(make, structure, x64):
    """diag: its fixed point maximises the diag-Laplace evidence at the exact MAP (H does not depend on θ)."""
    res = _fit(make(), structure=structure)
    (alpha,), sigma, lml = _type2_optimum(False, diag=structure == "diag")
    np.testing.assert_allclose(float(res.prior_precision), alpha, rtol=2e-5)
    np.testing.assert_allclose(float(res.noise), sigma, rtol=2e-5)
    np.testing.assert_allclose(float(res.log_marginal_likelihood[-1]), lml, atol=1e-6)
    assert res.log_marginal_likelihood.shape == (2000 // 50,) and res.losses.shape == (2000,)
    # the returned posterior carries the learned prior and noise: its Laplace evidence is the optimum
    lap = bj.laplace(res.posterior, res.params, structure=structure)
    np.testing.assert_allclose(float(lap.log_marginal_likelihood()), lml, atol=1e-6)


def test_layerwise_reaches_the_closed_form_optimum(x64):
    res = _fit(_nnx_post(), structure="full", prior_structure="layerwise")
    (a_kernel, a_bias), sigma, lml = _type2_optimum(True)
    prec = res.prior_precision
    np.testing.assert_allclose([float(prec["lin.kernel"]), float(prec["lin.bias"])], [a_kernel, a_bias],
                               rtol=2e-5)
    np.testing.assert_allclose(float(res.noise), sigma, rtol=2e-5)
    np.testing.assert_allclose(float(res.log_marginal_likelihood[-1]), lml, atol=1e-6)
    assert lml > _type2_optimum(False)[2]          # one precision per tensor fits this data better
    lap = bj.laplace(res.posterior, res.params, structure="full")   # its prior: priors.ByPath
    np.testing.assert_allclose(float(lap.log_marginal_likelihood()), lml, atol=1e-6)


def test_second_call_does_not_recompile(x64):
    post = _nnx_post()
    _fit(post, structure="kfac")
    size = marglik._marglik._cache_size()
    _fit(post.replace(y=Y + 1.0), structure="kfac")
    assert marglik._marglik._cache_size() == size


def test_classification_learns_the_prior_only():
    y = (X[:, 0] > 0).astype(np.int32)
    post = bj.Posterior(Linear(), bj.likelihoods.Bernoulli(), bj.priors.Gaussian(1.0), X, y)
    res = fit_marglik(jax.random.key(0), post, num_steps=40, structure="kfac", hyper_every=20,
                         hyper_steps=20, batch_size=16)
    assert res.noise is None and res.log_marginal_likelihood.shape == (2,)
    # the last update is after the last step: its evidence is bj.laplace's at the learned prior
    lap = bj.laplace(res.posterior, res.params, structure="kfac")
    np.testing.assert_allclose(res.log_marginal_likelihood[-1], lap.log_marginal_likelihood(), rtol=1e-5)
    assert float(lap.prior_precision[0]) == pytest.approx(float(res.prior_precision), rel=1e-6)


@pytest.mark.parametrize("kwargs,match", [
    (dict(post="laplace_prior"), "learns the precision of a Gaussian prior"),
    (dict(num_steps=10), "no hyper update happens"),
    (dict(prior_structure="diagonal"), "prior_structure"),
    (dict(structure="kron"), "structure"),
    (dict(post="from_apply"), "needs a Posterior built from a flax.nnx.Module"),
])
def test_bad_inputs_raise(kwargs, match):
    post = {"laplace_prior": _nnx_post().replace(prior=bj.priors.Laplace(1.0)),
            "from_apply": _apply_post()}.get(kwargs.pop("post", None), _nnx_post())
    with pytest.raises(ValueError, match=match):
        fit_marglik(jax.random.key(0), post, **{"num_steps": 100, **kwargs})
