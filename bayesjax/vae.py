r"""Variational autoencoders read through Bayes' rule: ``p(x) = ∫ p(x | z) p(z) dz``, ``p(z) = N(0, I)``.

An encoder ``q(z | x) = N(m(x), diag(exp(ℓ(x))))`` approximates the posterior ``p(z | x)``; the
evidence lower bound (ELBO) of one data point is

.. math::

    \log p(x) \;\ge\; \mathbb{E}_{q(z|x)}[\log p(x \mid z)] - \beta\,\mathrm{KL}(q(z|x) \,\|\, p(z)),

with equality at β = 1 exactly when ``q(z | x) = p(z | x)``. A β-VAE weights the KL by β.
**Posterior collapse** is the update that does nothing: ``q(z_i | x) = p(z_i)`` for every x, so
latent i carries ``KL = 0`` nats.

- ``gaussian_kl``: ``KL(N(m, diag e^ℓ) ‖ N(0, I))`` per latent dimension, in closed form;
- ``elbo``: the (β-)ELBO of a Gaussian-decoder VAE summed over the data (a one-sample Monte Carlo
  estimate of the reconstruction term when the decoder mean comes from a sampled z);
- ``fit_linear_vae``: the linear VAE of Lucas et al. (2019), *Don't blame the ELBO! A linear VAE
  perspective on posterior collapse* (NeurIPS), whose ELBO is analytic and whose optimum is
  probabilistic PCA (``bayesjax.conjugate.ppca``) when σ² is learned.

Sums are in nats over the N rows of the data; ``kl_per_latent`` is a per-row average (it says so).
Bad input (β ≤ 0, σ² ≤ 0, a latent size out of range, NaN data) raises ``ValueError`` before
anything is compiled. Arrays follow the data's dtype (float32 by default).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from bayesjax import progress
from bayesjax._checks import _is_concrete, positive_int, positive_scalar
from bayesjax.ppca import sample_moments

__all__ = ["LinearVAEResult", "elbo", "fit_linear_vae", "gaussian_kl", "linear_vae_elbo"]


def gaussian_kl(mean, log_var) -> jax.Array:
    r"""``KL(N(mean, diag exp(log_var)) ‖ N(0, I))`` per latent dimension, in nats:

    .. math::  \mathrm{KL}_i = \tfrac12\big(m_i^2 + e^{\ell_i} - 1 - \ell_i\big)

    (elementwise; sum over the last axis for the KL of the whole latent vector).

    Example:
      >>> float(gaussian_kl(jnp.array(0.0), jnp.array(0.0)))  # q = p: no information
      0.0
    """
    mean, log_var = jnp.asarray(mean), jnp.asarray(log_var)
    return 0.5 * (jnp.square(mean) + jnp.exp(log_var) - 1.0 - log_var)


def elbo(x, x_mean, z_mean, z_log_var, *, noise_var, beta=1.0) -> jax.Array:
    r"""The β-ELBO of a VAE with Gaussian decoder ``p(x | z) = N(x_mean(z), noise_var · I)``,
    summed over the N rows, in nats:

    .. math::

        \sum_n \Big[\log \mathcal N(x_n \mid \hat x_n, \sigma^2 I)
                    - \beta \sum_i \mathrm{KL}(q(z_i | x_n) \,\|\, p(z_i))\Big].

    ``x_mean`` is the decoder's mean at ``z ~ q(z | x)`` (one reparameterised draw per row: the
    reconstruction term is then an unbiased one-sample estimate); the KL is exact.

    Args:
      x: (N, D) data.
      x_mean: (N, D) decoder means.
      z_mean, z_log_var: (N, K) the encoder's mean and log-variance.
      noise_var: σ² > 0 (a scalar, or (D,) per dimension), the decoder variance — not σ.
      beta: β > 0, the weight of the KL (1 for the ELBO proper).
    """
    positive_scalar("beta", beta, owner="elbo")
    x, x_mean = jnp.asarray(x), jnp.asarray(x_mean)
    if x.shape != x_mean.shape or x.ndim != 2:
        raise ValueError(f"elbo: x and x_mean must have one (N, D) shape, got {x.shape}, "
                         f"{x_mean.shape}")
    z_mean, z_log_var = jnp.asarray(z_mean), jnp.asarray(z_log_var)
    if z_mean.shape != z_log_var.shape or z_mean.shape[:1] != x.shape[:1] or z_mean.ndim != 2:
        raise ValueError(f"elbo: z_mean and z_log_var must have shape ({x.shape[0]}, K), got "
                         f"{z_mean.shape}, {z_log_var.shape}")
    var = jnp.asarray(noise_var, x.dtype)
    var = jnp.broadcast_to(var[None, :] if var.ndim == 1 else var, x.shape)
    if _is_concrete(var) and not bool(jnp.all(var > 0)):
        raise ValueError(f"elbo: noise_var must be > 0, got {noise_var!r}")
    log_lik = -0.5 * jnp.sum(jnp.square(x - x_mean) / var + jnp.log(2 * jnp.pi * var))
    return log_lik - beta * jnp.sum(gaussian_kl(z_mean, z_log_var))


# ----------------------------------------------------------------------------- the linear VAE
class LinearVAEResult(NamedTuple):
    r"""A fitted linear VAE: decoder ``p(x | z) = N(W z + mean, noise_var · I)``, encoder
    ``q(z | x) = N(V (x − mean), diag(exp(log_var)))``.

    Attributes:
      W: (D, K) decoder weights.
      mean: (D,) the data mean (the decoder's offset; the optimum for every W, V).
      noise_var: σ² (learned, or the fixed value given).
      elbo: the analytic objective ``Σ_n E_q log p(x_n | z) − β KL`` at the fit, summed over the N
        rows (nats) — the ELBO proper when β = 1.
      kl_per_latent: (K,) ``KL(q(z_i | x) ‖ p(z_i))`` averaged over the rows (nats).
      V: (K, D) encoder weights; log_var: (K,) encoder log-variances (the same for every x).
      grad_norm: the norm of the gradient of the per-row objective at the fit (its convergence).
      elbo_trace: (num_steps,) the objective (summed, nats) before each step.
    """

    W: jax.Array
    mean: jax.Array
    noise_var: jax.Array
    elbo: jax.Array
    kl_per_latent: jax.Array
    V: jax.Array
    log_var: jax.Array
    grad_norm: jax.Array
    elbo_trace: jax.Array


def linear_vae_elbo(W, V, log_var, noise_var, cov, num_data, *, beta=1.0):
    r"""The linear VAE's analytic β-ELBO summed over N rows, and its KL per latent (row average).

    With ``C`` the (1/N) covariance of the rows about the decoder offset, ``A = I − W V``,
    ``s² = exp(log_var)`` and σ² = ``noise_var``, the expectations are exact:

    .. math::

        \sum_n \mathbb{E}_q \log p(x_n|z) = -\tfrac{N}{2}\Big[D \log 2\pi\sigma^2
            + \frac{\mathrm{tr}(A C A^\top) + \sum_i s_i^2 \lVert w_i\rVert^2}{\sigma^2}\Big],
        \qquad \overline{\mathrm{KL}}_i = \tfrac12\big((V C V^\top)_{ii} + s_i^2 - 1 - \log s_i^2\big).

    Returns ``(elbo, kl_per_latent)``.
    """
    d = cov.shape[0]
    vc = V @ cov                                           # O(D²K): no D×D product of W V
    vcv = vc @ V.T
    wtw = W.T @ W
    tr_acat = jnp.trace(cov) - 2.0 * jnp.sum(W * vc.T) + jnp.sum(wtw * vcv)
    sq_err = tr_acat + jnp.sum(jnp.exp(log_var) * jnp.diagonal(wtw))
    recon = -0.5 * num_data * (d * jnp.log(2 * jnp.pi * noise_var) + sq_err / noise_var)
    kl = gaussian_kl(0.0, log_var) + 0.5 * jnp.diagonal(vcv)
    return recon - beta * num_data * jnp.sum(kl), kl


@functools.partial(jax.jit, static_argnames=("latent_dim", "num_steps", "learn_noise", "bar"))
def _fit(key, cov, num_data, beta, noise_var, learning_rate, *, latent_dim, num_steps,
         learn_noise, bar=False):
    d, dt = cov.shape[0], cov.dtype
    kw, kv = jax.random.split(key)
    scale = jnp.sqrt(jnp.trace(cov) / d)
    params = {"W": 0.1 * scale * jax.random.normal(kw, (d, latent_dim), dt),
              "V": 0.1 / scale * jax.random.normal(kv, (latent_dim, d), dt),
              "log_var": jnp.zeros((latent_dim,), dt)}
    if learn_noise:
        params["log_noise_var"] = jnp.log(jnp.trace(cov) / d)

    def objective(p):  # the ELBO, and the per-row negative ELBO the optimiser minimises
        nv = jnp.exp(p["log_noise_var"]) if learn_noise else noise_var
        value, kl = linear_vae_elbo(p["W"], p["V"], p["log_var"], nv, cov, num_data, beta=beta)
        return -value / num_data, (value, kl, nv)

    opt = optax.adam(optax.cosine_decay_schedule(learning_rate, num_steps, alpha=1e-3))
    grad_fn = jax.value_and_grad(objective, has_aux=True)

    def step(carry, _):
        p, state = carry
        (_, (value, _, _)), g = grad_fn(p)
        with jax.numpy_dtype_promotion("standard"):  # optax's adam raises a float to its int count
            updates, state = opt.update(g, state, p)
        return (optax.apply_updates(p, updates), state), value

    (params, _), trace = progress.scan(step, (params, opt.init(params)), None, num_steps,
                                       label="fit_linear_vae", enabled=bar)
    (_, (value, kl, nv)), g = grad_fn(params)
    gnorm = optax.tree.norm(g)
    return params, value, kl, nv, gnorm, trace


def fit_linear_vae(key, x, latent_dim, *, beta=1.0, noise_var=None, num_steps=5000,
                   learning_rate=1e-2, progress_bar: bool = False) -> LinearVAEResult:
    r"""Fit the linear VAE of Lucas et al. (2019) by maximising its analytic β-ELBO.

    Decoder ``p(x | z) = N(W z + mean, σ² I)``, prior ``p(z) = N(0, I)``, encoder
    ``q(z | x) = N(V (x − mean), diag(s²))``. The ELBO depends on the data only through N and the
    (1/N) sample covariance (see ``linear_vae_elbo``), so a step costs O(D²K) whatever N. ``mean``
    is the sample mean (the optimum). Training is one ``jit``: Adam with a cosine-decayed step
    (``learning_rate`` at the start) inside ``lax.scan``, on the per-row negative ELBO.

    At the optimum (Lucas et al. 2019, Tipping & Bishop 1999), with λ_i the eigenvalues of the
    sample covariance: latent i carries ``KL = ½ log(λ_i / (βσ²))`` nats if λ_i > βσ², else it
    collapses (``KL = 0``); with ``noise_var=None`` σ² is learned and (β = 1) the fit is
    probabilistic PCA, ``σ² = mean of the discarded λ``, ELBO = the pPCA log-likelihood.

    Args:
      key: a ``jax.random`` key (the initial W, V).
      x: (N, D) data.
      latent_dim: K, 1 ≤ K ≤ D.
      beta: β > 0, the KL weight.
      noise_var: σ² > 0 fixed, or None to learn it.
      num_steps, learning_rate: the optimiser's.
      progress_bar: a tqdm bar of the steps on stderr (``bayesjax.progress``, one per call, also
        under ``vmap``; none when ``CI`` is set). Off by default, as for ``fit_map``.

    ``jax.vmap`` over ``key``, ``beta`` or ``noise_var`` fits a sweep in one compilation.

    Example:
      >>> x = jax.random.normal(jax.random.key(0), (500, 4)) * jnp.array([3.0, 1.0, 0.5, 0.5])
      >>> res = fit_linear_vae(jax.random.key(1), x, 1, noise_var=1.0)
      >>> res.kl_per_latent.shape
      (1,)
    """
    owner = "fit_linear_vae"
    positive_scalar("beta", beta, owner=owner)
    if noise_var is not None:
        positive_scalar("noise_var", noise_var, owner=owner)
    positive_scalar("learning_rate", learning_rate, owner=owner)
    num_steps = positive_int("num_steps", num_steps, owner=owner)
    x, mean, cov = sample_moments(owner, x)
    n, d = x.shape
    latent_dim = positive_int("latent_dim", latent_dim, owner=owner)
    if latent_dim > d:
        raise ValueError(f"{owner}: latent_dim must be <= the data dimension {d}, got {latent_dim}")
    nv = jnp.asarray(1.0 if noise_var is None else noise_var, x.dtype)
    bar = progress.active(progress_bar, owner=owner)
    params, value, kl, nv, gnorm, trace = _fit(
        key, cov, jnp.asarray(n, x.dtype), jnp.asarray(beta, x.dtype), nv,
        jnp.asarray(learning_rate, x.dtype), latent_dim=latent_dim, num_steps=num_steps,
        learn_noise=noise_var is None, bar=bar)
    return LinearVAEResult(params["W"], mean, nv, value, kl, params["V"], params["log_var"],
                           gnorm, trace)
