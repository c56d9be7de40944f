"""Prior-precision structures for the post-hoc evidence optimiser (``bayesjax.evidence``): the log-det of
``s·H + diag(p₀)`` per structure against dense numpy, and layerwise / diagonal optima against the scalar."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import bayesjax as bj
from bayesjax import evidence, full_curvature
from bayesjax import kfac as kf

rng = np.random.default_rng(1)
N, D = 24, 2
X = rng.normal(size=(N, D))
Y = np.sin(X[:, 0]) + 0.5 * X[:, 1] + 0.2 * rng.normal(size=N)


class MLP(nnx.Module):
    def __init__(self, rngs, width=6):
        dtype = jnp.result_type(float)
        self.layers = nnx.List([nnx.Linear(D, width, rngs=rngs, param_dtype=dtype),
                                nnx.Linear(width, 1, rngs=rngs, param_dtype=dtype)])

    def __call__(self, x):
        return self.layers[1](jnp.tanh(self.layers[0](x)))[:, 0]


@functools.lru_cache(maxsize=2)
def _post(n=N):
    """A MAP fit in float64 (every test here runs under ``x64``)."""
    post = bj.Posterior(MLP(nnx.Rngs(0)), bj.likelihoods.Gaussian(0.3), bj.priors.Gaussian(1.0),
                        X[:n], Y[:n])
    return post.replace(params=bj.fit_map(jax.random.key(0), post, num_steps=300,
                                          learning_rate=0.05).params)


def _dense_curvature(lap):
    """The likelihood curvature H (P, P) the structure stands for, as a dense matrix."""
    if lap.structure == "full":
        return np.asarray(full_curvature.gram(lap.curv))
    if lap.structure == "diag":
        return np.diag(np.asarray(lap.curv))
    h = np.zeros((lap.num_params,) * 2)
    for layer, (a, g) in zip(lap.layers, kf.kfac_factors(lap.post, lap.mean, lap.layers), strict=True):
        idx = layer.index.reshape(-1)
        h[np.ix_(idx, idx)] = np.kron(np.asarray(a), np.asarray(g))
    return h


@pytest.mark.parametrize("structure,kfac_bias,n", [("full", "joint", N), ("full", "joint", 3),
                                                   ("diag", "joint", N), ("kfac", "joint", N),
                                                   ("kfac", "separate", N)])
def test_structured_logdet_is_the_dense_one(structure, kfac_bias, n, x64):
    """n = 3: N·K < P, the low-rank QR route of full_curvature."""
    lap = bj.laplace(_post(n), structure=structure, kfac_bias=kfac_bias)
    groups = evidence.prior_groups(lap.view, lap.structure, lap.layers, "layerwise")
    p0 = np.exp(np.linspace(-1.0, 2.0, groups.max() + 1))[groups]
    s = 0.7
    want = np.linalg.slogdet(s * _dense_curvature(lap) + np.diag(p0))[1]
    got = evidence.structured_logdet(lap, jnp.asarray(p0), s)
    np.testing.assert_allclose(got, want, rtol=1e-10)
    # and the evidence of the result at that prior is the formula with it
    theta = np.asarray(lap.theta)
    ll = float(lap.post.log_likelihood(lap.mean))
    by_hand = ll - 0.5 * np.sum(p0 * theta**2) - 0.5 * (
        np.linalg.slogdet(_dense_curvature(lap) + np.diag(p0))[1] - np.sum(np.log(p0)))
    np.testing.assert_allclose(lap.log_marginal_likelihood(jnp.asarray(p0)), by_hand, rtol=1e-10)


@pytest.mark.parametrize("structure", ["full", "diag", "kfac"])
def test_layerwise_and_diagonal_reach_at_least_the_scalar_optimum(structure, x64):
    lap = bj.laplace(_post(), structure=structure)
    scalar = bj.optimize_prior_precision(lap, num_steps=400)
    e0 = float(scalar.log_marginal_likelihood())
    kinds = ("layerwise",) if structure == "kfac" else ("layerwise", "diagonal")
    for kind in kinds:
        best = bj.optimize_prior_precision(lap, prior_structure=kind, num_steps=400)
        e = float(best.log_marginal_likelihood())
        assert e >= e0
        groups = evidence.prior_groups(lap.view, lap.structure, lap.layers, kind)
        p0 = np.asarray(best.prior_precision)
        assert len(np.unique(p0)) > 1 and all(len(np.unique(p0[groups == g])) == 1
                                              for g in np.unique(groups))
        # the noise is optimised with it: the result's evidence is the one at its (σ, p0)
        np.testing.assert_allclose(e, lap.log_marginal_likelihood(best.prior_precision, noise=best.noise),
                                   rtol=1e-10)


def test_layerwise_optimum_is_a_maximum_per_tensor(x64):
    lap = bj.laplace(_post(), structure="diag")
    best = bj.optimize_prior_precision(lap, prior_structure="layerwise", num_steps=1500,
                                       learning_rate=0.05)
    p0, sig = np.asarray(best.prior_precision), float(best.noise)
    value = float(best.log_marginal_likelihood())
    groups = evidence.prior_groups(lap.view, lap.structure, lap.layers, "layerwise")
    assert groups.max() + 1 == len(lap.view.paths) == 4
    for g in range(4):
        for f in (1.05, 0.95):
            moved = np.where(groups == g, p0 * f, p0)
            assert value >= float(lap.log_marginal_likelihood(jnp.asarray(moved), noise=sig)) - 1e-9
    for f in (1.02, 0.98):
        assert value >= float(lap.log_marginal_likelihood(jnp.asarray(p0), noise=sig * f)) - 1e-9
    size = evidence._optimize._cache_size()
    bj.optimize_prior_precision(lap, prior_structure="layerwise", num_steps=1500, learning_rate=0.05)
    assert evidence._optimize._cache_size() == size          # a second call does not recompile


def test_bad_prior_structures_raise(x64):
    lap = bj.laplace(_post(), structure="kfac")
    with pytest.raises(ValueError, match="prior_structure='diagonal' needs structure='diag' or 'full'"):
        bj.optimize_prior_precision(lap, prior_structure="diagonal")
    with pytest.raises(ValueError, match="prior_structure"):
        bj.optimize_prior_precision(lap, prior_structure="per_layer")
