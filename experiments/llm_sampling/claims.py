"""The claims, from the measured numbers (sampled ones through ``experiments.common.stats``)."""

from __future__ import annotations

import math

import numpy as np

from experiments.common import stats
from experiments.common.claims import claim

from .decoding import binomial_test

EVIDENCE_SLACK = 0.02     # held-out bits at the evidence's α vs the grid's best: within 2%
MIN_MAP_GAP = 0.01        # the sample mean and the MAP differ by more than this (a probability)
GREEDY_LIMIT = 0.9        # P(sampling at the smallest T reproduces greedy) at least this

POLICY = "Z = 4.56 / Z₁ = 4.42 s.e., level α = 5·10⁻⁶ per test (suite policy)"


def _ngram_claims(sweeps, unseen, intervals, map_row):
    out = []
    orders = [n for n in sweeps if n >= 2]
    ev_bits = {n: float(s.heldout_bits[int(np.argmax(s.log_evidence))]) for n, s in sweeps.items()}
    out.append(claim(
        "The MLE n-gram gives probability 0 to held-out transitions it never saw: held-out "
        "perplexity ∞; the posterior predictive (add-α) is finite",
        {f"{n}-gram": {"unseen": unseen[n], "posterior_bits": ev_bits[n]} for n in orders},
        "for every order ≥ 2: ≥ 1 unseen held-out transition and finite posterior-predictive "
        "bits/char", bool(orders) and all(unseen[n] > 0 and math.isfinite(ev_bits[n])
                                          for n in orders)))
    ratio = {n: ev_bits[n] / float(s.heldout_bits.min()) for n, s in sweeps.items()}
    out.append(claim(
        "The evidence chooses α: the α of the largest log p(D | α) predicts held-out text "
        "nearly as well as the best α in hindsight",
        {f"{n}-gram": {"alpha": s.best_evidence, "ratio_to_best": ratio[n]}
         for n, s in sweeps.items()},
        f"held-out bits at the evidence's α ≤ (1 + {EVIDENCE_SLACK}) × the grid's best",
        all(r <= 1 + EVIDENCE_SLACK for r in ratio.values())))
    widths = {}
    for r in intervals:
        widths.setdefault(f"p({r.next_char!r}|{r.context!r})", []).append(r.upper - r.lower)
    out.append(claim(
        "Uncertainty shrinks with data: 95% credible intervals of next-character probabilities "
        "narrow as the training text grows",
        widths, "every interval strictly narrower than at the previous (smaller) size",
        all(all(b < a for a, b in zip(w[:-1], w[1:], strict=True)) for w in widths.values())))
    out.append(claim(
        "The sample mean is not the MAP: under a Dirichlet prior the MAP is "
        "(n_k + α − 1)/(N + K(α − 1))",
        {"max_abs_diff": map_row.max_abs_diff, "log_density_map": map_row.log_density_map,
         "log_density_sample_mean": map_row.log_density_sample_mean,
         "max_log_density_2000_draws": map_row.max_log_density_random},
        f"max_k |n_k/N − MAP_k| > {MIN_MAP_GAP}, and the posterior density at the MAP exceeds "
        "that at the sample mean and at 2000 posterior draws",
        map_row.max_abs_diff > MIN_MAP_GAP
        and map_row.log_density_map > map_row.log_density_sample_mean
        and map_row.log_density_map > map_row.max_log_density_random))
    return out, ev_bits


def _paired_ok(a, b, *, larger: bool) -> tuple[float, bool]:
    z = stats.paired_z(a, b)
    return z, (z > stats.Z_ONE_SIDED) if larger else (z < -stats.Z_ONE_SIDED)


def _decoding_claims(dec):
    out = []
    same = all(np.array_equal(g, dec.greedy[0]) for g in dec.greedy)
    out.append(claim(
        "Greedy decoding is deterministic: the same prompt gives the same continuation",
        {"repeats": len(dec.greedy), "identical": same},
        "all greedy continuations (different keys) identical", same))
    freq = dec.frequency
    out.append(claim(
        "Sampling draws from the model's distribution: after the prompt, the empirical "
        "next-character frequencies match softmax(filter_logits(logits))",
        {k: {"chi2": v.statistic, "df": v.df, "threshold": v.threshold, "tv": v.tv}
         for k, v in freq.items()},
        f"Pearson χ² ≤ its χ²_df quantile at level α (suite policy), for each of {len(freq)} "
        "settings", all(v.passed for v in freq.values()), sampled_tests=len(freq)))
    zs = [_paired_ok(hi.entropy, lo.entropy, larger=True)
          for lo, hi in zip(dec.sweep[:-1], dec.sweep[1:], strict=True)]
    lo, hi = dec.sweep[0], dec.sweep[-1]
    (m_lo, se_lo), (m_hi, se_hi) = stats.mean_se(lo.distinct_batches), \
        stats.mean_se(hi.distinct_batches)
    se = math.hypot(float(se_lo), float(se_hi))
    distinct_ok = stats.exceeds(m_hi, m_lo, se) if se > 0 else bool(m_hi > m_lo)
    out.append(claim(
        "Diversity rises with temperature: the mean per-token entropy increases at every step of "
        "the sweep, and so does the fraction of distinct continuations from the coldest to the "
        "hottest",
        {"entropy": {s.label: float(s.entropy.mean()) for s in dec.sweep},
         "paired_z": [z for z, _ in zs],
         "distinct": {s.label: s.distinct for s in dec.sweep}},
        f"each step: paired z > Z₁ = {stats.Z_ONE_SIDED:.2f}; distinct fraction (per-batch s.e.) "
        f"at T_max − at T_min > Z₁ s.e. ({POLICY})",
        all(ok for _, ok in zs) and distinct_ok, sampled_tests=len(zs) + 1))
    exact = dec.greedy_exact
    tests = [binomial_test(k, dec.num_samples, float(p))
             for k, p in zip(dec.greedy_matches, exact, strict=True)]
    monotone = bool(np.all(np.diff(exact) >= 0))   # it reaches 1.0 in float64 on a wide gap
    out.append(claim(
        "T → 0 approaches greedy: the probability that sampling reproduces the greedy "
        "continuation rises to 1, and the sampled match rate equals it",
        {"temperatures": list(dec.small_temperatures), "greedy_gap": dec.greedy_gap,
         "exact": exact.tolist(), "matched": dec.greedy_matches, "of": dec.num_samples,
         "binomial_p_values": [p for p, _ in tests]},
        f"exact P non-decreasing as T falls to T* = min(gap, T_min)/10 (gap: the greedy path's "
        f"smallest top-2 logit gap), P(T*) ≥ {GREEDY_LIMIT}; each match count passes an exact "
        f"binomial test at level α (suite policy)",
        monotone and exact[-1] >= GREEDY_LIMIT and all(ok for _, ok in tests),
        sampled_tests=len(tests)))
    k_min, p_min = dec.truncated[0], dec.truncated[len(dec.truncated) // 2]
    checks = {}
    for s in (k_min, p_min):
        checks[s.label] = {"log_lik_z": _paired_ok(s.log_lik, dec.plain.log_lik, larger=True),
                           "entropy_z": _paired_ok(s.entropy, dec.plain.entropy, larger=False)}
    out.append(claim(
        "Top-k and top-p trade diversity for likelihood: truncating the distribution raises the "
        "samples' log-likelihood under the model and lowers their entropy",
        {k: {kk: z for kk, (z, _) in v.items()} for k, v in checks.items()},
        f"vs plain T = 1 sampling (same keys): paired z of the mean log-likelihood > Z₁, of the "
        f"entropy < −Z₁ ({POLICY})",
        all(ok for v in checks.values() for _, ok in v.values()), sampled_tests=2 * len(checks)))
    return out


def claims(*, sweeps, unseen, intervals, map_row, net_bits, beat_orders, dec) -> list[dict]:
    out, ev_bits = _ngram_claims(sweeps, unseen, intervals, map_row)
    target = {f"{n}-gram": ev_bits[n] for n in beat_orders}
    out.append(claim(
        "A neural character model (GRU, trained by MLE and by MAP with a Gaussian prior) predicts "
        "held-out text better than the Bayesian n-grams",
        {"gru": net_bits, "ngram": {f"{n}-gram": b for n, b in ev_bits.items()}},
        f"both variants' held-out bits/char < the {', '.join(target)} posterior predictive's",
        all(b < t for b in net_bits.values() for t in target.values())))
    return out + _decoding_claims(dec)
