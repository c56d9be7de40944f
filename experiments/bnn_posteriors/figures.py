"""Figures of the ``bnn_posteriors`` experiment: one regression figure per method, the epistemic
std of all methods, the two NUTS mass matrices, confidence maps on the two moons, and confidence
against distance from the data."""

from __future__ import annotations

import jax
import matplotlib.pyplot as plt
import numpy as np

from experiments.common.plotting import save_figure

BAND = 2.0   # ±2σ bands


def _slug(name: str) -> str:
    keep = "".join(c if c.isalnum() else "_" for c in name.lower())
    return "_".join(p for p in keep.split("_") if p)


def _shade_data(ax, gap_half_width, data_half_width):
    for s in (-1, 1):
        lo, hi = sorted((s * gap_half_width, s * data_half_width))
        ax.axvspan(lo, hi, color="0.5", alpha=0.08, lw=0)


def regression_figures(reg: dict, outdir, *, noise: float, gap_half_width: float,
                       data_half_width: float) -> None:
    """One figure per method: mean, ±2σ epistemic and ±2σ total bands, data and sin(2x)."""
    grid, data, table = reg["grid"], reg["data"], reg["table"]
    truth = np.sin(2.0 * grid)
    for name, (mean, alea, epi) in reg["preds"].items():
        fig, ax = plt.subplots(figsize=(7.5, 4.2))
        total, ep = np.sqrt(alea + epi), np.sqrt(epi)
        ax.fill_between(grid, mean - BAND * total, mean + BAND * total, color="C0", alpha=0.18,
                        label="±2σ total (noise σ² + epistemic)")
        point = bool(np.all(epi == 0))
        ax.fill_between(grid, mean - BAND * ep, mean + BAND * ep, color="C1", alpha=0.45,
                        label="epistemic: 0 (a point estimate)" if point else "±2σ epistemic")
        ax.plot(grid, mean, "C0", lw=1.6, label="predictive mean")
        ax.plot(grid, truth, "k--", lw=1, label="true function sin(2x)")
        ax.plot(data["x"], data["y"], "k.", ms=4, label=f"training data (N = {len(data['x'])})")
        _shade_data(ax, gap_half_width, data_half_width)
        ax.set_ylim(-3.5, 3.5)
        ax.set_xlabel("input x (training inputs in the shaded intervals)")
        ax.set_ylabel("output y")
        row = table[name]
        ax.set_title(f"{name}: test NLL {row['nll']['data']:.2f} in the data, "
                     f"{row['nll']['outside']:.2f} outside (nats/point)", fontsize=10)
        ax.legend(fontsize=7.5, loc="lower left", ncol=2)
        save_figure(fig, outdir, f"regression_{_slug(name)}")

    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for i, (name, (_, _, epi)) in enumerate(reg["preds"].items()):
        if np.all(epi == 0):
            continue
        ax.semilogy(grid, np.sqrt(epi), color=f"C{i}", lw=1.4, label=name)
    ax.axhline(noise, color="k", ls=":", lw=1, label=f"noise σ = {noise:g}")
    _shade_data(ax, gap_half_width, data_half_width)
    ax.set_xlabel("input x (training inputs in the shaded intervals)")
    ax.set_ylabel("epistemic std of f(x) (units of y)")
    ax.set_title("Epistemic std (MLE, MAP-L2, MAP-L1: 0 by construction, not drawn)",
                 fontsize=10)
    ax.legend(fontsize=7.5, ncol=2)
    save_figure(fig, outdir, "regression_epistemic_std")


def _slowest(mc):
    """(chain, draw) trace of the scalar parameter with the smallest bulk ESS, and its name."""
    names, ess, traces = [], [], []
    for (path, e), leaf in zip(mc.diagnostics.ess_bulk.items(), jax.tree.leaves(mc.samples),
                               strict=True):
        leaf = np.asarray(leaf)
        traces.append(leaf.reshape(leaf.shape[0], leaf.shape[1], -1))
        ess.append(np.ravel(e))
        names += [f"{path}[{i}]" for i in range(np.size(e))]
    k = int(np.argmin(np.concatenate(ess)))
    return np.concatenate(traces, axis=2)[:, :, k], names[k]


def sampler_figure(reg: dict, outdir) -> None:
    """Trace of the slowest-mixing weight under each sampler, and the log-joint traces."""
    labels = {"diag": "NUTS, diag mass adapted, random start",
              "diag_map": "NUTS, diag mass adapted, MAP start",
              "laplace": "NUTS, Laplace mass, MAP start",
              "mclmc": "MCLMC (unadjusted), random start"}
    runs = reg["runs"]
    fig, axes = plt.subplots(1, len(runs) + 1, figsize=(4.4 * (len(runs) + 1), 4), layout="constrained")
    for i, (k, mc) in enumerate(runs.items()):
        trace, name = _slowest(mc)
        s = reg["samplers"][k]
        # MCLMC keeps one draw per step: thin its traces to about NUTS's number of draws
        step = max(1, trace.shape[1] // runs["diag"].stats["log_joint"].shape[1])
        x = np.arange(trace.shape[1])[::step]
        for c, tr in enumerate(trace):
            axes[i].plot(x, tr[::step], color=f"C{i}", lw=0.7, alpha=1.0 if c == 0 else 0.5)
            axes[-1].plot(np.linspace(0, 1, x.size), np.asarray(mc.stats["log_joint"])[c][::step],
                          color=f"C{i}", lw=0.7, alpha=0.9 if c == 0 else 0.5,
                          label=labels[k] if c == 0 else None)
        depth = "" if k == "mclmc" else f", mean depth {s['mean_tree_depth']:.1f}"
        axes[i].set_title(f"{labels[k]}\nmin bulk ESS {s['min_ess_bulk']:.0f}, ESS/1000 grads "
                          f"{s['ess_per_1000_grads']:.3f}{depth}", fontsize=9)
        axes[i].set_xlabel("draw (after warmup / tuning), one line per chain")
        axes[i].set_ylabel(f"slowest weight: {name}")
    axes[-1].set_xlabel("fraction of the run (after warmup / tuning)")
    axes[-1].set_ylabel("log joint (nats)")
    axes[-1].set_title("Log-joint traces", fontsize=9)
    axes[-1].legend(fontsize=8)
    save_figure(fig, outdir, "nuts_mass_matrix")


def geometry_figure(reg: dict, outdir) -> None:
    """Covariance spectra (draws vs the two Laplace Gaussians), and per mass matrix the largest
    stable leapfrog step at the MAP and along the draws against the widest std to cover."""
    geo = reg["geometry"]
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.4), layout="constrained")
    for i, (name, ev) in enumerate(geo["spectra"].items()):
        axes[0].semilogy(np.arange(1, ev.size + 1), np.maximum(ev, 1e-12), "o-", ms=3,
                         color=f"C{i}", label=f"covariance of {name}")
    axes[0].set_xlabel("eigenvalue index (largest first)")
    axes[0].set_ylabel("covariance eigenvalue (θ units²)")
    axes[0].set_title("Posterior covariance spectra: NUTS draws vs Laplace at the MAP", fontsize=9)
    axes[0].legend(fontsize=8)
    frames = geo["frames"]
    x = np.arange(len(frames))
    for j, (key, lab) in enumerate((("max_step_at_map", "stable ε at the MAP"),
                                    ("max_step_draws_median", "stable ε along draws (median)"),
                                    ("max_step_draws_min", "stable ε along draws (worst)"),
                                    ("widest_std", "widest std to cover √λ_max(MC)"))):
        axes[1].bar(x + (j - 1.5) * 0.2, [f[key] for f in frames.values()], 0.2,
                    color=f"C{j}", label=lab)
    axes[1].set_yscale("log")
    axes[1].set_xticks(x, [f"{k}\n√κ = {f['sqrt_kappa_median']:.3g}" for k, f in frames.items()],
                       fontsize=8)
    axes[1].set_ylabel("length in the mass matrix's whitened units")
    axes[1].set_title("Step the leapfrog can take vs the width it must cross, per M⁻¹", fontsize=9)
    axes[1].legend(fontsize=7.5)
    save_figure(fig, outdir, "mass_geometry")


def moons_grid(data: dict, half: float = 6.0, n: int = 70):
    """A square grid of inputs around the two moons: (xx, yy, (n², 2) points)."""
    c = data["x"].mean(0)
    xx, yy = np.meshgrid(np.linspace(c[0] - half, c[0] + half, n),
                         np.linspace(c[1] - half, c[1] + half, n))
    return xx, yy, np.stack([xx.ravel(), yy.ravel()], 1).astype(np.float32)


def classification_figures(cls: dict, grid2d, outdir) -> None:
    moons = cls["two moons"]
    xx, yy, _ = grid2d
    shown = ("MAP", "Laplace full (GLM)", "Laplace last layer (GLM)", "NUTS")
    fig, axes = plt.subplots(1, len(shown), figsize=(4.2 * len(shown), 4), sharey=True)
    for ax, m in zip(axes, shown, strict=True):
        conf = np.maximum(moons["grid_probs"][m], 1.0 - moons["grid_probs"][m]).reshape(xx.shape)
        im = ax.contourf(xx, yy, conf, levels=np.linspace(0.5, 1.0, 11), cmap="viridis")
        d = moons["data"]
        ax.scatter(*d["x"].T, c=d["y"], cmap="coolwarm", s=6, edgecolors="none")
        ax.set_title(f"{m}", fontsize=10)
        ax.set_xlabel("feature x₁")
    axes[0].set_ylabel("feature x₂")
    fig.colorbar(im, ax=axes, label="confidence max(p, 1−p)", shrink=0.9)
    fig.suptitle("Two moons: confidence away from the data (training points in red/blue)",
                 fontsize=11)
    save_figure(fig, outdir, "moons_confidence")

    fig, axes = plt.subplots(1, len(cls), figsize=(6 * len(cls), 4.2), squeeze=False)
    for ax, (dname, part) in zip(axes[0], cls.items(), strict=True):
        for i, (m, row) in enumerate(part["table"].items()):
            ax.plot(part["alphas"], row["confidence_far"], "o-", color=f"C{i}", ms=4, label=m)
        ax.set_xscale("log")
        ax.set_xlabel("α: test inputs moved to x̄ + α (x − x̄)")
        ax.set_ylabel("mean confidence max(p, 1−p)")
        ax.set_title(f"{dname} (P = {part['num_params']})", fontsize=10)
        ax.legend(fontsize=7.5)
    save_figure(fig, outdir, "far_confidence")
