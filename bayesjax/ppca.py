r"""Probabilistic PCA in closed form (Tipping & Bishop 1999): the maximum-likelihood linear-Gaussian
latent-variable model, and the optimum a linear VAE reaches (``bayesjax.vae.fit_linear_vae``).

Model: ``z ~ N(0, I_q)``, ``x | z ~ N(W z + μ, σ² I_D)``, so ``x ~ N(μ, C)`` with
``C = W Wᵀ + σ² I``. Re-exported as ``bayesjax.conjugate.ppca`` beside the other closed-form
references.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from bayesjax._checks import _is_concrete, finite_array, positive_int

__all__ = ["PPCA", "ppca"]


class PPCA(NamedTuple):
    r"""The pPCA maximum-likelihood fit.

    Attributes:
      mean: (D,) μ, the sample mean.
      W: (D, q) ``U_q (Λ_q − σ² I)^{½}``: the top-q eigenvectors of the sample covariance scaled by
        ``√(λ_i − σ²)`` (the rotation R = I; each column's largest-magnitude entry is positive).
      noise_var: σ², the mean of the D − q discarded eigenvalues.
      log_likelihood: ``Σ_n log N(x_n | μ, W Wᵀ + σ² I)`` at the fit, summed over the N rows (nats).
      eigenvalues: (D,) the eigenvalues λ of the (1/N) sample covariance, descending.
    """

    mean: jax.Array
    W: jax.Array
    noise_var: jax.Array
    log_likelihood: jax.Array
    eigenvalues: jax.Array


def sample_moments(owner: str, x):
    """``(x, mean, cov)``: the (N, D) data checked (finite, N ≥ 2, float; integers become the
    default float), its mean and its **1/N** covariance — the statistics pPCA and the linear VAE
    depend on."""
    x = finite_array(f"{owner}: x", x)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"{owner}: x must have shape (N, D) with N >= 2, got {x.shape}")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.result_type(float))
    mean = jnp.mean(x, axis=0)
    xc = x - mean[None, :]
    return x, mean, xc.T @ xc / x.shape[0]


def ppca(x, latent_dim) -> PPCA:
    r"""Tipping & Bishop's (1999) closed-form maximum-likelihood probabilistic PCA.

    With ``S = (1/N) Σ_n (x_n − x̄)(x_n − x̄)ᵀ`` (the **1/N** sample covariance, the MLE's) and its
    eigen-decomposition ``S = U Λ Uᵀ``, λ_1 ≥ … ≥ λ_D, the maximum of the likelihood is at

    .. math::

        \mu = \bar x, \qquad \sigma^2 = \frac{1}{D - q}\sum_{i > q} \lambda_i, \qquad
        W = U_q (\Lambda_q - \sigma^2 I)^{1/2},

    where ``C = WWᵀ + σ²I`` matches S on the principal subspace, so ``tr(C⁻¹S) = D`` and

    .. math::

        \log p(X) = -\frac{N}{2}\Big[D \log 2\pi + \sum_{i \le q} \log \lambda_i
                    + (D - q) \log \sigma^2 + D\Big].

    Args:
      x: (N, D) data, N ≥ 2.
      latent_dim: q, 1 ≤ q < D.

    Raises ``ValueError`` for NaN data, a latent size out of range, or data of rank ≤ q (σ² = 0).

    Example:
      >>> x = jax.random.normal(jax.random.key(0), (1000, 3)) * jnp.array([2.0, 1.0, 1.0])
      >>> fit = ppca(x, 1)
      >>> fit.W.shape, round(float(fit.noise_var), 1)
      ((3, 1), 1.0)
    """
    owner = "ppca"
    x, mean, cov = sample_moments(owner, x)
    n, d = x.shape
    q = positive_int("latent_dim", latent_dim, owner=owner)
    if q >= d:
        raise ValueError(f"{owner}: latent_dim must be < the data dimension {d}, got {q}")
    lam, u = jnp.linalg.eigh(cov)
    lam, u = jnp.maximum(lam[::-1], 0.0), u[:, ::-1]           # descending; clip -0 rounding
    noise_var = jnp.mean(lam[q:])
    # zero up to the eigensolver's rounding, ~eps·D·λ_1: the data have rank <= q
    if _is_concrete(noise_var) and not float(noise_var) > 10 * jnp.finfo(x.dtype).eps * d * float(lam[0]):
        raise ValueError(f"{owner}: the {d - q} discarded eigenvalues are all zero (data of rank "
                         f"<= latent_dim = {q}): sigma^2 = 0 and the likelihood is unbounded")
    uq = u[:, :q]
    sign = jnp.sign(uq[jnp.argmax(jnp.abs(uq), axis=0), jnp.arange(q)])
    w = uq * (sign * jnp.sqrt(jnp.maximum(lam[:q] - noise_var, 0.0)))[None, :]
    log_lik = -0.5 * n * (d * jnp.log(2 * jnp.pi) + jnp.sum(jnp.log(lam[:q]))
                          + (d - q) * jnp.log(noise_var) + d)
    return PPCA(mean, w, noise_var, log_lik, lam)
