r"""Minibatch training on a *mean* loss: "If a user trains with a *mean* loss, the prior term is
divided by N" (bayesjax DESIGN.md, "Sums, not means"); with it, SGD reaches the full-batch MAP,
without it, SGD reaches the MAP of a prior N times more precise.

The log posterior is a sum over the N data points plus one prior term; divided by -N it is the
per-datum loss

.. math::

    L(\theta) = \frac1N \sum_{i=1}^N \ell_i(\theta) + \frac{\mathrm{penalty}(\theta)}{N},
    \qquad \ell_i = -\log p(y_i \mid x_i, \theta),

whose minibatch estimate ``mean_{i∈batch} ℓ_i + penalty/N`` equals
``-post.log_joint_estimate(θ, idx) / N`` up to a constant. A user who adds the penalty *without*
dividing by N minimises ``(1/N)[Σ ℓ_i + N·penalty(θ)]`` instead; for a Gaussian prior of scale s,
``N·‖θ‖²/(2s²) = ‖θ‖²/(2(s/√N)²)``: the MAP under ``Gaussian(s/√N)``, prior precision × N.

Model: logistic regression (``likelihoods.Bernoulli``, 30 weights + bias) on scikit-learn's
breast-cancer data (N = 569, all points, features standardised) with a
``priors.Gaussian(prior_scale)`` prior on every parameter. The data are nearly separable, so the
prior sets the size of the weights. The two minibatch runs are a hand-written optax loop (SGD,
cosine-decayed learning rate, one ``lax.scan`` in one ``jit``) from the same initial point with
the same batches, repeated over independent batch sequences to measure the SGD noise left at the
end of the schedule; the references are ``bj.fit_map`` full-batch fits.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

import bayesjax as bj
from experiments.common.claims import RunResult, claim, log, show_progress
from experiments.common.config import integers, positive
from experiments.common.data import load

from . import figures, report
from .significance import fixed_point_test, unbiasedness_test
from .training import logits, minibatch_estimates, train

NUM_DATA = 569  # breast-cancer points, all of them training data (no test set is needed)


@dataclasses.dataclass(frozen=True)
class Config:
    seed: int = 0
    prior_scale: float = 1.0        # s of the Gaussian prior on every weight (logit per s.d. of x)
    batch_size: int = 64            # B, points per minibatch (<= N = 569)
    num_steps: int = 50_000         # SGD steps of each minibatch run
    learning_rate: float = 0.3      # peak SGD step size, cosine-decayed to 0
    num_runs: int = 16              # independent batch sequences per loss (>= 2 for the noise)
    map_steps: int = 5_000          # full-batch fit_map steps (Adam, cosine decay)
    map_learning_rate: float = 0.05
    num_estimates: int = 20_000     # minibatches for the unbiasedness check of log_joint_estimate

    def __post_init__(self):
        positive(self, ("prior_scale", "learning_rate", "map_learning_rate"))
        integers(self, ("batch_size", "num_steps", "map_steps"))
        integers(self, ("num_runs", "num_estimates"), minimum=2)
        if self.batch_size > NUM_DATA:
            raise ValueError(f"batch_size={self.batch_size} exceeds the {NUM_DATA} data points")

    @classmethod
    def smoke(cls) -> Config:
        return cls(num_steps=20_000, num_runs=8, map_steps=3_000, num_estimates=4_000)


def run(config: Config, outdir: Path) -> RunResult:
    cfg = config
    data = load("breast_cancer", test_fraction=0.0)
    x, y = data.x_train, data.y_train.astype(np.float32)
    n, d = x.shape
    assert n == NUM_DATA, n
    s = cfg.prior_scale
    init = {"w": jnp.zeros(d, jnp.float32), "b": jnp.zeros((), jnp.float32)}
    post = bj.Posterior.from_apply(logits, init, bj.likelihoods.Bernoulli(),
                                   bj.priors.Gaussian(s), x, y)
    post_n = post.replace(prior=bj.priors.Gaussian(s / math.sqrt(n)))
    key_map, key_train, key_est = jax.random.split(jax.random.key(cfg.seed), 3)

    # 1. full-batch references: the MAP under Gaussian(s) and under Gaussian(s/√N)
    map_opt = optax.adam(optax.cosine_decay_schedule(cfg.map_learning_rate, cfg.map_steps,
                                                     alpha=1e-3))
    fits = {name: bj.fit_map(key_map, p, map_opt, num_steps=cfg.map_steps)
            for name, p in (("map", post), ("map_n", post_n))}
    # L = -log_joint/N is (precision/N)-strongly convex (the NLL Hessian is PSD), so a point with
    # gradient norm g lies within g·N/precision of the exact MAP.
    precision = {"map": 1.0 / s**2, "map_n": n / s**2}
    solver_bound = {k: float(fits[k].grad_norm) * n / precision[k] for k in fits}
    flat = {k: np.asarray(ravel_pytree(f.params)[0], np.float64) for k, f in fits.items()}
    for k in fits:
        log(f"fit_map [{k}]: grad_norm {float(fits[k].grad_norm):.2e}, error bound "
            f"{solver_bound[k]:.2e}, |θ| = {np.linalg.norm(flat[k]):.3f}")

    # 2. the user's minibatch runs: prior/N (correct) and prior (wrong), same init, same batches
    optimizer = optax.sgd(optax.cosine_decay_schedule(cfg.learning_rate, cfg.num_steps))
    targets = jnp.asarray(np.stack([flat["map"], flat["map_n"]]), jnp.float32)
    weights = jnp.asarray([1.0 / n, 1.0], jnp.float32)
    log(f"training 2 x {cfg.num_runs} minibatch runs of {cfg.num_steps} SGD steps (B = "
        f"{cfg.batch_size})")
    ends, dist = train(jax.random.split(key_train, cfg.num_runs), init, post.x, post.y,
                       post.prior, weights, targets, optimizer, cfg.num_steps, cfg.batch_size,
                       progress_bar=show_progress())
    ends, dist = np.asarray(ends, np.float64), np.asarray(dist)
    correct = fixed_point_test(ends[0], flat["map"], solver_bound["map"])
    wrong_vs_map = fixed_point_test(ends[1], flat["map"], solver_bound["map"])
    wrong_vs_n = fixed_point_test(ends[1], flat["map_n"], solver_bound["map_n"])
    log(f"correct run: rel. distance to MAP {correct['rel_dist_run0']:.2e}; wrong run: "
        f"{wrong_vs_map['rel_dist_run0']:.3f} (to the precision-x-N MAP "
        f"{wrong_vs_n['rel_dist_run0']:.2e})")

    # 3. is log_joint_estimate an unbiased estimate of log_joint? (and without its N/B factor?)
    est_keys = jax.random.split(key_est, cfg.num_estimates)
    unbiased, naive = {}, {}
    for k in fits:
        p = fits[k].params
        est = np.asarray(minibatch_estimates(est_keys, post, p, cfg.batch_size), np.float64)
        exact, lp = float(post.log_joint(p)), float(post.log_prior(p))
        unbiased[k] = unbiasedness_test(est, exact)
        naive[k] = unbiasedness_test((cfg.batch_size / n) * (est - lp) + lp, exact)
    log("log_joint_estimate z-scores: " + ", ".join(f"{k} {v['z']:+.2f}"
                                                     for k, v in unbiased.items()))

    figures.plot(outdir, flat, ends, dist, num_data=n, prior_scale=s,
                 batch_size=cfg.batch_size, learning_rate=cfg.learning_rate)
    metrics = {
        "num_data": n, "num_params": int(flat["map"].size),
        "full_batch": {k: {"grad_norm": float(fits[k].grad_norm),
                           "error_bound": solver_bound[k],
                           "norm": float(np.linalg.norm(flat[k])),
                           "log_joint": float(fits[k].log_joint)} for k in fits},
        "gap_rel": float(np.linalg.norm(flat["map_n"] - flat["map"])
                         / np.linalg.norm(flat["map"])),
        "correct": correct, "wrong_vs_map": wrong_vs_map, "wrong_vs_map_n": wrong_vs_n,
        "log_joint_estimate": unbiased, "estimate_without_n_over_b": naive,
        "claims": claims(correct, wrong_vs_map, wrong_vs_n, unbiased, cfg.num_runs,
                         cfg.num_estimates),
    }
    return RunResult(metrics, report.body(
        metrics, prior_scale=s, batch_size=cfg.batch_size, num_steps=cfg.num_steps,
        learning_rate=cfg.learning_rate, num_runs=cfg.num_runs, map_steps=cfg.map_steps,
        num_estimates=cfg.num_estimates))


def claims(correct: dict, wrong_vs_map: dict, wrong_vs_n: dict, unbiased: dict, num_runs: int,
           num_estimates: int) -> list[dict]:
    """The four claims, from the three fixed-point tests and the two unbiasedness tests."""
    k = correct["threshold_se"]
    policy = (f"k = {k:.2f} s.e.: the suite's level α = 5e-6 for a mean over {num_runs} runs "
              "(Student t; experiments/common/stats.py)")

    def dist(t):
        return {"rel_dist_mean_of_runs": t["rel_dist_mean"], "rel_dist_run0": t["rel_dist_run0"]}

    return [
        claim("Mean minibatch NLL + penalty/N: SGD ends at the full-batch MAP", dist(correct),
              f"‖mean of {num_runs} end points − θ_MAP‖/‖θ_MAP‖ ≤ k·SE + fit_map error bound = "
              f"{correct['tolerance']:.2e}, SE from the spread of the independent runs, {policy}",
              correct["rel_dist_mean"] <= correct["tolerance"], sampled_tests=1),
        claim("Mean minibatch NLL + penalty (not /N): SGD does not reach the full-batch MAP",
              dist(wrong_vs_map),
              f"‖mean end point − θ_MAP‖/‖θ_MAP‖ > k·SE + fit_map error bound = "
              f"{wrong_vs_map['tolerance']:.2e} (farther than the SGD noise can explain), {policy}",
              wrong_vs_map["rel_dist_mean"] > wrong_vs_map["tolerance"], sampled_tests=1),
        claim("… it ends at the MAP of the prior with precision × N, Gaussian(s/√N)",
              dist(wrong_vs_n),
              f"‖mean end point − θ_MAP(s/√N)‖/‖θ_MAP(s/√N)‖ ≤ k·SE + fit_map error bound = "
              f"{wrong_vs_n['tolerance']:.2e}, {policy}",
              wrong_vs_n["rel_dist_mean"] <= wrong_vs_n["tolerance"], sampled_tests=1),
        claim("post.log_joint_estimate(θ, idx) is an unbiased estimate of post.log_joint(θ)",
              {k: v["z"] for k, v in unbiased.items()},
              f"abs(mean of {num_estimates} minibatch estimates − exact) ≤ Z = 4.56 Monte Carlo "
              "standard errors (suite policy), at θ_MAP and at θ_MAP(s/√N)",
              all(v["within"] for v in unbiased.values()), sampled_tests=len(unbiased)),
    ]
