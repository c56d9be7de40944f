"""The markdown body of ``diffusion_score``'s report."""

from __future__ import annotations

from experiments.common.tables import markdown_table


def body(m: dict, *, num_samples: int, num_steps: int, model_steps: int, num_batches: int,
         batch_samples: int) -> str:
    rows = [[k.replace("_", " "), *v["mean"], *v["sd"], v["max_abs_z"]]
            for k, v in m["moments"].items()]
    moments = markdown_table(["sampler", "mean x₁", "mean x₂", "sd x₁", "sd x₂", "max |z|"], rows,
                             floatfmt=("", ".4f", ".4f", ".4f", ".4f", ".2f"))
    d = m["energy_distance"]
    q = m["ring_quality"]
    dist = markdown_table(
        ["samples", "energy distance to data (mean ± s.e.)", "paired z vs model",
         "near a mode (≤ 3 sd)", "smallest mode share"],
        [[k, f"{v['mean']:.4f} ± {v['se']:.4f}", v["paired_z_vs_model"], q[k]["near_a_mode"],
          min(q[k]["mode_fractions"])] for k, v in d.items()],
        floatfmt=("", "", ".1f", ".3f", ".3f"))
    loss0, loss1 = m["dsm_loss_first_last"]
    return "\n".join([
        f"Exact score, data N(μ, Σ): {num_samples} samples per sampler, {num_steps} steps from "
        "t = 1 to t = 10⁻³ (target: mean (2, −1), sds (0.5, 1)). z-scores use the s.e. of a "
        "Gaussian sample (sd/√n for a mean, sd/√(2n) for an sd).", "", moments, "",
        f"Learned score on the ring (DSM loss {loss0:.3f} → {loss1:.3f}; the irreducible part is "
        f"not 0), {model_steps} reverse-SDE steps. Energy distance (unbiased U-statistic) on "
        f"{num_batches} disjoint batches of {batch_samples}: fresh data is the floor (≈ 0), the "
        "Gaussian fit the baseline.", "", dist, ""])
