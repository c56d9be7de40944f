"""Figures of ``gan_mode_collapse``: P/R of the constructed generators; the trained GANs' P and R
over training and their samples at checkpoints."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from experiments.common.plotting import save_figure


def plot(outdir, centres, real, con: dict, gans: dict, samples: dict) -> None:
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.3))
    for ax, (name, v) in zip(axes, con.items(), strict=True):
        ax.scatter(real[:, 0], real[:, 1], s=2, alpha=0.3, color="0.5", label="data")
        ax.scatter(centres[:, 0], centres[:, 1], c="r", marker="*", s=50)
        ax.set_title(f"{name}: P = {v['precision_mean']:.2f}, R = {v['recall_mean']:.2f}")
        ax.set_aspect("equal")
    save_figure(fig, outdir, "constructed_generators")

    fig = plt.figure(figsize=(16, 8))
    top = fig.subplots(1, len(gans), gridspec_kw={"bottom": 0.58})
    for ax, (name, rows) in zip(top, gans.items(), strict=True):
        ax.plot(rows["steps"], rows["precision"], "o-", label="precision")
        ax.plot(rows["steps"], rows["recall"], "s-", label="recall")
        ax.plot(rows["steps"], np.asarray(rows["modes"]) / 8, "^:", label="modes covered / 8")
        ax.set_ylim(-0.02, 1.05)
        ax.set_xlabel("generator step")
        ax.set_title(f"GAN, {name}")
        ax.legend(fontsize=8)
    names = list(samples)
    n_ck = samples[names[0]].shape[0]
    picks = sorted({1, n_ck - 1})
    bottom = fig.subplots(1, len(names) * len(picks), gridspec_kw={"top": 0.45})
    for j, name in enumerate(names):
        for i, c in enumerate(picks):
            ax = bottom[j * len(picks) + i]
            x = samples[name][c]
            ax.scatter(real[:, 0], real[:, 1], s=1, alpha=0.2, color="0.6")
            ax.scatter(x[:, 0], x[:, 1], s=1, alpha=0.5, color=f"C{j}")
            ax.set_title(f"{name}, step {gans[name]['steps'][c]}", fontsize=7)
            ax.set_xlim(-3, 3)
            ax.set_ylim(-3, 3)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
    save_figure(fig, outdir, "gan_training")

