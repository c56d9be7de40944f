"""The figures of l1_vs_l2: the MAP coefficient paths, the exact-zero counts over the prior scale,
and the MLP's first-layer weight histograms."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from experiments.common.plotting import save_figure

from .paths import KINDS


def plot_paths(paths: dict, scales, b_max: float, names, outdir) -> None:
    """``coefficient_paths.png``: the MAP coefficients over the sweep for each prior (the checked
    Gaussian rows carry the closed-form ridge path, drawn dotted)."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6), sharey=True)
    colors = plt.cm.tab10(np.arange(len(names)))
    for ax, kind in zip(axes, KINDS, strict=True):
        w = np.stack([r["theta"][:-1] for r in paths[kind]])
        for j, name in enumerate(names):
            ax.plot(scales, w[:, j], "o-", ms=3, color=colors[j],
                    label=name if kind == "gaussian" else None)
        if kind == "gaussian":
            ax.plot(scales, np.stack([r["ridge"] for r in paths[kind]]), "k:", lw=1)
            ax.plot([], [], "k:", lw=1, label="closed-form ridge")
            ax.set_title("Gaussian prior N(0, s²): ridge, λ = 1/(2s²)")
        else:
            ax.axvline(b_max, color="grey", ls="--", lw=1,
                       label=f"b_max = σ²/max|X_jᵀy| = {b_max:.2g}")
            ax.set_title("Laplace prior Laplace(0, b): lasso, λ = 1/b")
        ax.set_xlabel(f"prior scale {'s' if kind == 'gaussian' else 'b'} (standardised "
                      "coefficient units, log)")
        ax.axhline(0.0, color="k", lw=0.5)
        ax.set_xscale("log")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("MAP coefficient (standardised units)")
    fig.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=6)
    fig.suptitle("Diabetes: MAP coefficient paths over the prior scale")
    save_figure(fig, outdir, "coefficient_paths")


def plot_zeros(paths: dict, scales, b_max: float, outdir) -> None:
    """``zeros_vs_scale.png``: the number of exactly-zero coefficients at each scale."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for kind, marker in zip(KINDS, ("s-", "o-"), strict=True):
        ax.plot(scales, [r["zeros"] for r in paths[kind]], marker,
                label=f"{kind.capitalize()} prior (fit_map)")
    ax.axvline(b_max, color="grey", ls="--", lw=1, label="b_max (all zero below)")
    ax.set_xscale("log")
    ax.set_xlabel("prior scale b or s (standardised coefficient units, log)")
    ax.set_ylabel("number of coefficients exactly 0 (of 10)")
    ax.set_title("Exact zeros in the MAP: only the Laplace prior")
    ax.set_ylim(-0.5, 10.5)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save_figure(fig, outdir, "zeros_vs_scale")


def plot_histograms(mlp: dict, outdir) -> None:
    """``mlp_weight_histograms.png``: the first-layer MAP weights under each prior."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    lim = max(np.abs(mlp[k]["w1"]).max() for k in KINDS)
    for ax, kind, color in zip(axes, KINDS, ("C0", "C1"), strict=True):
        r = mlp[kind]
        ax.hist(r["w1"].ravel(), bins=np.linspace(-lim, lim, 81), color=color,
                label=f"exactly 0: {100 * r['zero_frac_w1']:.1f}% of weights")
        ax.set_yscale("log")
        ax.set_title(f"{kind.capitalize()} prior, {'s' if kind == 'gaussian' else 'b'} = "
                     f"{r['scale']:.2g}  (test acc {r['test_acc']:.3f})")
        ax.set_xlabel("first-layer weight (input pixel in [0, 1] → hidden unit)")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("count (log scale)")
    fig.suptitle("Digits MLP 64-32-10, MAP first-layer weights (same prior variance)")
    save_figure(fig, outdir, "mlp_weight_histograms")
