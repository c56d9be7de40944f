"""Diagnostics of an MCMC run: ArviZ's rank-normalised ESS and split R̂ (``arviz_stats``), divergences
and tree depth, the ArviZ 1.x view of the draws (an ``xarray.DataTree`` built by ``arviz_base``), and the
warnings that say what to try."""

from __future__ import annotations

import warnings
from typing import NamedTuple

import jax
import numpy as np

from bayesjax.priors import param_paths

__all__ = ["MCMCDiagnostics", "summarize", "to_idata", "warn_if_unhealthy"]


class MCMCDiagnostics(NamedTuple):
    """Convergence and efficiency of a NUTS run (post-warmup draws only).

    Attributes:
      ess_bulk, ess_tail: ``{path: array of the leaf's shape}``, rank-normalised bulk and tail
        effective sample sizes (``arviz_stats.ess(method="bulk"/"tail")``; the tail at the 5% and 95%
        quantiles, as in Vehtari et al. 2021 and ArviZ 0.x, not ``arviz_stats.summary``'s 11%/89%), in draws.
      r_hat: ``{path: array}``, rank-normalised split R̂ (``arviz_stats.rhat``); < 1.01 is the usual bar
        (NaN for one chain: ArviZ needs two to compare).
      min_ess_bulk, min_ess_tail, max_r_hat: the worst value over all scalar parameters.
      num_divergent: divergent transitions over all chains.
      mean_tree_depth: mean NUTS tree depth (``2^depth − 1`` ≥ leapfrog steps).
      max_tree_depth_fraction: fraction of draws whose tree reached ``max_tree_depth``.
      max_tree_depth: the cap that was used.
      step_size: (num_chains,) the adapted (or fixed) leapfrog step ε per chain.
      inverse_mass_matrix: (num_chains, P) or (num_chains, P, P), the ``M⁻¹`` each chain used.
      mean_accept_prob: mean acceptance statistic (compare with ``target_accept_prob``).
      compile_time: seconds spent tracing and compiling (0.0 when a compiled sampler was reused).
      sampling_time: seconds spent running warmup and sampling.
      chain_method: ``"parallel"``, ``"vectorized"`` or ``"sequential"``, as run.
    """

    ess_bulk: dict
    ess_tail: dict
    r_hat: dict
    min_ess_bulk: float
    min_ess_tail: float
    max_r_hat: float
    num_divergent: int
    mean_tree_depth: float
    max_tree_depth_fraction: float
    max_tree_depth: int
    step_size: np.ndarray
    inverse_mass_matrix: np.ndarray
    mean_accept_prob: float
    compile_time: float
    sampling_time: float
    chain_method: str


# chain_method is a string, not an array: keep it as static data so that a result (and its
# diagnostics) can be passed to jit-ed code like every other bayesjax result
_ARRAY_FIELDS = tuple(f for f in MCMCDiagnostics._fields if f != "chain_method")
jax.tree_util.register_pytree_node(
    MCMCDiagnostics,
    lambda d: (tuple(getattr(d, f) for f in _ARRAY_FIELDS), d.chain_method),
    lambda chain_method, children: MCMCDiagnostics(**dict(zip(_ARRAY_FIELDS, children, strict=True)),
                                                   chain_method=chain_method),
)


def to_idata(post, samples, stats, step_size):
    """ArviZ 1.x's ``xarray.DataTree``: a ``posterior`` group (one variable per parameter path,
    ``(chain, draw, ...)``) and a ``sample_stats`` group in ArviZ's names (``lp``, ``diverging``,
    ``tree_depth``, …), as ``arviz_base.from_dict`` builds it."""
    import arviz_base

    s = {k: np.asarray(v) for k, v in stats.items()}
    step = np.broadcast_to(np.asarray(step_size)[:, None], s["energy"].shape)
    sample_stats = dict(lp=s["log_joint"], energy=s["energy"], tree_depth=s["tree_depth"],
                        n_steps=s["num_steps"], acceptance_rate=s["accept_prob"],
                        diverging=s["diverging"], step_size=step)
    return arviz_base.from_dict({"posterior": named_samples(post, samples),
                                 "sample_stats": sample_stats})


def named_samples(post, samples) -> dict:
    """``{path: (chain, draw, ...) numpy array}`` (a bare-array parameter is called ``params``)."""
    return {(p or "params"): np.asarray(leaf)
            for p, leaf in zip(param_paths(post.params), jax.tree.leaves(samples), strict=True)}


def summarize(post, samples, stats, **extra) -> MCMCDiagnostics:
    """``MCMCDiagnostics`` of the post-warmup draws; ``extra`` carries the sampler's own fields
    (``step_size``, ``max_tree_depth``, timings, …)."""
    import arviz_stats

    idata = to_idata(post, samples, stats, extra["step_size"])
    # a chain that never moves (all transitions divergent) has zero variance: NaN, not a warning
    with np.errstate(invalid="ignore", divide="ignore"):
        ess_b = arviz_stats.ess(idata, method="bulk")
        # Vehtari et al. (2021)'s tail ESS is at the 5% and 95% quantiles, as in ArviZ 0.x and Stan;
        # arviz_stats' default would take the quantiles of its ci_prob (0.89 → 11% and 89%)
        ess_t = arviz_stats.ess(idata, method="tail", prob=(0.05, 0.95))
        rhat = arviz_stats.rhat(idata)
    names = list(idata.posterior.data_vars)

    def per(ds):
        return {n: np.asarray(ds[n].values) for n in names}

    def worst(d, f):
        vals = np.concatenate([np.ravel(v) for v in d.values()])
        return float(f(vals)) if vals.size else float("nan")

    eb, et, rh = per(ess_b), per(ess_t), per(rhat)
    s = stats
    return MCMCDiagnostics(
        ess_bulk=eb, ess_tail=et, r_hat=rh, min_ess_bulk=worst(eb, np.min),
        min_ess_tail=worst(et, np.min), max_r_hat=worst(rh, np.max),
        num_divergent=int(np.sum(s["diverging"])),
        mean_tree_depth=float(np.mean(s["tree_depth"])),
        max_tree_depth_fraction=float(np.mean(s["tree_depth"] >= extra["max_tree_depth"])),
        mean_accept_prob=float(np.mean(s["accept_prob"])), **extra)


def warn_if_unhealthy(d: MCMCDiagnostics, total: int):
    """A ``RuntimeWarning`` that says what to try, for divergences and for tree-depth saturation."""
    if d.num_divergent:
        warnings.warn(
            f"nuts: {d.num_divergent} of {total} post-warmup transitions diverged (the leapfrog "
            "energy error exceeded 1000): the sampler cannot follow the posterior's curvature, so "
            "the draws may be biased. Try a larger num_warmup, a higher target_accept_prob "
            "(smaller steps), or reparametrise the model (e.g. non-centred scales)",
            RuntimeWarning, stacklevel=3)
    if d.max_tree_depth_fraction > 0:
        warnings.warn(
            f"nuts: {100 * d.max_tree_depth_fraction:.1f}% of the draws hit max_tree_depth="
            f"{d.max_tree_depth} ({2 ** d.max_tree_depth - 1} leapfrog steps) before making a "
            "U-turn: the step size is small compared with the posterior's widest direction, so "
            "the chains explore slowly. Try mass='dense' (an adapted mass matrix that matches the "
            "posterior's scales), a larger num_warmup or max_tree_depth; mass=bj.laplace(post, map) "
            "helps only for a nearly Gaussian posterior", RuntimeWarning, stacklevel=3)
