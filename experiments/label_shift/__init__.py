r"""Claim: a generative classifier keeps p(y) separate, so a new base rate is Bayes' rule on p(y)
alone — replace p(y), no retraining — while a discriminative one needs the same correction
applied to its outputs, ``p'(y|x) ∝ p(y|x) π'_y / π_y``; with the new rate unknown, EM on the
unlabelled test inputs estimates it (the spam example of the text; Saerens, Latinne &
Decaestecker 2002, *Adjusting the outputs of a classifier to new a priori probabilities*, Neural
Computation 14).

Simulated spam filtering: binary word features drawn from naive Bayes' own model, a balanced
training set, a test set that is 90% spam. Naive Bayes (``bj.classifiers.BernoulliNB``) adapts
with ``predict_proba(class_prior=)``, MAP logistic regression (``bj.fit_map``) with
``bj.classifiers.adapt_prior``; ``bj.classifiers.em_prior`` estimates the unknown prior. When
p(x | y) changes too (spammers change their words) the same correction fails.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import numpy as np

import bayesjax as bj
from experiments.common.claims import RunResult, log
from experiments.common.config import in_interval, integers, positive
from experiments.common.logistic import fit_splits, predict_proba

from . import figures, report
from .checks import claims
from .shift import errors, generative_errors
from .spam import bayes_probs, drift, make_theta, sample


@dataclasses.dataclass(frozen=True)
class Config:
    """Attributes:
      seed: seeds the training and test sets.
      num_words: d, the vocabulary (binary features).
      effect: spam multiplies each word's rate by exp(±effect).
      num_train: training messages, half spam.
      num_test: test messages per test set.
      test_prior: the spam share of the main test set.
      priors: the spam shares of the figure's sweep.
      drift_fraction: how far spam's word rates move towards ham's in the non-prior shift.
      alpha: naive Bayes' Beta(α, α) pseudo-count.
      prior_scale: s of logistic regression's N(0, s²) prior (the rule of
        ``generative_vs_discriminative``: s = 1 for binary inputs).
      lr_steps, lr_learning_rate: ``fit_map``'s Adam steps and step size.
    """

    seed: int = 0
    num_words: int = 50
    effect: float = 0.8
    num_train: int = 2000
    num_test: int = 5000
    test_prior: float = 0.9
    priors: tuple[float, ...] = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
    drift_fraction: float = 0.6
    alpha: float = 1.0
    prior_scale: float = 1.0
    lr_steps: int = 1000
    lr_learning_rate: float = 0.05

    def __post_init__(self):
        integers(self, ("num_words", "num_train", "num_test", "lr_steps"), minimum=2)
        positive(self, ("effect", "alpha", "prior_scale", "lr_learning_rate"))
        for p in (self.test_prior, *self.priors):
            if not 0.0 < p < 1.0:
                raise ValueError(f"test_prior and priors must be in (0, 1), got {p}")
        in_interval(self, ("drift_fraction",), closed_high=True)

    @classmethod
    def smoke(cls) -> Config:
        return cls(num_test=3000, priors=(0.5, 0.9), lr_steps=400)


def run(config: Config, outdir: Path) -> RunResult:
    rng = np.random.default_rng(config.seed)
    theta = make_theta(config.num_words, config.effect)
    # 1. train both classifiers on one balanced training set
    x, y = sample(rng, theta, config.num_train, 0.5)
    nb = bj.classifiers.BernoulliNB(alpha=config.alpha)
    nb_fit = nb.fit(x, y)
    train_prior = np.exp(np.asarray(nb_fit.log_class_prior, np.float64))
    lr_fit = fit_splits(jax.random.key(config.seed), x[None], y[None], num_classes=2,
                        prior_scale=config.prior_scale, num_steps=config.lr_steps,
                        learning_rate=config.lr_learning_rate)
    log(f"trained on {config.num_train} messages (train prior {train_prior.round(3).tolist()}); "
        f"LR gradient norm {lr_fit.grad_norm:.1e}")

    def evaluate(theta_test, prior):
        xt, yt = sample(rng, theta_test, config.num_test, prior)
        lr_probs = predict_proba(lr_fit, xt)[0]
        oracle = (np.argmax(bayes_probs(theta_test, xt, prior), 1) != yt).astype(np.float64)
        return {"naive_bayes": generative_errors(nb, nb_fit, xt, yt, train_prior, prior),
                "logistic": errors(lr_probs, yt, train_prior, prior), "oracle": oracle}

    # 2. the main test set (90% spam), the sweep over priors, and a shift of p(x | y) as well
    main = evaluate(theta, config.test_prior)
    sweep = [evaluate(theta, p) for p in config.priors]
    drifted = evaluate(drift(theta, config.drift_fraction), config.test_prior)
    log("evaluated")
    # 3. claims, figure, report
    claim_rows, summary = claims(main, drifted, config.test_prior)
    curves = figures.sweep_summary(sweep, config.priors)
    figures.plot_sweep(curves, config.priors, outdir)
    metrics = {"train_prior": train_prior, "lr_grad_norm": lr_fit.grad_norm, **summary,
               "sweep": curves, "claims": claim_rows}
    body = report.body(summary, curves, config.priors, test_prior=config.test_prior,
                       num_train=config.num_train, num_test=config.num_test,
                       num_words=config.num_words, drift_fraction=config.drift_fraction)
    return RunResult(metrics, body)
