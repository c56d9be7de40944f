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

from bayesjax import curvature as _curv
from bayesjax import kfac as _kf
from bayesjax import likelihoods as _lik
from bayesjax._checks import finite_array, one_of


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


def laplace_predictive(lap, x, method: str, key, num_samples: int):
    """``LaplaceResult.predictive``: the GLM predictive ``f ~ N(f(x;θ*), J P⁻¹ Jᵀ)`` (for ``kfac``
    from the layer taps, never a P-vector per output) or the average over draws of θ."""
    one_of("method", method, ("glm", "mc"), owner="LaplaceResult.predictive")
    x = finite_array("x", x)
    out_shape = jax.eval_shape(lap.post.apply_fn, lap.mean, x).shape
    if method == "mc":
        if key is None:
            raise ValueError("LaplaceResult.predictive(method='mc') draws parameters: pass "
                             "key=jax.random.key(...)")
        params = lap.sample(key, num_samples)
        outs = jax.vmap(lambda p: lap.post.apply_fn(p, x))(params)
        return from_samples(lap.post.likelihood, outs)
    p0, c = lap._prec(None)
    lap._assert_pd("at the posterior's prior")
    if lap.structure == "kfac":
        out, inputs, bs = _kf.dense_taps(lap.post, lap.mean, lap.layers, x)
        var = jnp.zeros(out.shape, out.dtype)
        for a, b, (lam, qa, qg) in zip(inputs, bs, lap._kfac_blocks(p0), strict=True):
            u2 = jnp.square(a @ qa)                     # (M, in)
            w = jnp.einsum("mko,ob->mkb", b, qg)       # (M, K, out)
            var = var + jnp.einsum("mkb,mb->mk", jnp.square(w), u2 @ (1.0 / lam))
    else:
        out, jac = _curv.jacobian(lap.post, lap.mean, lap.view, x)        # (M,K), (M,K,P)
        m, k, p = jac.shape
        jt = jac.reshape(m * k, p).T                                       # (P, M K)
        var = jnp.sum(lap._scaled(jt, p0, c, -1) * jt, axis=0).reshape(m, k)
    return from_moments(lap.post.likelihood, out, var, out_shape)
