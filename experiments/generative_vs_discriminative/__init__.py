r"""Claim: "the generative model's assumptions act as a regulariser: with little data naive Bayes
has the lower test error, with much data logistic regression wins" — naive Bayes approaches its
(higher) asymptotic error in O(log d) examples, logistic regression its (lower) one in O(d)
(Ng & Jordan 2001, *On discriminative vs. generative classifiers: a comparison of logistic
regression and naive Bayes*, NIPS 14).

Learning curves — test error against the training-set size m, mean and standard error over S
random training sets per size — for naive Bayes (``bj.classifiers.BernoulliNB``: Beta(α, α)
posterior-mean feature probabilities; ``GaussianNB`` for real features) and MAP logistic
regression (``bj.fit_map``, a Gaussian prior N(0, s²) on every weight, s fixed once by a rule
before any error is seen). All S sets of a size are fitted in one vectorised call. On simulated
binary data where the independence assumption is mildly violated (a few features duplicated) the
curves cross; on bundled real data (digits 3 vs 8 binarised, breast cancer) we report what happens.
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
from .curves import learning_curves, stratified_subsets
from .simulate import balanced_labels, make_problem, reference_errors, sample


@dataclasses.dataclass(frozen=True)
class Config:
    """Attributes:
      seed: seeds the simulated training and test sets, the real-data split and subsets.
      num_sets: S, random training sets per size m < ``large_from`` (≥ 30; small sets are cheap
        and their errors noisy, so many).
      num_sets_large: S for m ≥ ``large_from`` (≥ 30).
      sizes: the training-set sizes m of the simulated curve.
      claim_small: naive Bayes is claimed to win on average over the sizes m ≤ claim_small
        (one of ``sizes``, not the largest).
      num_unique, num_duplicated, copies, base_min, base_max, effect_min, effect_max: the fixed
        simulated design (``simulate.make_problem``): d = num_unique + num_duplicated · copies.
      num_test: simulated test points.
      alpha: naive Bayes' Beta(α, α) pseudo-count.
      prior_scale: s of logistic regression's N(0, s²) prior. The rule: s = 1 for inputs of unit
        scale (binary, or standardised) — a priori a feature moves the log-odds by at most about
        ±2 — fixed once, the same for every m and data set.
      lr_steps, lr_learning_rate: ``fit_map``'s Adam steps and step size.
      real_sizes: the m of the real-data curves.
      num_sets_real: S of the real-data curves (≥ 30).
      real_test_fraction: share of each class held out by ``common.data.load``; the training
        sets are drawn from the rest.
      num_boot: bootstrap resamples for the crossover's interval.
    """

    seed: int = 0
    num_sets: int = 200
    num_sets_large: int = 60
    large_from: int = 128
    sizes: tuple[int, ...] = (4, 8, 16, 32, 64, 128, 256, 512)
    claim_small: int = 32
    num_unique: int = 100
    num_duplicated: int = 2
    copies: int = 8
    base_min: float = 0.03
    base_max: float = 0.4
    effect_min: float = 0.3
    effect_max: float = 1.0
    num_test: int = 20000
    alpha: float = 1.0
    prior_scale: float = 1.0
    lr_steps: int = 400
    lr_learning_rate: float = 0.05
    real_sizes: tuple[int, ...] = (4, 8, 16, 32, 64, 128)
    real_test_fraction: float = 0.4
    num_sets_real: int = 60
    num_boot: int = 2000

    def __post_init__(self):
        integers(self, ("num_sets", "num_sets_large", "large_from", "num_unique", "copies",
                        "num_test", "lr_steps", "num_boot"))
        for name in ("num_sets", "num_sets_large", "num_sets_real"):
            if getattr(self, name) < 30:
                raise ValueError(f"{name} must be >= 30 (a learning curve averages over at least "
                                 f"30 training sets), got {getattr(self, name)}")
        if not 0 <= self.num_duplicated <= self.num_unique:
            raise ValueError(f"num_duplicated must be in 0..num_unique, got {self.num_duplicated}")
        for name in ("sizes", "real_sizes"):
            v = getattr(self, name)
            if len(v) < 2 or any(not isinstance(m, int) or m < 2 for m in v) or \
                    list(v) != sorted(set(v)):
                raise ValueError(f"{name} must be at least two increasing integers >= 2, got {v}")
        if self.claim_small not in self.sizes[:-1]:
            raise ValueError(f"claim_small must be one of sizes except the largest, got "
                             f"{self.claim_small}")
        if not 0 < self.base_min < self.base_max < 1:
            raise ValueError(f"need 0 < base_min < base_max < 1, got {self.base_min}, "
                             f"{self.base_max}")
        positive(self, ("alpha", "prior_scale", "lr_learning_rate"))
        if not 0 < self.effect_min < self.effect_max < 3:
            raise ValueError(f"need 0 < effect_min < effect_max < 3, got {self.effect_min}, "
                             f"{self.effect_max}")
        in_interval(self, ("real_test_fraction",))

    @classmethod
    def smoke(cls) -> Config:
        return cls(num_sets=300, num_sets_large=40, sizes=(8, 16, 32, 512), claim_small=32,
                   lr_steps=300, real_sizes=(4, 16), num_sets_real=30,
                   num_boot=200)


def _real(name, key, rng, cfg):
    """The bundled data set's pool/test split, its naive Bayes, and its curves."""
    if name == "digits":
        data = load("digits", classes=(3, 8), scaling="unit",
                    test_fraction=cfg.real_test_fraction, seed=cfg.seed)
        pool, test = (data.x_train > 0.5).astype(np.float32), (data.x_test > 0.5).astype(np.float32)
        clf = bj.classifiers.BernoulliNB(alpha=cfg.alpha, num_classes=2)
    else:
        data = load(name, test_fraction=cfg.real_test_fraction, seed=cfg.seed)
        pool, test = data.x_train, data.x_test
        clf = bj.classifiers.GaussianNB(num_classes=2)

    def draw(m):
        idx = stratified_subsets(rng, data.y_train, m, cfg.num_sets_real)
        return pool[idx], data.y_train[idx]

    nb, lr, grad = learning_curves(key, draw, cfg.real_sizes, clf, test, data.y_test,
                                   prior_scale=cfg.prior_scale, num_steps=cfg.lr_steps,
                                   learning_rate=cfg.lr_learning_rate)
    return {"nb": nb, "lr": lr, "grad_norm": grad, "pool": pool.shape[0], "test": test.shape[0],
            "d": pool.shape[1]}


def run(config: Config, outdir: Path) -> RunResult:
    rng, key = np.random.default_rng(config.seed), jax.random.key(config.seed)
    # 1. the simulated problem and a large test set
    problem = make_problem(num_unique=config.num_unique, num_duplicated=config.num_duplicated,
                           copies=config.copies, base_min=config.base_min,
                           base_max=config.base_max, effect_min=config.effect_min,
                           effect_max=config.effect_max)
    y_test = rng.integers(0, 2, config.num_test).astype(np.int32)
    x_test = sample(rng, problem, y_test)
    limits = reference_errors(problem, x_test, y_test)
    log(f"simulated: d = {x_test.shape[1]}, Bayes error {limits['bayes']:.4f}, naive-Bayes "
        f"limit {limits['naive_bayes_limit']:.4f}")

    # 2. learning curves: S fresh balanced training sets per size, fitted in one call each
    def draw(m):
        y = balanced_labels(rng, config.num_sets if m < config.large_from
                            else config.num_sets_large, m)
        return sample(rng, problem, y), y

    nb_clf = bj.classifiers.BernoulliNB(alpha=config.alpha, num_classes=2)
    sim_nb, sim_lr, sim_grad = learning_curves(
        key, draw, config.sizes, nb_clf, x_test, y_test, prior_scale=config.prior_scale,
        num_steps=config.lr_steps, learning_rate=config.lr_learning_rate)
    log("simulated curves done")
    # 3. the same curves on bundled real data
    real = {name: _real(name, key, rng, config) for name in ("digits", "breast_cancer")}
    log("real-data curves done")
    # 4. claims, figures, report
    claim_rows, summary = claims(sim_nb, sim_lr, real, rng, config.num_boot,
                                 config.sizes.index(config.claim_small))
    figures.plot_curves(sim_nb, sim_lr, limits, real, summary, outdir)
    metrics = {"d": int(x_test.shape[1]), "limits": limits, **summary,
               "lr_max_grad_norm": max([sim_grad] + [r["grad_norm"] for r in real.values()]),
               "claims": claim_rows}
    body = report.body(sim_nb, sim_lr, limits, real, summary, d=int(x_test.shape[1]),
                       num_sets=(config.num_sets, config.num_sets_large, config.large_from,
                                 config.num_sets_real), prior_scale=config.prior_scale,
                       alpha=config.alpha, lr_steps=config.lr_steps)
    return RunResult(metrics, body)
