r"""Claim: a full-covariance Gaussian over a 64×64 image needs d(d+1)/2 = 8,390,656 covariance
entries against about d = 4,097 logistic-regression weights, so with a few thousand images it is
"catastrophically over-parameterised" — the curse of dimensionality (the text's worked numbers;
Bishop 2006, *PRML*, §1.4 and §4.2.2; the Inverse-Wishart shrinkage estimate: Gelman et al.,
*Bayesian Data Analysis*, §3.6).

The counts are computed (not typed), with the number of 100×100 8-bit images, 256^10000, as a
power of ten by logarithms. On the digits (d = 64) with n < d training images per class the
full-covariance MLE is singular: ``bj.classifiers.GaussianClassifier`` raises and names the fix
instead of returning NaN, and the Inverse-Wishart posterior mode repairs it; naive Bayes and
logistic regression for comparison, error against n per class.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import numpy as np

import bayesjax as bj
from experiments.common.claims import RunResult, log
from experiments.common.config import in_interval, integers, positive
from experiments.common.data import load

from . import figures, report
from .checks import claims
from .counts import counts, text_numbers
from .digits import error_curves, per_class_sets, singular_mle


@dataclasses.dataclass(frozen=True)
class Config:
    """Attributes:
      seed: seeds the digits split and the training sets.
      sizes: n, training images per class.
      num_sets: S, random training sets per n.
      test_fraction: share of each class held out (``common.data.load``, standardised by the
        training statistics).
      iw_df_extra: the Inverse-Wishart prior has ν = d + iw_df_extra degrees of freedom and
        Ψ = (ν − d − 1)·I, so its mean is I — the covariance of standardised pixels if they were
        uncorrelated. The rule: the smallest integer ν with a finite prior mean (extra = 2).
      jitter: Ψ of the nearly flat prior (ν = 10⁻³): the MLE made invertible, not informed.
      prior_scale: s of softmax regression's N(0, s²) prior (s = 1 for standardised inputs).
      lr_steps, lr_learning_rate: ``fit_map``'s Adam steps and step size.
      count_dims: the d of the parameter-count table and figure.
    """

    seed: int = 0
    sizes: tuple[int, ...] = (3, 5, 10, 20, 40, 80)
    num_sets: int = 20
    test_fraction: float = 0.3
    iw_df_extra: int = 2
    jitter: float = 1e-4
    prior_scale: float = 1.0
    lr_steps: int = 400
    lr_learning_rate: float = 0.05
    count_dims: tuple[int, ...] = (16, 64, 256, 1024, 4096, 16384)

    def __post_init__(self):
        integers(self, ("num_sets", "lr_steps", "iw_df_extra"), minimum=2)
        if len(self.sizes) < 2 or any(not isinstance(n, int) or n < 2 for n in self.sizes) or \
                list(self.sizes) != sorted(set(self.sizes)):
            raise ValueError(f"sizes must be at least two increasing integers >= 2, got "
                             f"{self.sizes}")
        if self.sizes[0] >= 64:
            raise ValueError(f"sizes: the smallest n per class must be < d = 64, got {self.sizes[0]}")
        positive(self, ("jitter", "prior_scale", "lr_learning_rate"))
        in_interval(self, ("test_fraction",), 0.1, 0.5, closed_low=True, closed_high=True)
        if not self.count_dims or any(not isinstance(d, int) or d < 1 for d in self.count_dims):
            raise ValueError(f"count_dims must be positive integers, got {self.count_dims}")

    @classmethod
    def smoke(cls) -> Config:
        return cls(sizes=(5, 40), num_sets=10, lr_steps=200)


def run(config: Config, outdir: Path) -> RunResult:
    rng, key = np.random.default_rng(config.seed), jax.random.key(config.seed)
    # 1. the text's numbers and the parameter counts against d
    text = text_numbers()
    table = {d: counts(d) for d in config.count_dims}
    # 2. digits, standardised by the training statistics; the MLE at the smallest n
    data = load("digits", test_fraction=config.test_fraction, seed=config.seed)
    d = data.x_train.shape[1]
    mle = []
    for n in config.sizes:
        idx = per_class_sets(rng, data.y_train, n, 1, data.num_classes)[0]
        mle.append(singular_mle(data.x_train[idx], data.y_train[idx], n, d))
    # 3. error against n per class for the repaired Gaussian, the jittered MLE, NB and LR
    df = d + config.iw_df_extra
    prior = bj.classifiers.InverseWishart(df=float(df), scale=float(df - d - 1))
    losses, grad = error_curves(key, rng, data, config.sizes, config.num_sets, prior=prior,
                                jitter=config.jitter, prior_scale=config.prior_scale,
                                lr_steps=config.lr_steps, lr_learning_rate=config.lr_learning_rate)
    log(f"digits: {data.x_train.shape[0]} training, {data.x_test.shape[0]} test images; "
        f"softmax gradient norm {grad:.1e}")
    # 4. claims, figures, report
    claim_rows, summary = claims(text, mle, losses, config.sizes, d)
    figures.plot_counts(table, text, outdir)
    figures.plot_errors(summary, config.sizes, d, outdir)
    metrics = {"text": text, "counts": table, "mle": mle, "errors": summary,
               "softmax_grad_norm": grad, "claims": claim_rows}
    body = report.body(text, table, mle, summary, config.sizes, d=d, df=df,
                       num_sets=config.num_sets, jitter=config.jitter,
                       num_train=data.x_train.shape[0], num_test=data.x_test.shape[0])
    return RunResult(metrics, body)
