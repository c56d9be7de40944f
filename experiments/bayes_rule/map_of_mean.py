r"""The MAP of a Gaussian mean: with known noise σ and prior N(0, 1) it is ``n·x̄/(n + σ²)``, the
sample mean shrunk toward the prior mean by ``σ²/(n + σ²)`` — *not* the sample mean that one of the
articles calls the MAP (that is the flat-prior answer, the MLE).

The closed form is ``bj.conjugate.normal_known_variance`` (its ``map``), checked against the text's
formula; the independent route is ``bj.fit_map`` of the same model written as a ``bj.Posterior``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

import bayesjax as bj
from bayesjax import conjugate
from experiments.common.claims import claim, log

PRIOR_SCALE = 1.0
FIT_TOL = 1e-10


class MapRow(NamedTuple):
    n: int
    sample_mean: float
    map_closed_form: float     # bj.conjugate.normal_known_variance(...).map
    map_text_formula: float    # n·x̄/(n + σ²)
    map_fit: float             # bj.fit_map
    shrinkage: float           # σ²/(n + σ²)


def estimate(key, *, sigma: float, true_mean: float, ns, fit_steps: int) -> list[MapRow]:
    ns = sorted(ns)
    data = true_mean + sigma * np.asarray(jax.random.normal(key, (max(ns),)))
    rows = []
    for n in ns:
        xs = data[:n]
        xbar = float(xs.mean())
        exact = conjugate.normal_known_variance(xs, noise=sigma, prior_scale=PRIOR_SCALE)
        post = bj.Posterior.from_apply(lambda p, z: jnp.broadcast_to(p["mu"], z.shape[:1]),
                                       {"mu": jnp.zeros(())}, bj.likelihoods.Gaussian(sigma),
                                       bj.priors.Gaussian(PRIOR_SCALE), np.zeros((n, 1)), xs)
        lip = (n / sigma**2 + 1.0 / PRIOR_SCALE**2) / n
        res = bj.fit_map(jax.random.key(0), post, optax.sgd(1.0 / lip), num_steps=fit_steps)
        rows.append(MapRow(n, xbar, float(exact.map), n * xbar / (n + sigma**2),
                           float(res.params["mu"]), sigma**2 / (n + sigma**2)))
    log(f"MAP of a mean: {len(ns)} sample sizes fitted")
    return rows


def metrics(rows: list[MapRow]) -> dict:
    return {"map_of_mean": [r._asdict() for r in rows]}


def claims(rows: list[MapRow]) -> list[dict]:
    fit_err = max(abs(r.map_fit - r.map_closed_form) for r in rows)
    formula_err = max(abs(r.map_text_formula - r.map_closed_form) for r in rows)
    first = rows[0]
    gap = first.sample_mean - first.map_closed_form
    return [
        claim("MAP of a Gaussian mean under a N(0,1) prior = n·x̄/(n+σ²) (fit_map vs closed form)",
              {"fit_map": fit_err, "text_formula": formula_err},
              f"max abs difference of fit_map and of n·x̄/(n+σ²) from "
              f"bj.conjugate.normal_known_variance < {FIT_TOL} (float64)",
              fit_err < FIT_TOL and formula_err < FIT_TOL),
        claim(f"The sample mean is not the MAP: at n = {first.n} the MAP is x̄ shrunk by "
              f"σ²/(n+σ²) = {first.shrinkage:.3f}",
              {"sample_mean": first.sample_mean, "map": first.map_closed_form},
              "x̄ − MAP = x̄·σ²/(n+σ²) ≠ 0",
              abs(gap - first.sample_mean * first.shrinkage) < 1e-12 and abs(gap) > 0),
    ]
