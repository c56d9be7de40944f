r"""Predictive distributions: what a posterior over θ says about a new output.

Regression (Gaussian likelihood) returns ``Predictive(mean, aleatoric_var, epistemic_var)``: the total
predictive variance of y is ``aleatoric_var + epistemic_var`` with ``aleatoric_var = σ²`` (the noise)
and ``epistemic_var = Var_θ[f(x; θ)]`` (``J Σ Jᵀ`` for the linearised/GLM predictive).

Classification returns ``ClassPredictive(probs, epistemic_var)``: class probabilities and the posterior
variance of the logits. The GLM predictive uses the probit approximation (MacKay 1992):
``E[sigmoid(f)] ≈ sigmoid(μ / sqrt(1 + π v / 8))``, applied per class for a softmax.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from bayesjax import likelihoods as _lik


class Predictive(NamedTuple):
    """Regression predictive: mean of y, noise variance σ², and the variance of f over θ."""

    mean: jax.Array
    aleatoric_var: jax.Array
    epistemic_var: jax.Array

    @property
    def total_var(self) -> jax.Array:
        return self.aleatoric_var + self.epistemic_var


class ClassPredictive(NamedTuple):
    """Classification predictive: class probabilities (``P(y=1)`` for a Bernoulli) and the
    posterior variance of the logits."""

    probs: jax.Array
    epistemic_var: jax.Array


def probit(likelihood, mean, var):
    """Probit approximation of ``E[link(f)]`` for ``f ~ N(mean, var)`` (per output)."""
    scaled = mean / jnp.sqrt(1.0 + jnp.pi * var / 8.0)
    if isinstance(likelihood, _lik.Categorical):
        return jax.nn.softmax(scaled, axis=-1)
    return jax.nn.sigmoid(scaled)


def from_moments(likelihood, mean, var, out_shape):
    """The predictive for outputs with posterior ``mean`` and ``var`` (M, K), shaped like the
    network's outputs ``out_shape``."""
    mean = jnp.reshape(mean, out_shape)
    var = jnp.reshape(var, out_shape)
    if isinstance(likelihood, _lik.Gaussian):
        return Predictive(mean, jnp.full_like(mean, jnp.square(likelihood.noise)), var)
    return ClassPredictive(probit(likelihood, mean, var), var)


def from_samples(likelihood, outputs):
    """The Monte Carlo predictive from sampled network outputs ``(S, ...)``."""
    if isinstance(likelihood, _lik.Gaussian):
        mean = outputs.mean(0)
        return Predictive(mean, jnp.full_like(mean, jnp.square(likelihood.noise)), outputs.var(0))
    probs = likelihood.mean(outputs).mean(0)
    return ClassPredictive(probs, outputs.var(0))
