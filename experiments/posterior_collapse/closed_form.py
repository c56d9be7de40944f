r"""The linear VAE's optimum in closed form (Lucas et al. 2019, *Don't blame the ELBO!*, §4).

For ``p(x | z) = N(Wz + μ, σ²I)``, ``p(z) = N(0, I)`` and a diagonal Gaussian encoder, the β-ELBO
divided by β is the ELBO of the same model with noise βσ² (plus a constant), so β and σ² act only
through their product. With λ_1 ≥ … ≥ λ_D the eigenvalues of the (1/N) data covariance, the
optimum has ``w_i = u_i √(λ_i − βσ²)`` for λ_i > βσ² and ``w_i = 0`` otherwise, and latent i
(of the K) carries

.. math::

    \overline{\mathrm{KL}}_i = \tfrac12 \log\frac{\lambda_i}{\beta\sigma^2} \ \ (\lambda_i > \beta\sigma^2),
    \qquad 0 \ \ \text{otherwise (collapsed: } q(z_i|x) = p(z_i)\text{)}.

At the optimum the expected squared error per row is ``|A| βσ² + Σ_{i∉A} λ_i`` (A the active
latents), which gives the optimal β-ELBO per row below.
"""

from __future__ import annotations

import math

import numpy as np


def collapse_kl(eigenvalues, noise_var: float, beta: float, latent_dim: int) -> np.ndarray:
    """(K,) the optimal KL per latent, descending: ``½ log(λ_i/(βσ²))`` where positive, else 0."""
    lam = np.sort(np.asarray(eigenvalues, np.float64))[::-1][:latent_dim]
    return 0.5 * np.log(np.maximum(lam / (beta * noise_var), 1.0))


def num_active(eigenvalues, noise_var: float, beta: float, latent_dim: int) -> int:
    """How many of the K latents survive: ``#{i ≤ K : λ_i > βσ²}``."""
    lam = np.sort(np.asarray(eigenvalues, np.float64))[::-1][:latent_dim]
    return int(np.sum(lam > beta * noise_var))


def optimal_elbo_per_row(eigenvalues, noise_var: float, beta: float, latent_dim: int) -> float:
    r"""The maximum of the linear VAE's β-ELBO per row (nats):
    ``−D/2 log 2πσ² − (|A|β + Σ_{i∉A} λ_i/σ²)/2 − β Σ_{i∈A} ½ log(λ_i/(βσ²))``."""
    lam = np.sort(np.asarray(eigenvalues, np.float64))[::-1]
    d, bs2 = lam.size, beta * noise_var
    active = np.zeros(d, bool)
    active[:latent_dim] = lam[:latent_dim] > bs2
    kl = 0.5 * np.log(lam[active] / bs2)
    return float(-0.5 * d * math.log(2 * math.pi * noise_var)
                 - 0.5 * (active.sum() * beta + lam[~active].sum() / noise_var)
                 - beta * kl.sum())


def log_gap(eigenvalues, products, latent_dim: int) -> float:
    """The smallest ``|log(λ_i / βσ²)|`` over the top K+1 eigenvalues and the swept products: how
    far the sweep stays from a transition, where the optimum is flat and converges slowly."""
    lam = np.sort(np.asarray(eigenvalues, np.float64))[::-1][:latent_dim + 1]
    return float(np.min(np.abs(np.log(lam[None, :] / np.asarray(products, np.float64)[:, None]))))
