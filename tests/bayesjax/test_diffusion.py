"""Diffusion by the score: the SDEs' marginals against their moment ODEs, the closed-form scores
against autodiff of the closed-form log-densities, the samplers against a Gaussian target (within
Monte Carlo error), denoising score matching against its closed-form value at the true score."""

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.scipy.special import logsumexp
from jax.scipy.stats import multivariate_normal

from bayesjax import diffusion

MEAN = np.array([2.0, -1.0])
COV = np.array([[0.25, 0.2], [0.2, 1.0]])
Z = 4.56   # the suite's two-sided level (experiments/common/stats.py)


class FlippedDrift(NamedTuple):
    """The VP SDE with the forward drift's sign wrong: what a sampler bug looks like."""

    sde: diffusion.VP

    def drift(self, x, t):
        return -self.sde.drift(x, t)

    def diffusion(self, t):
        return self.sde.diffusion(t)

    @property
    def prior_std(self):
        return self.sde.prior_std


@pytest.mark.parametrize("sde", [diffusion.VP(), diffusion.VE(0.01, 10.0)])
def test_marginal_variance_solves_the_moment_ode(sde, x64):
    """For a linear SDE started at x_0 = 0, v(t) = σ(t)² solves dv/dt = 2 a(t) v + g(t)², with
    f = a(t) x; and α(t) solves dα/dt = a(t) α, α(0) = 1."""
    def a(t):
        return sde.drift(jnp.ones((1, 1)), t)[0, 0]

    for t in (0.05, 0.3, 0.9):
        alpha, sigma = sde.marginal(t)
        dv = jax.grad(lambda s: sde.marginal(s)[1] ** 2)(t)
        np.testing.assert_allclose(dv, 2 * a(t) * sigma ** 2 + sde.diffusion(t) ** 2, rtol=1e-10)
        np.testing.assert_allclose(jax.grad(lambda s: sde.marginal(s)[0])(t), a(t) * alpha,
                                   rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(sde.marginal(0.0), (1.0, 0.0), atol=1e-12)
    np.testing.assert_allclose(sde.marginal(1.0)[1], sde.prior_std, rtol=1e-2)


def test_gaussian_and_mixture_scores_are_gradients_of_the_marginal_log_density(x64):
    sde = diffusion.VP()
    x = jnp.asarray(np.random.default_rng(0).normal(size=(7, 2)) * 2)
    for t in (0.01, 0.4):
        m_t, c_t = diffusion.gaussian_marginal(sde, t, MEAN, COV)
        auto = jax.vmap(jax.grad(lambda xi, m=m_t, c=c_t: multivariate_normal.logpdf(xi, m, c)))(x)
        np.testing.assert_allclose(diffusion.gaussian_score(sde, t, x, MEAN, COV), auto,
                                   rtol=1e-10)
        # the score points toward the mean: <s(x), μ_t − x> > 0
        assert np.all(np.sum(np.asarray(auto) * (np.asarray(m_t) - np.asarray(x)), 1) > 0)
    w = jnp.array([0.3, 0.7])
    means = jnp.array([[1.0, 0.0], [-1.0, 2.0]])
    covs = jnp.stack([jnp.asarray(COV), 0.1 * jnp.eye(2)])
    t = jnp.linspace(0.05, 0.9, 7)        # one time per point

    def log_p(xi, ti):
        comps = [jnp.log(w[k]) + multivariate_normal.logpdf(
            xi, *diffusion.gaussian_marginal(sde, ti, means[k], covs[k])) for k in range(2)]
        return logsumexp(jnp.stack(comps))

    np.testing.assert_allclose(diffusion.mixture_score(sde, t, x, w, means, covs),
                               jax.vmap(jax.grad(log_p))(x, t), rtol=1e-9)


@pytest.mark.parametrize("sampler", [diffusion.reverse_sde, diffusion.probability_flow_ode])
def test_exact_score_samplers_reproduce_a_gaussian_and_a_wrong_drift_does_not(sampler):
    sde, n = diffusion.VP(), 4000
    exact = jax.tree_util.Partial(lambda x, t: diffusion.gaussian_score(sde, t, x, MEAN, COV))
    out = sampler(jax.random.key(1), exact, sde, (n, 2), num_steps=200)
    x = np.asarray(out.samples, np.float64)
    sd = np.sqrt(np.diag(COV))
    assert np.all(np.abs(x.mean(0) - MEAN) <= Z * sd / math.sqrt(n))
    assert np.all(np.abs(x.std(0, ddof=1) - sd) <= Z * sd / math.sqrt(2 * n))
    wrong = np.asarray(sampler(jax.random.key(1), exact, FlippedDrift(sde), (n, 2),
                               num_steps=200).samples)
    assert np.all(np.abs(wrong.mean(0) - MEAN) > 3 * Z * sd / math.sqrt(n))   # fails by far


def test_trajectory_saves_endpoints_and_does_not_recompile():
    sde = diffusion.VP()

    def score(scale, x, t):
        return -scale * x

    out = diffusion.reverse_sde(jax.random.key(0), jax.tree_util.Partial(score, 1.0), sde, (5, 2),
                                num_steps=20, num_saved=3)
    assert out.path.shape == (3, 5, 2) and out.times.shape == (3,)
    np.testing.assert_allclose(out.times, [1.0, 0.5005, 1e-3], rtol=1e-5)
    np.testing.assert_array_equal(out.path[-1], out.samples)
    before = diffusion._sample._cache_size()
    diffusion.reverse_sde(jax.random.key(1), jax.tree_util.Partial(score, 2.0), sde, (5, 2),
                          num_steps=20, num_saved=3)
    assert diffusion._sample._cache_size() == before


def test_dsm_loss_at_the_true_score_is_its_closed_form():
    """E‖σ ∇ln p_t + ε‖² = d − σ² tr(C_t⁻¹) (E[∇ln p ∇ln pᵀ] = C_t⁻¹), averaged over t ~ U(t_min, 1);
    a score 20% too large has a larger loss; the zero score has loss E‖ε‖² = d."""
    sde, t_min, n = diffusion.VP(), 1e-3, 200_000
    x0 = jax.random.multivariate_normal(jax.random.key(0), MEAN, COV, (n,))
    score = lambda x, t: diffusion.gaussian_score(sde, t, x, MEAN, COV)
    ts = np.linspace(t_min, 1.0, 20_001)
    closed = np.mean([2 - sde.marginal(t)[1] ** 2 * np.trace(np.linalg.inv(
        np.asarray(diffusion.gaussian_marginal(sde, t, MEAN, COV)[1]))) for t in ts[::50]])
    keys = jax.random.split(jax.random.key(1), 20)
    losses = np.array([diffusion.dsm_loss(k, score, sde, x0, t_min=t_min) for k in keys])
    se = losses.std(ddof=1) / math.sqrt(losses.size)
    assert abs(losses.mean() - closed) <= Z * se + 2e-3   # + the t-grid quadrature error
    too_big = diffusion.dsm_loss(keys[0], lambda x, t: 1.2 * score(x, t), sde, x0)
    assert float(too_big) > losses[0] + 0.01
    np.testing.assert_allclose(diffusion.dsm_loss(keys[0], lambda x, t: 0 * x, sde, x0), 2.0,
                               rtol=0.02)


@pytest.mark.parametrize("kwargs, match", [
    ({"shape": (5,)}, "shape must be"),
    ({"num_steps": 0}, "num_steps"),
    ({"t_min": 0.0}, "t_min"),
    ({"t_min": 1.0}, "t_min"),
    ({"num_saved": 30}, "num_saved"),
    ({"sde": object()}, "drift"),
    ({"sde": diffusion.VE(1.0, 0.5)}, "sigma_max > sigma_min"),
    ({"sde": diffusion.VP(-0.1, 20.0)}, "beta_min"),
    ({"score_fn": 3}, "callable"),
])
def test_bad_input(kwargs, match):
    args = {"score_fn": lambda x, t: -x, "sde": diffusion.VP(), "shape": (5, 2), "num_steps": 20}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        diffusion.reverse_sde(jax.random.key(0), args.pop("score_fn"), args.pop("sde"),
                              args.pop("shape"), **args)
