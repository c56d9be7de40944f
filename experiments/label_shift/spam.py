r"""The spam example, simulated: a message is a binary bag of ``num_words`` words, and given its
class (0 = ham, 1 = spam) each word appears independently, ``x_j | y = k ~ Bernoulli(θ_kj)`` —
exactly naive Bayes' model, so the generative classifier is well specified and only p(y) moves.

θ_0j (ham) are log-spaced in [0.02, 0.3]; spam raises or lowers each word's rate by a factor
``exp(±effect)`` (alternating signs). ``drift(problem, fraction)`` is the non-prior shift: spam's
word rates move a ``fraction`` of the way (on the log scale) towards ham's — spammers adapting
their vocabulary — so p(x | spam) changes, not only p(y).
"""

from __future__ import annotations

import numpy as np


def make_theta(num_words: int, effect: float) -> np.ndarray:
    """(2, num_words) word probabilities: row 0 ham, row 1 spam."""
    q = (np.arange(num_words) + 0.5) / num_words
    ham = np.exp(np.log(0.02) + q * (np.log(0.3) - np.log(0.02)))
    sign = np.where(np.arange(num_words) % 2 == 0, 1.0, -1.0)
    spam = np.clip(ham * np.exp(sign * effect), 0.005, 0.95)
    return np.stack([ham, spam])


def drift(theta: np.ndarray, fraction: float) -> np.ndarray:
    """Spam's word rates moved ``fraction`` of the way towards ham's, geometrically."""
    spam = np.exp((1 - fraction) * np.log(theta[1]) + fraction * np.log(theta[0]))
    return np.stack([theta[0], spam])


def sample(rng, theta: np.ndarray, n: int, spam_prior: float) -> tuple[np.ndarray, np.ndarray]:
    """``n`` messages with exactly ``round(spam_prior · n)`` spam, in random order."""
    num_spam = round(spam_prior * n)
    y = rng.permutation((np.arange(n) < num_spam).astype(np.int32))
    x = (rng.uniform(size=(n, theta.shape[1])) < theta[y]).astype(np.float32)
    return x, y


def bayes_probs(theta: np.ndarray, x, spam_prior: float) -> np.ndarray:
    """(n, 2) exact posterior p(y | x) under the true θ and class prior (the oracle)."""
    lj = x @ np.log(theta).T + (1 - x) @ np.log1p(-theta).T
    lj = lj + np.log([1 - spam_prior, spam_prior])[None]
    lj = lj - lj.max(1, keepdims=True)
    p = np.exp(lj)
    return p / p.sum(1, keepdims=True)
