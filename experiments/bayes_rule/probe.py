r"""The deep-space probe behind a binary symmetric channel: ``P(X = 0 | k receptions, all 0)``.

Two hypotheses, so Bayes' rule is a two-row table: with prior ``π₀ = P(X = 0)`` and bit-error
probability e,

.. math::  P(X=0 \mid k \text{ zeros}) = \frac{π_0 (1-e)^k}{π_0 (1-e)^k + (1-π_0) e^k}.

The independent route simulates the channel: send ``num_draws`` bits from the prior, flip each of
``max_receptions`` receptions with probability e, and count among the sends whose first k
receptions are all 0 the share that were 0.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from experiments.common import stats
from experiments.common.claims import claim

TEXT_VALUE = 0.9994       # the text's P(X=0 | (0, 0)), 4 d.p.


def posterior_x0(k, prior0: float, error: float):
    """The closed form above, for k agreeing receptions of 0 (k may be an array)."""
    k = np.asarray(k, np.float64)
    a, b = prior0 * (1 - error) ** k, (1 - prior0) * error**k
    return a / (a + b)


class ProbeResult(NamedTuple):
    ks: np.ndarray            # 0 … max_receptions
    exact: np.ndarray         # the closed form at each k
    mc: np.ndarray            # the simulated share of 0s among the sends with k zeros received
    se: np.ndarray            # its binomial s.e. at the closed form, sqrt(p(1-p)/n_k)
    counts: np.ndarray        # n_k, the sends whose first k receptions were all 0
    num_draws: int
    prior0: float
    error: float


def simulate(key, *, prior0: float, error: float, max_receptions: int,
             num_draws: int) -> ProbeResult:
    kx, kn = jax.random.split(key)
    x = jax.random.bernoulli(kx, 1 - prior0, (num_draws,))                 # True = bit 1 sent
    flips = jax.random.bernoulli(kn, error, (num_draws, max_receptions))
    received_one = np.asarray(jnp.logical_xor(x[:, None], flips))
    x = np.asarray(x)
    ks = np.arange(max_receptions + 1)
    exact = posterior_x0(ks, prior0, error)
    mc, counts = [], []
    for k in ks:
        cond = ~received_one[:, :k].any(axis=1)                              # first k all 0
        mc.append(1.0 - x[cond].mean())
        counts.append(int(cond.sum()))
    counts = np.array(counts)
    return ProbeResult(ks, exact, np.array(mc), stats.binomial_se(exact, counts), counts,
                       num_draws, prior0, error)


def metrics(r: ProbeResult) -> dict:
    return {"posterior_x0_given_00": r.exact[2], "posterior_x0_given_00_mc": r.mc[2],
            "posterior_x0_given_00_mc_se": r.se[2], "posterior_x0_vs_k": r.exact,
            "posterior_x0_vs_k_mc": r.mc, "receptions_counts": r.counts}


def claims(r: ProbeResult) -> list[dict]:
    z2 = float(stats.z_score(r.mc[2], r.exact[2], r.se[2]))
    return [
        claim(f"Probe: P(X=0 | received (0,0)) ≈ {TEXT_VALUE}", round(float(r.exact[2]), 6),
              f"closed form rounds to {TEXT_VALUE} (4 d.p.)",
              round(float(r.exact[2]), 4) == TEXT_VALUE),
        claim("Probe: simulation of the channel agrees with the closed form",
              {"mc": float(r.mc[2]), "z": z2, "sends_with_00": int(r.counts[2])},
              f"|mc − exact| ≤ Z = {stats.Z:.2f} s.e. (suite policy; binomial s.e. at the closed "
              "form)", stats.within(r.mc[2], r.exact[2], r.se[2]), sampled_tests=1),
        claim("Probe: each agreeing reception raises the posterior of X=0",
              r.exact, "strictly increasing in k", bool(np.all(np.diff(r.exact) > 0))),
    ]
