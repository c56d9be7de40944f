r"""The nonlinear VAE on digits: MLP encoder and decoder (Flax NNX), a Gaussian decoder of fixed
variance σ², trained by Adam on the one-sample β-ELBO. A sweep of (β, σ²) settings trains in one
``jit``: the parameters of every setting are stacked and ``vmap``-ed, the steps are a ``lax.scan``.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import bayesjax as bj
from bayesjax import progress
from experiments.common.models import MLP


class VAE(nnx.Module):
    """``q(z | x) = N(m(x), diag e^{ℓ(x)})`` from one MLP, the decoder mean ``μ(z)`` from another."""

    def __init__(self, data_dim: int, latent_dim: int, hidden: int, rngs: nnx.Rngs):
        self.latent_dim = latent_dim
        self.encoder = MLP((data_dim, hidden, 2 * latent_dim), jax.nn.tanh, rngs)
        self.decoder = MLP((latent_dim, hidden, data_dim), jax.nn.tanh, rngs)

    def encode(self, x):
        out = self.encoder(x)
        return out[..., :self.latent_dim], out[..., self.latent_dim:]

    def decode(self, z):
        return self.decoder(z)


class Trained(NamedTuple):
    """Stacked parameters of the sweep (leading axis: the settings) and the per-row training
    objective (the negative one-sample β-ELBO / B) every ``record_every`` steps."""

    graphdef: nnx.GraphDef
    state: nnx.State
    losses: jax.Array


def _graphdef(data_dim, latent_dim, hidden):
    return nnx.split(VAE(data_dim, latent_dim, hidden, nnx.Rngs(0)))[0]


@functools.partial(jax.jit, static_argnames=("latent_dim", "hidden", "num_steps", "batch_size",
                                             "progress_bar"))
def _train(keys, x, betas, noise_vars, learning_rate, *, latent_dim, hidden, num_steps,
           batch_size, progress_bar):
    n, d = x.shape
    graphdef = _graphdef(d, latent_dim, hidden)
    opt = optax.adam(optax.cosine_decay_schedule(learning_rate, num_steps, alpha=0.05))

    def loss(state, key, beta, noise_var):
        kb, kz = jax.random.split(key)
        xb = x[jax.random.randint(kb, (batch_size,), 0, n)]
        model = nnx.merge(graphdef, state)
        m, lv = model.encode(xb)
        z = m + jnp.exp(0.5 * lv) * jax.random.normal(kz, m.shape, m.dtype)
        return -bj.vae.elbo(xb, model.decode(z), m, lv, noise_var=noise_var, beta=beta) / batch_size

    def one(key, beta, noise_var):
        k_init, k_steps = jax.random.split(key)
        state = nnx.split(VAE(d, latent_dim, hidden, nnx.Rngs(k_init)))[1]

        def step(carry, k):
            s, o = carry
            value, g = jax.value_and_grad(loss)(s, k, beta, noise_var)
            updates, o = opt.update(g, o, s)
            return (optax.apply_updates(s, updates), o), value

        (state, _), losses = progress.scan(step, (state, opt.init(state)),
                                           jax.random.split(k_steps, num_steps),
                                           label=f"{keys.shape[0]} VAEs", enabled=progress_bar)
        return state, losses

    return jax.vmap(one)(keys, betas, noise_vars)


def train_vaes(key, x, betas, noise_vars, *, latent_dim: int, hidden: int, num_steps: int,
               batch_size: int, learning_rate: float, progress_bar: bool = False) -> Trained:
    """Train one VAE per setting ``(betas[k], noise_vars[k])`` on ``x`` (N, D), all in one jit
    (with a progress bar of the steps on stderr if ``progress_bar``)."""
    x = jnp.asarray(x)
    betas, noise_vars = jnp.asarray(betas, x.dtype), jnp.asarray(noise_vars, x.dtype)
    keys = jax.random.split(key, betas.shape[0])
    state, losses = _train(keys, x, betas, noise_vars, jnp.asarray(learning_rate, x.dtype),
                           latent_dim=latent_dim, hidden=hidden, num_steps=num_steps,
                           batch_size=min(batch_size, x.shape[0]),
                           progress_bar=progress.active(progress_bar, owner="train_vaes"))
    return Trained(_graphdef(x.shape[1], latent_dim, hidden), state, losses)


class Evaluation(NamedTuple):
    """Per setting, on one data set: ``kl_rows`` (S, N) the exact KL(q(z|x_n) ‖ p(z)) of each
    row (nats); ``kl_per_latent`` (S, K) its row average per latent; ``activity`` (S, K) Burda et
    al.'s ``Cov_x(E_q[z_i])``; ``elbo_rows`` (S, N) one-sample ELBO estimates at β = 1;
    ``recon`` (S, N, D) decoder means at the encoder means."""

    kl_rows: np.ndarray
    kl_per_latent: np.ndarray
    activity: np.ndarray
    elbo_rows: np.ndarray
    recon: np.ndarray


@jax.jit
def _evaluate(graphdef, state, key, x, noise_vars):
    def one(s, k, nv):
        model = nnx.merge(graphdef, s)
        m, lv = model.encode(x)
        kl = bj.vae.gaussian_kl(m, lv)
        z = m + jnp.exp(0.5 * lv) * jax.random.normal(k, m.shape, m.dtype)
        x_hat = model.decode(z)
        log_lik = -0.5 * jnp.sum(jnp.square(x - x_hat) / nv + jnp.log(2 * jnp.pi * nv), axis=1)
        return kl, jnp.var(m, axis=0), log_lik - jnp.sum(kl, axis=1), model.decode(m)

    keys = jax.random.split(key, noise_vars.shape[0])
    return jax.vmap(one)(state, keys, noise_vars)


def evaluate(trained: Trained, key, x, noise_vars) -> Evaluation:
    """The trained VAEs on ``x`` (e.g. held-out digits)."""
    x = jnp.asarray(x)
    kl, act, elbo_rows, recon = _evaluate(trained.graphdef, trained.state, key, x,
                                          jnp.asarray(noise_vars, x.dtype))
    kl = np.asarray(kl, np.float64)
    return Evaluation(kl.sum(-1), kl.mean(1), np.asarray(act, np.float64),
                      np.asarray(elbo_rows, np.float64), np.asarray(recon))


@functools.partial(jax.jit, static_argnames=("num_samples",))
def _samples(graphdef, state, key, *, num_samples):
    def one(s):
        model = nnx.merge(graphdef, s)
        return model.decode(jax.random.normal(key, (num_samples, model.latent_dim)))

    return jax.vmap(one)(state)


def samples(trained: Trained, key, num_samples: int) -> np.ndarray:
    """(S, num_samples, D) decoder means at z ~ p(z) (the same z for every setting)."""
    return np.asarray(_samples(trained.graphdef, trained.state, key, num_samples=num_samples))
