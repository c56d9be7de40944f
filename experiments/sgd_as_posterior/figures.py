"""sgd_as_posterior's figures (the numbers come from ``sgd_law.measure`` and ``two_modes.measure``;
error bars are ± Z standard errors, the suite's policy)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from experiments.common.plotting import save_figure
from experiments.common.stats import Z
from experiments.sgd_as_posterior.sgd_law import TOLERANCE, ou_variance, stationary_variance


def figure_sgd(outdir, sgd, batch_sizes) -> None:
    a, gv, n = sgd["a"], sgd["grad_var"], sgd["num_data"]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(13, 5))
    grid = np.geomspace(min(r['learning_rate'] for r in sgd['runs']) / 1.5, 1.95 / a, 300)
    for c, bsz in enumerate(batch_sizes):
        rs = [r for r in sgd["runs"] if r["batch_size"] == bsz]
        eps = np.array([r["learning_rate"] for r in rs])
        v = np.array([r["variance"] for r in rs])
        se = np.array([r["se"] for r in rs])
        col = f"C{c}"
        ax.plot(grid, stationary_variance(grid, bsz, gv, a), color=col, lw=1.5,
                label=f"B = {bsz}: exact ε s_g²/(B a (2 − εa))")
        ax.plot(grid, ou_variance(grid, bsz, gv, a), color=col, lw=1, ls=":",
                label=f"B = {bsz}: small-ε law ε s_g²/(2aB)")
        ax.errorbar(eps, v, yerr=Z * se, fmt="o", color=col, ms=5, capsize=3,
                    label=f"B = {bsz}: SGD iterates (±{Z:.2f} SE)")
        bx.errorbar(eps * (1 + 0.04 * c), 100 * (v / np.array([r["exact"] for r in rs]) - 1),
                    yerr=100 * Z * se / np.array([r["exact"] for r in rs]), fmt="o",
                    color=col, capsize=3, label=f"B = {bsz}")
        bx.plot(eps, 100 * (v / np.array([r["issue"] for r in rs]) - 1), "x", color=col, ms=7,
                label=f"B = {bsz}: against the issue's ε s_g²/(B(2 − ε))")
    for c, r in enumerate(sgd["matching"]):
        ax.errorbar([r["learning_rate"]], [r["variance"]], yerr=[Z * r["se"]], fmt="*",
                    color=f"C{c}", ms=13, mec="k",
                    label=f"ε* = {r['learning_rate']:.3f} (B = {r['batch_size']})")
    ax.axhline(sgd["posterior_var"], color="k", ls="--", lw=1,
               label=f"posterior variance 1/(Na) = {sgd['posterior_var']:.2e}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"learning rate ε  [units of 1/a; a = {a:.3f}]")
    ax.set_ylabel("stationary variance of the iterates  [units of y²]")
    ax.set_title(f"(a) constant-rate SGD on a Gaussian mean (N = {n}, with replacement)")
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(True, which="both", alpha=0.3)
    bx.axhspan(-100 * TOLERANCE, 100 * TOLERANCE, color="0.9", label="±5%")
    bx.axhline(0, color="k", lw=1)
    bx.set_xscale("log")
    bx.set_xlabel("learning rate ε")
    bx.set_ylabel("measured / predicted − 1  [%]")
    bx.set_title(f"(b) deviation from the exact law (dots, ±{Z:.2f} SE) and the a = 1 form (x)")
    bx.legend(fontsize=7)
    bx.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    save_figure(fig, outdir, "sgd_variance")


def figure_pairs(outdir, sgd, batch_sizes) -> None:
    a, gv = sgd["a"], sgd["grad_var"]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(13, 5))
    for c, bsz in enumerate(batch_sizes):
        rs = [r for r in sgd["runs"] if r["batch_size"] == bsz]
        q = np.array([r["learning_rate"] / bsz for r in rs])
        v = np.array([r["variance"] for r in rs])
        se = np.array([r["se"] for r in rs])
        grid = np.geomspace(q.min() / 1.5, 1.95 / (a * bsz), 200)
        ax.plot(grid, stationary_variance(grid * bsz, bsz, gv, a) / grid, color=f"C{c}",
                label=f"B = {bsz}: exact s_g²/(a(2 − εa))")
        ax.errorbar(q, v / q, yerr=Z * se / q, fmt="o", color=f"C{c}", capsize=3,
                    label=f"B = {bsz}: SGD iterates (±{Z:.2f} SE)")
    qq = np.geomspace(min(r["learning_rate"] / r["batch_size"] for r in sgd["runs"]) / 1.5,
                      max(r["learning_rate"] / r["batch_size"] for r in sgd["runs"]) * 1.5, 10)
    ax.plot(qq, np.full_like(qq, gv / (2 * a)), "k:", label="small-ε limit s_g²/(2a)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("ε / B")
    ax.set_ylabel("V / (ε/B)  [units of y² per unit ε/B]")
    ax.set_title("(a) V depends on ε/B only while εa ≪ 2")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    if sgd["pairs"]:
        x = np.arange(len(sgd["pairs"]))
        ratio = np.array([p["ratio"] for p in sgd["pairs"]])
        bx.errorbar(x, ratio, yerr=Z * np.array([p["se"] for p in sgd["pairs"]]), fmt="o",
                    capsize=4, label=f"measured V₁/V₂ (±{Z:.2f} SE)")
        bx.plot(x, [p["predicted_ratio"] for p in sgd["pairs"]], "k_", ms=25, mew=2,
                label="exact (2 − ε₂a)/(2 − ε₁a)")
        bx.axhspan(1 - TOLERANCE, 1 + TOLERANCE, color="0.9", label="1 ± 5%")
        bx.set_xticks(x, [f"({p['first'][0]:g}, {p['first'][1]}) vs\n"
                          f"({p['second'][0]:g}, {p['second'][1]})" for p in sgd["pairs"]],
                      fontsize=8)
    bx.set_xlabel("(ε₁, B₁) vs (ε₂, B₂) with ε₁/B₁ = ε₂/B₂")
    bx.set_ylabel("variance ratio V(ε₁, B₁) / V(ε₂, B₂)")
    bx.set_title("(b) equal ε/B: equal variance at small ε, ratio (2 − ε₂a)/(2 − ε₁a) in general")
    bx.legend(fontsize=8)
    bx.grid(True, alpha=0.3)
    fig.tight_layout()
    save_figure(fig, outdir, "equal_eps_over_b")


def figure_modes(outdir, modes, plot, *, sgld_batch_size, sgld_chains, burn_fraction) -> None:
    edges, centres, density = plot["edges"], plot["centres"], plot["density"]
    width = edges[1] - edges[0]
    fig, axes = plt.subplots(1, 3, figsize=(17, 4.8))
    ax = axes[0]
    ax.plot(centres, density, "k", lw=2, label="exact (quadrature of exp(log_joint))")
    s0, nu = modes["sgld"][0], modes["nuts"]
    hists = plot["hists"]
    ax.stairs(hists[0] / width, edges, color="C0", lw=1.5,
              label=f"SGLD ε = {s0['step_size']:g}, B = {sgld_batch_size}: TV = {s0['tv']:.3f}")
    ax.stairs(hists[-1] / width, edges, color="C3", lw=1.2, ls="--",
              label=f"NUTS: TV = {nu['tv']:.3f}")
    ax.set_xlabel("θ  [units of √y]")
    ax.set_ylabel("posterior density  [1/units of θ]")
    ax.set_title(f"(a) y ~ N(θ², σ²), N = {modes['num_data']}: barrier "
                 f"{modes['barrier_nats']:.1f} nats")
    ax.set_ylim(0, 1.3 * density.max())
    ax.legend(fontsize=8, loc="upper center")
    bx = axes[1]
    bx.plot(centres, density, "k", lw=2, label="exact")
    for j, r in enumerate(modes["sgld"]):
        bx.stairs(hists[j] / width, edges, color=f"C{j}", lw=1.2,
                  label=f"SGLD ε = {r['step_size']:g}: TV of |θ| = {r['tv_folded']:.3f} "
                        f"(noise bound {r['tv_folded_threshold']:.3f})")
    bx.set_xlim(0.0, min(2.0, edges[-1]))
    bx.set_xlabel("θ  [units of √y]")
    bx.set_ylabel("posterior density  [1/units of θ]")
    bx.set_title("(b) the positive mode: constant-step SGLD widens it by O(ε)")
    bx.legend(fontsize=8)
    cx = axes[2]
    for j, (eps, thin, frac) in enumerate(plot["traces"]):
        cx.plot(np.arange(1, len(frac) + 1) * thin, frac, color=f"C{j}", lw=1,
                label=f"SGLD ε = {eps:g}")
        cx.axvline(int(burn_fraction * len(frac)) * thin, color=f"C{j}", ls=":", lw=1,
                   label=f"ε = {eps:g}: end of the discarded burn-in")
    cx.axhline(modes["positive_mass_exact"], color="k", ls="--", lw=1, label="exact P(θ > 0)")
    cx.set_xscale("log")
    cx.set_ylim(0, 1.05)
    cx.set_xlabel("SGLD step")
    cx.set_ylabel(f"share of the {sgld_chains} chains with θ > 0")
    cx.set_title("(c) all chains start in the positive mode and cross")
    cx.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, outdir, "two_modes")


