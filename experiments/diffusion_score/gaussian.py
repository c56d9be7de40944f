"""Gaussian data, whose every noised marginal p_t and score are known: the score field, and the
two samplers driven by the exact score (and by a wrong drift)."""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.stats import multivariate_normal

import bayesjax as bj
from experiments.common import stats


class FlippedDrift(NamedTuple):
    """``sde`` with the forward drift's sign wrong (``+½β x`` for VP): the same sampler code with a
    wrong drift coefficient, which must visibly fail."""

    sde: bj.diffusion.VP

    def drift(self, x, t):
        return -self.sde.drift(x, t)

    def diffusion(self, t):
        return self.sde.diffusion(t)

    @property
    def prior_std(self):
        return self.sde.prior_std


def score_field_check(sde, mean, cov, times, grid) -> dict:
    """On ``grid`` (m, 2) at each of ``times``: the closed-form score against autodiff of the
    closed-form log p_t (largest relative error) and the smallest cosine between the score and the
    direction to the mean of p_t (> 0: the score points to the mean)."""
    max_err, min_cos = 0.0, 1.0
    with jax.enable_x64(True):
        x = jnp.asarray(grid, jnp.float64)
        for t in times:
            m_t, c_t = bj.diffusion.gaussian_marginal(sde, t, jnp.asarray(mean, jnp.float64),
                                                      jnp.asarray(cov, jnp.float64))
            auto = jax.vmap(jax.grad(lambda xi, m=m_t, c=c_t: multivariate_normal.logpdf(xi, m, c)))(x)
            s = bj.diffusion.gaussian_score(sde, t, x, mean, cov)
            err = jnp.linalg.norm(s - auto, axis=1) / jnp.linalg.norm(auto, axis=1)
            to_mean = m_t[None] - x
            cos = jnp.sum(s * to_mean, 1) / (jnp.linalg.norm(s, axis=1)
                                             * jnp.linalg.norm(to_mean, axis=1))
            max_err, min_cos = max(max_err, float(err.max())), min(min_cos, float(cos.min()))
    return {"max_rel_error_vs_autodiff": max_err, "min_cosine_to_mean": min_cos}


def moment_test(x, mean, cov) -> dict:
    """Per coordinate: sample mean and sd against the target's, z-scores with the s.e. of a
    Gaussian sample (``sd/√n`` and ``sd/√(2n)``), and whether all lie within Z (suite policy)."""
    x = np.asarray(x, np.float64)
    n, sd = x.shape[0], np.sqrt(np.diag(cov))
    z_mean = stats.z_score(x.mean(0), mean, sd / math.sqrt(n))
    z_sd = stats.z_score(x.std(0, ddof=1), sd, sd / math.sqrt(2 * n))
    return {"mean": x.mean(0).tolist(), "sd": x.std(0, ddof=1).tolist(),
            "z_mean": z_mean.tolist(), "z_sd": z_sd.tolist(),
            "max_abs_z": float(np.max(np.abs(np.concatenate([z_mean, z_sd])))),
            "within": bool(np.all(np.abs(np.concatenate([z_mean, z_sd])) <= stats.Z))}


def exact_score_samples(key, sde, mean, cov, num_samples: int, num_steps: int) -> dict:
    """Samples of the reverse SDE and the probability-flow ODE with the exact score, each also with
    the flipped drift (same keys), as numpy arrays."""
    score = jax.tree_util.Partial(_gaussian_score, sde, jnp.asarray(mean, jnp.float32),
                                  jnp.asarray(cov, jnp.float32))
    shape = (num_samples, 2)
    k_sde, k_ode = jax.random.split(key)
    out = {}
    for name, s in (("exact", sde), ("flipped_drift", FlippedDrift(sde))):
        out[f"sde_{name}"] = np.asarray(bj.diffusion.reverse_sde(
            k_sde, score, s, shape, num_steps=num_steps).samples)
        out[f"ode_{name}"] = np.asarray(bj.diffusion.probability_flow_ode(
            k_ode, score, s, shape, num_steps=num_steps).samples)
    return out


def _gaussian_score(sde, mean, cov, x, t):
    return bj.diffusion.gaussian_score(sde, t, x, mean, cov)
