"""Precision and recall of generators on the ring: constructed ones over replicates (for standard
errors), and a trained GAN's checkpoints."""

from __future__ import annotations

import jax
import numpy as np

import bayesjax as bj
from experiments.common import ring, stats


def constructed(key, centres, sd: float, *, num_samples: int, num_replicates: int,
                spread: float, k: int) -> dict:
    """P and R (k-NN, ``k``) per replicate of three generators against a fresh real set each:
    ``covering`` (the data law), ``dropped`` (every other mode only) and ``spread`` (every mode,
    sd × ``spread``)."""
    gens = {"covering": (centres, sd), "dropped": (centres[::2], sd),
            "spread": (centres, spread * sd)}
    out = {g: {"precision": [], "recall": []} for g in gens}
    for kr in jax.random.split(key, num_replicates):
        k_real, *k_gen = jax.random.split(kr, 1 + len(gens))
        real = ring.sample(k_real, num_samples, centres, sd)
        for kg, (g, (c, s)) in zip(k_gen, gens.items(), strict=True):
            p, r = bj.metrics.precision_recall(real, ring.sample(kg, num_samples, c, s), k=k)
            out[g]["precision"].append(float(p))
            out[g]["recall"].append(float(r))
    for v in out.values():
        for m in ("precision", "recall"):
            mean, se = stats.mean_se(v[m])
            v[f"{m}_mean"], v[f"{m}_se"] = float(mean), float(se)
    return out


def paired(a, b) -> float:
    """Paired z of ``a − b`` over the replicates (same real set per replicate)."""
    return stats.paired_z(a, b)


def checkpoints(samples, real, centres, sd: float, *, k: int, min_share: float) -> dict:
    """Per checkpoint: P, R, the number of modes holding ≥ ``min_share`` of the samples (within 3
    sd of the centre) and the share of samples near any mode."""
    rows = {"precision": [], "recall": [], "modes": [], "near_a_mode": []}
    for x in np.asarray(samples):
        p, r = bj.metrics.precision_recall(real, x, k=k)
        frac, near = ring.mode_fractions(x, centres, sd)
        rows["precision"].append(float(p))
        rows["recall"].append(float(r))
        rows["modes"].append(int(np.sum(frac >= min_share)))
        rows["near_a_mode"].append(near)
    return rows


def first_collapse(rows: dict, steps_per_checkpoint: int) -> int | None:
    """The first training step (checkpoint) at which precision ≥ 0.8 and recall ≤ 0.5, if any."""
    for i, (p, r) in enumerate(zip(rows["precision"], rows["recall"], strict=True)):
        if p >= 0.8 and r <= 0.5:
            return i * steps_per_checkpoint
    return None
