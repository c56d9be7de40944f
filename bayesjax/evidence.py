r"""Evidence as a function of the prior: the Laplace ``log p(D)`` at a scalar prior precision ``c``,
on a grid and maximised (type-II maximum likelihood, "empirical Bayes"), post hoc at a fixed mode.

With the curvature's eigenvalues ``λᵢ`` (``bayesjax.laplace``: once per approximation, for every
structure), a noise rescaling ``s = σ_fit²/σ²`` and ``d = θ* − m₀``,

.. math::

    \log p(D \mid c, \sigma) \approx \frac{\log p(D\mid\theta^*, \sigma)}{T} - \frac{c}{2}\lVert d\rVert^2
        - \frac12 \Big(\sum_i \log(s\lambda_i + c) - P \log c\Big),

O(P) per evaluation. ``optimize_prior_precision`` climbs it in ``(log c, log σ)`` with ``optax.adam``,
as laplace-torch does; ``LaplaceResult.log_marginal_likelihood_grid`` evaluates it on a grid.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import optax

from bayesjax import likelihoods as _lik

__all__ = ["optimize_prior_precision"]


def scalar_prior_evidence(lap, c, log_lik, noise_scale, eig):
    """The formula above for ``lap`` (a ``LaplaceResult``) at scalar prior precision ``c``, with the
    tempered log-likelihood ``log_lik`` at θ*, the curvature eigenvalues ``eig`` (P,) and the
    curvature multiplied by ``noise_scale``."""
    d = lap.theta - lap.prior_mean
    return log_lik - 0.5 * c * jnp.sum(d * d) - 0.5 * (jnp.sum(jnp.log(noise_scale * eig + c))
                                                      - lap.num_params * jnp.log(c))


@jax.jit
def evidence_grid(lap, cs):
    """``scalar_prior_evidence`` at each ``c`` of the 1-D array ``cs``, and the smallest eigenvalue
    of the rescaled curvature (unchecked; see ``LaplaceResult.log_marginal_likelihood_grid``).
    The eigenvalues are computed once (for ``full`` off the low-rank route, one ``eigvalsh``)."""
    ll = lap.post.log_likelihood(lap.mean) / lap.post.temperature
    eig = lap._curvature_eigenvalues()
    values = jax.vmap(lambda c: scalar_prior_evidence(lap, c, ll, lap.noise_scale, eig))(cs)
    return values, jnp.min(lap.noise_scale * eig)


def optimize_prior_precision(lap, *, optimize_noise: bool | None = None, num_steps: int = 300,
                             learning_rate: float = 0.1, init_prior_precision: float = 1.0):
    """Maximise the Laplace evidence over one scalar prior precision (and the noise σ for a
    Gaussian likelihood, by default), post hoc at the same mode, as laplace-torch does.

    Gradient ascent (``optax.adam``) on ``log c`` and ``log σ``; returns a new ``LaplaceResult``
    whose ``prior_precision`` (and ``noise``) are the optimum.
    """
    gaussian = isinstance(lap.post.likelihood, _lik.Gaussian)
    optimize_noise = gaussian if optimize_noise is None else optimize_noise
    if optimize_noise and not gaussian:
        raise ValueError("optimize_prior_precision: optimize_noise needs a Gaussian likelihood")
    noise0 = lap.noise if gaussian else 1.0
    x0 = jnp.log(jnp.asarray([init_prior_precision, noise0], lap.theta.dtype))
    opt = optax.adam(learning_rate)
    best = _optimize(lap, x0, opt, num_steps, bool(optimize_noise))
    c, sigma = jnp.exp(best[0]), jnp.exp(best[1])
    new = lap
    if optimize_noise:
        ratio = jnp.square(lap.noise / sigma)
        new = lap._replace(post=lap.post.replace(likelihood=_lik.Gaussian(float(sigma))),
                           noise_scale=lap.noise_scale * ratio)
    new = new._replace(prior_precision=jnp.full_like(lap.theta, c))
    new._assert_pd("at the optimum")
    return new


@functools.partial(jax.jit, static_argnames=("opt", "num_steps", "with_noise"))
def _optimize(lap, x0, opt, num_steps, with_noise):
    eig = lap._curvature_eigenvalues()

    def neg(x):
        c = jnp.exp(x[0])
        if with_noise:
            sigma = jnp.exp(x[1])
            ll = _lik.Gaussian(sigma).log_prob(
                lap.post.predict(lap.mean), lap.post.y) / lap.post.temperature
            scale = lap.noise_scale * jnp.square(lap.post.likelihood.noise / sigma)
        else:
            ll = lap.post.log_likelihood(lap.mean) / lap.post.temperature
            scale = lap.noise_scale
        return -scalar_prior_evidence(lap, c, ll, scale, eig)

    def step(carry, _):
        x, state = carry
        g = jax.grad(neg)(x)
        if not with_noise:
            g = g.at[1].set(0.0)
        with jax.numpy_dtype_promotion("standard"):  # optax's adam raises a float to its int count
            upd, state = opt.update(g, state, x)
        return (optax.apply_updates(x, upd), state), None

    (x, _), _ = jax.lax.scan(step, (x0, opt.init(x0)), None, length=num_steps)
    return x
