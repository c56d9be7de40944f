r"""The Bayes-optimal classifier for a Gaussian and a Laplace class: decide the class with the larger
``π_k f_k(x)``.

Class 1: ``π₁ = 1/4``, ``f₁ = N(−1, 1)``; class 2: ``π₂ = 3/4``, ``f₂ = Laplace(1, 1)``. At
``x₀ = 1``: ``π₁f₁ = 0.0135 < π₂f₂ = 0.375``, so class 2. The densities come from ``bj.priors``
(normalised log densities) and are checked against the hand-written formulas. The rule's error, the
Bayes error ``∫ min(π₁f₁, π₂f₂) dx``, is computed by ``bj.quadrature`` and compared with the
simulated error of the same rule (class-1 region between the two roots of ``π₁f₁ = π₂f₂``).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize

import bayesjax as bj
from bayesjax import quadrature
from experiments.common import stats
from experiments.common.claims import claim

PRIORS = (0.25, 0.75)
X0 = 1.0
BOUNDS = (-8.0, 8.0)      # both weighted densities are < 1e-11 outside (the error integrand too)
CLASS1 = bj.priors.Gaussian(1.0, mean=-1.0)
CLASS2 = bj.priors.Laplace(1.0, mean=1.0)


def log_weighted(x):
    """``(log π₁f₁(x), log π₂f₂(x))`` for a scalar x, from the library's normalised densities."""
    return jnp.stack([math.log(PRIORS[0]) + CLASS1.log_prob(x),
                      math.log(PRIORS[1]) + CLASS2.log_prob(x)])


@jax.jit
def _weighted(x):
    return jnp.exp(jax.vmap(log_weighted)(x)).T


def weighted(x):
    """``π_k f_k(x)`` for each x of the 1-D array ``x``: shape (2, M) (numpy; float64 under x64)."""
    return np.asarray(_weighted(jnp.asarray(x)))


def by_hand(x: float) -> np.ndarray:
    """``π_k f_k(x)`` from the textbook formulas of the two densities."""
    return np.array([PRIORS[0] * math.exp(-0.5 * (x + 1) ** 2) / math.sqrt(2 * math.pi),
                     PRIORS[1] * 0.5 * math.exp(-abs(x - 1))])


class ClassifierResult(NamedTuple):
    at_x0: np.ndarray         # π_k f_k(x₀), library
    by_hand: np.ndarray       # the same, hand-written
    class1_region: list       # the roots of π₁f₁ = π₂f₂ (the class-1 interval)
    bayes_error: float        # ∫ min(π₁f₁, π₂f₂) by bj.quadrature
    mc_error: float           # the simulated error of the rule
    se: float                 # binomial s.e. of mc_error at bayes_error
    num_draws: int


def solve(key, *, grid_points: int, num_draws: int) -> ClassifierResult:
    at_x0 = weighted(np.array([X0]))[:, 0]
    # decision boundaries: sign changes of π₁f₁ − π₂f₂ on a grid, refined by root finding
    grid = np.linspace(*BOUNDS, grid_points)
    w = weighted(grid)
    idx = np.nonzero(np.diff(np.sign(w[0] - w[1])))[0]
    bounds = [scipy.optimize.brentq(lambda t: float(np.subtract(*weighted(np.array([t]))[:, 0])),
                                    grid[i], grid[i + 1], xtol=1e-12) for i in idx]
    q = quadrature.grid(lambda t: jnp.min(log_weighted(t[0])), (BOUNDS,), grid_points)
    bayes_err = float(jnp.exp(q.log_normalizer))
    k1, k2, k3 = jax.random.split(key, 3)
    cls2 = np.asarray(jax.random.bernoulli(k1, PRIORS[1], (num_draws,)))
    xs = np.where(cls2, 1.0 + np.asarray(jax.random.laplace(k2, (num_draws,))),
                  -1.0 + np.asarray(jax.random.normal(k3, (num_draws,))))
    if len(bounds) == 2:
        mc_err = float(np.mean(((xs > bounds[0]) & (xs < bounds[1])) == cls2))
    else:
        mc_err = float("nan")
    return ClassifierResult(at_x0, by_hand(X0), bounds, bayes_err, mc_err,
                            float(stats.binomial_se(bayes_err, num_draws)), num_draws)


def metrics(r: ClassifierResult) -> dict:
    return {"weighted_densities_at_x0": r.at_x0, "decision_at_x0": int(np.argmax(r.at_x0)) + 1,
            "class1_region": r.class1_region, "bayes_error_quadrature": r.bayes_error,
            "bayes_error_mc": r.mc_error}


def claims(r: ClassifierResult) -> list[dict]:
    lib, rel = r.at_x0, float(np.max(np.abs(r.at_x0 - r.by_hand) / r.by_hand))
    z = float(stats.z_score(r.mc_error, r.bayes_error, r.se)) if math.isfinite(r.mc_error) \
        else float("nan")
    return [
        claim("Classifier: x0=1 goes to class 2 (0.0135 vs 0.375)",
              [round(float(v), 4) for v in lib], "argmax is class 2, values round to 0.0135 and "
              "0.375", int(np.argmax(lib)) == 1 and round(float(lib[0]), 4) == 0.0135
              and round(float(lib[1]), 3) == 0.375),
        claim("Classifier: library densities equal the hand-written formulas", rel,
              "relative difference < 1e-12 (float64)", rel < 1e-12),
        claim("Classifier: simulated error of the rule equals the Bayes error by quadrature",
              {"quadrature": r.bayes_error, "mc": r.mc_error, "z": z},
              f"|mc − quad| ≤ Z = {stats.Z:.2f} s.e. (suite policy; binomial s.e. at the "
              f"quadrature value, {r.num_draws:,} draws)",
              math.isfinite(z) and abs(z) <= stats.Z, sampled_tests=1),
    ]
