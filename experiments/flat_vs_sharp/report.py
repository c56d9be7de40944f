"""The markdown body of the ``flat_vs_sharp`` report: what was run, the tables and remarks, all
built from the measured numbers (each part's result carries the settings it ran with)."""

from __future__ import annotations

import math

import numpy as np

from experiments.common import stats
from experiments.common.tables import markdown_table


def body(a, a2, b, c, d) -> str:
    """The report: one section per part, (a) to (d)."""
    return "\n".join([_bowls(a, a2), "", _rescaling(b), "", _evidence(c), "", _batch(d)])


def _bowls(a, a2) -> str:
    s, st, cl = a["settings"], a["langevin_stationary"], a["closed"]
    (ks, kf), sep = a["k"], s["separation"]
    table = markdown_table(
        ["method", "sharp-basin share", "s.e.", "ESS", "notes"],
        [[f"quadrature (bj.quadrature, {s['quad_points']} cells/basin)",
          f"{a['exact_fraction']:.5f}", None, None,
          f"mass ratio flat/sharp {a['quadrature_mass_ratio']:.5f}"],
         ["Laplace (exact Hessian)", f"{a['laplace_fraction']:.5f}", None, None,
          f"curvatures {a['laplace_curvature'][0]:.5f}, {a['laplace_curvature'][1]:.6f}; mass "
          f"ratio {a['laplace_mass_ratio']:.5f}; max abs(∇log_joint) at the modes "
          f"{a['grad_at_modes']:.1e}"],
         [f"NUTS bj.nuts ({s['nuts_chains']} chains × {s['nuts_samples']}, step "
          f"{a['nuts_step']:.3g}, unit mass)", a["nuts_fraction"], a["nuts_se"], a["nuts_ess"],
          f"{a['nuts_divergent']} divergences"],
         [f"Langevin bj.sgld ({s['langevin_chains']} chains × {s['langevin_steps']} steps, "
          f"ε = {s['langevin_step']:g})", a["langevin_fraction"], a["langevin_se"],
          a["langevin_ess"], f"stationary share of the ε-chain {st['fraction']:.4f}, bias "
          f"{st['bias']:+.4f}"]],
        floatfmt=("", ".4f", ".4f", ".0f", ""))
    return "\n".join([
        "### (a) Two bowls of equal depth",
        "",
        f"U(θ) = {ks:g}·θ²/2 for θ < b, {kf:g}·(θ−{sep:g})²/2 for θ ≥ b: minima at 0 and "
        f"{sep:g}, both at U = 0; barrier at θ = {a['barrier']:.3f}, {cl['barrier_height']:.3f} "
        f"nats high. Exact sharp-basin share 1/(1+√(k_s/k_f)) = {cl['fraction_0']:.4f}; each "
        f"Laplace mass exceeds its exact basin mass by 1/Φ(z_b) = {cl['laplace_excess']:.5f} "
        f"(measured {a['laplace_over_exact'][0]:.5f}, {a['laplace_over_exact'][1]:.5f}): the "
        "tails past the barrier that the Gaussian counts and the basin does not.",
        "",
        table,
        "",
        "Half the chains of each sampler start in each bowl; the basin indicator changes "
        f"{a['nuts_crossings']} times along the NUTS chains and {a['langevin_crossings']} times "
        "along the (thinned) Langevin chains, so the shares are measured, not set by the "
        "starts. NUTS runs at a fixed step 1/√k_s with a unit mass (`bj.nuts(mass=\"identity\", "
        "step_size=…)`, nothing adapted): adapted per chain, a step tuned in the flat bowl is "
        "unstable in the sharp one and that chain sticks there (in trials with NumPyro's "
        "default adaptation the shares came out biased upward that way). Langevin's O(ε) bias "
        "comes from the exact stationary law of its transition kernel on a grid of "
        f"{st['grid_points']} cells: {abs(st['bias']) / a['langevin_se']:.2f} s.e. of the "
        "sampled share; the claim compares the Langevin share with exact + bias.",
        "",
        f"2-D version (figure `bowls_2d.png`): bowls with precision matrices "
        f"{np.round(a2['precisions'][0], 2).tolist()} and "
        f"{np.round(a2['precisions'][1], 2).tolist()}, minima (0, 0) and (4, 0); basin = the "
        f"region where a bowl is the lower one. Sharp share: grid quadrature "
        f"{a2['exact_fraction']:.4f}, Laplace {a2['laplace_fraction']:.4f} (= 1/(1+√(det K_s/det "
        f"K_f)); in 2-D the two bowls are not cut at the same level, so Laplace and exact differ "
        f"slightly), NUTS {a2['nuts_fraction']:.4f} ± {a2['nuts_se']:.4f}, Langevin "
        f"{a2['langevin_fraction']:.4f} ± {a2['langevin_se']:.4f}, MCLMC "
        f"{a2['mclmc_fraction']:.4f} ± {a2['mclmc_se']:.4f} (report only, no claim).",
        "",
        _mclmc(a2),
    ])


def _mclmc(a2) -> str:
    e, w = a2["efficiency"], a2["walls"]
    rows = [["NUTS (fixed step, unit mass)", "nuts"], ["MCLMC, unadjusted", "mclmc"],
            ["MCLMC, adjusted (Metropolis)", "mclmc_adjusted"]]
    rows = [r for r in rows if r[1] in e]          # the smoke run skips the adjusted variant
    biased = [label for label, k in rows[1:] if abs(a2[f"{k}_z"]) > stats.Z]
    return "\n".join([
        "MCLMC (`bj.mclmc`: BlackJAX's microcanonical Langevin, its own tuning of step and L per "
        "chain, half the chains started in each bowl) on the 2-D bowls: unadjusted with the "
        "gradient budget of the NUTS run, and Metropolis-adjusted with a quarter of those draws "
        "(several integrator steps each). ESS is that of the sharp-basin indicator (what the "
        "share's s.e. rests on); gradients after warmup / tuning; seconds of warmup + sampling / "
        "tuning + sampling on this machine.",
        "",
        markdown_table(
            ["sampler", "sharp share", "(share − exact)/s.e.", "indicator ESS", "gradients",
             "ESS / 1000 grads", "seconds", "ESS / s", "divergent"],
            [[label, a2[f"{k}_fraction"], a2[f"{k}_z"], e[k]["ess"], e[k]["grads"],
              e[k]["ess_per_1000_grads"], w[k]["seconds"], w[k]["ess_per_s"],
              a2[f"{k}_divergent"]] for label, k in rows],
            floatfmt=("", ".4f", ".2f", ".0f", "", ".3f", ".2f", ".0f", "")),
        "",
        "Per gradient / per second against NUTS: unadjusted MCLMC "
        f"**{e['mclmc_over_nuts_per_grad']:.2f}× / {w['mclmc_over_nuts_per_s']:.2f}×**"
        + (f", adjusted **{e['mclmc_adjusted_over_nuts_per_grad']:.2f}× / "
           f"{w['mclmc_adjusted_over_nuts_per_s']:.2f}×**" if "mclmc_adjusted" in e else "")
        + f". A share more than {stats.Z:.2f} s.e. from "
        "the exact one is a biased sampler at the suite's policy (report only, no claim: the "
        "unadjusted chain's discretisation bias is measured, not bounded)"
        + (f"; **biased at this seed: {', '.join(biased)}**, whose ESS ratio then does not count "
           "as efficiency. BlackJAX tunes each chain's step on its own, half of them in the wide "
           "bowl, and without a Metropolis test nothing corrects a step too large for the sharp "
           "one (the adjusted variant is the check)." if biased else "."),
    ])


def _rescaling(b) -> str:
    s = b["settings"]
    sharp1 = next(r["sharpness"] for r in b["rows"] if r["alpha"] == 1.0)
    table = markdown_table(
        ["α", "‖θ‖²", "λmax (per datum)", "log p(θ)", "(P/2)log2π − ½logdet P", "log basin mass"],
        [[r["alpha"], r["sq_norm"], r["sharpness"], r["log_prior"], r["occam"], r["log_mass"]]
         for r in b["rows"]],
        floatfmt=("g", ".2f", ".4g", ".2f", ".2f", ".2f"))
    return "\n".join([
        "### (b) Same function, different sharpness: the rescaling symmetry",
        "",
        f"ReLU net 1-{s['hidden']}-1 (P = {b['num_params']}) on {s['num_data']} points of "
        f"y = sin(2x) + 0.1ε, Gaussian likelihood σ = 0.1, fitted by `fit_mle` "
        f"({s['num_steps']} Adam steps). It is a minimum up to the ReLU kinks: the per-datum "
        f"gradient norm stalls at {b['grad_norm']:.1e} (a hidden unit's kink at a data point "
        f"keeps it from vanishing) and the Hessian's smallest eigenvalue is "
        f"{b['min_hessian_eig']:.2e} against a largest of {sharp1:.4g}. Moved first to the "
        f"smallest-norm point of its orbit, α* = {b['alpha_star']:.4f} (outputs change by "
        f"{b['balance_output_diff']:.1e}: float32 rounding, α* is not a power of 2). Basin mass "
        f"under a Gaussian prior s = {s['prior_scale']:g} on every weight, GGN curvature:",
        "",
        table,
        "",
        f"λ_W1 = {b['lambda_w1']:.4g}, λ_W2 = {b['lambda_w2']:.4g} (top eigenvalues of the "
        "(W1, b1) and W2 blocks at α = 1): sharpness grows like α⁻²λ_W1 as α → 0 and α²λ_W2 as "
        "α → ∞, without bound, for one and the same function. The prior term −‖θ_α‖²/(2s²) "
        "moves the other way and dominates, so the mass follows the norm; the curvature term "
        "changes only logarithmically. At the unbalanced fit itself: ‖θ‖² = "
        f"{b['mle']['sq_norm']:.2f}, λmax = {b['mle']['sharpness']:.4g}, log mass "
        f"{b['mle']['log_mass']:.2f}. Caveats: these points minimise the likelihood, not the log "
        "joint (its gradient there is the prior's, −θ/s²), so the 'basin mass' is the issue's "
        "Laplace formula evaluated off the posterior mode; and the likelihood alone is flat "
        "along the symmetry (per hidden unit), so with a flat prior the mass would be infinite — "
        "the Gaussian prior is what makes it finite and norm-dependent. " + _tie_remark(b),
    ])


def _evidence(c) -> str:
    s = c["settings"]
    table = markdown_table(
        ["precision", "true: evidence − null", "true: test CE", "true: test acc",
         "random: evidence − null", "random: test CE"],
        [[t["precision"], t["evidence_vs_null"], t["test_ce"], t["test_acc"],
          r["evidence_vs_null"], r["test_ce"]]
         for t, r in zip(c["sweep"]["true"], c["sweep"]["random"], strict=True)],
        floatfmt=(".3g", ".2f", ".3f", ".3f", ".2f", ".3f"))
    err = max(r["evidence_error"] for v in c["sweep"].values() for r in v)
    return "\n".join([
        f"### (c) Evidence vs generalisation: digits {s['class_a']} vs {s['class_b']}",
        "",
        f"Logistic regression (64 pixels / 16 + bias, Gaussian prior on all), N = "
        f"{c['n_train']} ({s['per_class']} per class, a seeded draw from all images of the two "
        f"classes), held-out {c['n_test']} images. Random labels: a permutation of the training "
        f"labels (agreeing with the true ones on {c['random_agreement']:.0%}); their held-out "
        "labels are fair coin flips. Evidence by full-GGN Laplace at each `fit_map` mode, minus "
        f"the null model N log ½ = {c['n_train'] * math.log(0.5):.2f} nats; test CE is "
        "`bj.metrics.nll` (nats per example).",
        "",
        table,
        "",
        f"Spearman ρ(evidence, −test CE): all models {c['spearman']:.3f} (p = "
        f"{c['spearman_p']:.1e}); within true labels {c['spearman_within']['true']:.3f}, within "
        f"random labels {c['spearman_within']['random']:.3f}. The true-vs-random split makes "
        "the pooled ρ easy; the within-sweep ρ for true labels is the sharper test. First-order "
        f"evidence error left by an inexact mode, ½gᵀP⁻¹g: at most {err:.1e} nats.",
    ])


def _batch(d) -> str:
    s = d["settings"]
    table = markdown_table(
        ["η", "2/η", "GD late λmax", "GD final", "SGD late λmax", "SGD final", "GD test acc",
         "SGD test acc", "GD log evidence", "SGD log evidence", "GD grad norm", "SGD grad norm",
         "GD loss rises"],
        [[r["lr"], 2 / r["lr"], r["gd_late"], r["gd_final"], r["sgd_late"], r["sgd_final"],
          r["gd_test_acc"], r["sgd_test_acc"], r["gd_log_evidence"], r["sgd_log_evidence"],
          r["gd_grad_norm"], r["sgd_grad_norm"], r["gd_loss_increases"]] for r in d["runs"]],
        floatfmt=("g", ".3g", ".3f", ".3f", ".3f", ".3f", ".3f", ".3f", ".1f", ".1f", ".1e",
                  ".1e", ""))
    return "\n".join([
        f"### (d) Batch size and sharpness: MLP 64-{s['hidden']}-10 (tanh) on digits",
        "",
        f"{d['n_train']} training images (pixels / 16, the suite's stratified split), Gaussian "
        f"prior s = {s['prior_scale']:g} on all {d['num_params']} weights; plain `optax.sgd(η)` "
        f"via `fit_map`, {s['epochs']} epochs each: full batch ({s['epochs']} steps) or batch "
        f"{s['batch_size']} ({s['epochs'] * (d['n_train'] // s['batch_size'])} steps), same "
        "initialisation. Sharpness = top eigenvalue of ∇²(−log_joint/N) by Lanczos on "
        "Hessian-vector products (`bj.curvature.top_hessian_eigenvalue`), at "
        f"{s['checkpoints']} checkpoints; 'late' = median over the second half. Log evidence: "
        f"`bj.laplace(structure={s['evidence_structure']!r})` at the final point (not an exact "
        "mode: see grad norms).",
        "",
        table,
        "",
        _edge_remark(d),
        "",
        _batch_remark(d),
    ])


def _batch_remark(d) -> str:
    """SGD vs GD on evidence and accuracy, and any SGD run that did not train, in words."""
    parts = []
    for r in d["runs"]:
        better = (r["sgd_log_evidence"] > r["gd_log_evidence"],
                  r["sgd_test_acc"] >= r["gd_test_acc"])
        text = (f"η = {r['lr']:g}: SGD's log evidence is "
                f"{'higher' if better[0] else 'lower'} than GD's and its test accuracy "
                f"{'at least as high' if better[1] else 'lower'}")
        if r["sgd_test_acc"] < r["gd_test_acc"] - 0.1:
            text += (f" — SGD did not train stably at this η (test accuracy "
                     f"{r['sgd_test_acc']:.2f}, final minibatch loss {r['sgd_final_loss']:.2f}, "
                     f"per-datum grad norm {r['sgd_grad_norm']:.1e}), so its 'flatter' endpoint "
                     "is a point on an erratic trajectory, not a better minimum")
        parts.append(text)
    return ("Flatness, evidence and accuracy: " + "; ".join(parts) + ". The Laplace evidence "
            "at a point that is not a mode (grad norms above) is only indicative.")


def _tie_remark(b) -> str:
    """At α and 1/α the balanced point gives equal norms: which of the pair has more mass."""
    by = {r["alpha"]: r for r in b["rows"]}
    pairs = [(a, 1 / a) for a in sorted(by) if a > 1 and 1 / a in by]
    if not pairs:
        return ""
    flatter_wins = [(by[a]["sharpness"] < by[i]["sharpness"]) == (by[a]["log_mass"]
                                                                  > by[i]["log_mass"])
                    for a, i in pairs]
    text = ", ".join(f"α = {a:g}: λmax {by[a]['sharpness']:.3g}, log mass "
                     f"{by[a]['log_mass']:.1f} vs α = {i:g}: {by[i]['sharpness']:.3g}, "
                     f"{by[i]['log_mass']:.1f}" for a, i in pairs)
    tail = (f"in all {len(pairs)} pairs the one with the smaller top eigenvalue has the larger "
            "mass" if all(flatter_wins) else
            f"the one with the smaller top eigenvalue has the larger mass in only "
            f"{sum(flatter_wins)} of {len(pairs)} pairs: the top eigenvalue is one of the P "
            "eigenvalues in log det P")
    return ("The pairs α and 1/α have equal norms (at the balanced point ‖θ_α‖² is symmetric in "
            f"log α), so only the curvature term separates them ({text}); {tail}.")


def _edge_remark(d) -> str:
    """What GD's sharpness did relative to 2/η, in words, from the measured numbers."""
    parts = []
    for r in d["runs"]:
        ratio = r["gd_late"] * r["lr"] / 2.0
        where = ("well below the edge" if ratio < 0.8 else
                 "at the edge (within 20%)" if ratio <= 1.2 else "above the edge")
        parts.append(f"η = {r['lr']:g}: GD's late sharpness is {ratio:.2f} × 2/η ({where}; max "
                     f"over checkpoints {r['gd_max_sharpness_ratio']:.2f} × 2/η; the full-batch "
                     f"loss rose on {r['gd_loss_increases']} steps)")
    return ("Edge of stability, as measured: " + "; ".join(parts) + ". GD only sits at 2/η "
            "when 2/η is below the sharpness it would otherwise reach; with a cross-entropy "
            "loss that sharpness also decays late in training as the margins grow, so at small "
            "η GD stops well below the edge. Evidence and accuracy are reported, not claimed.")
