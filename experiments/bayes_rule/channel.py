r"""A Gaussian channel ``y = h·x + n``: the posterior of the gain h from ``m`` known BPSK pilots.

With ``h ~ N(0, σ_h²)`` and ``n ~ N(0, σ_n²)`` this is a one-feature Bayesian linear regression: the
closed form is ``bj.conjugate.bayesian_linear_regression`` (mean, variance, evidence). Two
independent routes read the same model written as a ``bj.Posterior``: ``bj.fit_map`` (its mode is
the posterior mean) and ``bj.quadrature.from_posterior`` (mean, variance and evidence of
``exp(Posterior.log_joint)`` on ±12 posterior std).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

import bayesjax as bj
from bayesjax import conjugate, quadrature
from experiments.common.claims import claim

TOL = 1e-8            # float64, far below any modelling difference
HALF_WIDTH_SD = 12.0  # the quadrature box, in posterior std


class ChannelResult(NamedTuple):
    h_true: float
    pilots: int
    sigma_h: float
    sigma_n: float
    mean: float               # bj.conjugate
    var: float
    log_evidence: float
    h_map: float              # bj.fit_map
    q_mean: float             # bj.quadrature
    q_var: float
    q_log_evidence: float
    h_grid: np.ndarray        # the quadrature's midpoints and normalised density there
    q_density: np.ndarray


def estimate(key, *, sigma_h: float, sigma_n: float, pilots: int, grid_points: int,
             fit_steps: int) -> ChannelResult:
    kh, kx, kn = jax.random.split(key, 3)
    h_true = float(sigma_h * jax.random.normal(kh))
    x = np.asarray(jnp.where(jax.random.bernoulli(kx, 0.5, (pilots,)), 1.0, -1.0))   # BPSK
    y = h_true * x + sigma_n * np.asarray(jax.random.normal(kn, (pilots,)))
    exact = conjugate.bayesian_linear_regression(x[:, None], y, noise=sigma_n, prior_scale=sigma_h)
    mean, var = float(exact.mean[0]), float(exact.cov[0, 0])

    post = bj.Posterior.from_apply(lambda p, xs: p["h"] * xs, {"h": jnp.zeros(())},
                                   bj.likelihoods.Gaussian(sigma_n), bj.priors.Gaussian(sigma_h),
                                   x, y)
    lip = (x @ x / sigma_n**2 + 1 / sigma_h**2) / pilots   # curvature of the per-datum objective
    res = bj.fit_map(jax.random.key(0), post, optax.sgd(1.0 / lip), num_steps=fit_steps)
    half = HALF_WIDTH_SD * math.sqrt(var)
    q = quadrature.from_posterior(post, ((mean - half, mean + half),), grid_points)
    return ChannelResult(h_true, pilots, sigma_h, sigma_n, mean, var,
                         float(exact.log_marginal_likelihood), float(res.params["h"]),
                         float(q.mean[0]), float(q.cov[0, 0]), float(q.log_normalizer),
                         np.asarray(q.axes[0]), np.asarray(q.density))


def metrics(r: ChannelResult) -> dict:
    return {"h_true": r.h_true, "posterior_mean": r.mean, "posterior_var": r.var,
            "h_map": r.h_map, "posterior_mean_quadrature": r.q_mean,
            "posterior_var_quadrature": r.q_var, "log_evidence": r.log_evidence,
            "log_evidence_quadrature": r.q_log_evidence}


def claims(r: ChannelResult) -> list[dict]:
    errs = {"map_vs_mean": abs(r.h_map - r.mean), "quad_mean": abs(r.q_mean - r.mean),
            "quad_var": abs(r.q_var - r.var) / r.var,
            "log_evidence": abs(r.q_log_evidence - r.log_evidence)}
    return [
        claim("Channel: fit_map of the Gaussian posterior = closed-form posterior mean; quadrature "
              "of Posterior.log_joint = closed-form mean, variance and evidence", errs,
              f"each difference < {TOL} (float64)", max(errs.values()) < TOL),
    ]
