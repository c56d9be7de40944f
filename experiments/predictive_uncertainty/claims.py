"""The claims of the experiment and its metrics, from the two parts' results.

Sampled comparisons (suite policy, ``experiments.common.stats``): the Bayesian coverage in and out
of range (1 each), the grid of G inputs (1: the G tests share one test's budget by Bonferroni), the
plug-in claim (3: under 0.8 out of range, and in and out against the closed form), the fixed-w
claim (2), the heteroscedastic log predictive density (1) — 9 in all. The exactness, MLP and
aleatoric-tracking claims compare deterministic quantities (0).
"""

from __future__ import annotations

import numpy as np

from experiments.common import stats
from experiments.common.claims import claim
from experiments.predictive_uncertainty.coverage import LEVEL, simultaneous_z
from experiments.predictive_uncertainty.hetero import HeteroResult
from experiments.predictive_uncertainty.linear import LinearResult
from experiments.predictive_uncertainty.mlp import MLPResult

PLUGIN_CEILING = 0.8      # "under-covers badly": the plug-in's out-of-range coverage is below this
MIN_RATIO = 3.0           # epistemic std out of range / in range, for every Laplace
SD_FACTOR = 2.0           # learned aleatoric std within this factor of the true σ(x) in range
MIN_SD_GROWTH = 2.0       # learned aleatoric std at 0.8 ≤ |x| ≤ 1 over |x| ≤ 0.2 (true ≈ 3.3)


def ratios(mlp: MLPResult) -> dict:
    """Mean epistemic std out of range over in range, per Laplace."""
    return {n: p["std_out"] / p["std_in"] for n, p in mlp.preds.items()}


def hetero_summary(het: HeteroResult) -> dict:
    """The heteroscedastic part's numbers on the grid and the held-out points."""
    inside = np.abs(het.grid) <= 1.0
    sd = np.sqrt(het.aleatoric)
    ratio = sd[inside] / het.true_sd[inside]
    centre, edge = np.abs(het.grid) <= 0.2, inside & (np.abs(het.grid) >= 0.8)
    epi = np.sqrt(het.epistemic)
    return {"sd_ratio_min": float(ratio.min()), "sd_ratio_max": float(ratio.max()),
            "sd_corr": float(np.corrcoef(sd[inside], het.true_sd[inside])[0, 1]),
            "sd_growth": float(sd[edge].mean() / sd[centre].mean()),
            "true_sd_growth": float(het.true_sd[edge].mean() / het.true_sd[centre].mean()),
            "aleatoric_sd_in": float(sd[inside].mean()), "epistemic_sd_in": float(epi[inside].mean()),
            "epistemic_sd_out": float(epi[~inside].mean()),
            "epistemic_ratio": float(epi[~inside].mean() / epi[inside].mean()),
            "lpd_het": float(het.lpd_het.mean()), "lpd_homo": float(het.lpd_homo.mean()),
            "lpd_gain": float(np.mean(het.lpd_het - het.lpd_homo)),
            "lpd_z": stats.paired_z(het.lpd_het, het.lpd_homo)}


def hetero_claims(het: HeteroResult) -> list[dict]:
    """The two heteroscedastic claims."""
    h = hetero_summary(het)
    n = het.lpd_het.size
    return [
        claim("Heteroscedastic MLP (mean and log-variance outputs), Laplace GLM predictive: the "
              "aleatoric part E[exp(s)] follows the true noise σ(x)² and grows with |x|, while the "
              "epistemic part Var[μ] is below it in the data and grows away from them",
              {k: h[k] for k in ("sd_ratio_min", "sd_ratio_max", "sd_corr", "sd_growth",
                                 "true_sd_growth", "aleatoric_sd_in", "epistemic_sd_in",
                                 "epistemic_ratio")},
              f"at every in-range grid point sqrt(aleatoric)/σ(x) within [1/{SD_FACTOR:g}, "
              f"{SD_FACTOR:g}]; its mean at 0.8 ≤ |x| ≤ 1 ≥ {MIN_SD_GROWTH:g} × at |x| ≤ 0.2 (a "
              "constant noise gives 1); mean epistemic std in range < mean aleatoric std, and "
              f"out of range ≥ {MIN_RATIO:g} × in range",
              (1.0 / SD_FACTOR <= h["sd_ratio_min"] and h["sd_ratio_max"] <= SD_FACTOR
               and h["sd_growth"] >= MIN_SD_GROWTH and h["epistemic_sd_in"] < h["aleatoric_sd_in"]
               and h["epistemic_ratio"] >= MIN_RATIO)),
        claim("... and its held-out log predictive density (of the Gaussian with the predictive's "
              "mean and variance) beats the homoscedastic Gaussian's, even with the best constant "
              "σ = sqrt(E σ(x)²) given to it",
              {k: h[k] for k in ("lpd_het", "lpd_homo", "lpd_gain", "lpd_z")},
              f"paired z of the per-point difference over {n} fresh in-range points > "
              f"Z_one-sided = {stats.Z_ONE_SIDED:.2f} (suite policy)",
              h["lpd_z"] > stats.Z_ONE_SIDED, sampled_tests=1),
    ]


def build(lin: LinearResult, mlp: MLPResult, het: HeteroResult) -> list[dict]:
    """The ten claims (``claim`` rows)."""
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
        *hetero_claims(het),
    ]


def metrics(lin: LinearResult, mlp: MLPResult, het: HeteroResult) -> dict:
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
        "hetero": {**hetero_summary(het), "homo_noise": het.homo_noise, "grad_norm": het.grad_norm,
                   "num_params": het.num_params},
    }
