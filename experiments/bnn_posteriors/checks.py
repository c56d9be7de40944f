"""The claims of bnn_posteriors. The paired tests are one-sided at the suite's significance
policy (``stats.Z_ONE_SIDED``); the growth factor and "near 1" are effect sizes, not tests."""

from __future__ import annotations

from experiments.common import stats
from experiments.common.claims import claim

GROWTH = 2.0      # "grows outside the data": mean epistemic std outside ≥ 2× inside
NEAR_ONE = 0.99   # "MAP → near 1": mean confidence far from the data ≥ 0.99
_Z = f"Z = {stats.Z_ONE_SIDED:.2f} s.e. (one-sided, suite policy)"


def claims(reg: dict, cls: dict, *, far_scale: float) -> list[dict]:
    t = reg["table"]
    found = []
    for bayes in ("NUTS", "Laplace full (GLM)"):
        z = stats.paired_z(t["MAP-L2"]["nll_points_outside"], t[bayes]["nll_points_outside"])
        found.append(claim(
            f"{bayes}'s predictive NLL beats MAP-L2's on the test points outside the data "
            "(gap and beyond both ends)",
            {"nll_map": t["MAP-L2"]["nll"]["outside"], f"nll_{bayes}": t[bayes]["nll"]["outside"],
             "z": z},
            f"mean per-point NLL(MAP) − NLL({bayes}) > {_Z} over the {reg['num_outside']} "
            "outside test points",
            z > stats.Z_ONE_SIDED, sampled_tests=1))
    ratios = {m: t[m]["std_ratio"] for m in ("NUTS", "Laplace full (GLM)", "MLE")}
    found.append(claim(
        "NUTS and Laplace-full epistemic std grow outside the data, while MLE has none (a point "
        "estimate: its epistemic std is 0 by construction)",
        {"ratio_outside_over_data": ratios, "mle_std": [t["MLE"]["std_data"],
                                                        t["MLE"]["std_outside"]]},
        f"mean epistemic std outside / inside the data ≥ {GROWTH:g} for NUTS and Laplace full; "
        "MLE's is exactly 0",
        ratios["NUTS"] >= GROWTH and ratios["Laplace full (GLM)"] >= GROWTH
        and t["MLE"]["std_data"] == 0.0 and t["MLE"]["std_outside"] == 0.0))
    for dname, part in cls.items():
        ct = part["table"]
        conf = {m: ct[m]["confidence_far"][-1] for m in ct}
        found.append(claim(
            f"{dname}: the MAP ReLU network is near-certain far from the data",
            conf["MAP"], f"mean confidence max(p, 1−p) at α = {far_scale:g} ≥ {NEAR_ONE}",
            conf["MAP"] >= NEAR_ONE))
        zs = {m: stats.paired_z(ct["MAP"]["far_points"], ct[m]["far_points"])
              for m in ct if m != "MAP"}
        found.append(claim(
            f"{dname}: Bayesian predictives (Laplace full/diag/KFAC/last layer, NUTS) are less "
            "confident far from the data than the MAP",
            {"confidence": conf, "z": zs},
            f"for each: mean per-point confidence(MAP) − confidence(method) at α = "
            f"{far_scale:g} > {_Z} over the {part['num_far']} far points",
            all(z > stats.Z_ONE_SIDED for z in zs.values()), sampled_tests=len(zs)))
    return found


def record(reg: dict, cls: dict, claims: list[dict]) -> dict:
    """``metrics.json``: the claims and the deterministic numbers of both parts (no wall times,
    no per-point arrays)."""
    s = reg["samplers"]
    return {
        "regression": {m: {k: v for k, v in row.items() if k != "nll_points_outside"}
                       for m, row in reg["table"].items()},
        "regression_grad_norm": reg["grad_norm"], "map_l1_exact_zeros": reg["zeros_l1"],
        "nuts_mass": s,
        "ess_per_grad_ratio_laplace_over_diag": (s["laplace"]["ess_per_1000_grads"]
                                                 / s["diag"]["ess_per_1000_grads"]),
        "ess_per_grad_ratio_mclmc_over_nuts_diag": (s["mclmc"]["ess_per_1000_grads"]
                                                   / s["diag"]["ess_per_1000_grads"]),
        "mass_geometry": {k: v for k, v in reg["geometry"].items() if k != "spectra"},
        "nuts_cov_in_laplace_whitened_frame": {"min_eig": float(reg["whitened"].min()),
                                               "max_eig": float(reg["whitened"].max())},
        "laplace_precision_max_eig": float(reg["laplace_precision_eig"].max()),
        "classification": {dn: {"methods": {m: {k: v for k, v in r.items() if k != "far_points"}
                                            for m, r in p["table"].items()},
                                "alphas": p["alphas"], "nuts": p["sampler"],
                                "num_params": p["num_params"]}
                           for dn, p in cls.items()},
        "claims": claims,
    }
