r"""Decoding the character model with ``bj.sampling``: greedy, temperature, top-k and top-p.

Every setting draws its continuations with the **same** keys (common random numbers), so
differences between settings are paired comparisons of the same draws.

The frequency test: after the prompt the sampler's first token should be distributed as
``softmax(filter_logits(logits))``. Pearson's χ² of the empirical counts against that law, the
categories with expected count below 5 pooled into one, is compared with the χ² quantile at the
suite's level ``stats.ALPHA`` (``experiments/common/stats.py``) — the exact null threshold for a
sample of that size, not a tolerance.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats as scistats

from bayesjax import sampling
from experiments.common import stats


def prompt_logits(step_fn, state, prompt) -> np.ndarray:
    """The logits of the token after ``prompt`` (teacher-forced)."""
    _, logits = jax.lax.scan(step_fn, state, jnp.asarray(prompt))
    return np.asarray(logits[-1])


def path_logits(step_fn, state, tokens) -> np.ndarray:
    """Logits after each of ``tokens`` (teacher-forced): row i predicts token i + 1."""
    _, logits = jax.lax.scan(step_fn, state, jnp.asarray(tokens))
    return np.asarray(logits, np.float64)


def draw(key, step_fn, state, prompt, num_tokens, num_samples, *, vocab, top_k=None, top_p=None,
         **kw) -> sampling.Samples:
    """``num_samples`` continuations (vmap over keys), as numpy arrays. Unset filters are passed
    as their no-op values (top_k = V, top_p = 1), so that every setting of one shape reuses one
    compiled decoder (their values are traced)."""
    kw.update(top_k=vocab if top_k is None else top_k, top_p=1.0 if top_p is None else top_p)
    keys = jax.random.split(key, num_samples)
    out = jax.vmap(lambda k: sampling.sample(k, step_fn, state, prompt, num_tokens, **kw))(keys)
    return sampling.Samples(np.asarray(out.tokens), np.asarray(out.log_prob, np.float64),
                            np.asarray(out.entropy, np.float64), None)


class ChiSquare(NamedTuple):
    statistic: float
    df: int
    threshold: float      # χ²_df quantile at 1 − stats.ALPHA
    tv: float             # total variation between the frequencies and the law (descriptive)
    passed: bool


def chi_square(counts, probs) -> ChiSquare:
    """Pearson's goodness-of-fit test of ``counts`` against ``probs`` at level ``stats.ALPHA``
    (expected counts below 5 pooled). A count where ``probs`` is 0 fails outright."""
    counts = np.asarray(counts, np.float64)
    probs = np.asarray(probs, np.float64)
    n = counts.sum()
    tv = float(0.5 * np.abs(counts / n - probs).sum())
    if counts[probs == 0].sum() > 0:
        return ChiSquare(float("inf"), 0, 0.0, tv, False)
    big = probs * n >= 5
    obs = np.append(counts[big], counts[~big].sum())
    exp = np.append(probs[big], probs[~big].sum()) * n
    keep = exp > 0
    obs, exp = obs[keep], exp[keep]
    df = obs.size - 1
    stat = float(np.sum((obs - exp) ** 2 / exp))
    threshold = float(scistats.chi2.isf(stats.ALPHA, df)) if df > 0 else 0.0
    return ChiSquare(stat, df, threshold, tv, stat <= threshold)


def frequency_test(key, step_fn, state, prompt, num_samples, vocab, *, logits=None, **kw):
    """The first sampled token's counts over ``num_samples`` draws against the filtered softmax
    of ``logits``, the model's logits after ``prompt`` (computed if not given)."""
    logits = prompt_logits(step_fn, state, prompt) if logits is None else logits
    target = np.asarray(jax.nn.softmax(sampling.filter_logits(jnp.asarray(logits), **kw)),
                        np.float64)
    target /= target.sum()
    first = draw(key, step_fn, state, prompt, 1, num_samples, vocab=vocab, **kw).tokens[:, 0]
    counts = np.bincount(first, minlength=vocab)
    return chi_square(counts, target), counts, target


class Setting(NamedTuple):
    """One decoding setting's continuations and their summaries (per sample: means over tokens)."""

    label: str
    tokens: np.ndarray         # (M, n)
    entropy: np.ndarray        # (M,) mean entropy (nats) of the law each token was drawn from
    log_lik: np.ndarray        # (M,) mean log p(token | past) under the model (nats/char)
    distinct: float            # fraction of distinct openings (first tokens) among the M
    distinct_batches: np.ndarray  # the same fraction within each of the batches of the M


def distinct_fraction(tokens: np.ndarray) -> float:
    return len({row.tobytes() for row in tokens}) / tokens.shape[0]


def run_setting(key, step_fn, state, prompt, num_tokens, num_samples, num_batches, distinct_tokens,
                label, *, vocab, **kw):
    out = draw(key, step_fn, state, prompt, num_tokens, num_samples, vocab=vocab, **kw)
    head = out.tokens[:, :distinct_tokens]
    batches = np.array([distinct_fraction(b) for b in np.array_split(head, num_batches)])
    return Setting(label, out.tokens, out.entropy.mean(1), out.log_prob.mean(1),
                   distinct_fraction(head), batches)


def greedy_probability(logits_on_path: np.ndarray, greedy_tokens: np.ndarray, temps) -> np.ndarray:
    """Exact probability that temperature-T sampling reproduces the greedy continuation:
    ``Π_i softmax(z_i / T)[g_i]`` along the greedy path, for each T."""
    out = []
    for t in temps:
        z = logits_on_path / t
        logp = z - np.logaddexp.reduce(z, axis=1, keepdims=True)
        out.append(float(np.exp(np.sum(logp[np.arange(len(greedy_tokens)), greedy_tokens]))))
    return np.array(out)


def binomial_test(k: int, n: int, p: float) -> tuple[float, bool]:
    """Exact two-sided binomial test of ``k`` successes in ``n`` at rate ``p``: its p-value and
    whether it is >= ``stats.ALPHA`` (the suite's level)."""
    pval = float(scistats.binomtest(int(k), int(n), min(max(p, 0.0), 1.0)).pvalue)
    return pval, pval >= stats.ALPHA


class Decoding(NamedTuple):
    """Everything the claims and the report read."""

    greedy: list[np.ndarray]          # greedy continuations, one per key
    frequency: dict[str, ChiSquare]   # setting → the first-token test
    sweep: list[Setting]              # temperatures, ascending
    temperatures: tuple[float, ...]
    small_temperatures: tuple[float, ...]  # the config's, then T* (see ``experiment``)
    greedy_gap: float                 # smallest top-2 logit gap along the greedy path (nats)
    greedy_exact: np.ndarray          # P(T-sampling reproduces greedy), exact, per small T
    greedy_matches: list[int]         # sampled continuations equal to greedy, per small T
    num_samples: int
    plain: Setting                    # T = 1, no truncation
    truncated: list[Setting]          # top-k then top-p settings, at T = 1


def experiment(key, step_fn, state, prompt, vocab, *, num_tokens, num_samples, num_batches,
               distinct_tokens, freq_samples, greedy_repeats, temperatures, small_temperatures,
               top_k, top_p) -> Decoding:
    k_greedy, k_freq, k_draw = jax.random.split(key, 3)
    greedy = draw(k_greedy, step_fn, state, prompt, num_tokens, greedy_repeats, vocab=vocab,
                  greedy=True).tokens
    mid_k, mid_p = top_k[len(top_k) // 2], top_p[len(top_p) // 2]
    settings = {"T = 1": {}, "T = 0.5": dict(temperature=0.5), f"top-k = {mid_k}": dict(top_k=mid_k),
                f"top-p = {mid_p}": dict(top_p=mid_p)}
    logits = prompt_logits(step_fn, state, prompt)
    freq = {label: frequency_test(k, step_fn, state, prompt, freq_samples, vocab, logits=logits,
                                  **kw)[0]
            for k, (label, kw) in zip(jax.random.split(k_freq, len(settings)), settings.items(),
                                      strict=True)}
    run = lambda label, **kw: run_setting(k_draw, step_fn, state, prompt, num_tokens,  # noqa: E731
                                          num_samples, num_batches, distinct_tokens, label,
                                          vocab=vocab, **kw)
    sweep = [run(f"T = {t:g}", temperature=t) for t in temperatures]
    g = greedy[0]
    path = path_logits(step_fn, state, np.concatenate([prompt, g[:-1]]))[len(prompt) - 1:]
    # T → 0 is relative to the path's smallest gap between the two largest logits: at
    # T* = min(gap, T_min)/10 each step reproduces greedy with probability >= 1/(1 + (V−1)e^−10)
    top2 = -np.sort(-path, axis=1)[:, :2]
    gap = float(np.min(top2[:, 0] - top2[:, 1]))
    small_temperatures = tuple(small_temperatures) + (min(gap, small_temperatures[-1]) / 10,)
    small = [run(f"T = {t:.3g}", temperature=t) for t in small_temperatures]
    exact = greedy_probability(path, g, small_temperatures)
    matches = [int(np.sum(np.all(s.tokens == g, axis=1))) for s in small]
    plain = run("T = 1")
    truncated = [run(f"top-k = {k}", top_k=k) for k in top_k] + \
        [run(f"top-p = {p:g}", top_p=p) for p in top_p]
    return Decoding(list(greedy), freq, sweep, tuple(temperatures), small_temperatures, gap,
                    exact, matches, num_samples, plain, truncated)


def summary(dec: Decoding) -> dict:
    """The JSON-able numbers of a ``Decoding``."""
    row = lambda s: {"entropy": float(s.entropy.mean()), "log_lik": float(s.log_lik.mean()),  # noqa: E731
                     "distinct": s.distinct}
    return {
        "greedy_identical": all(np.array_equal(g, dec.greedy[0]) for g in dec.greedy),
        "frequency": {k: v._asdict() for k, v in dec.frequency.items()},
        "temperature_sweep": {s.label: row(s) for s in dec.sweep},
        "greedy_gap": dec.greedy_gap,
        "greedy_probability_exact": dict(zip([f"T = {t:.3g}" for t in dec.small_temperatures],
                                             dec.greedy_exact.tolist(), strict=True)),
        "greedy_matches": dict(zip([f"T = {t:.3g}" for t in dec.small_temperatures],
                                   dec.greedy_matches, strict=True)),
        "plain": row(dec.plain),
        "truncated": {s.label: row(s) for s in dec.truncated},
    }
