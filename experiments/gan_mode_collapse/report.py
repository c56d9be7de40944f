"""The markdown body of ``gan_mode_collapse``'s report."""

from __future__ import annotations

from experiments.common.tables import markdown_table


def body(m: dict, *, num_samples: int, num_replicates: int, spread: float,
         min_share: float) -> str:
    con = markdown_table(
        ["generator", "precision (mean ± s.e.)", "recall (mean ± s.e.)"],
        [[g, f"{v['precision_mean']:.3f} ± {v['precision_se']:.3f}",
          f"{v['recall_mean']:.3f} ± {v['recall_se']:.3f}"] for g, v in m["constructed"].items()])
    parts = [f"Constructed generators ({num_replicates} replicates of {num_samples} samples, "
             f"k = {m['k']}): covering = the data law, dropped = modes 0, 2, 4, 6 only, spread = "
             f"every mode with sd × {spread:g}.", "", con, ""]
    for name, rows in m["gan"].items():
        first = rows["first_collapse_step"]
        when = "never (P ≥ 0.8 with R ≤ 0.5 at no checkpoint)" if first is None else \
            f"first at step {first}"
        st = rows["setup"]
        parts += [f"GAN, {name} (generator lr {st['g_lr']:g}, discriminator lr {st['d_lr']:g}, "
                  f"{st['d_steps']} discriminator step(s) per generator step): collapse {when}; "
                  f"a mode is covered if it holds ≥ {min_share:.0%} of the samples within 3 sd.",
                  "",
                  markdown_table(["step", "precision", "recall", "modes covered",
                                  "near a mode"],
                                 zip(rows["steps"], rows["precision"], rows["recall"],
                                     rows["modes"], rows["near_a_mode"], strict=True),
                                 floatfmt=("", ".3f", ".3f", "", ".3f")), ""]
    parts += ["Recall counts a real point as covered if it lies in *some* generated sample's "
              "k-NN ball, so a few stray samples between modes (large balls) can cover a mode "
              "the generator has almost dropped; the mode count is the blunter, more robust "
              "view."]
    return "\n".join(parts)
