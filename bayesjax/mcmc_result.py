"""What every sampler returns: ``MCMCResult`` (draws with leading ``(chain, draw)`` axes, ArviZ
diagnostics, the sampler's per-draw statistics), and the one way the samplers read ``init_params``."""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from bayesjax import predictive as _pred
from bayesjax._checks import finite_array, positive_int
from bayesjax.mcmc_diagnostics import MCMCDiagnostics, to_idata
from bayesjax.posterior import Posterior
from bayesjax.priors import param_paths

__all__ = ["MCMCResult", "initial_params"]


class MCMCResult(NamedTuple):
    """Result of ``bayesjax.nuts`` and ``bayesjax.mclmc``.

    Attributes:
      samples: parameter pytree, each leaf with leading ``(chain, draw)`` axes.
      diagnostics: ``MCMCDiagnostics``.
      stats: per-draw sampler statistics, ``(chain, draw)`` arrays: ``log_joint`` (nats),
        ``energy``, ``tree_depth``, ``num_steps`` (leapfrog / integrator steps), ``accept_prob``,
        ``diverging``, ``num_grads`` (gradient evaluations of the draw, either sampler); and
        per-chain ``(chain,)`` counts of what warmup or tuning cost (``bj.nuts``:
        ``warmup_num_steps``; ``bj.mclmc``: ``tuning_num_grads``, ``L``).
      post: the ``Posterior`` that was sampled.
    """

    samples: Any
    diagnostics: MCMCDiagnostics
    stats: dict
    post: Posterior

    def __repr__(self):
        d = self.diagnostics
        chains, draws = self.stats["log_joint"].shape
        return (f"MCMCResult(chains={chains}, draws={draws}, min_ess_bulk={d.min_ess_bulk:.0f}, "
                f"max_r_hat={d.max_r_hat:.3f}, num_divergent={d.num_divergent})")

    def to_arviz(self):
        """The draws as ArviZ 1.x works with them: an ``xarray.DataTree`` (``arviz_base.from_dict``) with
        a ``posterior`` group (one variable per parameter path, dims ``(chain, draw, ...)``) and a
        ``sample_stats`` group (``lp``, ``energy``, ``tree_depth``, ``n_steps``, ``acceptance_rate``,
        ``diverging``, ``step_size``), ready for ``arviz_stats`` (``summary``, ``ess``, ``rhat``) and, where
        it is installed, ``arviz_plots``."""
        return to_idata(self.post, self.samples, self.stats, self.diagnostics.step_size)

    def predictive(self, x, *, batch_size: int = 64):
        """Monte Carlo predictive at inputs ``x`` over all draws, as ``LaplaceResult.predictive``:
        ``Predictive(mean, aleatoric_var, epistemic_var)`` for a Gaussian likelihood
        (``epistemic_var = Var_θ[f(x; θ)]``, ``aleatoric_var = σ²``) or a ``HeteroscedasticGaussian``
        (``epistemic_var = Var_θ[μ(x; θ)]``, ``aleatoric_var = E_θ[exp(s(x; θ))]`` per input), else
        ``ClassPredictive(probs, epistemic_var)`` with ``probs = E_θ[link(f(x; θ))]``.
        ``batch_size`` draws are pushed through the network at a time."""
        x = finite_array("x", x)
        flat = jax.tree.map(lambda s: jnp.reshape(s, (-1,) + s.shape[2:]), self.samples)
        outs = _outputs(self.post, flat, x, positive_int("batch_size", batch_size,
                                                          owner="predictive"))
        return _pred.from_samples(self.post.likelihood, outs)


@functools.partial(jax.jit, static_argnames=("batch_size",))
def _outputs(post, samples, x, batch_size):
    return jax.lax.map(lambda p: post.predict(p, x), samples, batch_size=batch_size)


def initial_params(post, init_params, num_chains: int, *, owner: str):
    """Initial parameters with a leading chain axis, cast to ``post.params``' dtypes: ``init_params``
    has the structure of ``post.params``, shared by all chains or with one leading ``num_chains`` axis."""
    if jax.tree.structure(init_params) != jax.tree.structure(post.params):
        raise ValueError(f"{owner}: init_params must have the structure of post.params "
                         f"({jax.tree.structure(post.params)}), got "
                         f"{jax.tree.structure(init_params)}")
    paths = param_paths(post.params)
    ref, given = jax.tree.leaves(post.params), jax.tree.leaves(init_params)
    shared = all(np.shape(g) == np.shape(r) for g, r in zip(given, ref, strict=True))
    per_chain = all(np.shape(g) == (num_chains,) + np.shape(r)
                    for g, r in zip(given, ref, strict=True))
    if not (shared or per_chain):
        bad = next(p for p, g, r in zip(paths, given, ref, strict=True)
                   if np.shape(g) not in (np.shape(r), (num_chains,) + np.shape(r)))
        raise ValueError(f"{owner}: init_params[{bad!r}] must have the shape of post.params, or one "
                         f"leading axis of num_chains={num_chains} on every leaf (one start per "
                         f"chain); got shapes {[np.shape(g) for g in given]} for "
                         f"{[np.shape(r) for r in ref]}")
    leaves = []
    for p, g, r in zip(paths, given, ref, strict=True):
        g = jnp.asarray(finite_array(f"{owner}: init_params[{p!r}]", g), jnp.result_type(r))
        leaves.append(g if per_chain and not shared else
                      jnp.broadcast_to(g, (num_chains,) + g.shape))
    return jax.tree.unflatten(jax.tree.structure(post.params), leaves)


