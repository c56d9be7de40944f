"""Figures of ``likelihood_vs_quality``: sample grids of each model; the bandwidth sweep; the
per-image log-likelihood loss of the noise mixture against ln 100."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np

from experiments.common.plotting import save_figure


def plot(outdir, examples: dict, sweep: list, loss, mean_ll: float) -> None:
    fig, axes = plt.subplots(1, len(examples), figsize=(4 * len(examples), 2.4))
    for ax, (name, s) in zip(axes, examples.items(), strict=True):
        tiles = np.clip(np.asarray(s[:16]), 0, 1).reshape(2, 8, 8, 8)
        ax.imshow(tiles.transpose(0, 2, 1, 3).reshape(16, 64), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(name, fontsize=9)
        ax.axis("off")
    save_figure(fig, outdir, "samples")

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    h = [r["bandwidth"] for r in sweep]
    axes[0].plot(h, [r["heldout_ll"] for r in sweep], "o-")
    axes[0].axhline(mean_ll, color="C3", ls="--", label="Gaussian mixture")
    axes[0].set_yscale("symlog")
    axes[0].set_title("held-out log-likelihood per image (nats)")
    axes[1].plot(h, [r["precision"] for r in sweep], "o-", label="precision")
    axes[1].plot(h, [r["recall"] for r in sweep], "s-", label="recall")
    axes[1].plot(h, [r["frechet"] for r in sweep], "^-", label="Fréchet distance")
    axes[1].set_yscale("log")
    axes[1].set_title("sample quality vs the held-out images")
    for ax in axes[:2]:
        ax.set_xscale("log")
        ax.set_xlabel("kernel bandwidth h")
        ax.legend(fontsize=8)
    axes[2].hist(np.asarray(loss), bins=60)
    axes[2].axvline(math.log(100), color="C3", ls="--", label="ln 100")
    axes[2].set_title("log p − log(0.01 p + 0.99 q) per held-out image")
    axes[2].legend(fontsize=8)
    save_figure(fig, outdir, "likelihood_vs_quality")
