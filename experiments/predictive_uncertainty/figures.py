"""The figures: the linear predictive and its two variances, coverage vs x, the MLP predictives,
the heteroscedastic predictive."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from experiments.common import stats
from experiments.common.plotting import band, save_figure
from experiments.predictive_uncertainty.coverage import LEVEL, Z95
from experiments.predictive_uncertainty.hetero import HeteroResult
from experiments.predictive_uncertainty.linear import LinearResult, poly
from experiments.predictive_uncertainty.mlp import STRUCTURES, MLPResult


def _bands(ax, x, mean, aleatoric, epistemic, label_mean="predictive mean"):
    band(ax, x, mean, np.sqrt(aleatoric + epistemic), k=Z95, color="C0", alpha=0.18,
         label="95% total: σ² + epistemic")
    band(ax, x, mean, np.sqrt(aleatoric), k=Z95, color="C1", alpha=0.35,
         label="95% aleatoric only: σ²")
    ax.plot(x, mean, "C0", lw=1.5, label=label_mean)
    ax.axvspan(-1.0, 1.0, color="0.5", alpha=0.07, lw=0)


def plot_linear(lin: LinearResult, outdir: Path) -> None:
    """``blr_predictive.png`` (the predictive bands and the two stds) and ``coverage_vs_x.png``."""
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.4))
    g = lin.grid
    total_sd = np.sqrt(lin.aleatoric + lin.epistemic)
    _bands(ax, g, lin.mean, lin.aleatoric, lin.epistemic)
    ax.plot(g, poly({"w": lin.w_true}, g), "k--", lw=1, label="true function φ(x)ᵀw")
    ax.plot(lin.x, lin.y, "k.", ms=5, label=f"data (N = {len(lin.x)})")
    ax.set_ylim(np.min(lin.mean - 3 * total_sd), np.max(lin.mean + 3 * total_sd))
    ax.set_xlabel("x (data range [-1, 1] shaded)")
    ax.set_ylabel("y")
    ax.set_title(f"Bayesian linear regression, degree-{lin.degree} polynomial")
    ax.legend(fontsize=8, loc="upper center")
    ax2.semilogy(g, np.sqrt(lin.aleatoric), "C1", label="aleatoric std σ")
    ax2.semilogy(g, np.sqrt(lin.epistemic), "C2", label="epistemic std sqrt(φᵀΣφ)")
    ax2.semilogy(g, total_sd, "C0--", label="total std")
    ax2.axvspan(-1.0, 1.0, color="0.5", alpha=0.07, lw=0)
    ax2.set_xlabel("x")
    ax2.set_ylabel("predictive std (units of y)")
    ax2.set_title("The two parts of the predictive variance")
    ax2.legend(fontsize=8)
    save_figure(fig, outdir, "blr_predictive")

    fig, ax = plt.subplots(figsize=(7.5, 4.4))
    pp, fw = lin.coverage["prior predictive"], lin.coverage["fixed w"]
    n = lin.num_replicates
    se = float(stats.binomial_se(LEVEL, n))
    ax.axhspan(LEVEL - stats.Z * se, LEVEL + stats.Z * se, color="C0", alpha=0.15, lw=0,
               label=f"0.95 ± Z = {stats.Z:.2f} s.e. (R = {n} replicates)")
    ax.plot(g, pp["bayes_grid"], "C0o", ms=4, label="Bayesian, w from the prior (measured)")
    ax.plot(g, pp["plugin_grid"], "C3s", ms=4, mfc="none", label="plug-in σ² only (measured)")
    ax.plot(g, lin.expect_grid["plugin"], "C3-", lw=1, label="plug-in: 2Φ(1.96σ/√(σ²+φᵀΣφ))−1")
    ax.plot(g, fw["bayes_grid"], "C2^", ms=4, mfc="none", label="Bayesian, one fixed w (measured)")
    ax.plot(g, lin.expect_grid["fixed"], "C2-", lw=1, label="Bayesian, fixed w (closed form)")
    ax.axvspan(-1.0, 1.0, color="0.5", alpha=0.07, lw=0)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("test input x (data range [-1, 1] shaded)")
    ax.set_ylabel("coverage of the 95% interval")
    ax.set_title("Coverage over replicate data sets")
    ax.legend(fontsize=8, loc="lower center")
    save_figure(fig, outdir, "coverage_vs_x")


def plot_mlp(mlp: MLPResult, outdir: Path) -> None:
    """``mlp_predictive.png``: the GLM predictive of each Laplace and the epistemic stds."""
    fig, axes = plt.subplots(2, 2, figsize=(12, 8), layout="constrained")
    g = mlp.grid
    for ax, name in zip(axes.flat[:3], STRUCTURES, strict=True):
        p = mlp.preds[name]
        _bands(ax, g, p["mean"], p["aleatoric"], p["std"] ** 2, "GLM predictive mean")
        ax.plot(g, np.sin(3.0 * g), "k--", lw=1, label="true function sin(3x)")
        ax.plot(mlp.x, mlp.y, "k.", ms=4, label=f"data (N = {len(mlp.x)})")
        ax.set_ylim(-4, 4)
        ax.set_xlabel("x (data range [-1, 1] shaded)")
        ax.set_ylabel("y")
        ax.set_title(f"tanh MLP 1-{mlp.width}-{mlp.width}-1, Laplace {name} "
                     f"(P = {p['num_params']})", fontsize=10)
    axes[0, 0].legend(fontsize=8, loc="lower center")
    ax = axes[1, 1]
    for i, name in enumerate(mlp.preds):
        ax.semilogy(g, mlp.preds[name]["std"], f"C{i + 2}", label=f"epistemic std, {name}")
    ax.axhline(mlp.noise, color="C1", label=f"aleatoric std σ = {mlp.noise:g}")
    ax.axvspan(-1.0, 1.0, color="0.5", alpha=0.07, lw=0)
    ax.set_xlabel("x")
    ax.set_ylabel("predictive std (units of y)")
    ax.set_title("Epistemic std sqrt(J Σ Jᵀ) vs x", fontsize=10)
    ax.legend(fontsize=8)
    save_figure(fig, outdir, "mlp_predictive")


def plot_hetero(het: HeteroResult, outdir: Path) -> None:
    """``hetero_predictive.png``: the heteroscedastic GLM predictive (aleatoric and total bands) and
    the stds of its two parts against the true σ(x) and the homoscedastic baseline."""
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.4), layout="constrained")
    g = het.grid
    band(ax, g, het.mean, np.sqrt(het.aleatoric + het.epistemic), k=Z95, color="C0", alpha=0.18,
         label="95% total: E[exp(s)] + Var[μ]")
    band(ax, g, het.mean, np.sqrt(het.aleatoric), k=Z95, color="C1", alpha=0.35,
         label="95% aleatoric only: E[exp(s)]")
    ax.plot(g, het.mean, "C0", lw=1.5, label="GLM predictive mean μ")
    truth = np.sin(3.0 * g)
    ax.plot(g, truth, "k--", lw=1, label="true sin(3x) ± 1.96 σ(x)")
    for sign in (-1, 1):
        ax.plot(g, truth + sign * Z95 * het.true_sd, "k:", lw=1)
    ax.plot(het.x, het.y, "k.", ms=4, label=f"data (N = {len(het.x)})")
    ax.axvspan(-1.0, 1.0, color="0.5", alpha=0.07, lw=0)
    ax.set_ylim(-3, 3)
    ax.set_xlabel("x (data range [-1, 1] shaded)")
    ax.set_ylabel("y")
    ax.set_title(f"Heteroscedastic tanh MLP 1-{het.width}-{het.width}-2, full-GGN Laplace "
                 f"(P = {het.num_params})", fontsize=10)
    ax.legend(fontsize=8, loc="lower center")
    ax2.semilogy(g, het.true_sd, "k--", lw=1, label=f"true σ(x) = {het.base:g} + {het.slope:g}|x|")
    ax2.semilogy(g, np.sqrt(het.aleatoric), "C1", label="aleatoric std sqrt(E[exp(s)])")
    ax2.semilogy(g, np.sqrt(het.epistemic), "C2", label="epistemic std sqrt(Var[μ])")
    ax2.axhline(het.homo_noise, color="C3", ls=":", label=f"homoscedastic σ = {het.homo_noise:.3f}")
    ax2.semilogy(g, np.sqrt(het.homo_epistemic), "C2:", label="homoscedastic epistemic std")
    ax2.axvspan(-1.0, 1.0, color="0.5", alpha=0.07, lw=0)
    ax2.set_xlabel("x")
    ax2.set_ylabel("predictive std (units of y)")
    ax2.set_title("The two parts of the heteroscedastic predictive", fontsize=10)
    ax2.legend(fontsize=8)
    save_figure(fig, outdir, "hetero_predictive")
