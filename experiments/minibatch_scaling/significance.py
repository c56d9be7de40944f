r"""The two sampled tests of minibatch_scaling, at the suite's significance level
(``experiments.common.stats``).

* **Fixed point.** R independent SGD runs end at ``θ_r``; their mean has the per-coordinate
  standard errors of ``stats.mean_se``, whose norm ``SE = sqrt(Σ_r ‖θ_r − θ̄‖² / (R(R−1)))`` is the
  standard error of the mean end point. If the runs scatter without bias around ``target``,
  ``‖θ̄ − target‖ / SE`` is at most a Student-t variable with R − 1 degrees of freedom (the worst
  case: all the noise along one direction). So the test is ``‖θ̄ − target‖ ≤ k·SE + solver_bound``
  with ``k = stats.t_threshold(R)`` = t_{R−1}⁻¹(1 − α/2), α = ``stats.ALPHA``: the policy's
  level, with the exact law of a mean whose s.e. comes from only R runs (``stats.Z`` is the
  R → ∞ limit of k; with R = 16, ``stats.Z`` itself would allow a false alarm of 3.7·10⁻⁴, 75×
  the policy's α).
* **Unbiasedness.** The mean of many independent minibatch estimates against the exact value,
  ``stats.within`` (|z| ≤ ``stats.Z``; the CLT over thousands of estimates).
"""

from __future__ import annotations

import numpy as np
import scipy.stats

from experiments.common import stats


def fixed_point_test(ends: np.ndarray, target: np.ndarray, solver_bound: float) -> dict:
    """Is ``target`` the fixed point the R independent runs ``ends (R, P)`` scatter around?
    Distances are relative to ``‖target‖``; ``tolerance = k·SE + solver_bound`` (module
    docstring), ``false_alarm_max`` its worst-case false-alarm probability (= ``stats.ALPHA``)."""
    ends = np.asarray(ends, np.float64)
    target = np.asarray(target, np.float64)
    num = ends.shape[0]
    norm = np.linalg.norm(target)
    mean, se = stats.mean_se(ends, axis=0)
    se_rel = float(np.linalg.norm(se) / norm)
    k = stats.t_threshold(num)
    return {
        "rel_dist_run0": float(np.linalg.norm(ends[0] - target) / norm),
        "rel_dist_mean": float(np.linalg.norm(mean - target) / norm),
        "rel_dist_runs_median": float(np.median(np.linalg.norm(ends - target, axis=1) / norm)),
        "se_rel": se_rel,
        "threshold_se": k,
        "tolerance": float(k * se_rel + solver_bound / norm),
        "false_alarm_max": float(2.0 * scipy.stats.t.sf(k, num - 1)),
    }


def unbiasedness_test(estimates: np.ndarray, exact: float) -> dict:
    """Monte Carlo mean of ``estimates`` against ``exact``: the mean, its standard error, the
    z-score and ``within`` (|z| ≤ ``stats.Z``)."""
    mean, se = stats.mean_se(np.asarray(estimates, np.float64).reshape(-1))
    return {"exact": float(exact), "mc_mean": float(mean), "mc_se": float(se),
            "z": float(stats.z_score(mean, exact, se)), "within": stats.within(mean, exact, se)}
