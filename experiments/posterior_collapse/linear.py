"""The linear VAE on the data, swept over (σ², β) in one compilation, in float64 (the claims
assert agreement with a closed form to 1e-4 nats)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

import bayesjax as bj

from .closed_form import collapse_kl, num_active, optimal_elbo_per_row


class LinearSweep(NamedTuple):
    """One row per setting: the learned KL per latent (descending), the closed form, the active
    counts (learned: KL > ``kl_tolerance``; closed form: λ_i > βσ²), the per-row β-ELBO gap to
    the closed-form optimum and the final gradient norm."""

    noise_vars: np.ndarray
    betas: np.ndarray
    kl: np.ndarray
    kl_closed: np.ndarray
    active: np.ndarray
    active_closed: np.ndarray
    elbo_gap: np.ndarray
    grad_norm: np.ndarray


def eigenvalues(x) -> np.ndarray:
    """(D,) the eigenvalues of the (1/N) covariance of the rows of ``x``, descending (float64)."""
    with jax.enable_x64(True):
        return np.asarray(bj.conjugate.ppca(np.asarray(x, np.float64), 1).eigenvalues)


def linear_sweep(key, x, latent_dim: int, noise_vars, betas, *, num_steps: int,
                 learning_rate: float, kl_tolerance: float, progress_bar: bool = False) -> LinearSweep:
    """Fit ``bj.vae.fit_linear_vae`` at each ``(noise_vars[k], betas[k])`` (one vmap) and compare
    with the closed form of ``closed_form``."""
    nv = np.asarray(noise_vars, np.float64)
    b = np.asarray(betas, np.float64)
    lam = eigenvalues(x)
    with jax.enable_x64(True):
        x64 = jnp.asarray(np.asarray(x, np.float64))
        res = jax.vmap(lambda s2, beta: bj.vae.fit_linear_vae(
            key, x64, latent_dim, beta=beta, noise_var=s2, num_steps=num_steps,
            learning_rate=learning_rate, progress_bar=progress_bar))(jnp.asarray(nv), jnp.asarray(b))
        kl = -np.sort(-np.asarray(res.kl_per_latent), axis=1)
        elbo_row = np.asarray(res.elbo) / x64.shape[0]
        grad_norm = np.asarray(res.grad_norm)
    kl_closed = np.stack([collapse_kl(lam, s, bb, latent_dim) for s, bb in zip(nv, b, strict=True)])
    best = np.array([optimal_elbo_per_row(lam, s, bb, latent_dim) for s, bb in zip(nv, b, strict=True)])
    active_closed = np.array([num_active(lam, s, bb, latent_dim) for s, bb in zip(nv, b, strict=True)])
    return LinearSweep(nv, b, kl, kl_closed, (kl > kl_tolerance).sum(1), active_closed,
                       best - elbo_row, grad_norm)
