r"""Heteroscedastic regression: noise that grows with |x|, learned by an MLP with two outputs.

Data ``y = sin(3x) + σ(x)·ε`` with ``σ(x) = σ₀ + σ₁|x|`` on x uniform in [-1, 1]. A tanh MLP
1-w-w-2 outputs ``(μ(x), s(x) = log σ²(x))`` under ``bj.likelihoods.HeteroscedasticGaussian``;
``bj.fit_map``, then ``bj.laplace`` (full GGN, with the likelihood's Fisher as output precision) and
its GLM predictive split the predictive variance of y into a per-input aleatoric part
``E[exp(s)] = exp(s* + Var[s]/2)`` and the epistemic ``Var_θ[μ(x;θ)]``. The baseline is the same
MLP with one output and a homoscedastic ``Gaussian`` likelihood whose σ is the best constant: the
true pooled ``sqrt(E_x σ(x)²)`` (an oracle value, not fitted). Both are scored by the held-out log
density of the moment-matched Gaussian predictive ``N(mean, aleatoric + epistemic)`` on fresh in-range
points (float32): exactly the GLM predictive for the homoscedastic net; for the heteroscedastic one the
GLM predictive of y is a scale mixture over ``s`` and this is the Gaussian of its mean and variance."""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from scipy.stats import norm

import bayesjax as bj
from experiments.common.claims import log
from experiments.common.models import MLP
from experiments.predictive_uncertainty.mlp import mlp_target

NUM_TEST = 2000                           # fresh in-range test points
GRID_POINTS = 201


def true_noise(x, base: float, slope: float):
    """The true noise std ``σ(x) = base + slope·|x|`` (units of y)."""
    return base + slope * jnp.abs(x)


def pooled_noise(base: float, slope: float) -> float:
    """``sqrt(E[σ(x)²])`` for x uniform on [-1, 1]: ``base² + base·slope + slope²/3`` under the root,
    the σ of the best homoscedastic Gaussian (the one with the least expected KL to the truth)."""
    return float(np.sqrt(base**2 + base * slope + slope**2 / 3.0))


@functools.partial(jax.jit, static_argnames=("n", "n_test"))
def draws(key, n: int, n_test: int, base, slope):
    """Training data (x (n, 1), y (n,)), fresh in-range test data, two init seeds and two fit keys."""
    k_x, k_y, k_xt, k_yt, k_init, k_fit = jax.random.split(key, 6)
    x = jax.random.uniform(k_x, (n, 1), minval=-1.0, maxval=1.0)
    xt = jax.random.uniform(k_xt, (n_test, 1), minval=-1.0, maxval=1.0)
    y = mlp_target(x[:, 0]) + true_noise(x[:, 0], base, slope) * jax.random.normal(k_y, (n,))
    yt = mlp_target(xt[:, 0]) + true_noise(xt[:, 0], base, slope) * jax.random.normal(k_yt,
                                                                                       (n_test,))
    return x, y, xt, yt, jax.random.randint(k_init, (2,), 0, 2**31 - 1), jax.random.split(k_fit)


class HeteroResult(NamedTuple):
    """What the heteroscedastic part measured: the data, the grid on ``[-half_width, half_width]``
    and on it the heteroscedastic GLM predictive (``mean``, ``aleatoric``, ``epistemic``, ``true_sd``)
    and the homoscedastic one (``homo_mean``, ``homo_epistemic``, its σ ``homo_noise``); per held-out
    point the log predictive densities ``lpd_het``/``lpd_homo`` (nats); the fits' grad norms."""

    x: np.ndarray
    y: np.ndarray
    grid: np.ndarray
    mean: np.ndarray
    aleatoric: np.ndarray
    epistemic: np.ndarray
    true_sd: np.ndarray
    homo_mean: np.ndarray
    homo_epistemic: np.ndarray
    homo_noise: float
    lpd_het: np.ndarray
    lpd_homo: np.ndarray
    grad_norm: dict
    num_params: int
    width: int
    base: float
    slope: float
    prior_scale: float
    steps: int
    half_width: float


def _fit_laplace(post, key, steps, learning_rate):
    fit = bj.fit_map(key, post, num_steps=steps, learning_rate=learning_rate)
    return bj.laplace(post, fit.params), float(fit.grad_norm)


def hetero_part(key, *, width: int, num_train: int, base: float, slope: float, prior_scale: float,
                steps: int, learning_rate: float, half_width: float) -> HeteroResult:
    """Fit both MLPs by MAP, take the full-GGN Laplace of each and its GLM predictive on the grid
    and on ``NUM_TEST`` fresh in-range points."""
    x, y, xt, yt, seeds, k_fit = draws(key, num_train, NUM_TEST, base, slope)
    prior = bj.priors.Gaussian(prior_scale)
    sig_pool = pooled_noise(base, slope)
    het = bj.Posterior(MLP((1, width, width, 2), jnp.tanh, nnx.Rngs(int(seeds[0]))),
                       bj.likelihoods.HeteroscedasticGaussian(), prior, x, y)
    homo = bj.Posterior(MLP((1, width, width, 1), jnp.tanh, nnx.Rngs(int(seeds[1]))),
                        bj.likelihoods.Gaussian(sig_pool), prior, x, y)
    lap_het, gn_het = _fit_laplace(het, k_fit[0], steps, learning_rate)
    lap_homo, gn_homo = _fit_laplace(homo, k_fit[1], steps, learning_rate)
    log(f"hetero: MAP grad_norm {gn_het:.1e} (2 outputs), {gn_homo:.1e} (1 output, σ = "
        f"{sig_pool:.4f})")
    grid = np.linspace(-half_width, half_width, GRID_POINTS)
    m = grid.size
    xs = np.concatenate([grid, np.asarray(xt[:, 0], np.float64)])[:, None].astype(np.float32)
    ph = [np.asarray(v, np.float64) for v in lap_het.predictive(xs, "glm")]
    po = [np.asarray(v[:, 0], np.float64) for v in lap_homo.predictive(xs, "glm")]
    yt64 = np.asarray(yt, np.float64)

    def lpd(p):
        return norm.logpdf(yt64, p[0][m:], np.sqrt(p[1][m:] + p[2][m:]))

    lpd_het, lpd_homo = lpd(ph), lpd(po)
    log(f"hetero: held-out log predictive density per point {lpd_het.mean():.3f} nats "
        f"(heteroscedastic) vs {lpd_homo.mean():.3f} (homoscedastic)")
    return HeteroResult(
        x=np.asarray(x[:, 0], np.float64), y=np.asarray(y, np.float64), grid=grid,
        mean=ph[0][:m], aleatoric=ph[1][:m], epistemic=ph[2][:m],
        true_sd=np.asarray(true_noise(grid, base, slope), np.float64),
        homo_mean=po[0][:m], homo_epistemic=po[2][:m], homo_noise=sig_pool,
        lpd_het=lpd_het, lpd_homo=lpd_homo, grad_norm={"heteroscedastic": gn_het,
                                                       "homoscedastic": gn_homo},
        num_params=lap_het.num_params, width=width, base=base, slope=slope,
        prior_scale=prior_scale, steps=steps, half_width=half_width)
