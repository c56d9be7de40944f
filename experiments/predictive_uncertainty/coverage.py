r"""Coverage of a 95% predictive interval: the closed forms, and the replicate simulation.

For Bayesian linear regression with posterior ``N(μ, Σ)`` the interval ``φᵀμ ± Z₉₅·sqrt(σ² + φᵀΣφ)``
covers exactly 95% under the model's prior predictive; the plug-in ``φᵀμ ± Z₉₅·σ`` covers
``2Φ(Z₉₅σ/sqrt(σ² + φᵀΣφ)) − 1``; with one fixed w the Bayesian interval covers what
:func:`fixed_w_coverage` says.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from scipy.stats import norm

from bayesjax import conjugate, metrics
from experiments.common import stats, sweep

LEVEL = 0.95
Z95 = float(norm.ppf(0.5 + LEVEL / 2))    # 1.959964: half-width of a 95% interval in std units


def plugin_coverage(v, noise: float):
    """Coverage of ``mean ± Z₉₅·σ`` when ``y* − mean ~ N(0, σ² + v)``: ``2Φ(Z₉₅σ/√(σ²+v)) − 1``."""
    return 2.0 * norm.cdf(Z95 * noise / np.sqrt(noise**2 + np.asarray(v))) - 1.0


def fixed_w_coverage(phi, w, phi_train, cov, noise: float, prior_scale: float):
    r"""Coverage of the Bayesian 95% interval at features ``phi`` (M, D) when w is fixed and only
    the noise is redrawn (float64 numpy).

    With ``μ = ΣΦᵀ(Φw + ε)/σ²`` (prior mean 0, ``cov`` = Σ of the training design ``phi_train``) the
    error is ``y* − φᵀμ = φᵀΣw/s² − φᵀΣΦᵀε/σ² + ε*``, Gaussian with bias ``b = φᵀΣw/s²``
    (shrinkage towards the prior mean 0) and variance ``τ² = σ² + φᵀΣΦᵀΦΣφ/σ²``; the interval
    half-width is ``h = Z₉₅·sqrt(σ² + φᵀΣφ)``, so the coverage is ``Φ((h − b)/τ) − Φ((−h − b)/τ)``.
    ``w`` is (D,) or a stack (K, D) of weights, giving (M,) or (K, M).
    """
    phi, phi_train = np.asarray(phi, np.float64), np.asarray(phi_train, np.float64)
    cov, w = np.asarray(cov, np.float64), np.asarray(w, np.float64)
    cphi = cov @ phi.T                                           # (D, M)
    bias = w @ cphi / prior_scale**2
    a = phi_train @ cphi                                         # (N, M)
    tau = np.sqrt(noise**2 + np.sum(a * a, axis=0) / noise**2)
    h = Z95 * np.sqrt(noise**2 + np.sum(phi.T * cphi, axis=0))
    return norm.cdf((h - bias) / tau) - norm.cdf((-h - bias) / tau)


@functools.cache
def _replicates(noise: float, prior_scale: float):
    """The per-replicate draw, posterior and predictive, swept over the replicates on
    ``jax.devices()`` (one compile per shape)."""

    def one(phi_train, w, key, phi_shared, phi_o):
        k_train, k_test = jax.random.split(key)
        phi_t = jnp.concatenate([phi_shared, phi_o])
        y = phi_train @ w + noise * jax.random.normal(k_train, phi_train.shape[:1], w.dtype)
        pred = conjugate.bayesian_linear_regression(
            phi_train, y, noise=noise, prior_scale=prior_scale).predictive(phi_t)
        y_star = phi_t @ w + noise * jax.random.normal(k_test, phi_t.shape[:1], w.dtype)
        return y_star, pred.mean, jnp.sqrt(pred.total_var), jnp.sqrt(pred.aleatoric_var)

    return sweep.sharded_vmap(one, in_axes=(None, 0, 0, None, 0))


@jax.jit
def _coverages(y_star, mean, sd_total, sd_noise):
    per_input = jax.vmap(metrics.coverage, in_axes=1)
    return (per_input(y_star, mean - Z95 * sd_total, mean + Z95 * sd_total),
            per_input(y_star, mean - Z95 * sd_noise, mean + Z95 * sd_noise))


def replicate_coverage(phi_train, ws, keys, phi_shared, phi_own, *, noise: float,
                       prior_scale: float):
    r"""Coverage of the Bayesian and of the plug-in 95% interval at each test input, over R
    replicate data sets (one compiled sweep, split over ``jax.devices()``).

    Replicate r draws ``y_r = Φw_r + σε`` on the design ``phi_train`` (N, D), its exact
    posterior ``bj.conjugate.bayesian_linear_regression`` and predictive, and one
    ``y*_r = φᵀw_r + σε*`` at each test input: the M_s shared ones ``phi_shared`` (M_s, D) and its
    own ``phi_own[r]`` (M_o, D). The R replicates (``ws`` (R, D), ``keys`` (R,), ``phi_own``) are
    one ``common.sweep.sharded_vmap``: vmapped, and sharded over the devices when there are
    several. Returns ``(bayes, plugin)``, each (M_s + M_o,): the share of the R replicates whose
    y* the interval holds (``bj.metrics.coverage`` per test input).
    """
    draws = _replicates(float(noise), float(prior_scale))(phi_train, ws, keys, phi_shared, phi_own)
    return _coverages(*draws)


def simultaneous_z(num_points: int) -> float:
    """The threshold for ``num_points`` two-sided z-tests that together spend the suite's budget of
    ONE sampled comparison (``stats.ALPHA``), by Bonferroni: ``Φ⁻¹(1 − α/(2m))``."""
    return float(norm.isf(stats.ALPHA / (2 * num_points)))
