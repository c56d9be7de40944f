"""Figures: one way to save them, so every experiment's PNGs look alike."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)


def save_figure(fig, outdir, name: str) -> None:
    """Save a matplotlib figure as ``outdir/name.png`` (110 dpi, tight) and close it."""
    fig.savefig(Path(outdir) / f"{name}.png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def band(ax, x, mean, sd, *, k: float = 2.0, color=None, label=None, alpha: float = 0.25):
    """Shade ``mean ± k·sd`` over ``x`` on ``ax`` (no line drawn); returns the artist."""
    import numpy as np

    mean, sd = np.asarray(mean), np.asarray(sd)
    return ax.fill_between(np.asarray(x), mean - k * sd, mean + k * sd, color=color, alpha=alpha,
                           lw=0, label=label)
