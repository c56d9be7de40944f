"""The ``flat_vs_sharp`` figures: the two bowls (1-D and 2-D), the rescaling sweep, evidence vs
prior precision, and sharpness during GD/SGD training."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np

from experiments.common.plotting import save_figure


def _ellipse(ax, mean, precision, color, label=None):
    """1σ and 2σ contours of N(mean, precision⁻¹)."""
    lam, vec = np.linalg.eigh(np.linalg.inv(precision))
    t = np.linspace(0, 2 * np.pi, 200)
    circle = np.stack([np.cos(t), np.sin(t)])
    for r, ls in ((1.0, "-"), (2.0, "--")):
        pts = np.asarray(mean)[:, None] + r * vec @ (np.sqrt(lam)[:, None] * circle)
        ax.plot(pts[0], pts[1], color=color, ls=ls, lw=1.6, label=label if r == 1.0 else None)


def plot_bowls_1d(a, outdir):
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(12, 4.4), width_ratios=[1.6, 1],
                                   layout="constrained")
    g, u, dens = a["grid"], a["potential"], a["density"]
    ax0.plot(g, u, color="k", lw=1.2, label="U(θ) = −log p(θ) + const")
    ax0.set_ylim(-0.2, 6.0)
    ax0.set_xlabel("θ")
    ax0.set_ylabel("U(θ) (nats)")
    ax0.axvline(a["barrier"], color="grey", ls=":", lw=1)
    tw = ax0.twinx()
    bins = np.linspace(g[0], g[-1], 160)
    tw.hist(a["nuts_draws"], bins=bins, density=True, alpha=0.35, color="C0", label="NUTS draws")
    tw.hist(a["langevin_draws"], bins=bins, density=True, alpha=0.35, color="C1",
            label="Langevin states")
    tw.plot(g, dens, color="C3", lw=1.2, label="exact density exp(−U)/Z")
    tw.set_ylabel("density (1/θ)")
    h0, l0 = ax0.get_legend_handles_labels()
    h1, l1 = tw.get_legend_handles_labels()
    ax0.legend(h0 + h1, l0 + l1, loc="upper right", fontsize=8)
    ax0.set_title(f"sharp bowl (k = {a['k'][0]:g}) and flat bowl (k = {a['k'][1]:g}), equal depth")
    names = ["exact\n(quadrature)", "Laplace", "NUTS", "Langevin\n(bj.sgld)"]
    vals = [a["exact_fraction"], a["laplace_fraction"], a["nuts_fraction"],
            a["langevin_fraction"]]
    errs = [0.0, 0.0, 2 * a["nuts_se"], 2 * a["langevin_se"]]
    ax1.bar(names, vals, yerr=errs, capsize=5, color=["k", "C2", "C0", "C1"], alpha=0.7)
    ax1.axhline(a["exact_fraction"], color="k", ls=":", lw=1)
    ax1.set_ylabel("mass of the sharp basin (fraction)")
    ax1.set_title("sharp-basin mass: four methods (±2 s.e.)")
    save_figure(fig, outdir, "bowls_1d")


def plot_bowls_2d(a2, outdir):
    fig, axes = plt.subplots(1, 3, figsize=(17, 4.8), sharey=True, layout="constrained")
    xs, ys, u = a2["grid_x"], a2["grid_y"], a2["potential"]
    colours = {"nuts_draws": "C0", "langevin_draws": "C1", "mclmc_draws": "C4"}
    for ax, key, title in ((axes[0], "nuts_draws", "NUTS"), (axes[1], "langevin_draws",
                                                             "Langevin (bj.sgld)"),
                           (axes[2], "mclmc_draws", "MCLMC (bj.mclmc)")):
        cs = ax.contour(xs, ys, u.T, levels=[0.5, 1, 2, 3, 4, 6, 8], colors="grey",
                        linewidths=0.7)
        ax.clabel(cs, fontsize=7)
        pts = a2[key]
        ax.scatter(pts[:, 0], pts[:, 1], s=2, alpha=0.25, color=colours[key],
                   label=f"{title} samples")
        for j, (m, prec) in enumerate(zip(a2["means"], a2["laplace_precisions"], strict=True)):
            _ellipse(ax, m, prec, "C3" if j == 0 else "C2",
                     label=f"Laplace at the {'sharp' if j == 0 else 'flat'} mode (1σ, 2σ)")
        ax.set_xlabel("θ₁")
        ax.set_title(f"{title}: sharp-basin mass {a2[key[:-6] + '_fraction']:.3f} "
                     f"(exact {a2['exact_fraction']:.3f}, Laplace {a2['laplace_fraction']:.3f})",
                     fontsize=9)
        ax.set_aspect("equal")
        ax.legend(loc="lower right", fontsize=7)
    axes[0].set_ylabel("θ₂")
    save_figure(fig, outdir, "bowls_2d")


def plot_rescaling(rows, outdir):
    la = np.log2([r["alpha"] for r in rows])
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.9), layout="constrained")
    axes[0].semilogy(la, [r["sharpness"] for r in rows], "o-", label="λmax(∇²(−log p(D|θ)/N))")
    axes[0].semilogy(la, [r["block_bound"] for r in rows], "k--", lw=0.9,
                     label="bound max(α⁻²λ_W1, α²λ_W2)")
    axes[0].set_ylabel("top Hessian eigenvalue (per datum)")
    axes[0].set_title("sharpness (same function at every α)")
    axes[1].plot(la, [r["log_prior"] for r in rows], "o-", color="C1",
                 label="log p(θ_α), Gaussian prior")
    axes[1].plot(la, [r["occam"] for r in rows], "s-", color="C2",
                 label="(P/2)log2π − ½ log det P")
    axes[1].set_ylabel("nats")
    axes[1].set_title("prior term and curvature term")
    axes[2].plot(la, [r["log_mass"] for r in rows], "o-", color="C3", label="log basin mass")
    axes[2].set_ylabel("nats")
    axes[2].set_title("Laplace log basin mass")
    for ax in axes:
        ax.set_xlabel("log₂ α   (W1 → αW1, b1 → αb1, W2 → W2/α)")
        ax.legend(fontsize=8)
    save_figure(fig, outdir, "rescaling")


def plot_evidence(sweep, outdir):
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(12, 4.2), layout="constrained")
    for name, color in (("true", "C0"), ("random", "C3")):
        rows = sweep[name]
        c = [r["precision"] for r in rows]
        ax0.semilogx(c, [r["evidence_vs_null"] for r in rows], "o-", color=color,
                     label=f"{name} labels")
        ax1.semilogx(c, [r["test_ce"] for r in rows], "o-", color=color, label=f"{name} labels")
    ax0.axhline(0.0, color="k", lw=0.8, ls=":", label="null model (p = ½)")
    ax1.axhline(math.log(2.0), color="k", lw=0.8, ls=":", label="log 2 (p = ½)")
    ax0.set_ylabel("log evidence − N log ½ (nats)")
    ax0.set_title("Laplace evidence relative to the null model")
    ax1.set_ylabel("held-out cross-entropy (nats per example)")
    ax1.set_title("held-out cross-entropy")
    for ax in (ax0, ax1):
        ax.set_xlabel("prior precision 1/s² (per weight²)")
        ax.legend(fontsize=8)
    save_figure(fig, outdir, "evidence_vs_precision")


def plot_batch(runs, epochs, initial, outdir):
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(12, 4.2), layout="constrained")
    ep = np.concatenate([[0], epochs])
    for i, r in enumerate(runs):
        ax0.semilogy(ep, np.concatenate([[initial], r["gd_sharpness"]]), "o-", ms=4,
                     color=f"C{i}", label=f"GD, η = {r['lr']:g}")
        ax0.semilogy(ep, np.concatenate([[initial], r["sgd_sharpness"]]), "x--", ms=4,
                     color=f"C{i}", label=f"SGD, η = {r['lr']:g}")
        ax0.axhline(2.0 / r["lr"], color=f"C{i}", lw=0.8, ls=":")
    ax0.set_xlabel("epoch")
    ax0.set_ylabel("top Hessian eigenvalue of −log_joint/N")
    ax0.set_title("sharpness during training (dotted: 2/η)")
    ax0.legend(fontsize=7, ncol=2)
    x = np.arange(len(runs))
    ax1.bar(x - 0.2, [r["gd_late"] for r in runs], 0.4, label="GD (full batch)")
    ax1.bar(x + 0.2, [r["sgd_late"] for r in runs], 0.4, label="SGD (small batch)")
    ax1.scatter(x, [2.0 / r["lr"] for r in runs], marker="_", s=800, color="k", label="2/η")
    ax1.set_xticks(x, [f"η = {r['lr']:g}" for r in runs])
    ax1.set_ylabel("late-training sharpness (median, second half)")
    ax1.set_title("sharpness at the end of training")
    ax1.legend(fontsize=8, loc="center right")
    save_figure(fig, outdir, "batch_sharpness")


def plot_all(outdir, a, a2, b, c, d) -> None:
    """Every figure of the experiment, from the five parts' results."""
    plot_bowls_1d(a, outdir)
    plot_bowls_2d(a2, outdir)
    plot_rescaling(b["rows"], outdir)
    plot_evidence(c["sweep"], outdir)
    plot_batch(d["runs"], d["epochs"], d["initial_sharpness"], outdir)
