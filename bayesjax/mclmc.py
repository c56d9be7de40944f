r"""MCLMC: sample ``exp(log_joint)`` with BlackJAX's microcanonical Langevin Monte Carlo.

The parameter pytree is flattened to θ ∈ R^P (P ≥ 2) and BlackJAX integrates the isokinetic
(energy-sampling) dynamics of Robnik et al. (2023, "Microcanonical Hamiltonian Monte Carlo"),

.. math::

    \dot\theta = u, \qquad \dot u = (I - u u^\top)\,\nabla\log p(\theta\mid D)/(P-1), \qquad |u| = 1,

with the McLachlan two-stage integrator (two gradients per step) and a partial momentum refresh of
decoherence length ``L`` (Robnik & Seljak 2024). Unadjusted (the default), the chain is biased by
the discretisation; BlackJAX's tuner (``blackjax.mclmc_find_L_and_step_size``) chooses the step ε so
that the energy error per dimension has variance 5·10⁻⁴, estimates a diagonal preconditioner, and sets
``L`` from the autocorrelation of the chain. ``adjusted=True`` runs the Metropolis-adjusted variant
(MAMS, Robnik et al. 2025: ``blackjax.adjusted_mclmc_dynamic`` with a random trajectory length of mean
``L/ε`` integrator steps, tuned by ``blackjax.adjusted_mclmc_find_L_and_step_size`` to
``target_accept_prob``), whose stationary law is exactly ``p(θ|D)``.

Tuning is BlackJAX's: it takes ``0.1 + 0.1 (+0.033 for the preconditioner) + 0.1`` of
``num_samples`` steps (unadjusted) or ``0.2`` (adjusted) and is discarded. Tuning and sampling are one
``jax.jit`` program, the draws a ``lax.scan``, the chains a ``vmap`` (or, on a CPU, one chain per
host thread: ``chain_method``), compiled ahead of time once per
(shapes, ``num_samples``, variant) and cached here: a second call with the same shapes does not
recompile. The result is the ``MCMCResult`` that ``bayesjax.nuts`` returns, with the same
ArviZ diagnostics; the gradient evaluations it cost are in ``stats`` (ESS per gradient).
"""

from __future__ import annotations

import collections
import functools
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from bayesjax import chains, progress
from bayesjax._checks import one_of, positive_int, positive_scalar
from bayesjax.mcmc_diagnostics import summarize
from bayesjax.mcmc_result import MCMCResult, initial_params
from bayesjax.posterior import Posterior

__all__ = ["GRADS_PER_STEP", "mclmc"]

GRADS_PER_STEP = 2   # isokinetic McLachlan: two position updates, the last gradient reused
CHAIN_METHODS = ("auto", "threaded", "vectorized")
_CACHE_SIZE = 32
_COMPILED: collections.OrderedDict = collections.OrderedDict()   # LRU of compiled samplers


def _tune_and_sample(key, post, theta0, lead, *, num_samples, adjusted, diag_precond, target,
                     bar):
    """One chain: BlackJAX's tuner from ``theta0``, then ``num_samples`` draws by ``lax.scan``;
    ``lead``: whether this chain drives the progress bar."""
    import blackjax
    from blackjax.mcmc import adjusted_mclmc_dynamic as amd

    _, unravel = ravel_pytree(post.params)

    def logdensity(t):
        return post.log_joint(unravel(t))

    init_key, tune_key, run_key = jax.random.split(key, 3)
    if adjusted:
        steps_fn = amd.make_random_trajectory_length_fn(True)
        state = amd.init(theta0, logdensity, init_key)
        state, params, tune_steps = blackjax.adjusted_mclmc_find_L_and_step_size(
            mclmc_kernel=amd.build_kernel(integration_steps_fn=steps_fn), logdensity_fn=logdensity,
            num_steps=num_samples, state=state, rng_key=tune_key, target=target,
            diagonal_preconditioning=diag_precond)
        alg = blackjax.adjusted_mclmc_dynamic(
            logdensity, params.step_size, inverse_mass_matrix=params.inverse_mass_matrix,
            integration_steps_fn=steps_fn, integration_steps_params=(params.L / params.step_size,))
    else:
        state = blackjax.mcmc.mclmc.init(theta0, logdensity, init_key)
        state, params, tune_steps = blackjax.mclmc_find_L_and_step_size(
            mclmc_kernel=blackjax.mcmc.mclmc.build_kernel(), num_steps=num_samples, state=state,
            rng_key=tune_key, logdensity_fn=logdensity, diagonal_preconditioning=diag_precond)
        alg = blackjax.mclmc(logdensity, L=params.L, step_size=params.step_size,
                             inverse_mass_matrix=params.inverse_mass_matrix)

    def draw(s, k):
        s, info = alg.step(k, s)
        if adjusted:
            st = dict(num_steps=info.num_integration_steps, accept_prob=info.acceptance_rate,
                      diverging=info.is_divergent, energy_change=info.energy)
        else:
            st = dict(num_steps=jnp.ones((), jnp.int32), accept_prob=jnp.ones_like(s.logdensity),
                      diverging=jnp.logical_not(info.nonans), energy_change=info.energy_change)
        return s, (s.position, dict(st, log_joint=s.logdensity))

    _, (z, stats) = progress.scan(draw, state, jax.random.split(run_key, num_samples),
                                  label="mclmc draws", enabled=bar, lead=lead)
    tuned = dict(L=params.L, step_size=params.step_size,
                 inverse_mass_matrix=params.inverse_mass_matrix,
                 tuning_num_grads=GRADS_PER_STEP * jnp.asarray(tune_steps, jnp.int32) + 1)
    return jax.vmap(unravel)(z), stats, tuned


@functools.partial(jax.jit, static_argnames=("num_samples", "adjusted", "diag_precond", "target",
                                             "bar", "vectorized"))
def _program(keys, post, theta0, lead, *, num_samples, adjusted, diag_precond, target, bar,
             vectorized):
    """All chains as a ``vmap`` (``vectorized``), or one chain (``keys``/``theta0`` unbatched)."""
    one = functools.partial(_tune_and_sample, num_samples=num_samples,
                            adjusted=adjusted, diag_precond=diag_precond, target=target, bar=bar)
    if not vectorized:
        return one(keys, post, theta0, lead)
    return jax.vmap(one, in_axes=(0, None, 0, None))(keys, post, theta0, lead)


def _compiled(args, static: dict):
    """The compiled program for these argument types, and the seconds spent compiling it."""
    leaves, treedef = jax.tree.flatten(args)
    key = (tuple(sorted(static.items())), treedef, tuple(jax.typeof(v) for v in leaves))
    if key in _COMPILED:
        _COMPILED.move_to_end(key)
        return _COMPILED[key], 0.0
    t0 = time.perf_counter()
    _COMPILED[key] = _program.lower(*args, **static).compile()
    while len(_COMPILED) > _CACHE_SIZE:
        _COMPILED.popitem(last=False)
    return _COMPILED[key], time.perf_counter() - t0


def _one_start_per_chain(post, init_params, num_chains) -> bool:
    """Whether ``init_params`` is ``post.params``' structure with a leading ``num_chains`` axis."""
    if init_params is None or jax.tree.structure(init_params) != jax.tree.structure(post.params):
        return False
    return all(np.shape(g) == (num_chains,) + np.shape(r)
               for g, r in zip(jax.tree.leaves(init_params), jax.tree.leaves(post.params), strict=True))


def mclmc(key, post: Posterior, *, num_samples: int = 1000, num_chains: int = 2, init_params=None,
          adjusted: bool = False, diagonal_preconditioning: bool = True,
          target_accept_prob: float = 0.9, chain_method: str = "auto",
          progress_bar: bool = True) -> MCMCResult:
    """Sample ``p(θ|D) ∝ exp(post.log_joint(θ))`` with BlackJAX's MCLMC, tuned by BlackJAX.

    Args:
      key: a ``jax.random`` key; chain c uses ``jax.random.split(key, num_chains)[c]``.
      post: the ``Posterior``, with at least two scalar parameters (the isokinetic dynamics needs
        P ≥ 2); the log-density is ``post.log_joint`` of the flattened θ.
      num_samples: draws kept per chain (>= 10: BlackJAX tunes on fractions of it).
      num_chains: independent chains (>= 1); R̂ compares them.
      init_params: start of every chain (default ``post.params``), or the same pytree with a
        leading ``num_chains`` axis on every leaf for one start per chain.
      adjusted: ``False``: unadjusted MCLMC (asymptotically biased by ε, usually far below Monte
        Carlo error); ``True``: Metropolis-adjusted MCLMC (exact).
      diagonal_preconditioning: let the tuner estimate a diagonal ``M⁻¹`` (BlackJAX's default).
      target_accept_prob: acceptance rate in (0, 1) the adjusted tuner aims at (ignored when
        ``adjusted=False``); 0.9 as recommended for MAMS.
      chain_method: ``"vectorized"`` (the chains a ``vmap`` in one program), ``"threaded"`` (one
        single-chain program called from host threads, one per CPU core: the chains run on
        separate cores; ``bayesjax.chains``), or ``"auto"``: threaded on a CPU with more than one
        chain and core, else vectorized. The two sample the same chains in law, but not the same
        draws: a ``vmap``'s batched products round differently, and the chaotic dynamics carries
        that apart over the run (on ``bnn_posteriors``, 50,000 draws: threaded 2.5× faster).
      progress_bar: a tqdm bar over the draws on stderr (one for all chains, of the first chain
        when threaded; BlackJAX's tuning has none), unless the ``CI`` environment variable is set
        (``bayesjax.progress``).

    Returns:
      ``MCMCResult(samples, diagnostics, stats, post)`` as from ``bj.nuts``. ``stats`` holds
      ``(chain, draw)`` arrays ``log_joint``, ``num_steps`` (integrator steps of the draw: 1
      unadjusted), ``num_grads`` (``GRADS_PER_STEP · num_steps``), ``accept_prob`` (1 unadjusted),
      ``diverging`` (unadjusted: a NaN step that BlackJAX undid; adjusted: energy error > 1000),
      ``energy_change`` and ``energy`` (NaN: MCLMC has no Hamiltonian to report), ``tree_depth``
      (NaN: no tree); and ``(chain,)`` arrays ``L`` (tuned decoherence length) and
      ``tuning_num_grads`` (gradients spent tuning, the initial one included). In ``diagnostics``,
      ``step_size`` and ``inverse_mass_matrix`` are the tuned ε and diagonal ``M⁻¹`` per chain,
      ``max_tree_depth`` is 0, ``mean_tree_depth`` NaN, ``max_tree_depth_fraction`` 0,
      ``sampling_time`` covers tuning and sampling, ``compile_time`` is 0.0 when a compiled
      program was reused, and ``chain_method`` is the one used.

    Example::

        mc = bj.mclmc(key, post, num_samples=1000)
        mc.diagnostics.min_ess_bulk / mc.stats["num_grads"].sum()     # ESS per gradient
    """
    if not isinstance(post, Posterior):
        raise TypeError(f"mclmc: post must be a bayesjax.Posterior, got {type(post).__name__}")
    num_samples = positive_int("num_samples", num_samples, owner="mclmc")
    num_chains = positive_int("num_chains", num_chains, owner="mclmc")
    if num_samples < 10:
        raise ValueError(f"mclmc: num_samples must be >= 10 (BlackJAX tunes on 10% of the draws), "
                         f"got {num_samples}")
    for name, flag in (("adjusted", adjusted), ("diagonal_preconditioning", diagonal_preconditioning)):
        if not isinstance(flag, bool | np.bool_):
            raise TypeError(f"mclmc: {name} must be a bool, got {flag!r}")
    one_of("chain_method", chain_method, CHAIN_METHODS, owner="mclmc")
    tap = float(positive_scalar("target_accept_prob", target_accept_prob, owner="mclmc"))
    if not tap < 1.0:
        raise ValueError(f"mclmc: target_accept_prob must be in (0, 1), got {tap}")
    size = sum(int(np.size(v)) for v in jax.tree.leaves(post.params))
    if size < 2:
        raise ValueError(f"mclmc: the isokinetic dynamics needs at least 2 parameters, post has "
                         f"{size}; use bj.nuts for a scalar posterior")
    if not _one_start_per_chain(post, init_params, num_chains):
        post.check_params(init_params, owner="mclmc")
    init = initial_params(post, post.params if init_params is None else init_params, num_chains,
                          owner="mclmc")

    theta0 = jax.vmap(lambda p: ravel_pytree(p)[0])(init)
    keys = jax.random.split(key, num_chains)
    bar = progress.active(progress_bar, owner="mclmc")
    if chain_method == "auto":
        chain_method = "threaded" if chains.threaded_by_default(num_chains) else "vectorized"
    threaded = chain_method == "threaded"
    static = dict(num_samples=num_samples, adjusted=bool(adjusted), bar=bar,
                  diag_precond=bool(diagonal_preconditioning), target=tap, vectorized=not threaded)
    with jax.numpy_dtype_promotion("standard"):   # BlackJAX mixes weak and int types in its tuner
        if threaded:
            per_chain = [(keys[c], post, theta0[c], jnp.asarray(c == 0)) for c in range(num_chains)]
            exe, compile_time = _compiled(per_chain[0], static)
            t0 = time.perf_counter()
            samples, stats, tuned = chains.on_threads(exe, per_chain)
        else:
            args = (keys, post, theta0, jnp.asarray(True))
            exe, compile_time = _compiled(args, static)
            t0 = time.perf_counter()
            samples, stats, tuned = jax.block_until_ready(exe(*args))
        sampling_time = time.perf_counter() - t0

    stats = {k: np.asarray(v) for k, v in stats.items()}
    stats["num_grads"] = GRADS_PER_STEP * stats["num_steps"].astype(np.int64)
    stats["energy"] = np.full(stats["log_joint"].shape, np.nan)
    stats["tree_depth"] = np.full(stats["log_joint"].shape, np.nan)
    stats["L"] = np.asarray(tuned["L"])
    stats["tuning_num_grads"] = np.asarray(tuned["tuning_num_grads"])
    imm = np.broadcast_to(np.asarray(tuned["inverse_mass_matrix"]), (num_chains, size))
    diag = summarize(post, samples, stats, max_tree_depth=0,
                     step_size=np.asarray(tuned["step_size"]), inverse_mass_matrix=imm,
                     compile_time=compile_time, sampling_time=sampling_time,
                     chain_method=chain_method)
    if diag.num_divergent:
        kind = ("energy error > 1000" if adjusted else
                "a NaN step, undone by BlackJAX")
        warnings.warn(f"mclmc: {diag.num_divergent} of {num_chains * num_samples} draws diverged "
                      f"({kind}): the tuned step is too large for the posterior's curvature somewhere. "
                      "Try a larger num_samples (a longer tuning), adjusted=True, or reparametrise",
                      RuntimeWarning, stacklevel=2)
    return MCMCResult(samples, diag, stats, post)

