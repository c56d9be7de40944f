r"""The simulated problem: binary features on which naive Bayes' independence assumption is mildly
violated.

``num_unique`` features are independent given the class, ``x_j | y = k ~ Bernoulli(θ_kj)``: sparse
(rare, like words in a message) and each only moderately informative (``make_problem``). The most
informative ``num_duplicated`` of them are then copied ``copies`` more times, so the input has
``d = num_unique + num_duplicated · copies`` columns of which some are exactly equal — given the
class they are perfectly correlated, not independent. The design is fixed; the seed draws only
the training and test sets.

The true log-odds is linear in x (a sum over the unique features), so logistic regression can
represent the Bayes classifier and its error tends to the Bayes error. Naive Bayes counts each
duplicated feature 1 + ``copies`` times; even with the true θ its error stays above the Bayes
error (its asymptote, Ng & Jordan's ε(h_Gen,∞) > ε(h_Dis,∞)).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Problem(NamedTuple):
    """θ (2, num_unique): P(x_j = 1 | y = k) of the unique features; ``copies`` (num_unique,) the
    extra copies of each feature in the input."""

    theta: np.ndarray
    copies: np.ndarray


def make_problem(*, num_unique: int, num_duplicated: int, copies: int, base_min: float,
                 base_max: float, effect_min: float, effect_max: float) -> Problem:
    """A fixed (not random) design: base rates θ_0j log-spaced in [base_min, base_max] (sparse,
    word-like features), log-odds effects |log θ_1j/θ_0j| spread evenly over
    [effect_min, effect_max] in a fixed shuffled order with alternating signs; the
    ``num_duplicated`` most informative features get ``copies`` extra copies."""
    j = np.arange(num_unique)
    q = (j + 0.5) / num_unique
    theta0 = np.exp(np.log(base_min) + q * (np.log(base_max) - np.log(base_min)))
    magnitude = effect_min + (effect_max - effect_min) * ((j * 7919) % num_unique + 0.5) / num_unique
    theta1 = np.clip(theta0 * np.exp(np.where(j % 2 == 0, 1.0, -1.0) * magnitude), 0.01, 0.95)
    extra = np.zeros(num_unique, np.int64)
    extra[np.argsort(-np.abs(np.log(theta1 / theta0)), kind="stable")[:num_duplicated]] = copies
    return Problem(np.stack([theta0, theta1]), extra)


def expand(problem: Problem, x_unique) -> np.ndarray:
    """The observed input: each unique feature followed by its copies (columns in a fixed
    order)."""
    cols = np.repeat(np.arange(problem.theta.shape[1]), 1 + problem.copies)
    return x_unique[..., cols]


def sample(rng, problem: Problem, y) -> np.ndarray:
    """Inputs (…, d) in {0, 1} (float32) for the labels ``y`` (…)."""
    theta = problem.theta[np.asarray(y)]
    return expand(problem, (rng.uniform(size=theta.shape) < theta).astype(np.float32))


def balanced_labels(rng, num_sets: int, m: int) -> np.ndarray:
    """(num_sets, m) labels with ⌊m/2⌋ zeros and ⌈m/2⌉ ones each, in random order."""
    y = (np.arange(m) >= m // 2).astype(np.int32)
    return np.stack([rng.permutation(y) for _ in range(num_sets)])


def reference_errors(problem: Problem, x, y) -> dict:
    """Test errors of the Bayes classifier (the true log-odds, equal priors) and of naive Bayes
    with the true θ — the two large-m limits of the learning curves."""
    first = np.concatenate([[0], np.cumsum(1 + problem.copies)[:-1]])
    x_unique = x[:, first]
    th0, th1 = problem.theta
    per_feature = np.where(x_unique == 1, np.log(th1 / th0), np.log((1 - th1) / (1 - th0)))
    bayes = per_feature.sum(1)
    naive = (per_feature * (1 + problem.copies)).sum(1)
    return {"bayes": float(np.mean((bayes > 0) != y)),
            "naive_bayes_limit": float(np.mean((naive > 0) != y))}
