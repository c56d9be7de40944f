"""The ring of 8 Gaussians: the 2-D mixture on which diffusion and GAN experiments are judged
(modes on a circle, so a dropped mode is visible and countable)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def modes(num_modes: int = 8, radius: float = 2.0) -> np.ndarray:
    """(num_modes, 2) centres equally spaced on a circle of ``radius``, the first at angle 0."""
    a = 2 * np.pi * np.arange(num_modes) / num_modes
    return radius * np.stack([np.cos(a), np.sin(a)], 1)


def sample(key, num_samples: int, centres, sd: float) -> jax.Array:
    """``num_samples`` points of the equal-weight mixture of ``N(centre, sd² I)`` (float32)."""
    centres = jnp.asarray(centres, jnp.float32)
    kc, kn = jax.random.split(key)
    idx = jax.random.randint(kc, (num_samples,), 0, centres.shape[0])
    return centres[idx] + sd * jax.random.normal(kn, (num_samples, 2), jnp.float32)


def mixture(centres, sd: float):
    """``(weights, means, covs)`` of the equal-weight mixture, for ``bj.diffusion.mixture_score``."""
    k = len(centres)
    return (np.full(k, 1.0 / k), np.asarray(centres, np.float64),
            np.broadcast_to(sd ** 2 * np.eye(2), (k, 2, 2)).copy())


def mode_fractions(x, centres, sd: float, within: float = 3.0) -> tuple[np.ndarray, float]:
    """Per mode, the fraction of the samples within ``within·sd`` of its centre, and the fraction
    within that distance of any centre (the "high-quality" samples)."""
    x, centres = np.asarray(x, np.float64), np.asarray(centres, np.float64)
    d = np.linalg.norm(x[:, None] - centres[None], axis=-1)
    near = d <= within * sd
    return near.mean(0), float(near.any(1).mean())
