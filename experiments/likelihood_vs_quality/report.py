"""The markdown body of ``likelihood_vs_quality``'s report."""

from __future__ import annotations

import math

from experiments.common.tables import markdown_table


def body(m: dict, *, num_samples: int, num_replicates: int, sharp_bandwidth: float) -> str:
    q, ll = m["quality"], m["heldout_ll"]
    table = markdown_table(
        ["model", "held-out log-lik. / image (nats)", "precision", "recall", "Fréchet distance"],
        [[n, ll.get(n), v["precision_mean"], v["recall_mean"], v["frechet_mean"]]
         for n, v in q.items()], floatfmt=("", ".2f", ".3f", ".3f", ".3f"))
    sweep = markdown_table(["bandwidth h", "held-out log-lik.", "precision", "recall", "Fréchet"],
                           [[r["bandwidth"], r["heldout_ll"], r["precision"], r["recall"],
                             r["frechet"]] for r in m["sweep"]],
                           floatfmt=(".3g", ".1f", ".3f", ".3f", ".3f"))
    loss = m["loss"]
    return "\n".join([
        f"Digits, {m['num_test']} held-out images (pixels / 16). Sample quality: mean over "
        f"{num_replicates} sets of {num_samples} samples, against the held-out images (k = 3). "
        f"Sharp KDE: h = {sharp_bandwidth:g}.", "", table, "",
        f"Loss of the 1% mixture per held-out image: mean {loss['mean']:.4f}, median "
        f"{loss['median']:.6f}, max {loss['max']:.6f} nats (ln 100 = {math.log(100):.6f}); "
        f"{loss['share_within_1e-3_of_ln100']:.1%} of the images lose within 10⁻³ of the bound "
        "(the rest are images the mixture itself finds unlikely, where q carries weight).", "",
        "Kernel density, bandwidth sweep: the likelihood peaks at a moderate h, the Fréchet "
        "distance is best at the smallest.", "", sweep, ""])
