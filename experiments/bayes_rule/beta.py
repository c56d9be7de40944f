r"""A Beta prior updated by coin flips: Beta(2, 2) and 70 ones, 30 zeros give Beta(72, 32), mean 0.692.

The closed form is ``bj.conjugate.beta_bernoulli`` (posterior, moments, evidence of the sequence);
the independent route is ``bj.quadrature`` of prior × likelihood written out
(``log Beta(θ; a, b) + k log θ + m log(1 − θ)``) on (0, 1).
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import jax.scipy.stats as jstats
import numpy as np

from bayesjax import conjugate, quadrature
from experiments.common.claims import claim

TEXT_POSTERIOR = (72.0, 32.0)
TEXT_MEAN = 0.692
TOL = 1e-7     # quadrature error allowed (the midpoint rule on a smooth density), far above rounding


class BetaResult(NamedTuple):
    prior: tuple              # (a, b)
    ones: int
    zeros: int
    posterior: tuple          # (a + ones, b + zeros), bj.conjugate
    mean: float
    var: float
    log_evidence: float
    q_mean: float             # the same by quadrature
    q_var: float
    q_log_evidence: float
    theta: np.ndarray         # the quadrature's cell midpoints
    q_density: np.ndarray     # and the normalised posterior density there


def update(*, a: float, b: float, ones: int, zeros: int, grid_points: int) -> BetaResult:
    post = conjugate.beta_bernoulli(ones, ones + zeros, alpha=a, beta=b)

    def log_joint(t):
        th = t[0]
        return (jstats.beta.logpdf(th, a, b) + ones * jnp.log(th) + zeros * jnp.log1p(-th))

    q = quadrature.grid(log_joint, ((0.0, 1.0),), grid_points)
    return BetaResult((a, b), ones, zeros, (float(post.alpha), float(post.beta)),
                      float(post.mean), float(post.var), float(post.log_marginal_likelihood),
                      float(q.mean[0]), float(q.cov[0, 0]), float(q.log_normalizer),
                      np.asarray(q.axes[0]), np.asarray(q.density))


def metrics(r: BetaResult) -> dict:
    return {"posterior": list(r.posterior), "posterior_mean": r.mean,
            "posterior_mean_quadrature": r.q_mean, "posterior_var": r.var,
            "posterior_var_quadrature": r.q_var, "log_evidence": r.log_evidence,
            "log_evidence_quadrature": r.q_log_evidence}


def claims(r: BetaResult) -> list[dict]:
    err = max(abs(r.q_mean - r.mean), abs(r.q_var - r.var), abs(r.q_log_evidence - r.log_evidence))
    return [
        claim("Beta(2,2) + 70 ones, 30 zeros → Beta(72,32), posterior mean 0.692",
              {"posterior": list(r.posterior), "mean": round(r.mean, 6)},
              f"parameters {TEXT_POSTERIOR} and mean rounds to {TEXT_MEAN}",
              r.posterior == TEXT_POSTERIOR and round(r.mean, 3) == TEXT_MEAN),
        claim("Beta: quadrature of prior × likelihood gives the same mean, variance and evidence",
              err, f"max abs difference < {TOL}", err < TOL),
    ]
