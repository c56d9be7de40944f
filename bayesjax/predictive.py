r"""Predictive distributions: what a posterior over θ says about a new output.

Regression (Gaussian likelihood) returns ``Predictive(mean, aleatoric_var, epistemic_var)``: the total
predictive variance of y is ``aleatoric_var + epistemic_var`` with ``aleatoric_var = σ²`` (the noise)
and ``epistemic_var = Var_θ[f(x; θ)]`` (``J Σ Jᵀ`` for the linearised/GLM predictive).

Classification returns ``ClassPredictive(probs, epistemic_var)``: class probabilities and the posterior
variance of the logits. The GLM predictive uses the probit approximation (MacKay 1992):
``E[sigmoid(f)] ≈ sigmoid(μ / sqrt(1 + π v / 8))``, applied per class for a softmax. The other
``link_approx`` of laplace-torch need the K × K logit covariance per input (``logit_covariance``):
the Laplace bridge (``laplace_bridge``) and Monte Carlo over the logits (``mc_link``).
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.scipy.special import logsumexp

from bayesjax import curvature as _curv
from bayesjax import kfac as _kf
from bayesjax import likelihoods as _lik
from bayesjax._checks import finite_array, one_of, positive_int


class Predictive(NamedTuple):
    """Regression predictive: mean of y, noise (aleatoric) variance and the variance of the mean
    over θ (epistemic), in units of y²; ``total_var`` is their sum, the law of total variance
    ``Var[y] = E_θ[σ²(x;θ)] + Var_θ[μ(x;θ)]``. For a ``Gaussian`` likelihood ``aleatoric_var = σ²``
    everywhere; for a ``HeteroscedasticGaussian`` it is per input, ``E_θ[exp(s(x;θ))]``, and the
    fields have the targets' shape (the network's without its last axis of 2)."""

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
    network's outputs ``out_shape``.

    ``HeteroscedasticGaussian`` (outputs ``(μ, s = log σ²)``): ``epistemic_var`` is the variance of
    μ only, and ``aleatoric_var = E[exp(s)] = exp(s* + var_s / 2)``, the lognormal mean of
    ``s ~ N(s*, var_s)``. That is exactly ``E_θ[σ²(x;θ)]`` under the linearised (GLM) model the
    variances come from, so ``total_var`` is its exact predictive variance of y; the plug-in
    ``exp(s*)`` would drop the uncertainty of s (it is the median of σ², below the mean) and
    understate the noise most where the network is least certain of it, away from the data.
    The covariance of μ and s does not enter the variance of y (``E[y|θ] = μ`` whatever s)."""
    mean = jnp.reshape(mean, out_shape)
    var = jnp.reshape(var, out_shape)
    if isinstance(likelihood, _lik.HeteroscedasticGaussian):
        return Predictive(mean[..., 0], jnp.exp(mean[..., 1] + 0.5 * var[..., 1]), var[..., 0])
    if isinstance(likelihood, _lik.Gaussian):
        return Predictive(mean, jnp.full_like(mean, jnp.square(likelihood.noise)), var)
    return ClassPredictive(probit(likelihood, mean, var), var)


def from_samples(likelihood, outputs):
    """The Monte Carlo predictive from sampled network outputs ``(S, ...)``; for a
    ``HeteroscedasticGaussian`` (outputs ``(S, ..., 2)``) the aleatoric variance is the average of
    ``exp(s)`` over the draws and the epistemic one the variance of μ."""
    if isinstance(likelihood, _lik.HeteroscedasticGaussian):
        mu = outputs[..., 0]
        return Predictive(mu.mean(0), likelihood.variance(outputs).mean(0), mu.var(0))
    if isinstance(likelihood, _lik.Gaussian):
        mean = outputs.mean(0)
        return Predictive(mean, jnp.full_like(mean, jnp.square(likelihood.noise)), outputs.var(0))
    probs = likelihood.mean(outputs).mean(0)
    return ClassPredictive(probs, outputs.var(0))


LINKS = ("probit", "bridge", "bridge_norm", "mc")


def laplace_predictive(lap, x, method: str, key, num_samples: int, link_approx: str = "probit"):
    """``LaplaceResult.predictive``: the GLM predictive ``f ~ N(f(x;θ*), J P⁻¹ Jᵀ)`` (for ``kfac``
    from the layer taps, never a P-vector per output) pushed through the link by ``link_approx``,
    or the average over draws of θ."""
    owner = "LaplaceResult.predictive"
    one_of("method", method, ("glm", "mc"), owner=owner)
    one_of("link_approx", link_approx, LINKS, owner=owner)
    _check_link(lap.post.likelihood, method, link_approx, key)
    x = finite_array("x", x)
    out_shape = jax.eval_shape(lap.post.apply_fn, lap.mean, x).shape
    if method == "mc":
        if key is None:
            raise ValueError("LaplaceResult.predictive(method='mc') draws parameters: pass "
                             "key=jax.random.key(...)")
        params = lap.sample(key, num_samples)
        outs = jax.vmap(lambda p: lap.post.apply_fn(p, x))(params)
        return from_samples(lap.post.likelihood, outs)
    if link_approx == "probit":
        out, var = _logit_moments(lap, x, joint=False)
        return from_moments(lap.post.likelihood, out, var, out_shape)
    out, cov = _logit_moments(lap, x, joint=True)
    return link_predictive(key, lap.post.likelihood, out, cov, link_approx, num_samples, out_shape)


def logit_covariance(lap, x):
    """The GLM logits at inputs ``x``: their mean ``f(x; θ*)`` (M, K) and, per input, their (M, K, K)
    covariance ``Σ_x = J P⁻¹ Jᵀ`` over the classes (``J = ∂f(x)/∂θ`` at θ*; for ``kfac`` from the
    layer taps, without a P-vector per output). Units of the logits and their squares."""
    return _logit_moments(lap, finite_array("x", x), joint=True)


def _logit_moments(lap, x, joint: bool):
    """Logits (M, K) and their variances (M, K), or with ``joint`` their (M, K, K) covariances."""
    p0, c = lap._prec(None)
    lap._assert_pd("at the posterior's prior")
    if lap.structure == "kfac":
        out, inputs, bs = _kf.layer_taps(lap.post, lap.mean, lap.layers, x)
        m, k = out.shape
        var = jnp.zeros((m, k, k) if joint else (m, k), out.dtype)
        for a, b, (lam, qa, qg) in zip(inputs, bs, lap._kfac_blocks(p0), strict=True):
            u = a @ qa                                  # (M, positions, in)
            w = jnp.einsum("mkpo,ob->mkpb", b, qg)     # (M, K, positions, out)
            if a.shape[1] > 1:     # nnx.Conv: J_k = Σ_p ā_p ⊗ B_pk, in the eigenbases, per input
                def conv_var(uw, inv=1.0 / lam):
                    r = jnp.einsum("pa,kpb->kab", *uw)                # (K, in, out)
                    return (jnp.einsum("kab,lab,ab->kl", r, r, inv) if joint
                            else jnp.einsum("kab,ab->k", jnp.square(r), inv))

                chunk = max(1, min(m, _curv._JAC_BUDGET // (k * lam.size)))
                var = var + jax.lax.map(conv_var, (u, w), batch_size=chunk)
                continue
            u2, w = jnp.square(u[:, 0]), w[:, :, 0]     # nnx.Linear: J_k = ā ⊗ B_k, rank one
            if joint:
                var = var + jnp.einsum("mkb,mlb,mb->mkl", w, w, u2 @ (1.0 / lam))
            else:
                var = var + jnp.einsum("mkb,mb->mk", jnp.square(w), u2 @ (1.0 / lam))
        return out, var
    out, jac = _curv.jacobian(lap.post, lap.mean, lap.view, x)        # (M,K), (M,K,P)
    m, k, p = jac.shape
    jt = jac.reshape(m * k, p).T                                       # (P, M K)
    if joint:
        cov = jnp.einsum("mkp,pml->mkl", jac, lap._scaled(jt, p0, c, -1).reshape(p, m, k))
        return out, 0.5 * (cov + jnp.swapaxes(cov, -1, -2))
    return out, jnp.sum(lap._scaled(jt, p0, c, -1) * jt, axis=0).reshape(m, k)


def _check_link(likelihood, method, link_approx, key):
    owner = "LaplaceResult.predictive"
    if link_approx == "probit":              # the default: the only link of method='mc' and regression
        return
    if not isinstance(likelihood, (_lik.Bernoulli, _lik.Categorical)):
        raise ValueError(f"{owner}: link_approx={link_approx!r} applies to classification (Bernoulli, "
                         f"Categorical); a {type(likelihood).__name__} likelihood has no link")
    if method != "glm":
        raise ValueError(f"{owner}: link_approx={link_approx!r} applies to method='glm' (a Gaussian "
                         "over the logits); method='mc' samples θ and averages the link exactly")
    if link_approx == "mc" and key is None:
        raise ValueError(f"{owner}: link_approx='mc' draws logits from N(f(x;θ*), Σ_x): pass "
                         "key=jax.random.key(...)")
    if link_approx.startswith("bridge") and isinstance(likelihood, _lik.Bernoulli):
        raise ValueError(
            f"{owner}: link_approx={link_approx!r} maps a Gaussian over K ≥ 2 softmax logits to a "
            "Dirichlet (laplace-torch has no binary likelihood); for one Bernoulli logit f it is "
            "degenerate: written as the softmax of (0, f) or (-f/2, f/2), its zero-mean correction "
            "leaves zero variance or divides by it (NaN), and without the correction its mean on "
            "(-f/2, f/2) is sigmoid(μ) whatever the variance. Use link_approx='probit' or 'mc', "
            "or a Categorical over 2 logits")


def link_predictive(key, likelihood, mean, cov, link_approx: str, num_samples: int = 200,
                    out_shape=None) -> ClassPredictive:
    """The class probabilities of logits ``f ~ N(mean, cov)`` (mean (M, K), cov (M, K, K)) under
    laplace-torch's ``link_approx``: ``"probit"`` (per class, the diagonal only), ``"bridge"``,
    ``"bridge_norm"`` (``laplace_bridge``; Categorical only) or ``"mc"`` (``num_samples`` draws of
    f per input from ``key``, the average of the softmax / sigmoid; ``mc_link``).
    ``epistemic_var`` is the diagonal of ``cov``; both fields are shaped ``out_shape``."""
    one_of("link_approx", link_approx, LINKS, owner="link_predictive")
    _classifier(likelihood, "link_predictive")
    var = jnp.diagonal(cov, axis1=-2, axis2=-1)
    if link_approx == "probit":
        probs = probit(likelihood, mean, var)
    elif link_approx == "mc":
        probs = mc_link(key, likelihood, mean, cov, num_samples)
    else:
        if not isinstance(likelihood, _lik.Categorical):
            raise ValueError(f"link_predictive: link_approx={link_approx!r} needs a Categorical "
                             "likelihood (a softmax over K ≥ 2 logits)")
        probs = laplace_bridge(mean, cov, normalise=link_approx == "bridge_norm")
    out_shape = mean.shape if out_shape is None else out_shape
    return ClassPredictive(jnp.reshape(probs, out_shape), jnp.reshape(var, out_shape))


def _classifier(likelihood, owner: str):
    if not isinstance(likelihood, (_lik.Bernoulli, _lik.Categorical)):
        raise ValueError(f"{owner}: a link maps logits to class probabilities: the likelihood must be "
                         f"Bernoulli or Categorical, got {type(likelihood).__name__}")


@functools.partial(jax.jit, static_argnames=("normalise",))
def laplace_bridge(mean, cov, normalise: bool = False):
    r"""The mean of the Laplace-bridge Dirichlet (Hobbhahn et al. 2022) of softmax logits
    ``f ~ N(μ, Σ)``, per input (mean (M, K), cov (M, K, K)), exactly as laplace-torch's
    ``link_approx="bridge"`` / ``"bridge_norm"``.

    First the zero-mean correction (the Gaussian conditioned on ``Σ_k f_k = 0``, where the softmax is
    unchanged): ``μ ← μ − Σ1 (1ᵀμ)/(1ᵀΣ1)``, ``Σ ← Σ − Σ11ᵀΣ/(1ᵀΣ1)``; then, with ``σ_k² = Σ_kk``,

    .. math:: \alpha_k = \frac{1}{\sigma_k^2}\Big(1 - \frac2K + \frac{e^{\mu_k}}{K^2}\sum_l e^{-\mu_l}\Big),
              \qquad p_k = \alpha_k / \textstyle\sum_l \alpha_l .

    ``normalise`` (``"bridge_norm"``) first divides μ by ``sqrt(s)`` and σ² by ``s``, with
    ``s = mean_k σ_k² / sqrt(K/2)``. Note that ``p`` is unchanged when Σ is scaled by any c > 0 (the
    uncertainty lives in ``Σ α``, the Dirichlet's concentration), so it is not ``softmax(μ)`` even as
    ``Σ → 0``; with ``normalise`` it tends to the one-hot argmax there. A logit of zero corrected
    variance gives NaN (laplace-torch substitutes 1 for each class), and so does every class when
    ``1ᵀΣ1 = 0`` (all the covariance in directions that leave the softmax unchanged: the correction
    divides 0 by 0; laplace-torch too).
    """
    k = mean.shape[-1]
    ones_sum = jnp.sum(cov, axis=-1)                                       # Σ1, (M, K)
    total = jnp.sum(ones_sum, axis=-1, keepdims=True)                      # 1ᵀΣ1, (M, 1)
    mu = mean - ones_sum * jnp.sum(mean, axis=-1, keepdims=True) / total
    var = jnp.diagonal(cov, axis1=-2, axis2=-1) - jnp.square(ones_sum) / total
    if normalise:
        s = jnp.mean(var, axis=-1, keepdims=True) / jnp.sqrt(k / 2.0)
        mu, var = mu / jnp.sqrt(s), var / s
    # log α, with e^{μ_k} Σ_l e^{-μ_l} as one exponential: no overflow where a logit dominates
    log_alpha = jnp.logaddexp(jnp.log(1.0 - 2.0 / k),
                              mu + logsumexp(-mu, axis=-1, keepdims=True) - 2.0 * math.log(k)) \
        - jnp.log(var)
    return jax.nn.softmax(log_alpha, axis=-1)


def mc_link(key, likelihood, mean, cov, num_samples: int = 200):
    """``E[softmax(f)]`` (Categorical) or ``E[sigmoid(f)]`` (Bernoulli) for ``f ~ N(mean, cov)`` per
    input, from ``num_samples`` draws (a ``lax.scan``; memory of one draw). This is
    ``link_approx="mc"``: it samples the GLM's logits, not θ (``method="mc"`` samples θ from the
    Laplace posterior and runs the network, without linearising it)."""
    num_samples = positive_int("num_samples", num_samples, owner="mc_link")
    _classifier(likelihood, "mc_link")
    return _mc_link(key, mean, cov, num_samples, isinstance(likelihood, _lik.Categorical))


@functools.partial(jax.jit, static_argnames=("num_samples", "softmax"))
def _mc_link(key, mean, cov, num_samples: int, softmax: bool):
    w, u = jnp.linalg.eigh(cov)                                            # Σ = L Lᵀ, PSD-safe
    chol = u * jnp.sqrt(jnp.maximum(w, 0.0))[..., None, :]

    def body(acc, k):
        f = mean + jnp.einsum("mkl,ml->mk", chol, jax.random.normal(k, mean.shape, mean.dtype))
        return acc + (jax.nn.softmax(f, axis=-1) if softmax else jax.nn.sigmoid(f)), None

    acc, _ = jax.lax.scan(body, jnp.zeros_like(mean), jax.random.split(key, num_samples))
    return acc / num_samples
