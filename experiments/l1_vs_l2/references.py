"""What the diabetes MAPs are checked against: the closed-form ridge solution, the lasso KKT
conditions, the prior normalisers, and the float32 rounding bounds that make "equal" precise.

All in float64 numpy on ``X̃ = [X, 1]`` (the design with the intercept column). Units: the summed
negative log-likelihood ``||y − X̃θ||²/(2σ²)``, θ = (w, w0).
"""

from __future__ import annotations

import math

import jax
import numpy as np

from bayesjax import conjugate

U32 = 2.0**-24  # unit roundoff of float32


def with_ones(x):
    """``X̃ = [X, 1]``, float64: the design with the intercept column."""
    x = np.asarray(x, np.float64)
    return np.concatenate([x, np.ones((x.shape[0], 1))], axis=1)


def ols_noise(x, y) -> float:
    """σ = sqrt(RSS / (N - p - 1)), the unbiased residual std of least squares (closed form)."""
    xt, y = with_ones(x), np.asarray(y, np.float64)
    r = y - xt @ np.linalg.lstsq(xt, y, rcond=None)[0]
    return float(np.sqrt(r @ r / (xt.shape[0] - xt.shape[1])))


def lipschitz(x, noise) -> float:
    """L = λmax(X̃ᵀX̃)/(N σ²): Lipschitz constant of the gradient of the per-datum negative
    log-likelihood ``||y - X̃θ||² / (2σ² N)`` that ``fit_map`` minimises."""
    xt = with_ones(x)
    return float(np.linalg.eigvalsh(xt.T @ xt).max() / (xt.shape[0] * noise**2))


def precision(x, noise, scale) -> np.ndarray:
    """``A = X̃ᵀX̃/σ² + diag(1/s², …, 1/s², 0)``: the Hessian of the Gaussian-prior negative log
    posterior (flat intercept), float64."""
    xt = with_ones(x)
    return xt.T @ xt / noise**2 + np.diag(np.append(np.full(xt.shape[1] - 1, scale**-2.0), 0.0))


def ridge(x, y, noise, scale) -> np.ndarray:
    r"""The Gaussian-prior MAP θ = (w, w0), float64: the posterior mean of Bayesian linear
    regression with ``w_j ~ N(0, s²)`` and a flat prior on the intercept (ridge with λ = 1/(2s²) on
    the summed NLL).

    ``bj.conjugate.bayesian_linear_regression`` takes finite prior scales only, so the flat
    intercept is integrated out exactly instead: the posterior of w is that of the regression of
    the centred ``y − ȳ`` on the centred ``X − x̄`` without intercept, and ``w0 = ȳ − x̄ᵀw``. (The
    same solution as ``A θ = X̃ᵀy/σ²``, to float64 rounding.)
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    xm, ym = x.mean(0), y.mean()
    with jax.enable_x64(True):
        post = conjugate.bayesian_linear_regression(x - xm, y - ym, noise=noise,
                                                    prior_scale=scale)
        w = np.asarray(post.mean, np.float64)
    return np.append(w, ym - xm @ w)


def gradient_floor(x, y, noise, theta, lr):
    """Componentwise float32 floor under the summed NLL gradient ``X̃ᵀ(X̃θ - y)/σ²`` that an
    iteration at step ``lr`` (per-datum units) can reach: the evaluation error
    ``γ_n (|X̃|ᵀ(|y| + |X̃||θ|))/σ²``, ``γ_n = n u/(1 - n u)``, n = N + p + 2 (the dot-product
    bound, Higham 2002, §3.1), plus the stagnation floor ``N u |θ_j| / lr`` (a step smaller than
    half an ulp of θ_j is lost)."""
    xt, y, theta = with_ones(x), np.asarray(y, np.float64), np.abs(np.asarray(theta, np.float64))
    n = xt.shape[0] + xt.shape[1] + 1
    ax = np.abs(xt)
    return (n * U32 / (1.0 - n * U32)) * (ax.T @ (np.abs(y) + ax @ theta)) / noise**2 \
        + U32 * xt.shape[0] * theta / lr


def ridge_tolerance(x, y, noise, scale, theta, lr) -> float:
    """Float32 bound on ``||θ̂ - θ*||₂`` for the Gaussian MAP: for a quadratic
    ``||θ̂ - θ*||₂ ≤ ||A⁻¹||₂ ||e||₂`` (A from :func:`precision`), e the gradient floor plus the
    rounding of the prior gradient ``w/s²`` (relative 3u)."""
    e = gradient_floor(x, y, noise, theta, lr)
    e[:-1] += 3.0 * U32 * np.abs(theta[:-1]) / scale**2
    return float(np.linalg.norm(e) / np.linalg.eigvalsh(precision(x, noise, scale)).min())


def lasso_kkt(x, y, noise, b, theta):
    """Violation of the lasso KKT conditions for ``||y - X̃θ||²/(2σ²) + ||w||₁/b`` at θ = (w, w0),
    per coordinate, in nats per unit weight: ``|X_jᵀr/σ² - sign(w_j)/b|`` where ``w_j ≠ 0``,
    ``max(0, |X_jᵀr|/σ² - 1/b)`` where ``w_j = 0``, and ``|Σr|/σ²`` for the intercept."""
    xt, y, theta = with_ones(x), np.asarray(y, np.float64), np.asarray(theta, np.float64)
    c = xt.T @ (y - xt @ theta) / noise**2
    w = theta[:-1]
    viol = np.where(w != 0.0, np.abs(c[:-1] - np.sign(w) / b),
                    np.maximum(0.0, np.abs(c[:-1]) - 1.0 / b))
    return np.append(viol, abs(c[-1]))


def lasso_tolerance(x, y, noise, b, theta, lr):
    """Per-coordinate float32 bound on the KKT violation: the gradient floor plus the rounding of
    the prox threshold ``lr/(N b)`` (relative 4u)."""
    e = gradient_floor(x, y, noise, theta, lr)
    e[:-1] += 4.0 * U32 / b
    return e


def lasso_b_max(x, y, noise) -> float:
    """``b_max = σ²/max_j |X_cᵀy_c|`` (centred data): the largest b at which the lasso MAP is all
    zero (λ = 1/b ≥ λ_max)."""
    xc = x - x.mean(0, dtype=np.float64)
    yc = y - y.mean(dtype=np.float64)
    return float(noise**2 / np.abs(xc.T @ yc).max())


def prior_constant(prior_kind: str, scale: float, size: int) -> float:
    """``log_prob + penalty`` for ``size`` weights: ``-size·log(s√(2π))`` (Gaussian) or
    ``-size·log(2b)`` (Laplace)."""
    if prior_kind == "gaussian":
        return -size * (math.log(scale) + 0.5 * math.log(2.0 * math.pi))
    return -size * math.log(2.0 * scale)
