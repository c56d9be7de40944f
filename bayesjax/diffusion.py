r"""Diffusion models by the score (Song et al. 2021, "Score-based generative modeling through SDEs").

A **forward SDE** ``dx = f(x, t) dt + g(t) dW`` on ``t ∈ [0, 1]`` turns data ``p_0`` into noise.
Both SDEs here are linear, so the perturbation kernel is Gaussian,
``x_t | x_0 ~ N(α(t) x_0, σ(t)² I)`` (``sde.marginal(t) -> (α, σ)``):

* ``VP(beta_min, beta_max)``: ``f = −½ β(t) x``, ``g = √β(t)``, ``β(t) = β_min + t (β_max − β_min)``;
  ``α = exp(−½ ∫₀ᵗ β)``, ``σ² = 1 − α²``; ``p_1 ≈ N(0, I)``.
* ``VE(sigma_min, sigma_max)``: ``f = 0``, ``g = s(t) √(2 ln(σ_max/σ_min))`` with
  ``s(t) = σ_min (σ_max/σ_min)^t``; ``α = 1``, ``σ² = s(t)² − σ_min²``; ``p_1 ≈ N(0, σ_max² I)``.

For Gaussian data ``N(μ, Σ)`` every marginal is Gaussian, ``p_t = N(α μ, α² Σ + σ² I)``
(``gaussian_marginal``), and its **score** ``∇ₓ ln p_t(x) = −(α² Σ + σ² I)⁻¹ (x − α μ)`` points
from x toward the mean (``gaussian_score``); a Gaussian mixture's is the responsibility-weighted
sum of its components' (``mixture_score``).

Anderson's **reverse-time SDE** ``dx = [f − g² ∇ln p_t] dt + g dW̄`` and the **probability-flow
ODE** ``dx = [f − ½ g² ∇ln p_t] dt`` run from ``p_1`` back to ``p_0`` with the same marginals;
``reverse_sde`` (Euler–Maruyama) and ``probability_flow_ode`` (Euler) discretise them on a uniform
grid ``1 = t_0 > … > t_N = t_min`` as one ``lax.scan``. A learned score comes from **denoising score
matching** (Vincent 2011): ``dsm_loss`` is ``E_{t, x_0, ε} ‖σ(t) s_θ(α x_0 + σ ε, t) + ε‖²``, the
σ²-weighted Fisher divergence up to a constant, minimised by ``s_θ = ∇ln p_t``.

A ``score_fn(x, t)`` maps points ``x`` (n, d) and times ``t`` (n,) to scores (n, d). The samplers
read only ``sde.drift``, ``sde.diffusion`` and ``sde.prior_std``: any object with those three is
an SDE to them. Keys first; results are NamedTuples; everything is ``jit``-able (``num_steps``,
``shape`` and ``num_saved`` are static).

Example::

    sde = bj.diffusion.VP()
    score = lambda x, t: bj.diffusion.gaussian_score(sde, t, x, mean, cov)
    out = bj.diffusion.reverse_sde(key, score, sde, (10_000, 2), num_steps=500)
    out.samples.mean(0), out.samples.std(0)                  # ≈ mean, √diag(cov)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax
from jax.tree_util import Partial

from bayesjax._checks import _is_concrete, finite_array, positive_int, positive_scalar

__all__ = ["VP", "VE", "Trajectory", "gaussian_marginal", "gaussian_score", "mixture_score",
           "perturb", "dsm_loss", "reverse_sde", "probability_flow_ode"]


def _time(t, like):
    """``t`` as an array of ``like``'s floating dtype (a scalar or one time per row)."""
    return jnp.asarray(t, like.dtype if jnp.issubdtype(like.dtype, jnp.floating) else float)


class VP(NamedTuple):
    """Variance-preserving SDE, ``dx = −½ β(t) x dt + √β(t) dW``, linear ``β`` (DDPM's limit)."""

    beta_min: float = 0.1
    beta_max: float = 20.0

    def beta(self, t):
        return self.beta_min + t * (self.beta_max - self.beta_min)

    def drift(self, x, t):
        """``f(x, t) = −½ β(t) x``; ``t`` a scalar or (n,) for x (n, d)."""
        return -0.5 * _col(self.beta(_time(t, x)), x) * x

    def diffusion(self, t):
        return jnp.sqrt(self.beta(t))

    def marginal(self, t):
        """``(α(t), σ(t))`` of the kernel ``x_t | x_0 ~ N(α x_0, σ² I)``."""
        t = jnp.asarray(t)
        log_alpha = -0.5 * (self.beta_min * t + 0.5 * (self.beta_max - self.beta_min) * t * t)
        return jnp.exp(log_alpha), jnp.sqrt(-jnp.expm1(2.0 * log_alpha))

    @property
    def prior_std(self) -> float:
        return 1.0


class VE(NamedTuple):
    """Variance-exploding SDE, ``dx = s(t) √(2 ln(σ_max/σ_min)) dW``, ``s(t) = σ_min (σ_max/σ_min)^t``."""

    sigma_min: float = 0.01
    sigma_max: float = 10.0

    def _s(self, t):
        return self.sigma_min * (self.sigma_max / self.sigma_min) ** t

    def drift(self, x, t):
        return jnp.zeros_like(x)

    def diffusion(self, t):
        return self._s(t) * math.sqrt(2.0 * math.log(self.sigma_max / self.sigma_min))

    def marginal(self, t):
        t = jnp.asarray(t)
        return jnp.ones_like(t), jnp.sqrt(jnp.square(self._s(t)) - self.sigma_min ** 2)

    @property
    def prior_std(self) -> float:
        return self.sigma_max


def _col(v, x):
    """A scalar or per-row (n,) coefficient, shaped to multiply x (n, d) without rank promotion."""
    v = jnp.asarray(v)
    return v[..., None] if v.ndim == 1 else v


def _check_sde(sde, owner):
    if not all(hasattr(sde, a) for a in ("drift", "diffusion", "prior_std")):
        raise ValueError(f"{owner}: sde must have drift(x, t), diffusion(t) and prior_std "
                         f"(e.g. bj.diffusion.VP()), got {sde!r}")
    if isinstance(sde, VP):
        positive_scalar("beta_min", sde.beta_min, owner=owner)
        positive_scalar("beta_max", sde.beta_max, owner=owner)
    if isinstance(sde, VE):
        positive_scalar("sigma_min", sde.sigma_min, owner=owner)
        if not sde.sigma_max > sde.sigma_min:
            raise ValueError(f"{owner}: need sigma_max > sigma_min, got {sde}")


def gaussian_marginal(sde, t, mean, cov):
    """``(mean_t, cov_t) = (α μ, α² Σ + σ² I)``: the law of ``x_t`` when ``x_0 ~ N(μ, Σ)``, at a
    scalar time ``t``. ``mean`` (d,), ``cov`` (d, d)."""
    mean, cov = finite_array("gaussian_marginal: mean", mean), finite_array(
        "gaussian_marginal: cov", cov)
    d = mean.shape[-1]
    if mean.ndim != 1 or cov.shape != (d, d):
        raise ValueError(f"gaussian_marginal: need mean (d,) and cov (d, d), got {mean.shape} "
                         f"and {cov.shape}")
    alpha, sigma = sde.marginal(t)
    return alpha * mean, alpha ** 2 * cov + sigma ** 2 * jnp.eye(d, dtype=cov.dtype)


def gaussian_score(sde, t, x, mean, cov):
    r"""``∇ₓ ln p_t(x) = −Σ_t⁻¹ (x − μ_t)`` for data ``N(mean, cov)``; x (n, d), t scalar or (n,)."""
    return mixture_score(sde, t, x, jnp.ones((1,), jnp.asarray(mean).dtype), jnp.asarray(mean)[None],
                         jnp.asarray(cov)[None])


def mixture_score(sde, t, x, weights, means, covs):
    r"""Score of ``p_t`` for Gaussian-mixture data ``Σ_k w_k N(μ_k, Σ_k)``: each component becomes
    ``N(α μ_k, α² Σ_k + σ² I)`` and ``∇ ln p_t = Σ_k r_k(x) (−C_k⁻¹ (x − α μ_k))`` with the
    responsibilities ``r_k ∝ w_k N(x; α μ_k, C_k)``. ``weights`` (K,) summing to 1, ``means``
    (K, d), ``covs`` (K, d, d); x (n, d), t a scalar or (n,)."""
    x = jnp.asarray(x)
    weights, means, covs = (jnp.asarray(a, x.dtype) for a in (weights, means, covs))
    k, d = means.shape
    if x.ndim != 2 or x.shape[1] != d or weights.shape != (k,) or covs.shape != (k, d, d):
        raise ValueError(f"mixture_score: need x (n, {d}), weights ({k},), means ({k}, {d}), covs "
                         f"({k}, {d}, {d}); got {x.shape}, {weights.shape}, {means.shape}, "
                         f"{covs.shape}")
    lam, u = jnp.linalg.eigh(covs)                                     # Σ_k = U_k Λ_k U_kᵀ
    alpha, sigma = sde.marginal(_time(t, x))
    alpha = jnp.broadcast_to(alpha, x.shape[:1])[:, None, None]         # (n, 1, 1)
    sigma = jnp.broadcast_to(sigma, x.shape[:1])[:, None, None]
    var = jnp.square(alpha) * lam[None] + jnp.square(sigma)            # (n, K, d): eig. of C_k
    diff = x[:, None, :] - alpha * means[None]                          # (n, K, d)
    z = jnp.einsum("nkd,kde->nke", diff, u)                             # U_kᵀ diff
    sol = jnp.einsum("nke,kde->nkd", z / var, u)                        # C_k⁻¹ diff
    logp = jnp.log(weights)[None] - 0.5 * (jnp.sum(z * z / var, 2) + jnp.sum(jnp.log(var), 2))
    r = jax.nn.softmax(logp, axis=1)                                    # responsibilities
    return -jnp.einsum("nk,nkd->nd", r, sol)


def perturb(key, sde, x0, t):
    """``(x_t, ε)`` with ``x_t = α(t) x_0 + σ(t) ε``, ``ε ~ N(0, I)``; t a scalar or (n,)."""
    eps = jax.random.normal(key, x0.shape, x0.dtype)
    alpha, sigma = sde.marginal(_time(t, x0))
    return _col(alpha, x0) * x0 + _col(sigma, x0) * eps, eps


def dsm_loss(key, score_fn: Callable, sde, x0, *, t_min: float = 1e-3) -> jax.Array:
    r"""Denoising score matching, ``(1/n) Σ_i ‖σ(t_i) s(x_{t_i}, t_i) + ε_i‖²`` with
    ``t_i ~ U(t_min, 1)``, ``x_t = α x_0 + σ ε`` (a per-example mean; λ(t) = σ² weighting).

    Its minimiser over functions is the true score ``∇ ln p_t`` (the regression target
    ``−ε/σ`` has conditional mean ``∇ ln p_t(x_t)``); the loss there is not 0 but the irreducible
    ``d − E‖σ ∇ln p_t‖²``.
    """
    if x0.ndim != 2:
        raise ValueError(f"dsm_loss: x0 must have shape (n, d), got {x0.shape}")
    kt, ke = jax.random.split(key)
    t = jax.random.uniform(kt, x0.shape[:1], x0.dtype, t_min, 1.0)
    xt, eps = perturb(ke, sde, x0, t)
    sigma = sde.marginal(t)[1]
    return jnp.mean(jnp.sum(jnp.square(_col(sigma, x0) * score_fn(xt, t) + eps), axis=1))


class Trajectory(NamedTuple):
    """``samples`` (n, d) at ``t_min``; ``path`` (num_saved, n, d) the states at ``times``
    (num_saved,) on the way from t = 1 (empty when ``num_saved=0``)."""

    samples: jax.Array
    path: jax.Array
    times: jax.Array


def _check(owner, score_fn, sde, shape, num_steps, t_min, num_saved):
    if not callable(score_fn):
        raise ValueError(f"{owner}: score_fn must be callable score_fn(x, t), got {score_fn!r}")
    _check_sde(sde, owner)
    if len(shape) != 2:
        raise ValueError(f"{owner}: shape must be (num_samples, d), got {shape}")
    positive_int("shape[0]", shape[0], owner=owner)
    positive_int("shape[1]", shape[1], owner=owner)
    positive_int("num_steps", num_steps, owner=owner)
    if _is_concrete(t_min) and not 0.0 < float(t_min) < 1.0:
        raise ValueError(f"{owner}: t_min must be in (0, 1), got {t_min}")
    if not (isinstance(num_saved, int) and 0 <= num_saved <= num_steps + 1):
        raise ValueError(f"{owner}: num_saved must be an int in [0, num_steps + 1], got "
                         f"{num_saved!r}")


def _integrate(key, score_fn, sde, shape, num_steps, t_min, num_saved, dtype, stochastic):
    kx, kz = jax.random.split(key)
    x = sde.prior_std * jax.random.normal(kx, shape, dtype)
    times = jnp.linspace(1.0, t_min, num_steps + 1, dtype=dtype)
    dt = (1.0 - t_min) / num_steps

    def step(x, inp):
        t, k = inp
        tt = jnp.full(shape[:1], t, dtype)
        g = sde.diffusion(t)
        score = score_fn(x, tt)
        if stochastic:    # x_{t−dt} = x − [f − g² s] dt + g √dt z
            z = jax.random.normal(k, shape, dtype)
            x_new = x - (sde.drift(x, tt) - g ** 2 * score) * dt + g * math.sqrt(dt) * z
        else:             # x_{t−dt} = x − [f − ½ g² s] dt
            x_new = x - (sde.drift(x, tt) - 0.5 * g ** 2 * score) * dt
        return x_new, (x if num_saved else None)

    x_end, path = lax.scan(step, x, (times[:-1], jax.random.split(kz, num_steps)))
    if not num_saved:
        return Trajectory(x_end, jnp.zeros((0, *shape), dtype), jnp.zeros((0,), dtype))
    path = jnp.concatenate([path, x_end[None]])                         # states at all times
    idx = [round(i * num_steps / max(num_saved - 1, 1)) for i in range(num_saved)]
    idx = jnp.asarray(idx if num_saved > 1 else [num_steps])
    return Trajectory(x_end, path[idx], times[idx])


_STATIC = ("sde", "shape", "num_steps", "t_min", "num_saved", "dtype", "stochastic")


@partial(jax.jit, static_argnames=_STATIC)
def _sample(key, score_fn, sde, shape, num_steps, t_min, num_saved, dtype, stochastic):
    return _integrate(key, score_fn, sde, shape, num_steps, t_min, num_saved, dtype, stochastic)


def _run(owner, key, score_fn, sde, shape, num_steps, t_min, num_saved, dtype, stochastic):
    shape = tuple(shape)
    _check(owner, score_fn, sde, shape, num_steps, t_min, num_saved)
    try:
        hash(sde)
    except TypeError:
        raise ValueError(f"{owner}: sde must be hashable (a NamedTuple of floats), got {sde!r}") \
            from None
    if not isinstance(score_fn, Partial):
        score_fn = Partial(score_fn)
    return _sample(key, score_fn, sde, shape, num_steps, float(t_min), num_saved,
                   jnp.dtype(dtype), stochastic)


def reverse_sde(key, score_fn: Callable, sde, shape: tuple[int, int], *, num_steps: int = 500,
                t_min: float = 1e-3, num_saved: int = 0, dtype=jnp.float32) -> Trajectory:
    r"""Sample by the reverse-time SDE, Euler–Maruyama from ``x_1 ~ N(0, prior_std² I)``:
    ``x ← x − [f(x, t) − g(t)² s(x, t)] Δt + g(t) √Δt z``, ``z ~ N(0, I)``, at the grid times
    ``t = 1, 1 − Δt, …`` with ``Δt = (1 − t_min)/num_steps``.

    One jit per (sde, shape, num_steps, t_min, num_saved): ``score_fn`` is traced, not baked
    in — pass a ``jax.tree_util.Partial(apply, params)`` to sample a network with new parameters
    without recompiling (a plain function is wrapped, and recompiles only if it is a new object).
    ``sde`` (hashable) may be any object with ``drift``, ``diffusion`` and ``prior_std``.
    ``num_saved`` states of the path (evenly spaced, first at t = 1, last at t_min) are kept.
    """
    return _run("reverse_sde", key, score_fn, sde, shape, num_steps, t_min, num_saved, dtype,
                True)


def probability_flow_ode(key, score_fn: Callable, sde, shape: tuple[int, int], *,
                         num_steps: int = 500, t_min: float = 1e-3, num_saved: int = 0,
                         dtype=jnp.float32) -> Trajectory:
    r"""Sample by the probability-flow ODE ``dx = [f − ½ g² s] dt`` (Euler, deterministic given
    ``x_1 ~ N(0, prior_std² I)`` drawn from ``key``); same grid and arguments as ``reverse_sde``."""
    return _run("probability_flow_ode", key, score_fn, sde, shape, num_steps, t_min, num_saved,
                dtype, False)
