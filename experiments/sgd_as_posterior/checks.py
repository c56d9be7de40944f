"""The claims of sgd_as_posterior, decided from the two parts' metrics (suite significance policy:
every sampled comparison is within ``k = stats.t_threshold(n)`` standard errors — the level-α
Student-t threshold for an s.e. estimated from n independent chains or batches, ≈ ``stats.Z`` for
large n — or below a level-α bound)."""

from __future__ import annotations

from experiments.common import stats
from experiments.common.claims import claim
from experiments.sgd_as_posterior.sgd_law import TOLERANCE


def _k(n: int) -> str:
    return f"k = t_threshold({n}) = {stats.t_threshold(n):.2f} s.e. (suite policy)"


def _precise_and_close(r, k: float) -> bool:
    """|dev| ≤ 5%, |z| ≤ k and k·SE ≤ 5%: the 5% is decided by the data, not by noise."""
    return (abs(r["rel_dev"]) <= TOLERANCE and abs(r["z"]) <= k
            and k * r["rel_se"] <= TOLERANCE)


def claims(sgd: dict, modes: dict, *, sgd_chains: int, sgld_batch_size: int,
           sgld_chains: int) -> list[dict]:
    runs, pairs, stars = sgd["runs"], sgd["pairs"], sgd["matching"]
    worst = max(runs, key=lambda r: abs(r["rel_dev"]))
    small = pairs[0] if pairs else None
    s0, nu = modes["sgld"][0], modes["nuts"]
    exact_pos = modes["positive_mass_exact"]
    k_sgd = stats.t_threshold(sgd_chains)

    def mass_ok(r):
        z = stats.z_score(r["positive_fraction"], exact_pos, r["positive_fraction_se"])
        return bool(abs(z) <= stats.t_threshold(r["batches"]))

    return [
        claim("The stationary variance of constant-rate SGD iterates matches the predicted law "
              "V = ε s_g²/(B a (2 − εa)) within 5%",
              {"max_abs_rel_dev": abs(worst["rel_dev"]),
               "at": [worst["learning_rate"], worst["batch_size"]],
               "max_abs_z": max(abs(r["z"]) for r in runs),
               "max_rel_se": max(r["rel_se"] for r in runs)},
              f"for all {len(runs)} (ε, B): |V̂/V − 1| ≤ 5% and ≤ {_k(sgd_chains)}, with k SE ≤ 5% "
              f"(SE from {sgd_chains} independent chains)",
              all(_precise_and_close(r, k_sgd) for r in runs), sampled_tests=len(runs)),
        claim("Two (ε, B) pairs with equal ε/B give equal variance (smallest-ε pair)",
              None if small is None else {"ratio": small["ratio"], "se": small["se"],
                                          "pairs": [small["first"], small["second"]],
                                          "exact_ratio": small["predicted_ratio"]},
              f"|V̂₁/V̂₂ − 1| ≤ 5%, with |exact ratio − 1| + k SE ≤ 5% ({_k(sgd_chains)})",
              small is not None and abs(small["ratio"] - 1) <= TOLERANCE
              and abs(small["predicted_ratio"] - 1) + k_sgd * small["se"] <= TOLERANCE,
              sampled_tests=1),
        claim("… and exactly: equal-ε/B variances differ by the factor (2 − ε₂a)/(2 − ε₁a)",
              {"z": [p["z"] for p in pairs], "ratio": [p["ratio"] for p in pairs],
               "exact_ratio": [p["predicted_ratio"] for p in pairs]},
              f"every equal-ε/B pair: |V̂₁/V̂₂ − exact ratio| ≤ {_k(sgd_chains)}",
              bool(pairs) and all(abs(p["z"]) <= k_sgd for p in pairs),
              sampled_tests=len(pairs)),
        claim("ε* = 2B/(N s_g² + B a) makes the iterate variance equal the posterior variance "
              "1/(N a)",
              {"learning_rate": [r["learning_rate"] for r in stars],
               "rel_dev": [r["rel_dev"] for r in stars], "z": [r["z"] for r in stars]},
              f"for every B: |V̂(ε*)/V_post − 1| ≤ 5% and ≤ {_k(sgd_chains)}, k SE ≤ 5%",
              all(_precise_and_close(r, k_sgd) for r in stars), sampled_tests=len(stars)),
        claim(f"SGLD (ε = {s0['step_size']:g}, B = {sgld_batch_size}) started in one mode "
              "crosses to the other and gives each mode its posterior mass",
              {"positive_fraction": s0["positive_fraction"], "se": s0["positive_fraction_se"],
               "exact": exact_pos},
              f"|P̂(θ > 0) − P(θ > 0)| ≤ {_k(s0['batches'])} (SE from {sgld_chains} chains, all "
              "started at the positive mode)",
              mass_ok(s0), sampled_tests=1),
        claim("SGLD's histogram matches the exact posterior within the modes (TV distance of the "
              "histogram of |θ|)",
              {"tv": s0["tv_folded"], "noise_floor_mean": s0["tv_folded_null_mean"],
               "threshold": s0["tv_folded_threshold"]},
              "TV ≤ the level-α (suite policy) Borell–TIS bound on the TV of Monte Carlo noise "
              f"alone (bin-frequency covariance over the {s0['batches']} chains)",
              s0["tv_folded"] <= s0["tv_folded_threshold"], sampled_tests=1),
        claim("NUTS on the same target: both modes with their mass, histogram within the modes "
              "matches the exact posterior",
              {"tv": nu["tv_folded"], "threshold": nu["tv_folded_threshold"],
               "positive_fraction": nu["positive_fraction"], "se": nu["positive_fraction_se"]},
              f"TV of |θ| ≤ its level-α noise bound (batch means, {nu['batches']} batches of "
              f"{nu['draws_per_batch']} draws) and |P̂(θ > 0) − P(θ > 0)| ≤ {_k(nu['batches'])}",
              nu["tv_folded"] <= nu["tv_folded_threshold"] and mass_ok(nu), sampled_tests=2),
    ]
