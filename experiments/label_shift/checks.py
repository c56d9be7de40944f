"""The claims of the label-shift experiment, each under the suite's significance policy."""

from __future__ import annotations

import numpy as np

from experiments.common import stats
from experiments.common.claims import claim

NAMES = {"naive_bayes": "naive Bayes (replaces p(y))", "logistic": "logistic regression "
         "(adapt_prior on its outputs)"}


def _summary(res: dict, oracle, true_prior: float) -> dict:
    return {"error": {k: float(res[k].mean()) for k in ("unadjusted", "true_prior", "em")},
            "oracle_error": float(np.mean(oracle)),
            "z_unadjusted_vs_true_prior": stats.paired_z(res["unadjusted"], res["true_prior"]),
            "z_em_vs_true_prior": stats.paired_z(res["em"], res["true_prior"]),
            "z_true_prior_vs_oracle": stats.paired_z(res["true_prior"], oracle),
            "em_prior": res["em_prior"], "em_se": res["em_se"],
            "em_z": float(stats.z_score(res["em_prior"], true_prior, res["em_se"])),
            "binomial_se": float(stats.binomial_se(true_prior, res["unadjusted"].size))}


def claims(main: dict, drifted: dict, true_prior: float) -> tuple[list, dict]:
    s = {k: _summary(main[k], main["oracle"], true_prior) for k in NAMES}
    d = _summary(drifted["naive_bayes"], drifted["oracle"], true_prior)
    one, two = f"Z_ONE_SIDED = {stats.Z_ONE_SIDED:.2f}", f"Z = {stats.Z:.2f}"
    rows = []
    for k, name in NAMES.items():
        v = s[k]
        rows.append(claim(
            f"{name}: with the true test prior ({true_prior:g} spam) the error is clearly below "
            "the unadjusted error",
            {"unadjusted": v["error"]["unadjusted"], "true_prior": v["error"]["true_prior"],
             "z": v["z_unadjusted_vs_true_prior"]},
            f"paired z over the test messages > {one} (suite policy)",
            v["z_unadjusted_vs_true_prior"] > stats.Z_ONE_SIDED, sampled_tests=1))
        rows.append(claim(
            f"{name}: with the prior estimated by EM the error is that of the true prior",
            {"em": v["error"]["em"], "true_prior": v["error"]["true_prior"],
             "z": v["z_em_vs_true_prior"]},
            f"|paired z| ≤ {two} (suite policy)", abs(v["z_em_vs_true_prior"]) <= stats.Z,
            sampled_tests=1))
        rows.append(claim(
            f"{name}: the EM estimate of the spam share is the true {true_prior:g}",
            {"em_prior": v["em_prior"], "se": v["em_se"], "z": v["em_z"]},
            f"|π̂ − π| ≤ {two} s.e., s.e. = 1/√(n I) from the n test inputs (shift.py; suite "
            "policy)", abs(v["em_z"]) <= stats.Z, sampled_tests=1))
    rows.append(claim(
        "Not a prior shift (spam's words drift towards ham's: p(x|y) changed): EM no longer "
        "finds the spam share",
        {"em_prior": d["em_prior"], "se": d["em_se"], "z": d["em_z"]},
        f"π̂ below the true {true_prior:g} by more than {one} s.e. (suite policy)",
        d["em_z"] < -stats.Z_ONE_SIDED, sampled_tests=1))
    rows.append(claim(
        "Not a prior shift: even with the true prior the corrected naive Bayes stays far above "
        "the Bayes error of the new distribution",
        {"true_prior": d["error"]["true_prior"], "oracle": d["oracle_error"],
         "z": d["z_true_prior_vs_oracle"]},
        f"paired z of (corrected − Bayes-optimal) > {one} (suite policy)",
        d["z_true_prior_vs_oracle"] > stats.Z_ONE_SIDED, sampled_tests=1))
    return rows, {"main": s, "drifted_naive_bayes": d}
