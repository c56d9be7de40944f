"""The inference runs shared by the regression and the classification parts: the four Laplace
structures with their GLM predictive (one XLA program each), NUTS with its warnings turned into
log lines, and the deterministic efficiency numbers of a NUTS run."""

from __future__ import annotations

import time
import warnings

import jax
import numpy as np

import bayesjax as bj
from experiments.common.claims import log, show_progress

LAPLACE = {"Laplace full (GLM)": dict(structure="full"),
           "Laplace diag (GLM)": dict(structure="diag"),
           "Laplace KFAC (GLM)": dict(structure="kfac"),
           "Laplace last layer (GLM)": dict(subset="last_layer")}
# one XLA program per Laplace structure (LaplaceResult is a pytree): faster than op by op
glm_predictive = jax.jit(lambda lap, x: lap.predictive(x, "glm"))


def timed(fn):
    """``(fn(), seconds)``, the result blocked until ready."""
    t0 = time.perf_counter()
    out = jax.block_until_ready(fn())
    return out, time.perf_counter() - t0


def nuts(key, post, *, num_warmup: int, num_samples: int, num_chains: int, **kw):
    """``bj.nuts`` (a bar only on a terminal: ``show_progress``); tree-depth and divergence
    warnings become log lines (the counts are in the diagnostics and the report)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        mc = bj.nuts(key, post, num_warmup=num_warmup, num_samples=num_samples,
                     num_chains=num_chains, progress_bar=show_progress(), **kw)
    for w in caught:
        log(f"  nuts warning: {str(w.message).removeprefix('nuts: ').split(':')[0]}")
    return mc


def mclmc(key, post, *, num_samples: int, num_chains: int):
    """``bj.mclmc`` (unadjusted); a divergence warning becomes a log line (the count is in the
    diagnostics and the report)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        mc = bj.mclmc(key, post, num_samples=num_samples, num_chains=num_chains,
                      progress_bar=show_progress())
    for w in caught:
        log(f"  mclmc warning: {str(w.message).removeprefix('mclmc: ').split(':')[0]}")
    return mc


def sampler_summary(mc) -> dict:
    """Deterministic efficiency numbers of a NUTS or MCLMC run (no wall-clock times); gradient
    evaluations after warmup / tuning."""
    d = mc.diagnostics
    grads = int(np.sum(mc.stats["num_grads"]))
    return {"min_ess_bulk": d.min_ess_bulk, "max_r_hat": d.max_r_hat,
            "num_divergent": d.num_divergent, "mean_tree_depth": d.mean_tree_depth,
            "max_tree_depth_fraction": d.max_tree_depth_fraction,
            "step_size": np.asarray(d.step_size), "grad_evals": grads,
            "ess_per_1000_grads": 1000.0 * d.min_ess_bulk / grads,
            "mean_accept_prob": d.mean_accept_prob}


def flat_draws(samples):
    """(chain, draw, …) parameter pytree → (chain · draw, P) in ``ravel_pytree`` order."""
    leaves = [np.asarray(v).reshape(v.shape[0] * v.shape[1], -1) for v in jax.tree.leaves(samples)]
    return np.concatenate(leaves, axis=1)
