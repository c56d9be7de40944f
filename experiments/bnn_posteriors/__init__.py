r"""Claim: "a Bayesian neural network's predictive is more uncertain away from the data, so its
predictive NLL there beats the MAP's, and it is not overconfident far from the data, where a MAP
ReLU network is near-certain" (MacKay 1992, *A practical Bayesian framework for backprop
networks*; Neal 1996, *Bayesian Learning for Neural Networks*; Hein et al. 2019 and Kristiadi et al.
2020, *Being Bayesian, even just a bit, fixes overconfidence in ReLU networks*).

**Regression** (``regression.py``): a 1-16-1 tanh MLP on ``y = sin(2x) + N(0, σ²)`` with inputs in
``0.7 ≤ |x| ≤ 2`` (a gap in the middle), tested on ``|x| ≤ 3``. Point estimates (MLE, MAP-L2,
MAP-L1) have zero epistemic variance by construction; ``bj.laplace`` at the MAP-L2 weights (full,
diag, KFAC, last layer; GLM predictive, and the full one also by Monte Carlo) and NUTS (``bj.nuts``)
are the posteriors. **Sampler efficiency**: the same NUTS with the Laplace covariance as the
inverse mass matrix against NumPyro's diagonal adaptation (ESS per gradient evaluation; the
draws' covariance in the Laplace-whitened frame says why). **Classification**
(``classification.py``): two moons and breast cancer, ReLU MLPs, MAP against the Laplace GLM
predictives and NUTS, far from the data.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

from experiments.bnn_posteriors import checks, classification, figures, regression, report
from experiments.common.claims import RunResult
from experiments.common.config import in_interval, integers, positive


@dataclasses.dataclass(frozen=True)
class Config:
    """Settings.

    Attributes:
      seed: seeds the data, the split, the initial weights and the samplers.
      num_train: N regression points, half on each side of the gap.
      noise: σ, the noise std of the data and of the Gaussian likelihood (units of y).
      width: hidden units of the regression MLP (1-width-1, tanh).
      prior_scale: s, the Gaussian prior std of every weight (regression and classification).
      data_half_width, gap_half_width: training inputs lie in gap ≤ |x| ≤ data.
      test_half_width: test inputs are uniform on |x| ≤ this (> data_half_width).
      num_test: regression test points.
      map_steps, map_learning_rate: Adam steps of ``fit_map``/``fit_mle`` (full batch).
      l1_steps, l1_learning_rate: ISTA steps of MAP-L1 (step ≤ 1/Lipschitz for stability).
      mc_samples: samples of the Monte Carlo Laplace predictive.
      nuts_warmup, nuts_samples, nuts_chains: NUTS settings (regression and classification).
      moons_train, moons_test, moons_noise: two-moons data (scikit-learn ``make_moons``); the
        far probe is all moons_train + moons_test inputs pushed out, so moons_test sets its power.
      cls_width: hidden units of the classification MLPs.
      cls_steps: Adam steps of the classification MAPs.
      far_scale: α, the far points are ``x̄ + α (x − x̄)``.
      cancer_test_fraction: share of each breast-cancer class held out (the suite's stratified
        split; 0.297 holds out 63 + 106 = 169 of the 569 points).
      cancer: run the breast-cancer part (the smoke run skips it: same code as the moons).
      mclmc_budget: MCLMC's post-tuning gradient evaluations as a share of NUTS's post-warmup
        ones (1: the same budget; the smoke run takes a quarter).
    """

    seed: int = 0
    num_train: int = 64
    noise: float = 0.1
    width: int = 16
    prior_scale: float = 1.0
    data_half_width: float = 2.0
    gap_half_width: float = 0.7
    test_half_width: float = 3.0
    num_test: int = 600
    map_steps: int = 10000
    map_learning_rate: float = 1e-2
    l1_steps: int = 20000
    l1_learning_rate: float = 1e-3
    mc_samples: int = 200
    nuts_warmup: int = 500
    nuts_samples: int = 500
    nuts_chains: int = 2
    moons_train: int = 200
    moons_test: int = 2000
    moons_noise: float = 0.2
    cls_width: int = 16
    cls_steps: int = 3000
    far_scale: float = 20.0
    cancer_test_fraction: float = 0.297
    cancer: bool = True
    mclmc_budget: float = 1.0

    def __post_init__(self):
        integers(self, ("width", "num_test", "map_steps", "l1_steps", "mc_samples",
                        "nuts_samples", "nuts_chains", "moons_train", "moons_test", "cls_width",
                        "cls_steps"))
        integers(self, ("nuts_warmup",), minimum=0)
        integers(self, ("num_train",), minimum=4)
        in_interval(self, ("cancer_test_fraction",), 0.05, 0.5, closed_low=True, closed_high=True)
        in_interval(self, ("mclmc_budget",), 0.0, 1.0, closed_high=True)
        positive(self, ("noise", "prior_scale", "map_learning_rate", "l1_learning_rate",
                        "moons_noise", "gap_half_width", "far_scale"))
        if not self.gap_half_width < self.data_half_width < self.test_half_width < math.inf:
            raise ValueError("need 0 < gap_half_width < data_half_width < test_half_width < inf")

    @classmethod
    def smoke(cls) -> Config:
        return cls(num_test=300, map_steps=3000, l1_steps=5000, mc_samples=100, nuts_warmup=100,
                   nuts_samples=100, moons_test=1000, cls_steps=1500, cancer=False,
                   mclmc_budget=0.25)


def run(cfg: Config, outdir: Path) -> RunResult:
    nuts = dict(nuts_warmup=cfg.nuts_warmup, nuts_samples=cfg.nuts_samples,
                nuts_chains=cfg.nuts_chains)
    region = dict(gap_half_width=cfg.gap_half_width, data_half_width=cfg.data_half_width)
    reg = regression.measure(
        cfg.seed, num_train=cfg.num_train, num_test=cfg.num_test, noise=cfg.noise,
        width=cfg.width, prior_scale=cfg.prior_scale, test_half_width=cfg.test_half_width,
        map_steps=cfg.map_steps, map_learning_rate=cfg.map_learning_rate, l1_steps=cfg.l1_steps,
        l1_learning_rate=cfg.l1_learning_rate, mc_samples=cfg.mc_samples,
        mclmc_budget=cfg.mclmc_budget, **region, **nuts)

    fit = dict(prior_scale=cfg.prior_scale, steps=cfg.cls_steps,
               learning_rate=cfg.map_learning_rate, far_scale=cfg.far_scale, **nuts)
    moons = classification.moons_data(cfg.seed, num_train=cfg.moons_train,
                                      num_test=cfg.moons_test, noise=cfg.moons_noise)
    grid2d = figures.moons_grid(moons)
    cls = {"two moons": classification.measure(cfg.seed, "moons", moons,
                                               (cfg.cls_width, cfg.cls_width), maps=grid2d[2],
                                               **fit)}
    if cfg.cancer:
        cancer = classification.cancer_data(cfg.seed, test_fraction=cfg.cancer_test_fraction)
        cls["breast cancer"] = classification.measure(cfg.seed, "cancer", cancer,
                                                      (cfg.cls_width,), **fit)

    figures.regression_figures(reg, outdir, noise=cfg.noise, **region)
    figures.sampler_figure(reg, outdir)
    figures.geometry_figure(reg, outdir)
    figures.classification_figures(cls, grid2d, outdir)
    found = checks.claims(reg, cls, far_scale=cfg.far_scale)
    body = report.body(reg, cls, num_train=cfg.num_train, noise=cfg.noise, num_test=cfg.num_test,
                       test_half_width=cfg.test_half_width, width=cfg.width,
                       prior_scale=cfg.prior_scale, far_scale=cfg.far_scale,
                       growth=checks.GROWTH, near_one=checks.NEAR_ONE, **region,
                       **nuts)
    return RunResult(checks.record(reg, cls, found), body)
