r"""NUTS: draw exact posterior samples of ``exp(log_joint)`` with NumPyro's No-U-Turn sampler.

The parameter pytree is flattened to θ ∈ R^P and NumPyro's NUTS (``numpyro.infer.hmc.hmc``,
functional API) simulates Hamiltonian dynamics on

.. math::

    H(\theta, r) = U(\theta) + \tfrac12 r^\top M^{-1} r, \qquad
    U(\theta) = -\Big[\frac{\log p(D\mid\theta)}{T} + \log p(\theta)\Big] = -\texttt{log\_joint}(\theta),

with leapfrog steps of size ε; each transition doubles a trajectory until it makes a U-turn or reaches
``2^max_tree_depth − 1`` steps, and draws the next state from it (multinomial NUTS, Hoffman & Gelman
2014; Betancourt 2017). The stationary law is exactly ``p(θ|D)``. During ``num_warmup`` steps ε is
adapted by dual averaging to ``target_accept_prob`` and, for ``mass="diag"``/``"dense"``, ``M⁻¹`` to
the posterior covariance estimated in Stan's windows (the default, ``mass="diag"``, is the one to use
for a network). Warmup states are discarded. ``mass="identity"`` or an array (a diagonal ``(P,)`` or
dense ``(P, P)`` ``M⁻¹``) fixes the mass; with a fixed ``step_size`` nothing is adapted, as a
multimodal target needs (a step tuned in one mode can be unstable in another).

``mass=bj.laplace(post, map_params)`` sets ``M⁻¹`` to the Laplace covariance ``P⁻¹`` (dense for
``structure="full"``, its diagonal for ``"diag"``), starts at the mode and adapts only ε. For a
Gaussian posterior (Bayesian linear regression) this whitens the target exactly; for a small BNN it
was measured to *hurt* (ESS/s about 50× below the diag adaptation; ``bnn_posteriors``, ``make
bench``): that posterior is a thin sheet curved through a prior-sized volume, as stiff across itself
along the draws as at the MAP but in other directions, so the metric that whitens the MAP's stiff
directions leaves the step ~100× below what it allows at the MAP while the chain must cross ~300
Laplace standard deviations (the experiment's report, ``geometry.py``). Use it only for
near-Gaussian posteriors.

Diagnostics come from ArviZ (Vehtari et al. 2021): rank-normalised split R̂ and bulk/tail effective
sample sizes per parameter; divergent transitions (energy error > 1000) and trees that hit
``max_tree_depth`` are counted and raise a ``RuntimeWarning``.

Compilation: warmup and sampling are two ``lax.scan`` in one XLA program per chain, compiled ahead
of time once per (shapes, ``num_warmup``, ``num_samples``, mass kind, chain method, …) and cached in
this module, so a second call with the same shapes does not recompile (``compile_time`` is then 0).

Chains on a CPU: ``chain_method="auto"`` with fewer devices than chains runs them as calls of the
one per-chain program from host threads, one per core (``"threaded"``, ``bayesjax.chains``; the
progress bars follow the first chain). On the
``bnn_posteriors`` regression posterior (2 chains × 1000 transitions of 1023 leapfrog steps) on 2
cores: 6.8 s one chain after the other, 3.5 s threaded, the same draws.
"""

from __future__ import annotations

import collections
import functools
import sys
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as Spec

from bayesjax import chains, progress
from bayesjax._checks import one_of, positive_int, positive_scalar
from bayesjax.laplace import LaplaceResult
from bayesjax.mcmc_diagnostics import MCMCDiagnostics, summarize, warn_if_unhealthy
from bayesjax.mcmc_result import MCMCResult, initial_params
from bayesjax.posterior import Posterior
from bayesjax.priors import param_paths

__all__ = ["MCMCDiagnostics", "MCMCResult", "nuts"]

MASSES = ("diag", "dense", "identity")
CHAIN_METHODS = ("auto", "parallel", "threaded", "vectorized", "sequential")
_CACHE_SIZE = 32
_COMPILED: collections.OrderedDict = collections.OrderedDict()   # LRU of compiled samplers


# ----------------------------------------------------------------------------------- the sampler
class _Static(NamedTuple):
    num_warmup: int
    num_samples: int
    dense: bool
    adapt_mass: bool
    adapt_step: bool
    max_tree_depth: int
    target_accept_prob: float
    progress: bool = False


def _chain(static: _Static, key, post, params0, inv_mass, step_size, lead):
    """One chain: NumPyro's init_kernel, ``num_warmup`` adapting steps, ``num_samples`` draws.
    ``lead`` (a boolean scalar): whether this chain drives the progress bars."""
    from numpyro.infer.hmc import hmc

    theta0, unravel = ravel_pytree(params0)
    init_kernel, sample_kernel = hmc(potential_fn=lambda t: -post.log_joint(unravel(t)),
                                     algo="NUTS")
    state = init_kernel(theta0, static.num_warmup, step_size=step_size,
                        inverse_mass_matrix=inv_mass, adapt_step_size=static.adapt_step,
                        adapt_mass_matrix=static.adapt_mass, dense_mass=static.dense,
                        target_accept_prob=static.target_accept_prob,
                        max_tree_depth=static.max_tree_depth, rng_key=key)

    def adapt(carry, _):
        s, grads = carry
        s = sample_kernel(s)
        return (s, grads + s.num_steps.astype(jnp.int32)), None

    (state, warmup_grads), _ = progress.scan(adapt, (state, jnp.zeros((), jnp.int32)), None,
                                             length=static.num_warmup, label="nuts warmup",
                                             enabled=static.progress, lead=lead)

    def draw(s, _):
        s = sample_kernel(s)
        return s, (s.z, dict(log_joint=-s.potential_energy, energy=s.energy,
                             num_steps=s.num_steps, accept_prob=s.accept_prob,
                             diverging=s.diverging))

    state, (z, stats) = progress.scan(draw, state, length=static.num_samples, label="nuts draws",
                                      enabled=static.progress, lead=lead)
    return (jax.vmap(unravel)(z), stats, state.adapt_state.step_size,
            state.adapt_state.inverse_mass_matrix, warmup_grads)


def _program(method: str, static: _Static, num_chains: int):
    one = functools.partial(_chain, static)
    if method in ("sequential", "threaded"):
        return jax.jit(one)
    batched = jax.vmap(one, in_axes=(0, None, 0, None, None, None))
    if method == "vectorized":
        return jax.jit(batched)
    mesh = jax.sharding.Mesh(np.asarray(jax.devices()[:num_chains]), ("chain",))
    # NumPyro's tree building mixes per-chain and constant values in lax.cond branches, which
    # the varying-manual-axes type check rejects; each device runs independent chains anyway
    return jax.jit(jax.shard_map(batched, mesh=mesh,
                                 in_specs=(Spec("chain"), Spec(), Spec("chain"), Spec(), Spec(),
                                           Spec()),
                                 out_specs=Spec("chain"), check_vma=False))


def _compiled(method, static, num_chains, args, say):
    """The compiled sampler for these argument types, and the seconds spent compiling it."""
    leaves, treedef = jax.tree.flatten(args, is_leaf=lambda v: v is None)
    avals = tuple(None if v is None else jax.typeof(v) for v in leaves)
    devices = tuple(d.id for d in jax.devices()[:num_chains]) if method == "parallel" else None
    # sequential and threaded chains share one per-chain program, whatever the number of chains
    one = method in ("sequential", "threaded")
    key = ("per-chain" if one else method, static, None if one else num_chains, devices, treedef,
           avals)
    if key in _COMPILED:
        _COMPILED.move_to_end(key)
        return _COMPILED[key], 0.0
    say(f"compiling the sampler ({method}) ...")
    t0 = time.perf_counter()
    with jax.numpy_dtype_promotion("standard"):   # NumPyro's tree building mixes int and float
        exe = _program(method, static, num_chains).lower(*args).compile()
    seconds = time.perf_counter() - t0
    _COMPILED[key] = exe
    while len(_COMPILED) > _CACHE_SIZE:
        _COMPILED.popitem(last=False)
    return exe, seconds


def _run(method, static, keys, post, init, inv_mass, step_size, say):
    """Run all chains; returns (samples, stats, step sizes, inverse mass matrices) with a leading
    chain axis, the compile time and the sampling time."""
    num_chains = keys.shape[0]
    if method in ("sequential", "threaded"):
        # one program for every chain; threaded chains run at once, so only the first one drives
        # the progress bars (sequential ones each have their own)
        per_chain = [(keys[c], post, jax.tree.map(lambda v, c=c: v[c], init), inv_mass, step_size,
                      jnp.asarray(method == "sequential" or c == 0))
                     for c in range(num_chains)]
        args = per_chain[0]
    else:
        args = (keys, post, init, inv_mass, step_size, jnp.asarray(True))
    if method == "parallel":
        mesh = jax.sharding.Mesh(np.asarray(jax.devices()[:num_chains]), ("chain",))
        chain, rep = NamedSharding(mesh, Spec("chain")), NamedSharding(mesh, Spec())
        args = (jax.device_put(keys, chain), jax.device_put(post, rep),
                jax.device_put(init, chain), jax.device_put(inv_mass, rep),
                jax.device_put(step_size, rep), jax.device_put(args[-1], rep))
    exe, compile_time = _compiled(method, static, num_chains, args, say)
    if compile_time:
        say(f"compiled in {compile_time:.1f} s")
    phase = f"{static.num_warmup} warmup + {static.num_samples} draws"
    t0 = time.perf_counter()
    if method == "sequential":
        outs = []
        for c, chain_args in enumerate(per_chain):
            say(f"chain {c + 1}/{num_chains}: {phase} ...")
            outs.append(jax.block_until_ready(exe(*chain_args)))
        sampling_time = time.perf_counter() - t0
        out = jax.tree.map(lambda *v: jnp.stack(v), *outs)
    elif method == "threaded":
        say(f"{num_chains} chains ({min(num_chains, chains.cpu_cores())} at a time, on host "
            f"threads): {phase} each ...")
        out = chains.on_threads(exe, per_chain)
        sampling_time = time.perf_counter() - t0
    else:
        say(f"{num_chains} chain(s) ({method}): {phase} each ...")
        out = jax.block_until_ready(exe(*args))
        sampling_time = time.perf_counter() - t0
        if method == "parallel":
            out = jax.device_put(out, jax.devices()[0])
    say(f"done in {sampling_time:.1f} s")
    return out, compile_time, sampling_time


# ---------------------------------------------------------------------------------- validation
def _check_counts(num_warmup, num_samples, num_chains):
    if isinstance(num_warmup, bool) or not isinstance(num_warmup, int | np.integer) or num_warmup < 0:
        raise ValueError(f"nuts: num_warmup must be an integer >= 0, got {num_warmup!r}")
    positive_int("num_samples", num_samples, owner="nuts")
    positive_int("num_chains", num_chains, owner="nuts")


def _chain_method(chain_method, num_chains) -> str:
    one_of("chain_method", chain_method, CHAIN_METHODS, owner="nuts")
    ndev = len(jax.devices())
    if chain_method == "parallel" and ndev < num_chains:
        raise ValueError(f"nuts: chain_method='parallel' needs one device per chain, but there are "
                         f"{ndev} device(s) for num_chains={num_chains}; use 'vectorized' or "
                         "'sequential' (on a CPU: XLA_FLAGS=--xla_force_host_platform_device_count="
                         f"{num_chains} before JAX starts)")
    if chain_method == "auto":
        if 1 < num_chains <= ndev:
            return "parallel"
        if jax.default_backend() != "cpu":
            return "vectorized"             # accelerators batch the chains for free
        # on a CPU, vmap gives no parallelism and keeps the chains in lockstep (every iteration
        # costs the longest tree of the batch); calls of one program from host threads run on
        # separate cores (bayesjax.chains)
        return "threaded" if chains.threaded_by_default(num_chains) else "sequential"
    return chain_method


def _check_laplace(post, lap: LaplaceResult):
    paths = tuple(param_paths(post.params))
    shapes = tuple(np.shape(v) for v in jax.tree.leaves(post.params))
    lap_shapes = tuple(np.shape(v) for v in jax.tree.leaves(lap.mean))
    if tuple(lap.subset_paths) != paths or lap_shapes != shapes:
        raise ValueError(f"nuts: mass=LaplaceResult must cover every parameter of post "
                         f"(laplace(..., subset='all') on a posterior with the same parameters); it "
                         f"covers {list(lap.subset_paths)} with shapes {lap_shapes}, post has "
                         f"{list(paths)} with shapes {shapes}")
    if lap.structure == "kfac":
        raise ValueError("nuts: mass=LaplaceResult with structure='kfac' is not supported (KFAC "
                         "keeps only Kronecker factors, not a covariance); use "
                         "laplace(..., structure='full') for small P or structure='diag'")


def _laplace_mass(lap: LaplaceResult, dtype):
    """Inverse mass matrix from a Laplace approximation: its covariance ``P⁻¹``."""
    prec = jnp.asarray(lap.posterior_precision(), dtype)
    if lap.structure == "diag":
        return 1.0 / prec, False
    chol = jnp.linalg.cholesky(prec)
    cov = jax.scipy.linalg.cho_solve((chol, True), jnp.eye(prec.shape[0], dtype=dtype))
    cov = 0.5 * (cov + cov.T)
    if not bool(jnp.all(jnp.isfinite(cov))):
        raise ValueError("nuts: the Laplace covariance is not finite (posterior precision too "
                         "ill-conditioned in this dtype); use float64 or mass='dense'")
    return cov, True


def _inverse_mass(post, mass, dtype):
    """``(M⁻¹ or None, dense, adapted)`` for the (type-checked) ``mass`` argument."""
    if isinstance(mass, LaplaceResult):
        _check_laplace(post, mass)
        return (*_laplace_mass(mass, dtype), False)
    size = sum(int(np.size(v)) for v in jax.tree.leaves(post.params))
    if isinstance(mass, str):
        return (jnp.ones(size, dtype), False, False) if mass == "identity" else (
            None, mass == "dense", True)
    m = np.asarray(mass, np.float64)
    if m.shape not in ((size,), (size, size)) or not np.all(np.isfinite(m)):
        raise ValueError(f"nuts: an inverse mass array must be finite, of shape ({size},) or "
                         f"({size}, {size}) for the {size} parameters; got {m.shape}, finite: "
                         f"{bool(np.all(np.isfinite(m)))}")
    low = float(m.min() if m.ndim == 1 else np.linalg.eigvalsh(m).min())
    if not (low > 0 and (m.ndim == 1 or np.allclose(m, m.T, rtol=1e-6, atol=0.0))):
        raise ValueError(f"nuts: the inverse mass must be positive (diagonal) or symmetric positive "
                         f"definite (dense); smallest entry/eigenvalue {low:.3g}")
    return jnp.asarray(m, dtype), m.ndim == 2, False


# ---------------------------------------------------------------------------------- entry point
def nuts(key, post: Posterior, *, num_warmup: int = 500, num_samples: int = 500,
         num_chains: int = 2, init_params=None, mass="diag", chain_method: str = "auto",
         progress_bar: bool = True, step_size: float | None = None, max_tree_depth: int = 10,
         target_accept_prob: float = 0.7) -> MCMCResult:
    """Sample ``p(θ|D) ∝ exp(post.log_joint(θ))`` with NumPyro's NUTS.

    Args:
      key: a ``jax.random`` key; chain c uses ``jax.random.split(key, num_chains)[c]``.
      post: the ``Posterior``; the potential energy is ``U(θ) = −post.log_joint(θ)``.
      num_warmup: adaptation steps per chain, discarded (>= 0).
      num_samples: draws kept per chain (>= 1).
      num_chains: independent chains (>= 1); R̂ compares them.
      init_params: start of every chain, e.g. a MAP (default ``post.params``, or ``lap.mean``
        for ``mass=LaplaceResult``); or the same pytree with a leading ``num_chains`` axis on
        every leaf for one start per chain (dispersed starts make R̂ more telling).
      mass: ``"diag"`` (default) or ``"dense"``: ``M⁻¹`` adapted during warmup, from the identity.
        Fixed, not adapted: ``"identity"`` (unit mass); an array, the inverse mass ``M⁻¹`` itself,
        ``(P,)`` positive (diagonal) or ``(P, P)`` symmetric positive definite, P = number of
        parameters in ``ravel_pytree`` order; or a ``LaplaceResult`` over all parameters, whose
        covariance ``P⁻¹`` is ``M⁻¹`` (``structure="full"``: dense; ``"diag"``: diagonal) — only
        for near-Gaussian posteriors (see the module docstring: ~50× worse on a BNN).
      chain_method: ``"parallel"`` (one device per chain, ``shard_map``), ``"threaded"`` (the
        one compiled single-chain program, called for each chain from host threads, one per CPU
        core: on a CPU the chains run on separate cores with the same numbers as
        ``"sequential"``),
        ``"vectorized"`` (``vmap`` on one device), ``"sequential"`` (one chain after the other,
        one compile), or ``"auto"``: parallel when ``1 < num_chains <= len(jax.devices())``, else
        on a CPU threaded (sequential with one chain or one core), on an accelerator vectorized.
      progress_bar: a tqdm bar per phase (warmup, draws; per chain when sequential, of the first
        chain when threaded) and a line
        for the compile, on stderr, unless the ``CI`` environment variable is set
        (``bayesjax.progress``: ~100 host callbacks per phase, none in the program when off).
      step_size: ``None`` (adapted by dual averaging from 1.0) or a fixed leapfrog step ε.
      max_tree_depth: NUTS doubles a trajectory at most this many times.
      target_accept_prob: dual-averaging target in (0, 1); higher means smaller steps. The default
        0.7 lies between HMC's asymptotically optimal acceptance rate 0.651 (Beskos et al. 2013)
        and Stan's and NumPyro's 0.8, which buys fewer divergences with smaller steps. Measured
        (500 + 500 draws × 2 chains, bulk ESS per gradient evaluation, warmup included; 0.7 / 0.8):
        ``bnn_posteriors`` regression posterior, depth-10 trees, seeds 0–4: 1.0–2.1× (mean 1.7×),
        no divergences; two-moons ReLU classifier, seeds 0–2: 0.9–1.6×, 1–6 divergences per 1000
        draws where 0.8 has none (0.65: as fast on the regression, 13–35 divergences on the
        moons). Raise
        it (0.8–0.95) when the sampler reports divergences.

    Returns:
      ``MCMCResult(samples, diagnostics, stats, post)`` with ``to_arviz()`` and
      ``predictive(x)``; ``stats["warmup_num_steps"]`` (per chain) counts the leapfrog steps
      (gradient evaluations) warmup spent. Divergences and tree-depth saturation raise a ``RuntimeWarning``.

    Example::

        fit = bj.fit_map(key, post)
        mc = bj.nuts(key, post, init_params=fit.params)    # diag M⁻¹ and ε adapted
        mc.samples["w"].shape            # (2, 500, D)
        mc.diagnostics.max_r_hat         # < 1.01 when the chains agree
        mc.predictive(x_test).epistemic_var
    """
    if not isinstance(post, Posterior):
        raise TypeError(f"nuts: post must be a bayesjax.Posterior, got {type(post).__name__}")
    _check_counts(num_warmup, num_samples, num_chains)
    method = _chain_method(chain_method, num_chains)
    if not (isinstance(mass, LaplaceResult | np.ndarray | jax.Array | list | tuple)
            or (isinstance(mass, str) and mass in MASSES)):
        raise ValueError(f"nuts: mass must be 'diag', 'dense', 'identity', an inverse mass array "
                         f"or a bayesjax LaplaceResult (bj.laplace(post, params)), got {mass!r}")
    max_tree_depth = positive_int("max_tree_depth", max_tree_depth, owner="nuts")
    if step_size is not None:
        step_size = float(positive_scalar("step_size", step_size, owner="nuts"))
    tap = float(positive_scalar("target_accept_prob", target_accept_prob, owner="nuts"))
    if not tap < 1.0:
        raise ValueError(f"nuts: target_accept_prob must be in (0, 1), got {tap}")
    dtype = jnp.result_type(*jax.tree.leaves(post.params))
    inv_mass, dense, adapt_mass = _inverse_mass(post, mass, dtype)
    if init_params is None:
        init_params = mass.mean if isinstance(mass, LaplaceResult) else post.params
    init = initial_params(post, init_params, num_chains, owner="nuts")

    verbose = progress.active(progress_bar, owner="nuts")
    static = _Static(int(num_warmup), int(num_samples), dense, adapt_mass, step_size is None,
                     max_tree_depth, tap, verbose)
    say = (lambda msg: print(f"nuts: {msg}", file=sys.stderr, flush=True)) if verbose else (
        lambda msg: None)
    keys = jax.random.split(key, num_chains)
    ss = jnp.asarray(1.0 if step_size is None else step_size, dtype)
    (samples, stats, steps, inv_masses, warmup_grads), compile_time, sampling_time = _run(
        method, static, keys, post, init, inv_mass, ss, say)

    stats = {k: np.asarray(v) for k, v in stats.items()}
    # a tree of depth d has between 2^(d-1) and 2^d - 1 leapfrog steps
    stats["tree_depth"] = np.frexp(stats["num_steps"].astype(np.float64))[1]
    stats["warmup_num_steps"] = np.asarray(warmup_grads)
    stats["num_grads"] = stats["num_steps"].astype(np.int64)   # one gradient per leapfrog step
    diag = summarize(post, samples, stats, max_tree_depth=max_tree_depth,
                     step_size=np.asarray(steps), inverse_mass_matrix=np.asarray(inv_masses),
                     compile_time=compile_time, sampling_time=sampling_time, chain_method=method)
    warn_if_unhealthy(diag, num_chains * num_samples)
    return MCMCResult(samples, diag, stats, post)
