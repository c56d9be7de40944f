"""``bj.priors`` as the ``prior=`` of ``numpyro.contrib.module.random_nnx_module``: the NumPyro
model of a small nnx MLP has exactly ``post.log_joint`` as its log density, and NumPyro's own MCMC on it
agrees with ``bj.nuts`` on the same posterior.

The two samplers are compared in function space: the posterior of an MLP is invariant under
permuting hidden units and flipping the sign of a tanh unit's weights, so two correct samplers may
sit in different (equivalent) copies of a mode and disagree on weight means while agreeing on every
prediction. The mean and the standard deviation of f(x) at a few inputs and the mean log-likelihood
must agree within Monte Carlo error: ``|m₁ − m₂| < 4 sqrt(se₁² + se₂²)``, ``se = sd/sqrt(ESS)`` with
ArviZ's ESS for the mean of each estimated quantity.
"""

import arviz_stats as azs
import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from flax import nnx
from numpyro.contrib.module import random_nnx_module
from numpyro.infer import MCMC, NUTS, init_to_value
from numpyro.infer.util import log_density

import bayesjax as bj
from bayesjax.priors import param_paths

SIGMA, N, WIDTH = 0.2, 40, 3
_rng = np.random.default_rng(0)
X = _rng.uniform(-1.5, 1.5, (N, 1)).astype(np.float32)
Y = (np.sin(2.0 * X[:, 0]) + SIGMA * _rng.normal(size=N)).astype(np.float32)
X_TEST = np.array([[-2.5], [-1.0], [0.0], [0.7], [2.5]], np.float32)
KW = dict(num_warmup=500, num_samples=1000)


class MLP(nnx.Module):
    def __init__(self, rngs):
        self.layers = nnx.List([nnx.Linear(1, WIDTH, rngs=rngs), nnx.Linear(WIDTH, 1, rngs=rngs)])

    def __call__(self, x):
        return self.layers[1](jnp.tanh(self.layers[0](x)))


def _posterior(prior):
    return bj.Posterior(MLP(nnx.Rngs(0)), bj.likelihoods.Gaussian(SIGMA), prior, X, Y)


def _model(numpyro_prior):
    def model(x, y=None):
        net = random_nnx_module("net", MLP(nnx.Rngs(0)), prior=numpyro_prior)
        numpyro.sample("y", dist.Normal(net(x)[:, 0], SIGMA), obs=y)
    return model


def _sites(post, params) -> dict:
    """bayesjax parameters as NumPyro sample sites (``random_nnx_module`` scopes them "net/")."""
    return {f"net/{p}": v for p, v in zip(param_paths(post.params), jax.tree.leaves(params),
                                          strict=True)}


def _params(post, sites) -> dict:
    leaves = [sites[f"net/{p}"] for p in param_paths(post.params)]
    return jax.tree.unflatten(jax.tree.structure(post.params), leaves)


PRIORS = {
    "one distribution": lambda post: bj.priors.Gaussian(0.8).to_numpyro(),
    "callable by path": lambda post: post.prior.to_numpyro(),
    "dict of every path": lambda post: post.prior.to_numpyro(post.params),
}


@pytest.mark.parametrize("form", list(PRIORS))
def test_the_numpyro_model_has_the_posterior_as_its_log_density(form):
    prior = (bj.priors.Gaussian(0.8) if form == "one distribution" else
             bj.priors.ByPath({"layers.0": bj.priors.Gaussian(0.5),
                               "layers.1.bias": bj.priors.Laplace(0.3)},
                              default=bj.priors.Gaussian(2.0)))
    post = _posterior(prior)
    model = _model(PRIORS[form](post))
    trace = numpyro.handlers.trace(numpyro.handlers.seed(model, 0)).get_trace(X, Y)
    latent = {k for k, s in trace.items() if s["type"] == "sample" and not s["is_observed"]}
    assert latent == {f"net/{p}" for p in param_paths(post.params)}   # every weight has a prior
    for seed in range(3):
        leaves = jax.tree.leaves(post.params)
        keys = jax.random.split(jax.random.key(seed), len(leaves))
        params = jax.tree.unflatten(jax.tree.structure(post.params),
                                    [jax.random.normal(k, v.shape)
                                     for k, v in zip(keys, leaves, strict=True)])
        lp, _ = log_density(model, (X,), {"y": Y}, _sites(post, params))
        np.testing.assert_allclose(lp, post.log_joint(params), rtol=2e-5)


def _mean_se(q):
    """Mean of draws q (chain, draw) and its Monte Carlo standard error sd/sqrt(ESS)."""
    q = np.asarray(q, np.float64)
    return q.mean(), q.std() / np.sqrt(float(azs.ess(q, method="mean")))


def _agree(a, b, what):
    (ma, sa), (mb, sb) = _mean_se(a), _mean_se(b)
    assert abs(ma - mb) < 4.0 * np.hypot(sa, sb), (what, ma, mb, sa, sb)


@pytest.mark.filterwarnings("ignore:nuts:RuntimeWarning")
def test_numpyro_mcmc_with_the_prior_agrees_with_bj_nuts():
    post = _posterior(bj.priors.Gaussian(1.0))
    fit = bj.fit_map(jax.random.key(0), post, num_steps=3000)
    # both samplers start every chain at the same MAP, with NUTS' default diagonal adaptation
    mc = bj.nuts(jax.random.key(1), post, init_params=fit.params, num_chains=2,
                 progress_bar=False, **KW)
    kernel = NUTS(_model(post.prior.to_numpyro()),
                  init_strategy=init_to_value(values=_sites(post, fit.params)))
    ref = MCMC(kernel, num_chains=2, chain_method="sequential", progress_bar=False, **KW)
    with jax.numpy_dtype_promotion("standard"):   # NumPyro's own MCMC mixes ints and floats
        ref.run(jax.random.key(2), X, Y)
    sites = ref.get_samples(group_by_chain=True)
    theirs = _params(post, {k: v for k, v in sites.items() if k.startswith("net/")})
    # a BNN posterior has regions of high curvature; a few divergences in 2000 draws, in both
    assert ref.get_extra_fields()["diverging"].mean() < 0.01
    assert mc.diagnostics.num_divergent < 0.01 * mc.stats["diverging"].size

    def outputs(samples):   # (chain, draw, M) network outputs at X_TEST, and the log-likelihood
        f = jax.vmap(jax.vmap(lambda p: post.predict(p, X_TEST)[:, 0]))(samples)
        ll = jax.vmap(jax.vmap(post.log_likelihood))(samples)
        return np.asarray(f, np.float64), np.asarray(ll, np.float64)

    (f1, ll1), (f2, ll2) = outputs(mc.samples), outputs(theirs)
    _agree(ll1, ll2, "log-likelihood")
    for m in range(X_TEST.shape[0]):
        _agree(f1[..., m], f2[..., m], f"mean f(x={X_TEST[m, 0]})")
        center = 0.5 * (f1[..., m].mean() + f2[..., m].mean())
        _agree((f1[..., m] - center) ** 2, (f2[..., m] - center) ** 2,
               f"variance of f(x={X_TEST[m, 0]})")
    # the predictive std is not trivially equal: it grows from inside to outside the data
    sd = f1.reshape(-1, X_TEST.shape[0]).std(0)
    assert sd[0] > 3 * sd[2] and sd[4] > 3 * sd[2]
