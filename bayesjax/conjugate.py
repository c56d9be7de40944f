r"""Conjugate posteriors in closed form: the exact references every approximate method is tested on.

Four models, each returning a NamedTuple with the posterior's parameters and
``log_marginal_likelihood`` = ``log p(D)`` in nats (a **sum** over the data, the probability of the
observed sequence, no binomial or multinomial coefficient):

- ``normal_known_variance``: ``x_i ~ N(μ, σ²)`` i.i.d., ``μ ~ N(m₀, s₀²)``;
- ``beta_bernoulli``: ``s`` successes in ``n`` Bernoulli(θ) trials, ``θ ~ Beta(α, β)``;
- ``dirichlet_categorical``: category counts ``n_k``, ``π ~ Dirichlet(α)``, over leading axes;
- ``bayesian_linear_regression``: ``y = Φw + ε``, ``ε ~ N(0, σ²I)``, ``w ~ N(m₀, diag(s²))``.

``ppca`` (probabilistic PCA's maximum-likelihood closed form, Tipping & Bishop 1999) lives in
``bayesjax/ppca.py`` and is re-exported here.

Arrays are float32 by default and float64 when x64 is enabled (the dtype follows the inputs). Bad
input (non-positive scales or concentrations, NaN, shape mismatch) raises ``ValueError`` naming the
argument, before anything is compiled. Inside ``jit`` traced values pass unchecked.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np
from jax.scipy.special import gammaln

from bayesjax._checks import _is_concrete, finite_array, positive_scalar
from bayesjax.ppca import PPCA, ppca  # probabilistic PCA, in its own file (its own concept)
from bayesjax.predictive import Predictive

__all__ = ["BLRPosterior", "BetaPosterior", "DirichletPosterior", "NormalPosterior", "PPCA",
           "bayesian_linear_regression", "beta_bernoulli", "dirichlet_categorical",
           "normal_known_variance", "ppca"]


def _widest(*values):
    """The widest floating dtype among the array inputs (Python scalars are weak and do not count);
    the default float (float32, or float64 under x64) if there is none. Independent of
    ``jax_numpy_dtype_promotion``."""
    floats = [np.dtype(v.dtype) for v in values
              if hasattr(v, "dtype") and jnp.issubdtype(v.dtype, jnp.floating)]
    if not floats:
        return jnp.result_type(float)
    return jax.dtypes.canonicalize_dtype(max(floats, key=lambda d: d.itemsize))


def _float(name: str, value, dtype) -> jax.Array:
    """A finite array cast to ``dtype``."""
    return finite_array(name, value).astype(dtype)


def _positive(name: str, value, owner: str, dtype) -> jax.Array:
    """A finite array whose entries are all > 0."""
    arr = _float(f"{owner}: {name}", value, dtype)
    if _is_concrete(arr) and arr.size and not bool(jnp.all(arr > 0)):
        raise ValueError(f"{owner}: {name} must be > 0 everywhere, got min {float(jnp.min(arr))}")
    return arr


def _scalar_or_vector(name: str, arr, d: int, owner: str):
    if arr.shape not in ((), (d,)):
        raise ValueError(f"{owner}: {name} must be a scalar or have shape ({d},), got {arr.shape}")
    return jnp.broadcast_to(arr, (d,))


def _betaln(a, b):
    # jax.scipy.special.betaln is accurate only to ~1e-6 even in float64 (e.g. at (1, 8))
    return gammaln(a) + gammaln(b) - gammaln(a + b)


def _check_prob(prob) -> float:
    p = float(prob)
    if not 0.0 < p < 1.0:
        raise ValueError(f"prob must be in (0, 1), got {prob!r}")
    return p


# ----------------------------------------------------------------------------- Normal–Normal
class NormalPosterior(NamedTuple):
    r"""``μ | x ~ N(mean, var)``; ``log_marginal_likelihood = log p(x)`` (nats); ``noise`` = σ.

    ``predictive_var = var + σ²`` is the variance of a new ``x* | x ~ N(mean, var + σ²)``;
    ``map`` is the posterior mode (= ``mean``).
    """

    mean: jax.Array
    var: jax.Array
    log_marginal_likelihood: jax.Array
    noise: jax.Array

    @property
    def map(self) -> jax.Array:
        return self.mean

    @property
    def predictive_var(self) -> jax.Array:
        return self.var + jnp.square(self.noise)


def normal_known_variance(x, *, noise, prior_mean=0.0, prior_scale=1.0) -> NormalPosterior:
    r"""The posterior of a Gaussian mean with known noise.

    Model: ``x_i ~ N(μ, σ²)`` i.i.d. (``noise`` = σ, not σ²), ``μ ~ N(m₀, s₀²)``. Then

    .. math::

        \frac{1}{v} = \frac{1}{s_0^2} + \frac{n}{\sigma^2}, \qquad
        m = v \Big(\frac{m_0}{s_0^2} + \frac{\sum_i x_i}{\sigma^2}\Big),

    and ``x ~ N(m₀ 1, σ²I + s₀² 11ᵀ)``, computed without an n×n matrix as

    .. math::

        \log p(x) = -\tfrac{n}{2}\log(2\pi\sigma^2) - \tfrac12\log\big(1 + n s_0^2/\sigma^2\big)
          - \frac{\sum_i (x_i - \bar x)^2}{2\sigma^2} - \frac{n(\bar x - m_0)^2}{2(\sigma^2 + n s_0^2)}.

    Args:
      x: the observations, shape (n,) (n = 0 returns the prior and log p = 0).
      noise: σ > 0, the known noise standard deviation.
      prior_mean, prior_scale: m₀ and s₀ > 0 (scalars).

    Example:
      >>> post = normal_known_variance(jnp.array([0.5, 1.5]), noise=1.0)
      >>> round(float(post.mean), 4), round(float(post.var), 4)  # (2/3, 1/3)
      (0.6667, 0.3333)
    """
    owner = "normal_known_variance"
    positive_scalar("noise", noise, owner=owner)
    positive_scalar("prior_scale", prior_scale, owner=owner)
    dt = _widest(x)
    x = _float(f"{owner}: x", x, dt)
    m0 = _float(f"{owner}: prior_mean", prior_mean, dt)
    if x.ndim != 1:
        raise ValueError(f"{owner}: x must have shape (n,), got {x.shape}")
    if m0.shape != ():
        raise ValueError(f"{owner}: prior_mean must be a scalar, got shape {m0.shape}")
    sig2, s2 = jnp.square(jnp.asarray(noise, dt)), jnp.square(jnp.asarray(prior_scale, dt))
    n = x.shape[0]
    var = 1.0 / (1.0 / s2 + n / sig2)
    mean = var * (m0 / s2 + jnp.sum(x) / sig2)
    if n == 0:
        lml = jnp.zeros((), dt)
    else:
        xbar = jnp.mean(x)
        lml = (-0.5 * n * jnp.log(2 * jnp.pi * sig2) - 0.5 * jnp.log1p(n * s2 / sig2)
               - 0.5 * jnp.sum(jnp.square(x - xbar)) / sig2
               - 0.5 * n * jnp.square(xbar - m0) / (sig2 + n * s2))
    return NormalPosterior(mean, var, lml, jnp.asarray(noise, dt))


# ----------------------------------------------------------------------------- Beta–Bernoulli
class BetaPosterior(NamedTuple):
    r"""``θ | D ~ Beta(alpha, beta)``; ``log_marginal_likelihood = log p(sequence)`` (nats).

    ``mode`` (the MAP) is ``(α−1)/(α+β−2)``, defined when α ≥ 1, β ≥ 1 and α + β > 2; elsewhere
    (a density unbounded at 0 or 1, or flat) it is NaN.
    """

    alpha: jax.Array
    beta: jax.Array
    log_marginal_likelihood: jax.Array

    @property
    def mean(self) -> jax.Array:
        return self.alpha / (self.alpha + self.beta)

    @property
    def var(self) -> jax.Array:
        s = self.alpha + self.beta
        return self.alpha * self.beta / (jnp.square(s) * (s + 1.0))

    @property
    def mode(self) -> jax.Array:
        a, b = self.alpha, self.beta
        ok = (a >= 1.0) & (b >= 1.0) & (a + b > 2.0)
        return jnp.where(ok, (a - 1.0) / jnp.where(ok, a + b - 2.0, 1.0), jnp.nan)

    def interval(self, prob: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """The equal-tailed ``prob`` credible interval ``(lower, upper)``, by
        ``scipy.stats.beta.ppf`` on numpy float64 (concrete values only: not inside ``jit``)."""
        from scipy import stats

        p = _check_prob(prob)
        a, b = np.asarray(self.alpha, np.float64), np.asarray(self.beta, np.float64)
        return stats.beta.ppf(0.5 * (1 - p), a, b), stats.beta.ppf(0.5 * (1 + p), a, b)


def beta_bernoulli(successes, trials, *, alpha=1.0, beta=1.0) -> BetaPosterior:
    r"""The posterior of a Bernoulli probability θ after ``s`` successes in ``n`` trials.

    Model: ``θ ~ Beta(α, β)``, each trial a Bernoulli(θ). Then ``θ | D ~ Beta(α + s, β + n − s)`` and
    the probability of the observed **sequence** (not of the count: no binomial coefficient) is

    .. math::  \log p(D) = \log B(\alpha + s, \beta + n - s) - \log B(\alpha, \beta).

    ``successes``, ``trials``, ``alpha`` and ``beta`` may be arrays of one shape (or scalars):
    independent problems, one per entry.

    Example:
      >>> post = beta_bernoulli(70, 100, alpha=2.0, beta=2.0)
      >>> float(post.alpha), float(post.beta), round(float(post.mean), 3)
      (72.0, 32.0, 0.692)
    """
    owner = "beta_bernoulli"
    dt = _widest(successes, trials)
    s = _float(f"{owner}: successes", successes, dt)
    n = _float(f"{owner}: trials", trials, dt)
    a = _positive("alpha", alpha, owner, dt)
    b = _positive("beta", beta, owner, dt)
    shapes = {v.shape for v in (s, n, a, b) if v.shape != ()}
    if len(shapes) > 1:
        raise ValueError(f"{owner}: successes, trials, alpha and beta must be scalars or share one "
                         f"shape, got {s.shape}, {n.shape}, {a.shape}, {b.shape}")
    if _is_concrete(s) and _is_concrete(n) and not bool(jnp.all((s >= 0) & (s <= n))):
        raise ValueError(f"{owner}: need 0 <= successes <= trials, got successes={successes!r}, "
                         f"trials={trials!r}")
    pa, pb = a + s, b + n - s
    return BetaPosterior(pa, pb, _betaln(pa, pb) - _betaln(a, b))


# ----------------------------------------------------------------------------- Dirichlet–categorical
class DirichletPosterior(NamedTuple):
    r"""``π | D ~ Dirichlet(concentration)`` over the last axis, one per leading index;
    ``log_marginal_likelihood`` (shape: the leading axes) = ``log p(sequence)`` in nats.

    ``mean`` is also the posterior predictive ``p(x* = k | D) = (n_k + α_k)/(N + Σα)``
    (add-α smoothing). ``mode`` (the MAP) ``(c_k − 1)/(Σc − K)`` is defined when every
    ``c_k = n_k + α_k ≥ 1`` (and ``Σc > K``); elsewhere the whole row is NaN.
    """

    concentration: jax.Array
    log_marginal_likelihood: jax.Array

    @property
    def mean(self) -> jax.Array:
        c = self.concentration
        return c / jnp.sum(c, axis=-1, keepdims=True)

    @property
    def mode(self) -> jax.Array:
        c = self.concentration
        k = c.shape[-1]
        denom = jnp.sum(c, axis=-1, keepdims=True) - k
        ok = jnp.all(c >= 1.0, axis=-1, keepdims=True) & (denom > 0)
        return jnp.where(ok, (c - 1.0) / jnp.where(ok, denom, 1.0), jnp.nan)

    def marginal_interval(self, prob: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """Equal-tailed ``prob`` intervals of each component's marginal
        ``π_k ~ Beta(c_k, Σc − c_k)``: ``(lower, upper)``, each shaped like ``concentration``
        (scipy on numpy float64; concrete values only)."""
        from scipy import stats

        p = _check_prob(prob)
        c = np.asarray(self.concentration, np.float64)
        rest = c.sum(-1, keepdims=True) - c
        return stats.beta.ppf(0.5 * (1 - p), c, rest), stats.beta.ppf(0.5 * (1 + p), c, rest)


def dirichlet_categorical(counts, *, alpha) -> DirichletPosterior:
    r"""The posterior of category probabilities π after observing counts ``n_k`` (K categories).

    Model: ``π ~ Dirichlet(α)``, each observation a Categorical(π). Then
    ``π | D ~ Dirichlet(α + n)`` and the probability of the observed **sequence** (no multinomial
    coefficient), with ``N = Σ_k n_k`` and ``A = Σ_k α_k``, is

    .. math::

        \log p(D) = \log\Gamma(A) - \log\Gamma(A + N)
                    + \sum_k \big[\log\Gamma(\alpha_k + n_k) - \log\Gamma(\alpha_k)\big].

    Args:
      counts: non-negative (..., K) counts (integers or floats); leading axes are independent
        problems (a (V, V) bigram count matrix gives V Dirichlets, one per context).
      alpha: the concentration α > 0, a scalar or shape (K,) (broadcast over the leading axes).

    In float32 the log-gamma differences lose about 1e-7 of the magnitude of ``log p(D)``.

    Example:
      >>> post = dirichlet_categorical(jnp.array([[2, 0, 1], [0, 0, 0]]), alpha=1.0)
      >>> [round(float(p), 4) for p in post.mean[0]]  # (n + 1)/(N + 3)
      [0.5, 0.1667, 0.3333]
    """
    owner = "dirichlet_categorical"
    dt = _widest(counts)
    n = _float(f"{owner}: counts", counts, dt)
    a = _positive("alpha", alpha, owner, dt)
    if n.ndim < 1 or n.shape[-1] < 1:
        raise ValueError(f"{owner}: counts must have shape (..., K) with K >= 1, got {n.shape}")
    if _is_concrete(n) and not bool(jnp.all(n >= 0)):
        raise ValueError(f"{owner}: counts must be >= 0, got min {float(jnp.min(n))}")
    k = n.shape[-1]
    if a.shape not in ((), (k,)):
        raise ValueError(f"{owner}: alpha must be a scalar or have shape ({k},) (the last axis of "
                         f"counts), got {a.shape}")
    a = jnp.broadcast_to(a, n.shape)
    c = a + n
    total_a = jnp.sum(a, axis=-1)
    lml = (gammaln(total_a) - gammaln(total_a + jnp.sum(n, axis=-1))
           + jnp.sum(gammaln(c) - gammaln(a), axis=-1))
    return DirichletPosterior(c, lml)


# ----------------------------------------------------------------------------- linear regression
class BLRPosterior(NamedTuple):
    r"""``w | D ~ N(mean, cov)``, ``precision = cov⁻¹``, ``log_marginal_likelihood = log p(y)``
    (nats), ``noise`` = σ. ``predictive(phi_test)`` gives ``y* | D`` at new features."""

    mean: jax.Array
    cov: jax.Array
    precision: jax.Array
    log_marginal_likelihood: jax.Array
    noise: jax.Array

    def predictive(self, phi_test) -> Predictive:
        r"""``y* ~ N(φᵀm, σ² + φᵀΣφ)`` for each row φ of ``phi_test`` (M, D):
        ``Predictive(mean=φᵀm, aleatoric_var=σ², epistemic_var=φᵀΣφ)``."""
        phi_test = jnp.asarray(phi_test)
        d = self.mean.shape[0]
        if phi_test.ndim != 2 or phi_test.shape[1] != d:
            raise ValueError(f"predictive: phi_test must have shape (M, {d}), got {phi_test.shape}")
        mean = phi_test @ self.mean
        epi = jnp.sum((phi_test @ self.cov) * phi_test, axis=-1)
        return Predictive(mean, jnp.full_like(mean, jnp.square(self.noise)), epi)


def bayesian_linear_regression(phi, y, *, noise, prior_scale, prior_mean=None) -> BLRPosterior:
    r"""The exact posterior and evidence of Bayesian linear regression.

    Model: ``y = Φw + ε``, ``ε ~ N(0, σ²I)`` (``noise`` = σ), ``w ~ N(m₀, S₀)``, ``S₀ = diag(s²)``.
    Then ``P = ΦᵀΦ/σ² + S₀⁻¹``, ``Σ = P⁻¹``, ``m = m₀ + ΣΦᵀ(y − Φm₀)/σ²`` and
    ``y ~ N(Φm₀, σ²I + ΦS₀Φᵀ)``, evaluated in D dimensions (determinant lemma and Woodbury) as

    .. math::

        \log p(y) = -\tfrac12\Big[N\log(2\pi\sigma^2) + \frac{\|y - \Phi m\|^2}{\sigma^2}
            + (m - m_0)^\top S_0^{-1}(m - m_0) + \log\det(I + S_0^{1/2}\Phi^\top\Phi S_0^{1/2}/\sigma^2)\Big].

    Everything goes through the Cholesky factor of ``A = I + S₀^{½}ΦᵀΦS₀^{½}/σ²`` (eigenvalues ≥ 1,
    so it never fails); ``cov = S₀^{½}A⁻¹S₀^{½}`` is the one explicit inverse, returned for users.

    Args:
      phi: the (N, D) design (features).
      y: the (N,) targets.
      noise: σ > 0.
      prior_scale: s > 0, a scalar or (D,).
      prior_mean: m₀, None (zero), a scalar or (D,).

    Example:
      >>> phi = jnp.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]])
      >>> post = bayesian_linear_regression(phi, jnp.array([0.1, 0.9, 2.1]), noise=0.1, prior_scale=10.0)
      >>> [round(float(w), 2) for w in post.mean]
      [0.03, 1.0]
    """
    owner = "bayesian_linear_regression"
    positive_scalar("noise", noise, owner=owner)
    dt = _widest(phi, y)
    phi = _float(f"{owner}: phi", phi, dt)
    y = _float(f"{owner}: y", y, dt)
    if phi.ndim != 2:
        raise ValueError(f"{owner}: phi must have shape (N, D), got {phi.shape}")
    n, d = phi.shape
    if y.shape != (n,):
        raise ValueError(f"{owner}: y must have shape ({n},) to match phi {phi.shape}, got {y.shape}")
    s = _scalar_or_vector("prior_scale", _positive("prior_scale", prior_scale, owner, dt), d, owner)
    m0 = _float(f"{owner}: prior_mean", 0.0 if prior_mean is None else prior_mean, dt)
    m0 = _scalar_or_vector("prior_mean", m0, d, owner)
    return _blr(phi, y, jnp.asarray(noise, dt), s, m0)


@jax.jit
def _blr(phi, y, sigma, s, m0) -> BLRPosterior:
    """The closed form on validated arrays, compiled once per shape (op by op it costs ~1 s)."""
    n, d = phi.shape
    dt = phi.dtype
    resid0 = y - phi @ m0
    b = phi * (s / sigma)[None, :]                       # Φ S₀^{½} / σ
    chol = jnp.linalg.cholesky(jnp.eye(d, dtype=dt) + b.T @ b)
    # m − m₀ = S₀^{½} A⁻¹ S₀^{½} Φᵀ r / σ²
    delta = s * jsl.cho_solve((chol, True), b.T @ resid0 / sigma)
    mean = m0 + delta
    a_inv = jsl.cho_solve((chol, True), jnp.eye(d, dtype=dt))
    cov = s[:, None] * a_inv * s[None, :]
    cov = 0.5 * (cov + cov.T)
    precision = phi.T @ phi / jnp.square(sigma) + jnp.diag(1.0 / jnp.square(s))
    resid = y - phi @ mean
    lml = -0.5 * (n * jnp.log(2 * jnp.pi * jnp.square(sigma)) + jnp.sum(jnp.square(resid)) / sigma**2
                  + jnp.sum(jnp.square(delta / s)) + 2.0 * jnp.sum(jnp.log(jnp.diag(chol))))
    return BLRPosterior(mean, cov, precision, lml, sigma)
