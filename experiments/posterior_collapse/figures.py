"""posterior_collapse's figures: KL per latent vs the closed form, the nonlinear sweeps, digits."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from experiments.common.plotting import save_figure

from .linear import LinearSweep


def plot_linear(sw: LinearSweep, eigenvalues, outdir) -> None:
    """(a) learned KL per latent (markers) and the closed form (lines) for each setting;
    (b) every latent of every setting against λ_i/(βσ²): one curve, ½ log(·)₊."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    k = sw.kl.shape[1]
    idx = np.arange(1, k + 1)
    for s in range(sw.kl.shape[0]):
        label = f"σ²={sw.noise_vars[s]:g}, β={sw.betas[s]:g}"
        line = ax1.plot(idx, sw.kl_closed[s], "-", lw=1)[0]
        ax1.plot(idx, sw.kl[s], "o", mfc="none", color=line.get_color(), label=label)
    ax1.set(xlabel="latent i (by KL)", ylabel="KL(q(z_i|x) ‖ p(z_i)), nats",
            title="linear VAE: learned (○) vs ½ log(λ_i/βσ²)₊ (—)")
    ax1.legend(fontsize=7, ncol=2)
    lam = np.sort(np.asarray(eigenvalues))[::-1][:k]
    ratio = lam[None, :] / (sw.noise_vars * sw.betas)[:, None]
    grid = np.geomspace(ratio.min() / 1.5, ratio.max() * 1.5, 200)
    ax2.plot(grid, 0.5 * np.log(np.maximum(grid, 1.0)), "k-", lw=1, label="½ log(λ/βσ²)₊")
    ax2.plot(ratio.ravel(), sw.kl.ravel(), "o", mfc="none", color="C3", label="learned")
    ax2.axvline(1.0, color="grey", ls=":")
    ax2.set(xscale="log", xlabel="λ_i / (βσ²)", ylabel="KL, nats", title="collapse threshold")
    ax2.legend(fontsize=8)
    save_figure(fig, outdir, "kl_per_latent")


def plot_nonlinear(knobs: dict, outdir) -> None:
    """Held-out total KL and active units along the β and σ² sweeps; ``knobs[name]`` =
    ``(values, mean_kl, active, linear_active)``."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, (name, (values, kl, active, lin)) in zip(axes, knobs.items(), strict=True):
        ax.plot(values, kl, "o-", color="C0", label="mean KL per image (nats)")
        ax.set(xscale="log", xlabel=name, ylabel="KL, nats")
        ax.set_ylim(bottom=0)
        tw = ax.twinx()
        tw.plot(values, active, "s--", color="C1", label="active units (nonlinear)")
        tw.plot(values, lin, "^:", color="C2", label="λ_i > βσ² (linear closed form)")
        tw.set(ylabel="active units")
        tw.set_ylim(bottom=0)
        lines = ax.get_lines() + tw.get_lines()
        ax.legend(lines, [ln.get_label() for ln in lines], fontsize=7)
    fig.suptitle("nonlinear VAE on digits: collapse grows with β and with σ²")
    save_figure(fig, outdir, "nonlinear_sweeps")


def plot_digits(originals, recons: dict, samples: dict, mean, scale, outdir) -> None:
    """Rows: held-out digits, their reconstructions at a few settings, then decoder samples."""
    rows = [("data", originals)] + [(f"recon {k}", v) for k, v in recons.items()] + \
           [(f"sample {k}", v) for k, v in samples.items()]
    n = originals.shape[0]
    fig, axes = plt.subplots(len(rows), n, figsize=(0.9 * n, 1.0 * len(rows)))
    for r, (label, imgs) in enumerate(rows):
        pix = np.clip(np.asarray(imgs) * scale + mean, 0, 16)
        for c in range(n):
            ax = axes[r, c]
            ax.imshow(pix[c].reshape(8, 8), cmap="gray_r", vmin=0, vmax=16)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", fontsize=7)
    save_figure(fig, outdir, "digits")
