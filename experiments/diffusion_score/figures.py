"""Figures of ``diffusion_score``: the Gaussian score field and the exact/flipped-drift samples;
the ring's true vs learned score field, reverse-SDE trajectories, samples and the DSM loss."""

from __future__ import annotations

import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import bayesjax as bj
from experiments.common import ring
from experiments.common.plotting import save_figure


def _ellipse(ax, mean, cov, **kw):
    a = np.linspace(0, 2 * np.pi, 200)
    pts = mean[None] + 2 * np.stack([np.cos(a), np.sin(a)], 1) @ np.linalg.cholesky(cov).T
    ax.plot(pts[:, 0], pts[:, 1], **kw)


def gaussian_figure(outdir, sde, mean, cov, samples: dict) -> None:
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    lim = np.linspace(-3.0, 5.0, 15)
    xs = np.stack(np.meshgrid(lim, lim - 1.0), -1).reshape(-1, 2)
    for ax, t in zip(axes[:2], (0.1, 0.5), strict=True):
        s = np.asarray(bj.diffusion.gaussian_score(sde, t, jnp.asarray(xs, jnp.float32), mean, cov))
        m_t, c_t = (np.asarray(v) for v in bj.diffusion.gaussian_marginal(sde, t, mean, cov))
        ax.quiver(xs[:, 0], xs[:, 1], s[:, 0], s[:, 1], np.linalg.norm(s, axis=1), cmap="viridis")
        _ellipse(ax, m_t, c_t, color="C3", label="p_t: 2σ ellipse")
        ax.plot(*m_t, "r*", ms=12, label="mean of p_t")
        ax.set_title(f"exact score ∇ln p_t at t = {t}")
        ax.set_aspect("equal")
        ax.legend(loc="lower left", fontsize=8)
    ax = axes[2]
    for key, c in (("sde_exact", "C0"), ("ode_exact", "C2"), ("sde_flipped_drift", "C3"),
                   ("ode_flipped_drift", "C1")):
        x = samples[key][:1500]
        ax.scatter(x[:, 0], x[:, 1], s=2, alpha=0.35, color=c, label=key.replace("_", " "))
    _ellipse(ax, mean, cov, color="k", label="data: 2σ ellipse")
    ax.set_title("samples from noise, exact score")
    ax.set_aspect("equal")
    ax.legend(loc="lower left", fontsize=8, markerscale=4)
    save_figure(fig, outdir, "gaussian_score")


def ring_figure(outdir, sde, centres, sd, score, model, data, traj, losses) -> None:
    fig, axes = plt.subplots(1, 4, figsize=(20, 4.8))
    lim = np.linspace(-3.0, 3.0, 21)
    xs = jnp.asarray(np.stack(np.meshgrid(lim, lim), -1).reshape(-1, 2), jnp.float32)
    t = 0.05
    weights, means, covs = ring.mixture(centres, sd)
    true = np.asarray(bj.diffusion.mixture_score(sde, t, xs, weights, means, covs))
    learned = np.asarray(score(xs, jnp.full(xs.shape[:1], t, jnp.float32)))
    for ax, s, title in ((axes[0], true, "true score"), (axes[1], learned, "learned score")):
        ax.quiver(xs[:, 0], xs[:, 1], s[:, 0], s[:, 1], np.linalg.norm(s, axis=1), cmap="viridis")
        ax.scatter(centres[:, 0], centres[:, 1], c="r", marker="*", s=60)
        ax.set_title(f"{title} at t = {t}")
        ax.set_aspect("equal")
    path = np.asarray(traj.path)
    ax = axes[2]
    for i in range(path.shape[1]):
        ax.plot(path[:, i, 0], path[:, i, 1], lw=0.6, alpha=0.7)
        ax.plot(*path[-1, i], "k.", ms=4)
    ax.scatter(centres[:, 0], centres[:, 1], c="r", marker="*", s=60)
    ax.set_title("reverse-SDE trajectories, t = 1 → 0")
    ax.set_aspect("equal")
    ax = axes[3]
    ax.scatter(data[:2000, 0], data[:2000, 1], s=2, alpha=0.4, label="data")
    ax.scatter(model[:2000, 0], model[:2000, 1], s=2, alpha=0.4, label="model samples")
    ax.set_title("samples")
    ax.set_aspect("equal")
    ax.legend(markerscale=5, fontsize=8)
    inset = ax.inset_axes([0.62, 0.03, 0.35, 0.25])
    inset.plot(np.convolve(np.asarray(losses), np.ones(50) / 50, "valid"), lw=0.8)
    inset.set_title("DSM loss", fontsize=7)
    inset.tick_params(labelsize=6)
    save_figure(fig, outdir, "ring_model")

