"""The densities compared on digits (pixels / 16 in [0, 1]^64), each with its log-density (nats
per image) and a sampler: a Gaussian mixture (one full-covariance component per digit class,
``bj.classifiers.GaussianClassifier`` with an Inverse-Wishart prior), a broad Gaussian noise
model, their 0.01/0.99 mixture, and a Gaussian kernel density on the training images."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp

import bayesjax as bj


def fit_mixture(x, y, *, prior_scale: float):
    """The class-conditional Gaussians as a density ``p(x) = Σ_k π_k N(x; μ_k, Σ_k)``."""
    d = x.shape[1]
    clf = bj.classifiers.GaussianClassifier(
        prior=bj.classifiers.InverseWishart(df=d + 2, scale=prior_scale))
    return clf, clf.fit(jnp.asarray(x), jnp.asarray(y))


def mixture_log_prob(clf, fitted, x) -> np.ndarray:
    return np.asarray(logsumexp(clf.log_joint(fitted, jnp.asarray(x)), axis=1), np.float64)


def mixture_sample(key, fitted, n: int) -> np.ndarray:
    k_y, k_z = jax.random.split(key)
    y = jax.random.categorical(k_y, fitted.log_class_prior, shape=(n,))
    z = jax.random.normal(k_z, (n, fitted.mean.shape[1]))
    return np.asarray(fitted.mean[y] + jnp.einsum("nij,nj->ni", fitted.chol[y], z))


def noise_log_prob(x, *, centre: float, scale: float) -> np.ndarray:
    """The noise model q = N(centre·1, scale² I): images of pixel noise."""
    x = np.asarray(x, np.float64)
    d = x.shape[1]
    return -0.5 * np.sum(np.square((x - centre) / scale), 1) - d * math.log(
        scale * math.sqrt(2 * math.pi))


def noise_sample(key, n: int, d: int, *, centre: float, scale: float) -> np.ndarray:
    return np.asarray(centre + scale * jax.random.normal(key, (n, d)))


def mixed_log_prob(log_p, log_q, weight: float) -> np.ndarray:
    """``log(w p + (1 − w) q)``, stably."""
    return np.logaddexp(math.log(weight) + log_p, math.log1p(-weight) + log_q)


def mixed_sample(key, sample_p, sample_q, weight: float) -> tuple[np.ndarray, np.ndarray]:
    """Each row from p with probability ``weight``, else from q; also the mask of p-rows."""
    from_p = np.asarray(jax.random.uniform(key, (sample_p.shape[0],)) < weight)
    return np.where(from_p[:, None], sample_p, sample_q), from_p


def kde_log_prob(x, train, bandwidth: float) -> np.ndarray:
    """``log (1/N) Σ_i N(x; x_i, h² I)`` per row of x."""
    x, train = jnp.asarray(x), jnp.asarray(train)
    d = x.shape[1]
    sq = (jnp.sum(x * x, 1)[:, None] + jnp.sum(train * train, 1)[None] - 2 * x @ train.T)
    log_k = -0.5 * jnp.maximum(sq, 0.0) / bandwidth ** 2 - d * math.log(bandwidth
                                                                         * math.sqrt(2 * math.pi))
    return np.asarray(logsumexp(log_k, axis=1) - math.log(train.shape[0]), np.float64)


def kde_sample(key, train, bandwidth: float, n: int) -> np.ndarray:
    k_i, k_z = jax.random.split(key)
    idx = jax.random.randint(k_i, (n,), 0, train.shape[0])
    return np.asarray(jnp.asarray(train)[idx] + bandwidth * jax.random.normal(k_z, (n, train.shape[1])))
