"""A small score network trained by denoising score matching (Flax NNX, optax, one jit), and
sampling with it."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import optax
from flax import nnx

import bayesjax as bj
from bayesjax import progress
from experiments.common import ring
from experiments.common.models import MLP

NUM_FREQUENCIES = 8   # sin/cos time features


def time_features(t):
    """(n,) times → (n, 2F) Fourier features ``sin/cos(2^j π t)``, j < F."""
    f = (2.0 ** jnp.arange(NUM_FREQUENCIES, dtype=t.dtype)) * jnp.pi
    return jnp.concatenate([jnp.sin(t[:, None] * f[None]), jnp.cos(t[:, None] * f[None])], 1)


class NoisePredictor(nnx.Module):
    """ε̂(x_t, t): an MLP on ``[x, time features]``; the score is ``−ε̂ / σ(t)``."""

    def __init__(self, hidden: int, depth: int, rngs: nnx.Rngs):
        self.net = MLP((2 + 2 * NUM_FREQUENCIES, *([hidden] * depth), 2), nnx.silu, rngs)

    def __call__(self, x, t):
        return self.net(jnp.concatenate([x, time_features(t)], 1))


def score_of(graphdef, sde, params, x, t):
    """The network's score ``−ε̂(x, t)/σ(t)`` (rows of x, one t per row)."""
    eps = nnx.merge(graphdef, params)(x, t)
    return -eps / sde.marginal(t)[1][:, None]


def train(key, sde, centres, sd: float, *, hidden: int, depth: int, num_steps: int,
          batch_size: int, learning_rate: float, progress_bar: bool = False):
    """DSM on fresh ring samples each step (Adam, cosine decay): one ``jit``, one ``lax.scan``
    (with a progress bar on stderr if ``progress_bar``). Returns ``(graphdef, params, losses)``."""
    bar = progress.active(progress_bar, owner="train")
    k_init, k_train = jax.random.split(key)
    graphdef, params = nnx.split(NoisePredictor(hidden, depth, nnx.Rngs(k_init)))
    opt = optax.adam(optax.cosine_decay_schedule(learning_rate, num_steps, alpha=0.01))

    @jax.jit
    def run(params, key):
        def loss_fn(p, k):
            k_data, k_dsm = jax.random.split(k)
            x0 = ring.sample(k_data, batch_size, centres, sd)
            return bj.diffusion.dsm_loss(k_dsm, functools.partial(score_of, graphdef, sde, p),
                                         sde, x0)

        def step(carry, k):
            p, s = carry
            loss, g = jax.value_and_grad(loss_fn)(p, k)
            upd, s = opt.update(g, s, p)
            return (optax.apply_updates(p, upd), s), loss

        (params, _), losses = progress.scan(step, (params, opt.init(params)),
                                            jax.random.split(key, num_steps),
                                            label="score network", enabled=bar)
        return params, losses

    params, losses = run(params, k_train)
    return graphdef, params, losses


def learned_score(graphdef, sde, params):
    """The trained score as a ``Partial`` the samplers trace (parameters are not baked in)."""
    return jax.tree_util.Partial(functools.partial(score_of, graphdef, sde), params)
