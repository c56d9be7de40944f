"""fit_map against a hand-written optax loop on the same MLP, data and steps (warm, same process)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from flax import nnx

import bayesjax as bj
from benchmarks.common import row, timed
from experiments.common.data import load
from experiments.common.models import MLP


def run(quick: bool = False) -> list[dict]:
    d = load("digits", scaling="unit", test_fraction=0.0)   # all 1,797 images, pixels / 16
    x, y = d.x_train, d.y_train
    steps = 200 if quick else 1000
    model = MLP((64, 32, 10), jnp.tanh, nnx.Rngs(0))
    prior = bj.priors.Gaussian(1.0)
    post = bj.Posterior(model, bj.likelihoods.Categorical(), prior, x, y)
    opt = optax.adam(1e-2)

    def ours():
        return bj.fit_map(jax.random.key(0), post, opt, num_steps=steps).params

    graphdef, params0 = nnx.split(model, nnx.Param)
    xj, yj, n = jnp.asarray(x), jnp.asarray(y), x.shape[0]

    @jax.jit
    def baseline(params):
        def loss(p):
            logits = nnx.merge(graphdef, p)(xj)
            nll = -jnp.sum(jnp.take_along_axis(jax.nn.log_softmax(logits), yj[:, None], 1))
            return (nll + prior.penalty(p)) / n

        def step(carry, _):
            p, s = carry
            g = jax.grad(loss)(p)
            u, s = opt.update(g, s, p)
            return (optax.apply_updates(p, u), s), None

        (p, _), _ = jax.lax.scan(step, (params, opt.init(params)), None, length=steps)
        return p

    cold_ours, warm_ours = timed(ours)
    cold_base, warm_base = timed(lambda: baseline(params0))
    return [
        row("fit_map digits MLP, warm", warm_ours, "s", f"{steps} full-batch adam steps"),
        row("hand-written optax loop, warm", warm_base, "s", "same model, data, steps"),
        row("fit_map / hand-written (warm)", warm_ours / warm_base, "ratio", "1.0 = no overhead"),
        row("fit_map cold / hand-written cold", cold_ours / cold_base, "ratio",
            "includes compilation"),
    ]
