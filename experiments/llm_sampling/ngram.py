r"""A Bayesian character n-gram model: one Dirichlet prior per context, read with Bayes' rule.

For a context ``c`` (the previous ``order − 1`` characters) the next character is
``x | c ~ Categorical(π_c)``, ``π_c ~ Dirichlet(α, …, α)``. With training counts ``n_{c,k}``,
``bj.conjugate.dirichlet_categorical`` gives everything in closed form:

- the MLE ``n_{c,k}/n_c`` (the *sample mean* of the one-hot observations): zero for every unseen
  transition, so one unseen held-out transition makes the held-out perplexity infinite;
- the posterior predictive ``(n_{c,k} + α)/(n_c + Vα)`` (add-α smoothing, the posterior ``mean``);
- the evidence ``log p(D | α) = Σ_c log p(D_c | α)``, which chooses α without held-out data;
- the MAP ``(n_{c,k} + α − 1)/(n_c + V(α − 1))`` (the posterior ``mode``, for α ≥ 1).

Evidences are computed in float64 (sums of ~10⁶ nats).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import numpy as np

from bayesjax import conjugate

LOG2 = math.log(2.0)


class Counts(NamedTuple):
    """Training transition counts of an n-gram model, stored for the **seen** contexts only (an
    unseen context has zero counts: its evidence term is 0 and its predictive is uniform).

    ``order`` = n (the context is the previous n − 1 characters); ``table`` (S, V) the counts of
    the S seen contexts; ``row`` maps a context index (base V, most recent character last) to its
    row of ``table``, or −1."""

    order: int
    vocab: int
    table: np.ndarray
    row: np.ndarray


def context_index(tokens: np.ndarray, order: int, vocab: int) -> np.ndarray:
    """The context of each position ``i >= order − 1`` as one integer."""
    n = tokens.shape[0] - order + 1
    ctx = np.zeros(n, np.int64)
    for j in range(order - 1):
        ctx = ctx * vocab + tokens[j:j + n]
    return ctx


def counts(tokens: np.ndarray, order: int, vocab: int) -> Counts:
    ctx = context_index(tokens, order, vocab)
    flat = np.bincount(ctx * vocab + tokens[order - 1:], minlength=vocab ** order)
    full = flat.reshape(vocab ** (order - 1), vocab).astype(np.float64)
    seen = np.flatnonzero(full.sum(1) > 0)
    row = np.full(full.shape[0], -1, np.int64)
    row[seen] = np.arange(seen.size)
    return Counts(order, vocab, full[seen], row)


def _scored(c: Counts, tokens, start):
    """Rows (−1: unseen context) and next characters of the scored positions ``i >= start``."""
    ctx = context_index(tokens, c.order, c.vocab)[start - c.order + 1:]
    return c.row[ctx], tokens[start:]


def prob_of(c: Counts, probs: np.ndarray, tokens, start, *, unseen: float) -> np.ndarray:
    """``p(x_i | context)`` at the positions ``i >= start``; ``unseen`` for an unseen context."""
    rows, nxt = _scored(c, tokens, start)
    return np.where(rows >= 0, probs[np.maximum(rows, 0), nxt], unseen)


def heldout_bits(c: Counts, probs, tokens, start, *, unseen: float) -> float:
    """Mean ``−log₂ p(x_i | context)`` over the positions ``i >= start`` (bits/char)."""
    with np.errstate(divide="ignore"):
        return float(-np.mean(np.log2(prob_of(c, probs, tokens, start, unseen=unseen))))


def mle(c: Counts) -> np.ndarray:
    """The sample mean ``n_{c,k}/n_c`` of each seen context (unseen contexts have none)."""
    return c.table / c.table.sum(1, keepdims=True)


def mle_unseen(c: Counts, tokens, start) -> int:
    """Held-out transitions to which the MLE gives probability 0 (or no distribution at all,
    when the context itself was never seen)."""
    return int(np.sum(prob_of(c, mle(c), tokens, start, unseen=0.0) == 0))


def posterior(table: np.ndarray, alpha: float) -> conjugate.DirichletPosterior:
    """``bj.conjugate.dirichlet_categorical`` in float64, as numpy arrays."""
    with jax.enable_x64(True):
        post = conjugate.dirichlet_categorical(table, alpha=alpha)
        return conjugate.DirichletPosterior(np.asarray(post.concentration),
                                            np.asarray(post.log_marginal_likelihood))


def predictive(c: Counts, alpha: float) -> np.ndarray:
    """The posterior predictive ``(n + α)/(N + Vα)`` of each seen context (the posterior mean;
    an unseen context's is uniform, 1/V)."""
    conc = posterior(c.table, alpha).concentration
    return conc / conc.sum(1, keepdims=True)


class AlphaSweep(NamedTuple):
    alphas: np.ndarray
    log_evidence: np.ndarray        # nats, summed over the training text
    heldout_bits: np.ndarray        # bits per held-out character
    best_evidence: float            # the α of the largest evidence
    best_heldout: float             # the α of the smallest held-out NLL (for comparison only)


def alpha_sweep(c: Counts, test, alphas, start) -> AlphaSweep:
    ev, bits = [], []
    for a in alphas:
        post = posterior(c.table, float(a))
        ev.append(float(np.sum(post.log_marginal_likelihood)))
        conc = post.concentration
        bits.append(heldout_bits(c, conc / conc.sum(1, keepdims=True), test, start,
                                 unseen=1.0 / c.vocab))
    ev, bits = np.array(ev), np.array(bits)
    return AlphaSweep(np.asarray(alphas), ev, bits, float(alphas[int(np.argmax(ev))]),
                      float(alphas[int(np.argmin(bits))]))


def _bigram_counts(tokens, vocab):
    """All V contexts' (V, V) bigram counts (small enough to keep dense)."""
    return np.bincount(tokens[:-1] * vocab + tokens[1:], minlength=vocab * vocab) \
        .reshape(vocab, vocab).astype(np.float64)


class Interval(NamedTuple):
    num_chars: int
    context: str
    next_char: str
    count: int          # n_{c,k} in the first num_chars characters
    context_count: int  # n_c
    mean: float         # posterior predictive
    lower: float
    upper: float


def intervals(tokens, sizes, pairs, alpha, vocab, decode_fn, prob=0.95) -> list[Interval]:
    """95% equal-tailed posterior intervals of ``p(next | context)`` (bigram) after the first
    ``n`` training characters, for each ``n`` in ``sizes`` and each (context, next) token pair."""
    rows = []
    for n in sizes:
        c = _bigram_counts(tokens[:n], vocab)
        post = posterior(c, alpha)
        lo, hi = post.marginal_interval(prob)
        mean = np.asarray(post.concentration) / np.asarray(post.concentration).sum(1, keepdims=True)
        for a, b in pairs:
            rows.append(Interval(int(n), decode_fn([a]), decode_fn([b]), int(c[a, b]),
                                 int(c[a].sum()), float(mean[a, b]), float(lo[a, b]),
                                 float(hi[a, b])))
    return rows


class MapCheck(NamedTuple):
    """The text's "MAP" (the sample mean) next to the MAP of one context's next-character law."""

    num_chars: int
    alpha: float
    context: str
    chars: list[str]            # the characters shown (most frequent after the context, one unseen)
    counts: list[int]
    sample_mean: list[float]    # n_k / N: what the text's code computes and calls the MAP
    map: list[float]            # (n_k + α − 1)/(N + V(α − 1)): the posterior mode
    posterior_mean: list[float]
    max_abs_diff: float         # max_k |sample mean − MAP| over all V characters
    log_density_map: float      # log Dirichlet(π | α + n) at the MAP
    log_density_sample_mean: float
    max_log_density_random: float  # at 2000 posterior draws: all below the MAP's


def _log_dirichlet(pi, conc):
    from scipy.special import gammaln, xlogy

    return float(np.sum(xlogy(conc - 1.0, pi)) - np.sum(gammaln(conc)) + gammaln(conc.sum()))


def map_check(tokens, num_chars, context, alpha, vocab, decode_fn, num_shown=5) -> MapCheck:
    """The sample mean vs the MAP of ``π_context`` after ``num_chars`` characters, prior
    Dirichlet(α) with α >= 1 (so the mode is interior), and a check that the mode is the maximum
    of the posterior density (it beats the sample mean and 2000 posterior draws)."""
    c = _bigram_counts(tokens[:num_chars], vocab)[context]
    post = posterior(c, alpha)
    conc = np.asarray(post.concentration)
    with jax.enable_x64(True):
        mode = np.asarray(conjugate.DirichletPosterior(conc, post.log_marginal_likelihood).mode)
    smean = c / c.sum()
    pmean = conc / conc.sum()
    shown = list(np.argsort(-c, kind="stable")[:num_shown]) + [int(np.argmin(c))]
    draws = np.random.default_rng(0).dirichlet(conc, size=2000)
    return MapCheck(
        int(num_chars), float(alpha), decode_fn([context]), [decode_fn([k]) for k in shown],
        [int(c[k]) for k in shown], [float(smean[k]) for k in shown],
        [float(mode[k]) for k in shown], [float(pmean[k]) for k in shown],
        float(np.max(np.abs(smean - mode))), _log_dirichlet(mode, conc),
        _log_dirichlet(smean, conc), max(_log_dirichlet(d, conc) for d in draws))
