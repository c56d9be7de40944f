r"""A generator that mode-collapses has high precision and low recall; one that spreads out has the
reverse — k-NN precision and recall (Kynkäänniemi et al. 2019, "Improved precision and recall
metric for assessing generative models") tell the two failures apart where one number cannot.

Data: a ring of 8 Gaussians (radius 2, sd 0.1). Precision = share of generated samples inside
the union of the real samples' k-NN balls (k = 3); recall = share of real samples inside the
generated samples' balls (``bj.metrics.precision_recall``).

1. **Constructed generators**, over independent replicates: one covering all modes (the data law
   itself), one that dropped half the modes (recall ≈ ½ of the covering one's), one too spread
   out (each mode's sd × 3).
2. **A GAN trained here** (Flax NNX MLPs, optax Adam, non-saturating loss; Goodfellow et al.
   2014): P, R and the modes covered at checkpoints of three setups that differ only in how
   strong the discriminator is relative to the generator — the default (equal learning rates, one
   discriminator step per generator step), a strong discriminator (``strong_d_steps`` steps per
   generator step) and a weak one (a slower discriminator, a faster generator). Whether and when
   each collapses is measured, not assumed.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import jax
import numpy as np

from experiments.common import ring, stats
from experiments.common.claims import RunResult, claim, log, show_progress
from experiments.common.config import integers, positive

from . import figures, report
from .gan import train_gan
from .quality import checkpoints, constructed, first_collapse, paired

K = 3                 # the paper's k
MIN_SHARE = 0.02      # a mode "is covered" if it holds ≥ 2% of the samples (1/8 = 12.5%)


@dataclasses.dataclass(frozen=True)
class Config:
    seed: int = 0
    ring_sd: float = 0.1
    num_samples: int = 2_000        # per set, for every P/R evaluation
    num_replicates: int = 10        # constructed generators: independent replicates
    spread: float = 3.0             # the over-spread generator's sd factor
    gan_steps: int = 3_000          # generator steps per GAN run
    num_checkpoints: int = 10
    batch_size: int = 256
    latent: int = 8
    hidden: int = 128
    g_lr: float = 1e-3
    d_lr: float = 1e-3
    strong_d_steps: int = 5         # discriminator steps per generator step, strong setup
    strong_steps: int = 1_500       # generator steps of the strong setup (it collapses early)
    weak_steps: int = 4_500         # the weak setup spreads slowly (3,000 left seed 1 at 3 modes)
    weak_g_lr: float = 2e-3         # weak-discriminator setup: faster generator ...
    weak_d_lr: float = 5e-4         # ... slower discriminator

    def __post_init__(self):
        positive(self, ("ring_sd", "spread", "g_lr", "d_lr", "weak_g_lr", "weak_d_lr"))
        integers(self, ("num_samples",), minimum=K + 1)
        integers(self, ("num_replicates", "strong_d_steps"), minimum=2)
        integers(self, ("gan_steps", "num_checkpoints", "batch_size", "latent", "hidden",
                        "strong_steps", "weak_steps"))
        for name in ("gan_steps", "strong_steps", "weak_steps"):
            if getattr(self, name) % self.num_checkpoints:
                raise ValueError(f"{name}={getattr(self, name)} must be a multiple of "
                                 f"num_checkpoints={self.num_checkpoints}")

    @classmethod
    def smoke(cls) -> Config:
        # the weak-discriminator GAN needs ~2,000 steps to spread over the modes: no shorter
        # run shows both behaviours
        return cls(num_samples=600, num_replicates=4, gan_steps=600, strong_steps=600,
                   weak_steps=3_000, num_checkpoints=3)


def run(config: Config, outdir: Path) -> RunResult:
    cfg = config
    centres = ring.modes()
    k_con, k_real, k_bal, k_strong, k_weak = jax.random.split(jax.random.key(cfg.seed), 5)

    log(f"constructed generators: {cfg.num_replicates} replicates of {cfg.num_samples}")
    con = constructed(k_con, centres, cfg.ring_sd, num_samples=cfg.num_samples,
                      num_replicates=cfg.num_replicates, spread=cfg.spread, k=K)

    real = np.asarray(ring.sample(k_real, cfg.num_samples, centres, cfg.ring_sd))
    setups = {  # name: (key, generator steps, g_lr, d_lr, discriminator steps per step)
        "default": (k_bal, cfg.gan_steps, cfg.g_lr, cfg.d_lr, 1),
        "strong discriminator": (k_strong, cfg.strong_steps, cfg.g_lr, cfg.d_lr,
                                 cfg.strong_d_steps),
        "weak discriminator": (k_weak, cfg.weak_steps, cfg.weak_g_lr, cfg.weak_d_lr, 1)}
    gans, samples = {}, {}
    for name, (key, steps, g_lr, d_lr, d_steps) in setups.items():
        log(f"GAN [{name}]: {steps} generator steps (lr {g_lr:g}), {d_steps} discriminator "
            f"step(s) each (lr {d_lr:g})")
        per = steps // cfg.num_checkpoints
        s, d_loss, g_loss = train_gan(key, centres, cfg.ring_sd, latent=cfg.latent,
                                      hidden=cfg.hidden, num_steps=steps,
                                      num_checkpoints=cfg.num_checkpoints,
                                      batch_size=cfg.batch_size, g_lr=g_lr, d_lr=d_lr,
                                      d_steps=d_steps, num_eval=cfg.num_samples,
                                      progress_bar=show_progress(), label=f"GAN [{name}]")
        samples[name] = np.asarray(s)
        rows = checkpoints(s, real, centres, cfg.ring_sd, k=K, min_share=MIN_SHARE)
        rows["setup"] = {"g_lr": g_lr, "d_lr": d_lr, "d_steps": d_steps, "steps": steps}
        rows["steps"] = [i * per for i in range(cfg.num_checkpoints + 1)]
        rows["first_collapse_step"] = first_collapse(rows, per)
        rows["final_d_loss"], rows["final_g_loss"] = (float(np.mean(v[-per:]))
                                                      for v in (d_loss, g_loss))
        gans[name] = rows
        log(f"  final P {rows['precision'][-1]:.3f}, R {rows['recall'][-1]:.3f}, modes "
            f"{rows['modes'][-1]}/8, first collapse at {rows['first_collapse_step']}")

    figures.plot(outdir, centres, real, con, gans, samples)
    metrics = {"constructed": con, "gan": gans, "k": K,
               "claims": claims(con, gans, cfg.num_samples, cfg.num_replicates)}
    return RunResult(metrics, report.body(metrics, num_samples=cfg.num_samples,
                                          num_replicates=cfg.num_replicates, spread=cfg.spread,
                                          min_share=MIN_SHARE))


def _pr_gap_z(p: float, r: float, n: int) -> float:
    """z of ``p − r`` for one generator, with the binomial s.e. of each share of n samples."""
    se = math.sqrt(float(stats.binomial_se(p, n)) ** 2 + float(stats.binomial_se(r, n)) ** 2)
    return (p - r) / max(se, 1e-12)


def claims(con: dict, gans: dict, n: int, reps: int) -> list:
    c, d, s = con["covering"], con["dropped"], con["spread"]
    one = f"paired over {reps} replicates, > Z_ONE_SIDED = 4.42 (suite policy)"
    half = [a - 0.5 * b for a, b in zip(d["recall"], c["recall"], strict=True)]
    m, se = stats.mean_se(half)
    z_half = float(m / se) if se > 0 else math.inf
    weak, strong = gans["weak discriminator"], gans["strong discriminator"]
    z_strong = _pr_gap_z(strong["precision"][-1], strong["recall"][-1], n)
    z_recall = _pr_gap_z(weak["recall"][-1], strong["recall"][-1], n)
    return [
        claim("A generator covering all modes has high precision and high recall",
              {"precision": c["precision_mean"], "recall": c["recall_mean"],
               "z_p_vs_spread": paired(c["precision"], s["precision"]),
               "z_r_vs_dropped": paired(c["recall"], d["recall"])},
              f"P(covering) > P(spread) and R(covering) > R(dropped), {one}",
              paired(c["precision"], s["precision"]) > stats.Z_ONE_SIDED
              and paired(c["recall"], d["recall"]) > stats.Z_ONE_SIDED, sampled_tests=2),
        claim("A generator that dropped modes keeps precision and loses recall",
              {"precision": d["precision_mean"], "recall": d["recall_mean"],
               "z_p_minus_r": paired(d["precision"], d["recall"])},
              f"P > R, {one}", paired(d["precision"], d["recall"]) > stats.Z_ONE_SIDED,
              sampled_tests=1),
        claim("… its recall ≈ the share of modes kept (4/8) × the covering generator's recall",
              {"recall_dropped": d["recall_mean"], "half_recall_covering":
               0.5 * c["recall_mean"], "z": z_half},
              f"|mean of R(dropped) − ½ R(covering)| ≤ Z = 4.56 s.e. over {reps} replicates "
              "(suite policy)", abs(z_half) <= stats.Z, sampled_tests=1),
        claim("A generator too spread out has low precision and high recall",
              {"precision": s["precision_mean"], "recall": s["recall_mean"],
               "z_r_minus_p": paired(s["recall"], s["precision"])},
              f"R > P, {one}", paired(s["recall"], s["precision"]) > stats.Z_ONE_SIDED,
              sampled_tests=1),
        claim("A GAN with a strong discriminator mode-collapses: high precision, low recall",
              {"precision": strong["precision"][-1], "recall": strong["recall"][-1],
               "modes": strong["modes"][-1], "z": z_strong,
               "first_collapse_step": strong["first_collapse_step"]},
              f"at the end of training P − R > Z_ONE_SIDED = 4.42 binomial s.e. of {n} samples "
              "(suite policy)", z_strong > stats.Z_ONE_SIDED, sampled_tests=1),
        claim("A GAN with a weak discriminator (slower D, faster G) does not collapse",
              {"precision": weak["precision"][-1], "recall": weak["recall"][-1],
               "modes": weak["modes"][-1], "z_recall_vs_strong": z_recall},
              f"at the end ≥ 6 of 8 modes hold ≥ {MIN_SHARE:.0%} of the samples, and its recall "
              "exceeds the strong-discriminator GAN's by > Z_ONE_SIDED = 4.42 binomial s.e. "
              "(suite policy)", weak["modes"][-1] >= 6 and z_recall > stats.Z_ONE_SIDED,
              sampled_tests=1),
    ]
