r"""Likelihoods ``log p(y | f)`` of the data given the network outputs ``f``.

Every ``log_prob(outputs, y)`` is the **sum** over all data points of a **normalised** log density
(in nats), so that it can be added to a normalised log prior and integrated (evidence, NUTS).

=============================  ==================================================================
likelihood                     ``log_prob`` summed over the N points
=============================  ==================================================================
``Gaussian(noise=σ)``          ``-Σ (y-f)^2/(2σ^2) - N log(σ sqrt(2π))``  (regression, f = mean)
``HeteroscedasticGaussian()``  ``-Σ [(y-μ)^2 e^{-s} + s]/2 - N log sqrt(2π)``  (f = (μ, s = log σ²))
``Bernoulli()``                ``Σ y f - softplus(f)``                     (f = logit, y ∈ {0, 1})
``Categorical()``              ``Σ log_softmax(f)[y]``                     (f = K logits, y ∈ {0..K-1})
=============================  ==================================================================

Outputs of shape ``(N, 1)`` are accepted for targets of shape ``(N,)`` (a one-unit output layer);
``HeteroscedasticGaussian`` needs ``(N, 2)``; any other shape mismatch is an error, never a silent
broadcast.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import register_pytree_node_class

from bayesjax._checks import positive_scalar
from bayesjax._pytree import Fields

__all__ = ["Likelihood", "Gaussian", "HeteroscedasticGaussian", "Bernoulli", "Categorical"]

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def _squeeze_axis(out_shape: tuple, y_shape: tuple, name: str) -> bool:
    """Whether to drop a trailing output axis of size 1 (targets have none); else shapes must
    match exactly."""
    squeeze = len(out_shape) == len(y_shape) + 1 and out_shape[-1] == 1
    if (out_shape[:-1] if squeeze else out_shape) != y_shape:
        raise ValueError(
            f"likelihoods.{name}: network outputs of shape {out_shape} do not match "
            f"targets y of shape {y_shape}")
    return squeeze


def _align(outputs, y, name: str):
    if _squeeze_axis(tuple(outputs.shape), tuple(y.shape), name):
        return outputs[..., 0]
    return outputs


class Likelihood(Fields):
    """Abstract base: ``log_prob(outputs, y)`` (sum over points) and ``mean(outputs)``."""

    def log_prob(self, outputs, y) -> jax.Array:
        raise NotImplementedError

    def mean(self, outputs) -> jax.Array:
        """Predictive mean of y given the network outputs (identity / sigmoid / softmax)."""
        raise NotImplementedError

    def check_targets(self, y: np.ndarray) -> None:
        """Raise ``ValueError`` if ``y`` is not valid data for this likelihood."""

    def output_precision(self, f) -> jax.Array:
        """``Λ = -∂² log p(y|f) / ∂f²`` for one example's outputs ``f`` of shape (K,): the
        (K, K) matrix of the generalised Gauss-Newton ``Σ Jᵀ Λ J`` (it does not depend on y)."""
        raise NotImplementedError

    def output_precision_sqrt(self, f) -> jax.Array:
        """A (K, K) square root ``M`` with ``M Mᵀ = output_precision(f)``, so that the GGN is the Gram
        matrix ``Σ (Mᵀ J)ᵀ (Mᵀ J)`` of ``Mᵀ J`` (computed as K vector-Jacobian products). Default:
        from the eigendecomposition; the likelihoods below give it in closed form."""
        w, u = jnp.linalg.eigh(self.output_precision(f))
        return u * jnp.sqrt(jnp.maximum(w, 0.0))[None, :]

    def check_outputs(self, out_shape: tuple, y: np.ndarray) -> None:
        """Raise ``ValueError`` if outputs of ``out_shape`` cannot be compared with targets ``y``."""
        _squeeze_axis(tuple(out_shape), tuple(np.shape(y)), type(self).__name__)


@register_pytree_node_class
class Gaussian(Likelihood):
    """Gaussian observation noise: ``y ~ N(f(x), noise^2)``.

    Args:
      noise: the noise standard deviation σ (units of y, not a variance), > 0.
    """

    _fields = ("noise",)

    def __init__(self, noise=1.0):
        self.noise = positive_scalar("noise", noise, owner="likelihoods.Gaussian")

    def log_prob(self, outputs, y):
        f = _align(outputs, y, "Gaussian")
        r = (y - f) / self.noise
        return -0.5 * jnp.sum(jnp.square(r)) - y.size * (jnp.log(self.noise) + _LOG_SQRT_2PI)

    def mean(self, outputs):
        return outputs

    def output_precision(self, f):
        return jnp.eye(f.shape[-1], dtype=f.dtype) / jnp.square(self.noise)

    def output_precision_sqrt(self, f):
        return jnp.eye(f.shape[-1], dtype=f.dtype) / self.noise

    def check_targets(self, y):
        if not np.issubdtype(np.asarray(y).dtype, np.floating):
            raise ValueError(
                f"likelihoods.Gaussian: y must be a float array, got dtype {np.asarray(y).dtype}")


@register_pytree_node_class
class HeteroscedasticGaussian(Likelihood):
    r"""Gaussian noise whose variance the network predicts: ``y ~ N(μ(x), exp(s(x)))``.

    The network's last axis has 2 outputs per target, ``f = (μ, s)``: the mean μ (units of y) and the
    **log-variance** ``s = log σ²`` (σ² in units of y², so ``σ = exp(s/2)``); outputs ``(N, 2)`` for
    targets ``(N,)``, ``(N, D, 2)`` for ``(N, D)``. ``log_prob`` is the normalised density summed
    over the points, in nats: ``-Σ [(y-μ)² e^{-s}/2 + s/2 + log √(2π)]``.

    Curvature: the negative log-likelihood ``ℓ = r² e^{-s}/2 + s/2`` (``r = y-μ``) is not convex in
    (μ, s): its Hessian ``[[e^{-s}, r e^{-s}], [r e^{-s}, r² e^{-s}/2]]`` has determinant
    ``-r² e^{-2s}/2 < 0`` at every nonzero residual, so it would make the GGN indefinite.
    ``output_precision`` is instead the **Fisher** information, the Hessian's expectation over
    ``y ~ N(μ, e^{s})``: ``E[r²] = e^{s}`` and ``E[r] = 0`` give

    .. math::  E[\nabla^2 \ell] = \begin{pmatrix} e^{-s} & 0 \\ 0 & 1/2 \end{pmatrix}
               \quad\text{per target,}

    positive definite at every f, so the GGN ``Σ Jᵀ Λ J`` (full, diag, KFAC) is positive
    semi-definite. It does not depend on y, as the GGN needs.
    """

    def log_prob(self, outputs, y):
        mu, s = self._split(outputs, y)
        return -0.5 * jnp.sum(jnp.square(y - mu) * jnp.exp(-s) + s) - y.size * _LOG_SQRT_2PI

    @staticmethod
    def _split(outputs, y):
        if tuple(outputs.shape) != tuple(y.shape) + (2,):
            raise ValueError(
                f"likelihoods.HeteroscedasticGaussian: outputs of shape {tuple(outputs.shape)} must be "
                f"{tuple(y.shape)} + (2,) (mean, log-variance) for targets y of shape {tuple(y.shape)}")
        return outputs[..., 0], outputs[..., 1]

    def mean(self, outputs):
        return outputs[..., 0]

    def variance(self, outputs):
        """The noise variance ``exp(s)`` (units of y²) of outputs ``(..., 2)``."""
        return jnp.exp(outputs[..., 1])

    def output_precision(self, f):
        return jnp.diag(jnp.square(self._precision_sqrt_diag(f)))

    def output_precision_sqrt(self, f):
        return jnp.diag(self._precision_sqrt_diag(f))

    @staticmethod
    def _precision_sqrt_diag(f):
        """``(e^{-s/2}, 1/√2)`` per target, for one example's flattened outputs (K,) = (μ₁, s₁, …)."""
        pairs = jnp.reshape(f, (-1, 2))
        half = jnp.full_like(pairs[:, 1], math.sqrt(0.5))
        return jnp.stack([jnp.exp(-0.5 * pairs[:, 1]), half], axis=1).reshape(f.shape)

    def check_targets(self, y):
        if not np.issubdtype(np.asarray(y).dtype, np.floating):
            raise ValueError(f"likelihoods.HeteroscedasticGaussian: y must be a float array, got "
                             f"dtype {np.asarray(y).dtype}")

    def check_outputs(self, out_shape, y):
        y_shape = tuple(np.shape(y))
        if tuple(out_shape) != y_shape + (2,):
            raise ValueError(
                f"likelihoods.HeteroscedasticGaussian: network outputs of shape {tuple(out_shape)} "
                f"must be {y_shape} + (2,), a mean and a log-variance per target, for targets y of "
                f"shape {y_shape} (an output layer of 2 units)")


@register_pytree_node_class
class Bernoulli(Likelihood):
    """Binary labels ``y ∈ {0, 1}`` with ``P(y=1) = sigmoid(f)``; the network outputs logits."""

    def log_prob(self, outputs, y):
        f = _align(outputs, y, "Bernoulli")
        # integer or bool labels are 0/1 values in the logits' dtype (also under strict promotion)
        return jnp.sum(y.astype(f.dtype) * f - jax.nn.softplus(f))

    def mean(self, outputs):
        return jax.nn.sigmoid(outputs)

    def output_precision(self, f):
        p = jax.nn.sigmoid(f)
        return jnp.diag(p * (1.0 - p))

    def output_precision_sqrt(self, f):
        return jnp.diag(jnp.sqrt(jax.nn.sigmoid(f) * jax.nn.sigmoid(-f)))

    def check_targets(self, y):
        y = np.asarray(y)
        if not np.all((y == 0) | (y == 1)):
            raise ValueError("likelihoods.Bernoulli: y must contain only 0 and 1")


@register_pytree_node_class
class Categorical(Likelihood):
    """Integer class labels ``y ∈ {0, …, K-1}`` with ``P(y=k) = softmax(f)_k``; outputs are
    ``(N, K)`` logits."""

    def log_prob(self, outputs, y):
        if outputs.ndim != y.ndim + 1:
            raise ValueError(
                f"likelihoods.Categorical: outputs of shape {tuple(outputs.shape)} must have one "
                f"more axis (the K classes) than labels y of shape {tuple(y.shape)}")
        logp = jax.nn.log_softmax(outputs, axis=-1)
        return jnp.sum(jnp.take_along_axis(logp, y[..., None].astype(jnp.int32), axis=-1))

    def mean(self, outputs):
        return jax.nn.softmax(outputs, axis=-1)

    def output_precision(self, f):
        p = jax.nn.softmax(f, axis=-1)
        return jnp.diag(p) - p[:, None] * p[None, :]

    def output_precision_sqrt(self, f):
        # diag(p) − ppᵀ = M Mᵀ with M = diag(√p)(I − √p √pᵀ), since |√p| = 1
        s = jnp.sqrt(jax.nn.softmax(f, axis=-1))
        return s[:, None] * (jnp.eye(f.shape[-1], dtype=f.dtype) - s[:, None] * s[None, :])

    def check_targets(self, y):
        y = np.asarray(y)
        if not np.issubdtype(y.dtype, np.integer):
            raise ValueError(
                f"likelihoods.Categorical: y must hold integer class labels, got dtype {y.dtype}")
        if y.size and y.min() < 0:
            raise ValueError(f"likelihoods.Categorical: labels must be >= 0, got {y.min()}")

    def check_outputs(self, out_shape, y):
        y_shape = np.shape(y)
        if len(out_shape) != len(y_shape) + 1 or tuple(out_shape[:-1]) != tuple(y_shape):
            raise ValueError(
                f"likelihoods.Categorical: outputs of shape {tuple(out_shape)} must be "
                f"{tuple(y_shape)} + (K,) for labels y of shape {tuple(y_shape)}")
        if np.size(y) and int(np.max(y)) >= out_shape[-1]:
            raise ValueError(
                f"likelihoods.Categorical: label {int(np.max(y))} out of range for "
                f"{out_shape[-1]} output logits")
