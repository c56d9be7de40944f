"""linear_vae_ppca's figures: the learned vs closed-form spectrum, the top components as images."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from experiments.common.plotting import save_figure

from .fits import Comparison


def plot_spectrum(comps: list[Comparison], eigenvalues, outdir) -> None:
    """λ_i of the data covariance; per K the VAE's ‖w_i‖² + σ² (its model variance along w_i) and
    its σ² (a line over the discarded directions)."""
    lam = np.asarray(eigenvalues)
    fig, ax = plt.subplots(figsize=(7, 4))
    idx = np.arange(1, lam.size + 1)
    pos = lam > 0
    ax.plot(idx[pos], lam[pos], "k.-", lw=0.8, label="λ_i (data covariance)")
    for j, c in enumerate(comps):
        col = f"C{j}"
        k = c.latent_dim
        ax.plot(np.arange(1, k + 1), c.col_norms + c.noise_var, "o", mfc="none", color=col, ms=8,
                label=f"K={k}: ‖w_i‖² + σ² (VAE)")
        ax.hlines(c.noise_var, k + 0.5, lam.size, color=col, ls="--",
                  label=f"K={k}: σ² = {c.noise_var:.3f} (VAE)")
    ax.set(yscale="log", xlabel="i", ylabel="variance",
           title="linear VAE (σ² learned) = pPCA: learned vs closed-form spectrum")
    ax.legend(fontsize=7)
    save_figure(fig, outdir, "spectrum")


def plot_components(comp: Comparison, outdir) -> None:
    """The VAE's decoder columns (normalised, sign-matched) above the principal eigenvectors."""
    k = comp.latent_dim
    w = comp.W / np.linalg.norm(comp.W, axis=0)
    u = comp.eigvecs
    # align each eigenvector with the VAE column most parallel to it, for the picture only
    order = np.argmax(np.abs(u.T @ w), axis=1)
    w = w[:, order] * np.sign(np.sum(u * w[:, order], axis=0))
    fig, axes = plt.subplots(2, k, figsize=(1.1 * k, 2.5))
    axes = np.asarray(axes).reshape(2, k)
    for i in range(k):
        lim = np.max(np.abs(u[:, i]))
        for r, img in enumerate((w[:, i], u[:, i])):
            axes[r, i].imshow(img.reshape(8, 8), cmap="RdBu_r", vmin=-lim, vmax=lim)
            axes[r, i].set_xticks([])
            axes[r, i].set_yticks([])
    axes[0, 0].set_ylabel("VAE W", fontsize=8)
    axes[1, 0].set_ylabel("PCA u_i", fontsize=8)
    save_figure(fig, outdir, "components")
