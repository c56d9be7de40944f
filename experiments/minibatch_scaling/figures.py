"""The figure of minibatch_scaling: the end points against the full-batch MAP (a) and the
distance to each MAP over training (b)."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np

from experiments.common.plotting import save_figure


def plot(outdir, flat: dict, ends, dist, *, num_data: int, prior_scale: float, batch_size: int,
         learning_rate: float) -> None:
    """``minibatch_scaling.png``. ``flat``: the full-batch MAPs (``map``, ``map_n``) as flat
    vectors; ``ends (W, R, P)`` and ``dist (W, R, T, J)`` from ``training.train`` (W = 0 the
    penalty/N runs, 1 the penalty runs; J = 0 distance to the MAP, 1 to the precision-×-N MAP)."""
    n, s = num_data, prior_scale
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12.5, 5.0))
    ref = flat["map"]
    lim = 1.1 * np.max(np.abs(ref))
    ax.plot([-lim, lim], [-lim, lim], color="0.6", lw=1, ls="--", label="y = x")
    ax.scatter(ref, flat["map_n"], s=70, facecolors="none", edgecolors="k", lw=1,
               label=f"full-batch MAP, prior Gaussian(s/√N = {s / math.sqrt(n):.3g})")
    ax.scatter(ref, ends[0, 0], s=22, color="C0", label="minibatch, mean NLL + penalty / N")
    ax.scatter(ref, ends[1, 0], s=30, marker="x", color="C3",
               label="minibatch, mean NLL + penalty")
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xlabel(f"full-batch MAP coefficient, prior Gaussian(s = {s:g})  [logit / s.d. of x]")
    ax.set_ylabel("minibatch SGD end point  [logit / s.d. of x]")
    ax.set_title(f"(a) the {ref.size} coefficients (30 weights + bias) against the full-batch MAP")
    ax.legend(loc="upper left", fontsize=8)

    steps = np.arange(1, dist.shape[2] + 1)
    stride = max(1, dist.shape[2] // 2000)
    sl = slice(stride - 1, None, stride)
    for w, (color, label) in enumerate((("C0", "penalty / N (correct)"),
                                        ("C3", "penalty (wrong)"))):
        d = dist[w, :, :, 0]
        bx.fill_between(steps[sl], d.min(axis=0)[sl], d.max(axis=0)[sl], color=color, alpha=0.2,
                        lw=0)
        bx.plot(steps[sl], d[0, sl], color=color, lw=1.5, label=f"{label}: to full-batch MAP")
    d = dist[1, :, :, 1]
    bx.fill_between(steps[sl], d.min(axis=0)[sl], d.max(axis=0)[sl], color="C1", alpha=0.15,
                    lw=0)
    bx.plot(steps[sl], d[0, sl], color="C1", lw=1.0,
            label="penalty (wrong): to the full-batch MAP with precision × N")
    bx.set_yscale("log")
    bx.set_xlabel(f"SGD step (B = {batch_size}, learning rate {learning_rate:g} "
                  "cosine-decayed to 0)")
    bx.set_ylabel("relative distance ‖θ_t − θ_ref‖ / ‖θ_ref‖")
    bx.set_title(f"(b) distance over training (run 0; band: min–max of {dist.shape[1]} runs)")
    bx.legend(loc="lower left", fontsize=8)
    bx.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    save_figure(fig, outdir, "minibatch_scaling")
