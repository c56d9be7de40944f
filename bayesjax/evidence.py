r"""The Laplace evidence as a function of the prior: its one formula, on a grid and maximised (type-II
maximum likelihood, "empirical Bayes"), post hoc at a fixed mode.

With the tempered log-likelihood ``ℓ = log p(D|θ*, σ)/T``, the prior precision ``p₀`` (a scalar c or one
number per parameter), ``d = θ* − m₀`` and ``P = s·H + diag(p₀)`` the posterior precision (``s = σ_fit²/σ²``
rescales the curvature ``H`` to a new noise σ),

.. math::

    \log p(D \mid p_0, \sigma) \approx \ell - \tfrac12 \textstyle\sum_i p_{0,i} d_i^2
        - \tfrac12 \big(\log\det P - \sum_i \log p_{0,i}\big)

(``laplace_evidence``, in nats; ``LaplaceResult.log_marginal_likelihood``, ``log_basin_mass``, the grid
and the optimiser all call it). For a scalar c the log-det is ``Σᵢ log(s λᵢ + c)`` over the curvature's
eigenvalues ``λᵢ`` (``bayesjax.laplace``: once per approximation, for every structure): O(P) per value.

``optimize_prior_precision`` climbs it with ``optax.adam`` on ``log p₀`` and ``log σ``, as laplace-torch
does, for a ``prior_structure``:

- ``"scalar"``: one c for every parameter (O(P) per step, from the eigenvalues).
- ``"layerwise"``: one precision per parameter tensor (per path of ``lap.view.paths``); for ``kfac``
  one per Kronecker block, whose eigenvalues are then ``s·αᵢγⱼ + c_block`` (exact): with the default
  ``kfac_bias="joint"`` a block spans a layer's kernel *and* bias, which share one precision (one per
  tensor is ``kfac_bias="separate"``, laplace-torch's ``Kron``, whose "layers" are the tensors).
- ``"diagonal"``: one precision per parameter. ``diag``: exact, O(P); ``full``: one Cholesky of the P × P
  precision per step (or the low-rank QR log-det of ``bayesjax.full_curvature``), for small P;
  ``kfac`` is refused, as laplace-torch's ``KronLaplace`` refuses it ("either scalar or per-layer"):
  ``A ⊗ G + diag(p₀)`` has no Kronecker eigenbasis.

Layerwise and diagonal start from the scalar optimum, and the best iterate is returned, so their evidence
is never below the scalar one.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from bayesjax import full_curvature as _full
from bayesjax import kfac as _kf
from bayesjax import likelihoods as _lik
from bayesjax._checks import one_of, positive_int, positive_scalar

__all__ = ["PRIOR_STRUCTURES", "laplace_evidence", "optimize_prior_precision"]

PRIOR_STRUCTURES = ("scalar", "layerwise", "diagonal")


@jax.jit
def laplace_evidence(log_lik, p0, d, logdet):
    """``ℓ − ½ Σ p₀ d² − ½ (log det P − Σ log p₀)`` in nats (the module's formula), for the tempered
    log-likelihood ``log_lik``, a scalar or (P,) prior precision ``p0``, ``d = θ* − m₀`` (P,) and
    ``logdet = log det P``. Parameters with ``p0 = 0`` (flat priors) add nothing to either sum: the
    evidence is then undefined (callers refuse it), the basin mass uses it."""
    if jnp.ndim(p0) == 0:
        return log_lik - 0.5 * p0 * jnp.sum(d * d) - 0.5 * (logdet - d.size * jnp.log(p0))
    log_p0 = jnp.log(jnp.where(p0 > 0, p0, jnp.ones_like(p0)))
    return log_lik - 0.5 * jnp.sum(p0 * d * d) - 0.5 * (logdet - jnp.sum(log_p0))


@jax.jit
def evidence_grid(lap, cs):
    """``laplace_evidence`` at each scalar ``c`` of the 1-D array ``cs``, and the smallest eigenvalue
    of the rescaled curvature (unchecked; see ``LaplaceResult.log_marginal_likelihood_grid``).
    The eigenvalues are computed once (for ``full`` off the low-rank route, one ``eigvalsh``)."""
    ll = lap.post.log_likelihood(lap.mean) / lap.post.temperature
    eig = lap._curvature_eigenvalues()
    d = lap.theta - lap.prior_mean
    values = jax.vmap(lambda c: laplace_evidence(ll, c, d, scalar_logdet(eig, lap.noise_scale, c)))(cs)
    return values, jnp.min(lap.noise_scale * eig)


def scalar_logdet(eig, scale, c):
    """``log det(scale·H + c I) = Σ log(scale·λᵢ + c)`` from the eigenvalues ``eig`` of ``H``: O(P)."""
    return jnp.sum(jnp.log(scale * eig + c))


def structured_logdet(lap, p0, scale):
    """``log det(scale·H + diag(p0))`` for a (P,) ``p0`` (traceable), in ``lap``'s structure: ``diag``
    O(P); ``kfac`` per block (``p0`` must be one number per block); ``full`` by the low-rank QR route
    when ``lap`` has the factor, else one Cholesky of the P × P matrix (NaN if not positive definite)."""
    if lap.structure == "diag":
        return jnp.sum(jnp.log(scale * lap.curv + p0))
    if lap.structure == "kfac":
        return sum(jnp.sum(jnp.log(lam)) for lam, _, _ in _kf.block_eigenvalues(lap.layers, lap.curv,
                                                                                 scale, p0))
    if lap.curv.factor is not None:
        return _full.dual_logdet(jnp.sqrt(scale) * lap.curv.factor, p0)
    return _full.cholesky_logdet(jnp.linalg.cholesky(scale * _full.gram(lap.curv) + jnp.diag(p0)))


def prior_groups(view, structure: str, layers, prior_structure: str, owner: str = "optimize_prior_precision"
                 ) -> np.ndarray:
    """(P,) integer group of each parameter of the flat ``view`` for a Laplace ``structure`` (with its
    KFAC ``layers``): one prior precision per group (module docstring)."""
    one_of("prior_structure", prior_structure, PRIOR_STRUCTURES, owner=owner)
    groups = np.zeros(view.size, np.int32)
    if prior_structure == "diagonal":
        if structure == "kfac":
            raise ValueError(f"{owner}: prior_structure='diagonal' needs structure='diag' or 'full'; a "
                             "KFAC precision A ⊗ G + diag(p0) has no Kronecker eigenbasis "
                             "(laplace-torch's KronLaplace refuses it too); use 'layerwise'")
        return np.arange(view.size, dtype=np.int32)
    if prior_structure == "layerwise":
        if structure == "kfac":
            for i, layer in enumerate(layers):
                for sl in layer.slices:
                    groups[sl] = i
        else:
            for i, (off, shape) in enumerate(zip(view.offsets, view.shapes, strict=True)):
                groups[off:off + int(np.prod(shape))] = i
    return groups


def optimize_prior_precision(lap, *, prior_structure: str = "scalar", optimize_noise: bool | None = None,
                             num_steps: int = 300, learning_rate: float = 0.1,
                             init_prior_precision: float = 1.0):
    """Maximise the Laplace evidence over the prior precision (and the noise σ for a Gaussian
    likelihood, by default), post hoc at the same mode, as laplace-torch does.

    Gradient ascent (``optax.adam``) on ``log p₀`` and ``log σ``, ``num_steps`` steps from
    ``init_prior_precision`` (1/unit²) for the scalar; ``"layerwise"`` (one precision per parameter
    tensor; per Kronecker block for ``kfac``) and ``"diagonal"`` (one per parameter; not ``kfac``)
    take ``num_steps`` more from the scalar optimum (module docstring). Returns a new
    ``LaplaceResult`` at the best iterate: its ``prior_precision`` (P,) and ``noise`` (σ) are the
    optimum; its ``log_marginal_likelihood()`` is at least the scalar optimum's.
    """
    groups = prior_groups(lap.view, lap.structure, lap.layers, prior_structure)
    num_steps = positive_int("num_steps", num_steps, owner="optimize_prior_precision")
    learning_rate = float(positive_scalar("learning_rate", learning_rate, owner="optimize_prior_precision"))
    init = float(positive_scalar("init_prior_precision", init_prior_precision,
                                 owner="optimize_prior_precision"))
    gaussian = isinstance(lap.post.likelihood, _lik.Gaussian)
    optimize_noise = gaussian if optimize_noise is None else optimize_noise
    if optimize_noise and not gaussian:
        raise ValueError("optimize_prior_precision: optimize_noise needs a Gaussian likelihood")
    dtype = lap.theta.dtype
    noise0 = lap.noise if gaussian else 1.0
    x0 = (jnp.full((1,), jnp.log(init), dtype), jnp.log(jnp.asarray(noise0, dtype)))
    opt = _adam(learning_rate)
    x = _optimize(lap, x0, None, opt, num_steps, bool(optimize_noise))
    scalar = _result(lap, jnp.full_like(lap.theta, jnp.exp(x[0][0])), x[1], optimize_noise)
    if prior_structure == "scalar":
        return scalar
    n_groups = int(groups.max()) + 1
    x = _optimize(lap, (jnp.broadcast_to(x[0], (n_groups,)), x[1]), jnp.asarray(groups), opt, num_steps,
                  bool(optimize_noise))
    new = _result(lap, jnp.exp(x[0])[groups], x[1], optimize_noise)
    # the best iterate by the optimiser's log-det; compared here by the result's own (the refined full
    # log-det, the kfac sums in another order), so that the guarantee is exact
    return new if new.log_marginal_likelihood() >= scalar.log_marginal_likelihood() else scalar


@functools.lru_cache(maxsize=16)
def _adam(learning_rate: float):
    return optax.adam(learning_rate)       # one object per rate: a second call does not recompile


def _result(lap, p0, log_sigma, optimize_noise):
    new = lap
    if optimize_noise:
        sigma = jnp.exp(log_sigma)
        new = lap._replace(post=lap.post.replace(likelihood=_lik.Gaussian(float(sigma))),
                           noise_scale=lap.noise_scale * jnp.square(lap.noise / sigma))
    new = new._replace(prior_precision=p0)
    new._assert_pd("at the optimum")
    return new


@functools.partial(jax.jit, static_argnames=("opt", "num_steps", "with_noise"))
def _optimize(lap, x0, groups, opt, num_steps, with_noise):
    """The best of ``num_steps`` adam steps on ``(log p₀ per group, log σ)``; ``groups is None``: the
    scalar, from the eigenvalues."""
    return climb(evidence_of(lap, groups, with_noise), x0, opt, num_steps).best


def evidence_of(lap, groups, with_noise: bool):
    """``x = (log p₀ (groups,), log σ) ↦ log p(D)`` at ``lap``'s mode and curvature (traceable):
    ``groups`` (P,) maps each parameter to its entry of ``log p₀``; ``None``: one scalar, whose
    log-det comes from the curvature's eigenvalues. Without ``with_noise``, ``log σ`` is unused."""
    eig = lap._curvature_eigenvalues() if groups is None else None
    f = lap.post.predict(lap.mean)
    d = lap.theta - lap.prior_mean

    def evidence(x):
        log_p, log_sigma = x
        scale = lap.noise_scale
        if with_noise:
            sigma = jnp.exp(log_sigma)
            ll = _lik.Gaussian(sigma).log_prob(f, lap.post.y) / lap.post.temperature
            scale = scale * jnp.square(lap.post.likelihood.noise / sigma)
        else:
            ll = lap.post.likelihood.log_prob(f, lap.post.y) / lap.post.temperature
        if groups is None:
            c = jnp.exp(log_p[0])
            return laplace_evidence(ll, c, d, scalar_logdet(eig, scale, c))
        p0 = jnp.exp(log_p)[groups]
        return laplace_evidence(ll, p0, d, structured_logdet(lap, p0, scale))

    return evidence


class Climb(NamedTuple):
    """``climb``'s result: the best iterate and its value, the last iterate, its value and the
    optimiser state there."""

    best: Any
    best_value: jax.Array
    last: Any
    last_value: jax.Array
    state: Any


def climb(objective, x0, opt, num_steps, state=None) -> Climb:
    """``num_steps`` steps of ``opt`` *up* ``objective`` from ``x0`` (a pytree; ``state``: the
    optimiser's, default fresh), inside one ``lax.scan``. The best iterate counts the last one;
    NaN values never win. Traceable: call it inside a jit."""
    def step(carry, _):
        x, state, best_x, best_v = carry
        v, g = jax.value_and_grad(objective)(x)
        better = v > best_v
        best_x = jax.tree.map(lambda a, b: jnp.where(better, a, b), x, best_x)
        best_v = jnp.where(better, v, best_v)
        g = jax.tree.map(jnp.negative, g)
        with jax.numpy_dtype_promotion("standard"):  # optax's adam raises a float to its int count
            upd, state = opt.update(g, state, x)
        return (optax.apply_updates(x, upd), state, best_x, best_v), None

    state = opt.init(x0) if state is None else state
    v0 = jnp.full((), -jnp.inf, jnp.result_type(*jax.tree.leaves(x0)))
    (x, state, best_x, best_v), _ = jax.lax.scan(step, (x0, state, x0, v0), None, length=num_steps)
    v = objective(x)
    better = v > best_v
    best_x = jax.tree.map(lambda a, b: jnp.where(better, a, b), x, best_x)
    return Climb(best_x, jnp.where(better, v, best_v), x, v, state)
