"""A GAN on the ring (Flax NNX, optax): non-saturating loss, alternating Adam steps, the whole run
one ``jit`` — a ``lax.scan`` over checkpoints of a ``lax.scan`` over steps — returning samples of
one fixed noise batch at every checkpoint."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from bayesjax import progress
from experiments.common import ring
from experiments.common.models import MLP


def train_gan(key, centres, sd: float, *, latent: int, hidden: int, num_steps: int,
              num_checkpoints: int, batch_size: int, g_lr: float, d_lr: float, d_steps: int,
              num_eval: int, progress_bar: bool = False, label: str = "GAN"):
    """Train a generator MLP ``z (latent) → x (2)`` against a discriminator MLP ``x → logit``.

    Per step: ``d_steps`` Adam steps (β₁ = 0.5) of the discriminator on
    ``softplus(−D(x)) + softplus(D(G(z)))``, then one of the generator on the non-saturating
    ``softplus(−D(G(z)))`` (Goodfellow et al. 2014). Returns ``(samples, d_loss, g_loss)``:
    ``samples`` (num_checkpoints + 1, num_eval, 2) of a fixed noise batch at step 0 and after each
    of ``num_checkpoints`` equal chunks of steps; the losses per step. ``progress_bar``: a bar
    ``label`` on stderr, updated at each checkpoint.
    """
    bar = progress.active(progress_bar, owner="train_gan")
    if num_steps % num_checkpoints:
        raise ValueError(f"num_steps={num_steps} must be a multiple of num_checkpoints="
                         f"{num_checkpoints}")
    k_g, k_d, k_eval, k_train = jax.random.split(key, 4)
    g_def, g_params = nnx.split(MLP((latent, hidden, hidden, 2), nnx.relu, nnx.Rngs(k_g)))
    d_def, d_params = nnx.split(MLP((2, hidden, hidden, 1), nnx.leaky_relu, nnx.Rngs(k_d)))
    z_eval = jax.random.normal(k_eval, (num_eval, latent))
    return _run(g_params, d_params, k_train, jnp.asarray(centres), z_eval, sd=float(sd), g_def=g_def,
                d_def=d_def, num_steps=num_steps, num_checkpoints=num_checkpoints,
                batch_size=batch_size, g_lr=g_lr, d_lr=d_lr, d_steps=d_steps, bar=bar, label=label)


@functools.partial(jax.jit, static_argnames=("sd", "g_def", "d_def", "num_steps", "num_checkpoints",
                                             "batch_size", "g_lr", "d_lr", "d_steps", "bar",
                                             "label"))
def _run(g_params, d_params, key, centres, z_eval, *, sd, g_def, d_def, num_steps,
         num_checkpoints, batch_size, g_lr, d_lr, d_steps, bar, label):
    """``train_gan``'s program, module-level so that a second run with the same settings and
    shapes reuses its compilation."""
    latent = z_eval.shape[-1]
    g_opt, d_opt = optax.adam(g_lr, b1=0.5), optax.adam(d_lr, b1=0.5)

    def gen(p, z):
        return nnx.merge(g_def, p)(z)

    def disc(p, x):
        return nnx.merge(d_def, p)(x)[:, 0]

    def d_loss(dp, gp, real, z):
        fake = jax.lax.stop_gradient(gen(gp, z))
        return jnp.mean(jax.nn.softplus(-disc(dp, real)) + jax.nn.softplus(disc(dp, fake)))

    def g_loss(gp, dp, z):
        return jnp.mean(jax.nn.softplus(-disc(dp, gen(gp, z))))

    def step(carry, k):
        gp, dp, gs, ds = carry
        k_d, k_g = jax.random.split(k)

        def d_step(c, kk):
            dp, ds = c
            k_real, k_z = jax.random.split(kk)
            real = ring.sample(k_real, batch_size, centres, sd)
            z = jax.random.normal(k_z, (batch_size, latent))
            loss, g = jax.value_and_grad(d_loss)(dp, gp, real, z)
            upd, ds = d_opt.update(g, ds, dp)
            return (optax.apply_updates(dp, upd), ds), loss

        (dp, ds), dl = jax.lax.scan(d_step, (dp, ds), jax.random.split(k_d, d_steps))
        z = jax.random.normal(k_g, (batch_size, latent))
        gl, g = jax.value_and_grad(g_loss)(gp, dp, z)
        upd, gs = g_opt.update(g, gs, gp)
        return (optax.apply_updates(gp, upd), dp, gs, ds), (dl[-1], gl)

    def chunk(carry, keys):
        carry, losses = jax.lax.scan(step, carry, keys)
        return carry, (gen(carry[0], z_eval), losses)

    keys = jax.random.split(key, num_steps).reshape(num_checkpoints, -1)
    carry = (g_params, d_params, g_opt.init(g_params), d_opt.init(d_params))
    _, (samples, (dl, gl)) = progress.scan(chunk, carry, keys, label=label, enabled=bar,
                                           scale=num_steps // num_checkpoints)
    samples = jnp.concatenate([gen(g_params, z_eval)[None], samples])
    return samples, dl.reshape(-1), gl.reshape(-1)
