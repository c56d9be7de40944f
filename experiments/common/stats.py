r"""The suite's one significance policy, and the tests that use it.

A claim that compares a *sampled* quantity (a Monte Carlo average, an SGD variance, a coverage
rate, an estimated prior) with its target can fail for a correct implementation by chance. The
policy bounds the probability that a correct implementation fails **any** claim of the **whole
suite** — 16 experiments, each checked at the 5 seeds 0–4 — by ``FAMILY_ERROR`` = 1%:

* every run (one experiment at one seed) makes at most ``MAX_TESTS_PER_RUN`` = 25 elementary
  sampled comparisons (each claim declares how many through ``claim(..., sampled_tests=k)``; a
  claim "for each of 8 runs" counts 8; the smoke test checks the budget);
* so the suite makes at most ``NUM_TESTS`` = 16 · 5 · 25 = 2000 comparisons, and by the union
  (Bonferroni) bound ``P(any false alarm) ≤ NUM_TESTS · ALPHA``, each comparison gets
  ``ALPHA`` = 0.01 / 2000 = 5·10⁻⁶;
* for an asymptotically normal estimate that is a two-sided threshold of ``Z`` = Φ⁻¹(1 − α/2)
  = 4.56 standard errors, or a one-sided ``Z_ONE_SIDED`` = Φ⁻¹(1 − α) = 4.42;
* for a mean whose standard error is itself estimated from few (n) independent values, the
  Student-t quantile ``t_threshold(n)`` = t_{n−1}⁻¹(1 − α/2) instead of ``Z`` (with n = 16,
  ``Z`` would allow a false alarm of 3.7·10⁻⁴, 75× α);
* for a statistic whose null law is only simulated (e.g. the total-variation distance of Monte
  Carlo noise), a 1 − α quantile cannot be read off a few thousand draws, and the normal
  approximation ``mean + Z_ONE_SIDED · sd`` is **not** safe: ``sgd_as_posterior`` measured such a
  null (dominated by a few slow components of a chain) exceeding it ~10⁻³ of the time. Use a
  bound that holds for the statistic's law at level α — there, the Gaussian-concentration
  (Borell–TIS) bound of a norm of Gaussian noise.

The union bound needs no independence between the comparisons, so correlated claims (the same
chain checked twice) are covered. Claims must still fail for a wrong implementation: an effect
size the criterion tests should be many times ``Z`` standard errors, and the experiment's tests
show a deliberately wrong implementation failing.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import norm
from scipy.stats import t as t_dist

NUM_EXPERIMENTS = 16
NUM_SEEDS = 5
MAX_TESTS_PER_RUN = 25
FAMILY_ERROR = 0.01
NUM_TESTS = NUM_EXPERIMENTS * NUM_SEEDS * MAX_TESTS_PER_RUN
ALPHA = FAMILY_ERROR / NUM_TESTS
Z = float(norm.isf(ALPHA / 2))
Z_ONE_SIDED = float(norm.isf(ALPHA))


def mean_se(x, axis=0) -> tuple[np.ndarray, np.ndarray]:
    """Sample mean and its standard error ``sd/√n`` (ddof = 1) along ``axis``, in float64."""
    x = np.asarray(x, np.float64)
    n = x.shape[axis]
    if n < 2:
        raise ValueError(f"mean_se: need at least 2 values along axis {axis}, got {n}")
    return x.mean(axis), x.std(axis, ddof=1) / math.sqrt(n)


def binomial_se(p, n):
    """Standard error ``√(p(1−p)/n)`` of a proportion ``p`` estimated from ``n`` trials."""
    p = np.asarray(p, np.float64)
    return np.sqrt(p * (1.0 - p) / n)


def z_score(measured, target, se):
    """``(measured − target) / se`` (float64); ``se`` must be positive."""
    se = np.asarray(se, np.float64)
    if np.any(~(se > 0)):
        raise ValueError(f"z_score: the standard error must be > 0, got {se}")
    return (np.asarray(measured, np.float64) - np.asarray(target, np.float64)) / se


def t_threshold(num: int) -> float:
    """The two-sided level-``ALPHA`` threshold, in standard errors, of a mean whose standard error
    is estimated from ``num`` independent values (Student t with ``num − 1`` degrees of freedom;
    tends to ``Z`` as ``num`` grows)."""
    if num < 2:
        raise ValueError(f"t_threshold: need at least 2 values, got {num}")
    return float(t_dist.isf(ALPHA / 2, num - 1))


def within(measured, target, se) -> bool:
    """Two-sided test at the policy's level: ``|measured − target| ≤ Z · se`` (every element)."""
    return bool(np.all(np.abs(z_score(measured, target, se)) <= Z))


def exceeds(measured, target, se) -> bool:
    """One-sided test at the policy's level: ``measured − target > Z_ONE_SIDED · se`` (every
    element) — the sampled quantity is *significantly* above the target."""
    return bool(np.all(z_score(measured, target, se) > Z_ONE_SIDED))


def paired_z(a, b) -> float:
    """z statistic of the mean paired difference ``a − b`` (per-item values of two methods on the
    same items): ``mean(d) / (sd(d)/√n)``. Positive when ``a`` is larger."""
    d = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    m, se = mean_se(d.reshape(-1))
    if not se > 0:
        return math.copysign(math.inf, m) if m != 0 else 0.0
    return float(m / se)
