r"""Of two minima of equal depth the flat one holds more posterior mass, in the Laplace ratio
√(det H_sharp / det H_flat), and this mass — the evidence — predicts generalisation, while sharpness
alone changes under a reparametrisation that leaves the function unchanged (MacKay 1992, *A
practical Bayesian framework for backpropagation networks*; Smith & Le 2018, *A Bayesian perspective
on generalization and stochastic gradient descent*; Dinh et al. 2017, *Sharp minima can generalize
for deep nets*).

(a) ``bowls``: two exactly quadratic bowls of equal depth (a ``bj.Posterior`` whose log joint is
``−U``); the sharp basin's share by quadrature, Laplace, ``bj.nuts`` and ``bj.sgld``.
(b) ``rescaling``: a ReLU net moved along ``(αW1, αb1, W2/α)``: the same function, a top Hessian
eigenvalue moving as α^{±2}, a basin mass following the norm under a Gaussian prior.
(c) ``evidence``: logistic regression on two digit classes, true vs random labels, Laplace evidence
vs held-out cross-entropy over a prior sweep.
(d) ``batch_size``: a tanh MLP on digits by full-batch GD vs batch-32 SGD, the top Hessian eigenvalue
(Lanczos) vs the stability edge 2/η.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import jax
import numpy as np

from bayesjax._checks import one_of
from bayesjax.laplace import STRUCTURES as LAPLACE_STRUCTURES
from experiments.common.claims import RunResult
from experiments.common.config import in_interval, integers, positive

from . import batch_size, bowls, evidence, figures, report, rescaling


@dataclasses.dataclass(frozen=True)
class Config:
    """Settings of the four parts.

    Attributes:
      seed: seeds every sampler, data split, label shuffle and initialisation.
      k_sharp, k_flat: curvatures of the two 1-D bowls (1/θ²); the mass ratio is √(k_sharp/k_flat).
      separation: distance between the 1-D minima; the barrier is
        ``k_s k_f d² / (2(√k_s + √k_f)²)`` nats high.
      langevin_step: ε of ``bj.sgld`` (θ² units); ``langevin_steps`` per chain, ``langevin_chains``
        chains (half started in each bowl), every ``langevin_thin``-th state kept.
      nuts_chains, nuts_warmup, nuts_samples: NUTS chains (half in each bowl), burn-in, draws.
      quad_points: Simpson points per basin (1-D); ``grid_points_2d`` per axis (2-D).
      samples_2d: NUTS draws per chain in 2-D (Langevin gets the 1-D settings / 4 steps).
      mclmc_adjusted: also run the Metropolis-adjusted MCLMC on the 2-D bowls (the smoke run
        skips it; the unadjusted one always runs).
      rescale_alphas: the α sweep of (b); powers of 2 including 1 (exact rescaling).
      hidden, relu_data, relu_steps, relu_prior_scale: the ReLU net of (b), its data size, its
        ``fit_mle`` steps and the Gaussian prior scale s of its basin mass.
      class_a, class_b, per_class: the digit pair of (c) and training images per class.
      num_precisions, precision_min, precision_max: the log-spaced prior-precision sweep of (c).
      logistic_steps: ``fit_map`` steps per fit in (c).
      mlp_hidden, learning_rates, epochs, batch_size, checkpoints, mlp_prior_scale,
        test_fraction: the MLP of (d), the η sweep, epochs of both GD and SGD, SGD's batch, the
        number of sharpness measurements, the Gaussian prior scale and the held-out share.
      evidence_structure: the ``bj.laplace`` structure of (d)'s log evidence: ``"kfac"``,
        ``"diag"`` or ``"full"`` (P ≈ 2.4k for the default MLP: a full GGN fits in memory).
    """

    seed: int = 0
    k_sharp: float = 25.0
    k_flat: float = 1.0
    separation: float = 3.0
    langevin_step: float = 0.004
    langevin_steps: int = 1_000_000
    langevin_chains: int = 8
    langevin_thin: int = 10
    nuts_chains: int = 4
    nuts_warmup: int = 200
    nuts_samples: int = 50_000
    quad_points: int = 20_001
    grid_points_2d: int = 601
    samples_2d: int = 10_000
    mclmc_adjusted: bool = True
    rescale_alphas: tuple[float, ...] = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
    hidden: int = 16
    relu_data: int = 64
    relu_steps: int = 10_000
    relu_prior_scale: float = 1.0
    class_a: int = 1
    class_b: int = 8
    per_class: int = 50
    num_precisions: int = 20
    precision_min: float = 1e-3
    precision_max: float = 1e3
    logistic_steps: int = 3000
    mlp_hidden: int = 32
    learning_rates: tuple[float, ...] = (0.5, 1.0, 2.0)
    epochs: int = 3000
    batch_size: int = 32
    checkpoints: int = 20
    mlp_prior_scale: float = 1.0
    test_fraction: float = 0.25
    evidence_structure: str = "kfac"

    def __post_init__(self):
        integers(self, ("langevin_steps", "langevin_chains", "langevin_thin", "nuts_chains",
                        "nuts_warmup", "nuts_samples", "quad_points", "grid_points_2d",
                        "samples_2d", "hidden", "relu_data", "relu_steps", "per_class",
                        "num_precisions", "logistic_steps", "mlp_hidden", "epochs", "batch_size",
                        "checkpoints"))
        positive(self, ("k_sharp", "k_flat", "separation", "langevin_step", "relu_prior_scale",
                        "precision_min", "precision_max", "mlp_prior_scale"))
        one_of("evidence_structure", self.evidence_structure, LAPLACE_STRUCTURES)
        if self.k_sharp <= self.k_flat:
            raise ValueError(f"k_sharp ({self.k_sharp}) must exceed k_flat ({self.k_flat})")
        if self.langevin_step * self.k_sharp >= 1.0:
            raise ValueError("langevin_step * k_sharp must be < 1 (Langevin is unstable beyond)")
        for name in ("langevin_chains", "nuts_chains"):
            if getattr(self, name) % 2:
                raise ValueError(f"{name} must be even (half the chains start in each bowl)")
        if self.langevin_thin > self.langevin_steps // 4:
            raise ValueError("langevin_thin must be <= langevin_steps / 4")
        if 1.0 not in self.rescale_alphas or any(
                not (a > 0 and math.frexp(a)[0] == 0.5) for a in self.rescale_alphas):
            raise ValueError(f"rescale_alphas must be powers of 2 and include 1, got "
                             f"{self.rescale_alphas}")
        if len(set(self.rescale_alphas)) < 3:
            raise ValueError("rescale_alphas needs at least 3 distinct values")
        if not (0 <= self.class_a <= 9 and 0 <= self.class_b <= 9
                and self.class_a != self.class_b):
            raise ValueError(f"class_a, class_b must be two different digits, got "
                             f"{self.class_a}, {self.class_b}")
        if self.per_class > 150:
            raise ValueError(f"per_class must be <= 150 (leave images to test), got "
                             f"{self.per_class}")
        if self.num_precisions < 3 or self.precision_min >= self.precision_max:
            raise ValueError("need num_precisions >= 3 and precision_min < precision_max")
        if not self.learning_rates or any(not (math.isfinite(v) and v > 0)
                                          for v in self.learning_rates):
            raise ValueError(f"learning_rates must be positive, got {self.learning_rates}")
        if self.checkpoints < 2 or self.epochs % self.checkpoints:
            raise ValueError("checkpoints must be >= 2 and divide epochs")
        in_interval(self, ("test_fraction",))

    @classmethod
    def smoke(cls) -> Config:
        return cls(langevin_steps=60_000, nuts_samples=6000, quad_points=4001,
                   grid_points_2d=201, samples_2d=500, rescale_alphas=(0.25, 0.5, 1.0, 2.0, 4.0),
                   relu_steps=3000, num_precisions=7, logistic_steps=1500, learning_rates=(0.5,),
                   epochs=300, checkpoints=4, mclmc_adjusted=False)


def run(config: Config, outdir: Path) -> RunResult:
    cfg = config
    ka, ka2, kb, kc, kd = jax.random.split(jax.random.key(cfg.seed), 5)
    samplers = bowls.Samplers(cfg.nuts_chains, cfg.nuts_warmup, cfg.nuts_samples,
                              cfg.langevin_chains, cfg.langevin_step, cfg.langevin_steps,
                              cfg.langevin_thin)
    a = bowls.one_dimensional(ka, k_sharp=cfg.k_sharp, k_flat=cfg.k_flat,
                              separation=cfg.separation, quad_points=cfg.quad_points,
                              samplers=samplers)
    a2 = bowls.two_dimensional(ka2, grid_points=cfg.grid_points_2d, num_samples=cfg.samples_2d,
                               samplers=samplers, mclmc_adjusted=cfg.mclmc_adjusted)
    b = rescaling.sweep(kb, hidden=cfg.hidden, num_data=cfg.relu_data, num_steps=cfg.relu_steps,
                        prior_scale=cfg.relu_prior_scale, alphas=cfg.rescale_alphas,
                        data_seed=cfg.seed)
    precisions = np.logspace(math.log10(cfg.precision_min), math.log10(cfg.precision_max),
                             cfg.num_precisions)
    c = evidence.evidence_vs_generalisation(
        kc, class_a=cfg.class_a, class_b=cfg.class_b, per_class=cfg.per_class,
        precisions=precisions, num_steps=cfg.logistic_steps, data_seed=cfg.seed)
    d = batch_size.gd_vs_sgd(
        kd, hidden=cfg.mlp_hidden, prior_scale=cfg.mlp_prior_scale,
        learning_rates=cfg.learning_rates, epochs=cfg.epochs, batch_size=cfg.batch_size,
        checkpoints=cfg.checkpoints, evidence_structure=cfg.evidence_structure,
        test_fraction=cfg.test_fraction, seed=cfg.seed)
    figures.plot_all(outdir, a, a2, b, c, d)
    claims = [*bowls.claims(a), *rescaling.claims(b), *evidence.claims(c), *batch_size.claims(d)]
    return RunResult({**_summary(a, a2, b, c, d), "claims": claims}, report.body(a, a2, b, c, d))


_ARRAYS = ("grid", "potential", "density", "nuts_draws", "langevin_draws", "mclmc_draws", "grid_x",
           "grid_y", "laplace_precisions", "settings", "walls")


def _summary(a, a2, b, c, d) -> dict:
    """metrics.json: every measured number, without the figure arrays, the settings (those are in
    config.json) and the wall times (the report has them)."""
    drop = lambda r: {k: v for k, v in r.items() if k not in _ARRAYS}  # noqa: E731
    return {"bowls_1d": drop(a), "bowls_2d": drop(a2), "rescaling": drop(b),
            "evidence": drop(c), "batch": drop(d)}
