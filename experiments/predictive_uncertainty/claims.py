"""The claims of the experiment and its metrics, from the two parts' results.

Sampled comparisons (suite policy, ``experiments.common.stats``): the Bayesian coverage in and out
of range (1 each), the grid of G inputs (1: the G tests share one test's budget by Bonferroni), the
plug-in claim (3: under 0.8 out of range, and in and out against the closed form), the fixed-w
claim (2) — 8 in all. The exactness and MLP claims compare deterministic quantities (0).
"""

from __future__ import annotations

import numpy as np

from experiments.common import stats
from experiments.common.claims import claim
from experiments.predictive_uncertainty.coverage import LEVEL, simultaneous_z
from experiments.predictive_uncertainty.linear import LinearResult
from experiments.predictive_uncertainty.mlp import MLPResult

PLUGIN_CEILING = 0.8      # "under-covers badly": the plug-in's out-of-range coverage is below this
MIN_RATIO = 3.0           # epistemic std out of range / in range, for every Laplace


def ratios(mlp: MLPResult) -> dict:
    """Mean epistemic std out of range over in range, per Laplace."""
    return {n: p["std_out"] / p["std_in"] for n, p in mlp.preds.items()}


def build(lin: LinearResult, mlp: MLPResult) -> list[dict]:
    """The eight claims (``claim`` rows)."""
    r, g = lin.num_replicates, lin.grid.size
    se = float(stats.binomial_se(LEVEL, r))
    pp, fw, ex = lin.coverage["prior predictive"], lin.coverage["fixed w"], lin.expect
    z_grid = simultaneous_z(g)
    grid_dev = float(np.max(np.abs(pp["bayes_grid"] - LEVEL)) / se)
    # z-scores against the closed forms, each with the binomial s.e. at the closed-form coverage
    plug_z = {k: float(stats.z_score(pp[f"plugin_{k}"], ex[f"plugin_{k}"],
                                     stats.binomial_se(ex[f"plugin_{k}"], r))) for k in ("in", "out")}
    fixed_z = {k: float(stats.z_score(fw[f"bayes_{k}"], ex[f"fixed_{k}"],
                                      stats.binomial_se(ex[f"fixed_{k}"], r))) for k in ("in", "out")}
    below = float(stats.z_score(PLUGIN_CEILING, pp["plugin_out"],
                                stats.binomial_se(PLUGIN_CEILING, r)))
    errs = lin.errs
    full = mlp.preds["full GGN"]
    rat = ratios(mlp)
    sig = mlp.noise
    policy = f"Z = {stats.Z:.2f} s.e. (suite policy)"
    return [
        claim("Bayesian linear regression: bj.laplace is the exact posterior — its precision "
              "ΦᵀΦ/σ² + I/s², mean and predictive variance σ² + φᵀΣφ equal "
              "bj.conjugate.bayesian_linear_regression's",
              {"max_rel_err": errs, "bound": lin.exact_tol},
              "every relative error vs the float64 closed form ≤ κ(P)·(N + d + 1)·u₆₄ (first-order "
              "rounding bound of a solve with P)",
              max(errs.values()) <= lin.exact_tol),
        claim("Bayesian predictive 95% interval covers 95% inside the data range (|x| ≤ 1), data "
              "from the model's prior predictive",
              pp["bayes_in"], f"|coverage − 0.95| ≤ {policy}: {stats.Z * se:.4f} (s.e. "
              f"sqrt(0.95·0.05/R), R = {r} independent replicates)",
              stats.within(pp["bayes_in"], LEVEL, se), sampled_tests=1),
        claim("... and 95% outside it (1 < |x| ≤ a)",
              pp["bayes_out"], f"|coverage − 0.95| ≤ {policy}: {stats.Z * se:.4f}",
              stats.within(pp["bayes_out"], LEVEL, se), sampled_tests=1),
        claim("... at every x of the grid",
              {"max_abs_dev_in_se": grid_dev, "min": float(pp["bayes_grid"].min()),
               "max": float(pp["bayes_grid"].max())},
              f"max over the {g} grid points of |coverage − 0.95|/s.e. ≤ {z_grid:.2f} = "
              f"Φ⁻¹(1 − α/(2·{g})), the suite's α = {stats.ALPHA:.0e} of one test split over the "
              "grid (Bonferroni)", grid_dev <= z_grid, sampled_tests=1),
        claim("The plug-in predictive (σ² only) under-covers badly out of the data range",
              {"out": pp["plugin_out"], "out_closed_form": ex["plugin_out"],
               "in": pp["plugin_in"], "in_closed_form": ex["plugin_in"], "z": plug_z,
               "z_below_0.8": below},
              f"out-of-range coverage below {PLUGIN_CEILING} by > Z_one-sided = "
              f"{stats.Z_ONE_SIDED:.2f} s.e., and in and out within {policy} of "
              "E_x[2Φ(1.96σ/√(σ²+φᵀΣφ))−1]",
              below > stats.Z_ONE_SIDED and max(abs(z) for z in plug_z.values()) <= stats.Z,
              sampled_tests=3),
        claim("With one fixed w the Bayesian coverage is only approximately 95%: it matches the "
              "closed form for a fixed w (shrinkage bias b = φᵀΣw/s²)",
              {"in": fw["bayes_in"], "in_closed_form": ex["fixed_in"], "out": fw["bayes_out"],
               "out_closed_form": ex["fixed_out"], "z": fixed_z},
              f"in and out within {policy} of the closed form",
              max(abs(z) for z in fixed_z.values()) <= stats.Z, sampled_tests=2),
        claim("tanh MLP, Laplace (full GGN) + GLM predictive: the epistemic variance grows away "
              "from the data",
              {"std_in": full["std_in"], "std_out": full["std_out"], "ratio": rat["full GGN"],
               "noise": sig},
              f"mean epistemic std out of range ≥ {MIN_RATIO:g} × in range, and in range < σ < out "
              "of range (noise dominates in the data, parameter uncertainty outside)",
              rat["full GGN"] >= MIN_RATIO and full["std_in"] < sig < full["std_out"]),
        claim("... also for the last-layer and KFAC Laplace",
              {n: rat[n] for n in ("last layer", "KFAC")},
              f"out/in ratio of mean epistemic std ≥ {MIN_RATIO:g} for both",
              min(rat["last layer"], rat["KFAC"]) >= MIN_RATIO),
    ]


def metrics(lin: LinearResult, mlp: MLPResult) -> dict:
    """The measured numbers of ``metrics.json`` (besides the claims)."""
    preds = mlp.preds
    return {
        "linear": {"exact_rel_err": lin.errs, "exact_bound": lin.exact_tol, "cond": lin.cond,
                   "fit_map_gap": lin.fit_gap, "coverage": lin.coverage,
                   "closed_form": lin.expect, "grid": lin.grid,
                   "standard_error": float(stats.binomial_se(LEVEL, lin.num_replicates)),
                   "grid_z_threshold": simultaneous_z(lin.grid.size)},
        "mlp": {"std_in": {n: p["std_in"] for n, p in preds.items()},
                "std_out": {n: p["std_out"] for n, p in preds.items()},
                "ratio": ratios(mlp), "rmse_train": mlp.rmse, "resid_rms": mlp.resid_rms,
                "grad_norm": mlp.grad_norm, "opt_prior_precision": mlp.opt_prior_precision,
                "opt_noise": mlp.opt_noise,
                "test_coverage": {n: p["test_coverage"] for n, p in preds.items()},
                "truth_in_band_out": {n: p["truth_in_band_out"] for n, p in preds.items()}},
    }
