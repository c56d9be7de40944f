r"""Claim: "constant SGD can be used as an approximate Bayesian posterior inference algorithm": its
iterates have a stationary variance set by the learning rate ε and the batch size B through ε/B,
and ε can be tuned so that it equals the posterior variance (Mandt, Hoffman & Blei 2017,
*Stochastic Gradient Descent as Approximate Bayesian Inference*, JMLR 18(134)); and adding Gaussian
noise of variance ε to each minibatch gradient step (SGLD) samples the posterior, even one with two
modes (Welling & Teh 2011, *Bayesian Learning via Stochastic Gradient Langevin Dynamics*, ICML,
§5.1).

**Part 1** (``sgd_law.py``): on a Gaussian mean with a Gaussian prior, SGD's iterates are exactly
an AR(1) process with stationary variance ``V = ε s_g²/(B a (2 − εa))`` (``s_g²`` the per-example
gradient variance, ``a`` the curvature of ``−log_joint/N``); it depends on ε/B alone only while
``εa ≪ 2``, and ``ε* = 2B/(N s_g² + Ba)`` makes it the posterior variance ``1/(Na)``.
**Part 2** (``two_modes.py``): ``y_i ~ N(θ², σ²)`` has two mirror modes of equal mass; SGLD and
NUTS started in one mode must give each mode half the mass and the exact shape within the modes
(quadrature of ``exp(log_joint)``).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import jax
import numpy as np

from experiments.common.claims import RunResult
from experiments.common.config import in_interval, integers, positive
from experiments.sgd_as_posterior import checks, figures, report, sgd_law, two_modes


@dataclasses.dataclass(frozen=True)
class Config:
    """Settings of the two parts.

    Attributes:
      seed: seeds the data, the chains and the i.i.d. TV reference.
      num_data: N of the Gaussian-mean model (part 1).
      noise: σ of the Gaussian-mean model (units of y).
      prior_scale: s₀ of its Gaussian prior on θ (units of y).
      true_mean: θ that generates the data.
      eps_over_b: the grid of ε/B; every batch size runs ε = (ε/B)·B, so each value gives
        pairs of (ε, B) with equal ε/B to compare.
      batch_sizes: the batch sizes B (drawn with replacement).
      sgd_chains: independent SGD chains per (ε, B) (the SE comes from their spread).
      sgd_steps: SGD steps per chain (the same for every ε: one compile per B).
      sgd_thin: keep every sgd_thin-th iterate.
      mode_data, mode_noise, mode_prior_scale: N, σ and s₀ of the two-mode model (part 2).
      sgld_step_sizes: SGLD ε (parameter units², the injected noise variance per step); the first
        is the one tested, the others show the O(ε) bias of a constant step.
      sgld_batch_size: SGLD minibatch size (with replacement).
      sgld_chains: independent SGLD chains (all started in the positive mode).
      sgld_steps: SGLD steps per chain at the first step size, scaled ∝ 1/ε for the others.
      sgld_thin: keep every sgld_thin-th SGLD state (at the first step size; scaled ∝ 1/ε too).
      burn_fraction: share of each SGLD/NUTS chain discarded while the two modes equilibrate.
      nuts_chains, nuts_warmup, nuts_samples: NUTS settings (``bj.nuts``).
      nuts_batches: batches per NUTS chain for the batch-means SE and TV noise.
      num_bins: histogram bins on [−grid_limit, grid_limit].
      grid_limit: half-width of the quadrature grid and histogram range (units of θ).
    """

    seed: int = 0
    num_data: int = 100
    noise: float = 1.0
    prior_scale: float = 0.3
    true_mean: float = 1.0
    eps_over_b: tuple[float, ...] = (0.002, 0.008, 0.03, 0.1)
    batch_sizes: tuple[int, ...] = (8, 16)
    sgd_chains: int = 384
    sgd_steps: int = 9_000
    sgd_thin: int = 5
    mode_data: int = 20
    mode_noise: float = 2.0
    mode_prior_scale: float = 2.0
    sgld_step_sizes: tuple[float, ...] = (2e-3, 1.6e-2)
    sgld_batch_size: int = 10
    sgld_chains: int = 256
    sgld_steps: int = 40_000
    sgld_thin: int = 10
    burn_fraction: float = 0.5
    nuts_chains: int = 8
    nuts_warmup: int = 1000
    nuts_samples: int = 25_000
    nuts_batches: int = 10
    num_bins: int = 120
    grid_limit: float = 3.0

    def __post_init__(self):
        positive(self, ("noise", "prior_scale", "mode_noise", "mode_prior_scale", "grid_limit"))
        if not math.isfinite(self.true_mean):
            raise ValueError(f"true_mean must be finite, got {self.true_mean!r}")
        integers(self, ("num_data", "sgd_chains", "sgd_steps", "mode_data", "sgld_chains",
                        "sgld_steps", "nuts_samples", "num_bins"), minimum=2)
        integers(self, ("sgd_thin", "sgld_batch_size", "sgld_thin", "nuts_chains", "nuts_batches"))
        integers(self, ("nuts_warmup",), minimum=0)
        if self.num_bins % 2:
            raise ValueError(f"num_bins must be even (θ = 0 is a bin edge), got {self.num_bins}")
        in_interval(self, ("burn_fraction",), closed_low=True)
        if self.nuts_chains * self.nuts_batches < 2:
            raise ValueError("nuts_chains * nuts_batches must be >= 2 (the batch-means SE)")
        if self.nuts_samples * (1 - self.burn_fraction) < 2 * self.nuts_batches:
            raise ValueError(f"nuts_samples={self.nuts_samples} too few for "
                             f"nuts_batches={self.nuts_batches} after burn-in")
        for name, vals, kind in (("eps_over_b", self.eps_over_b, float),
                                 ("sgld_step_sizes", self.sgld_step_sizes, float),
                                 ("batch_sizes", self.batch_sizes, int)):
            if not vals:
                raise ValueError(f"{name} must not be empty")
            for v in vals:
                ok = (isinstance(v, int) and not isinstance(v, bool) and v >= 1) if kind is int \
                    else (isinstance(v, int | float) and math.isfinite(v) and v > 0)
                if not ok:
                    want = "integers >= 1" if kind is int else "finite numbers > 0"
                    raise ValueError(f"{name} must hold {want}, got {v!r}")
        if len(set(self.batch_sizes)) < 2:
            raise ValueError(f"batch_sizes needs two different B (equal-ε/B pairs), got "
                             f"{self.batch_sizes}")
        if max(self.batch_sizes) > self.num_data:
            raise ValueError(f"batch_sizes {self.batch_sizes} exceed num_data={self.num_data}")
        if self.sgld_batch_size > self.mode_data:
            raise ValueError(f"sgld_batch_size={self.sgld_batch_size} exceeds "
                             f"mode_data={self.mode_data}")
        for name, steps, thin in (("sgd", self.sgd_steps, self.sgd_thin),
                                  ("sgld", self.sgld_steps, self.sgld_thin)):
            if steps % thin:
                raise ValueError(f"{name}_steps={steps} must be a multiple of {name}_thin={thin}")
        a = sgd_law.curvature(self.num_data, self.noise, self.prior_scale)
        for eps in self.learning_rates:
            if not eps * a < 2.0:
                raise ValueError(f"learning rate {eps} is unstable: ε·a = {eps * a:.3f} >= 2 "
                                 f"(a = 1/σ² + 1/(N s₀²) = {a:.4f})")
            if sgd_law.burn_in_steps(eps, a) > self.sgd_steps // 2:
                raise ValueError(f"sgd_steps={self.sgd_steps} too few for learning rate {eps}: "
                                 f"the burn-in alone is {sgd_law.burn_in_steps(eps, a)} steps")
        if self.sgld_steps // self.sgld_thin < 4:
            raise ValueError("sgld_steps // sgld_thin must be >= 4")

    @property
    def learning_rates(self) -> tuple[float, ...]:
        """Every ε of the grid, over all batch sizes."""
        return tuple(sorted({q * b for q in self.eps_over_b for b in self.batch_sizes}))

    @classmethod
    def smoke(cls) -> Config:
        return cls(eps_over_b=(0.004,), sgd_chains=256, sgd_steps=12_000,
                   sgld_step_sizes=(2e-3,), sgld_chains=64, sgld_steps=40_000,
                   nuts_chains=4, nuts_warmup=500, nuts_samples=10_000, nuts_batches=5)


def run(cfg: Config, outdir: Path) -> RunResult:
    key = jax.random.key(cfg.seed)
    k1, k2 = jax.random.split(key)
    rng = np.random.default_rng(cfg.seed)
    sgd = sgd_law.measure(
        k1, rng, num_data=cfg.num_data, noise=cfg.noise, prior_scale=cfg.prior_scale,
        true_mean=cfg.true_mean, eps_over_b=cfg.eps_over_b, batch_sizes=cfg.batch_sizes,
        num_chains=cfg.sgd_chains, num_steps=cfg.sgd_steps, thin=cfg.sgd_thin)
    modes, plot = two_modes.measure(
        k2, rng, num_data=cfg.mode_data, noise=cfg.mode_noise, prior_scale=cfg.mode_prior_scale,
        grid_limit=cfg.grid_limit, num_bins=cfg.num_bins, sgld_step_sizes=cfg.sgld_step_sizes,
        sgld_batch_size=cfg.sgld_batch_size, sgld_chains=cfg.sgld_chains,
        sgld_steps=cfg.sgld_steps, sgld_thin=cfg.sgld_thin, burn_fraction=cfg.burn_fraction,
        nuts_chains=cfg.nuts_chains, nuts_warmup=cfg.nuts_warmup, nuts_samples=cfg.nuts_samples,
        nuts_batches=cfg.nuts_batches)

    figures.figure_sgd(outdir, sgd, cfg.batch_sizes)
    figures.figure_pairs(outdir, sgd, cfg.batch_sizes)
    figures.figure_modes(outdir, modes, plot, sgld_batch_size=cfg.sgld_batch_size,
                         sgld_chains=cfg.sgld_chains, burn_fraction=cfg.burn_fraction)
    found = checks.claims(sgd, modes, sgd_chains=cfg.sgd_chains,
                          sgld_batch_size=cfg.sgld_batch_size, sgld_chains=cfg.sgld_chains)
    body = report.body(
        sgd, modes, noise=cfg.noise, prior_scale=cfg.prior_scale, true_mean=cfg.true_mean,
        sgd_chains=cfg.sgd_chains, sgd_steps=cfg.sgd_steps, sgd_thin=cfg.sgd_thin,
        mode_noise=cfg.mode_noise, mode_prior_scale=cfg.mode_prior_scale, num_bins=cfg.num_bins,
        grid_limit=cfg.grid_limit, sgld_chains=cfg.sgld_chains,
        sgld_batch_size=cfg.sgld_batch_size, burn_fraction=cfg.burn_fraction,
        nuts_chains=cfg.nuts_chains, nuts_warmup=cfg.nuts_warmup, nuts_samples=cfg.nuts_samples)
    return RunResult({"sgd": sgd, "two_modes": modes, "claims": found}, body)
