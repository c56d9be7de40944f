"""The MAP coefficient paths on diabetes: ``bj.fit_map`` under a Gaussian or Laplace prior on the
weights (flat intercept) at each prior scale of a sweep, and where the lasso path crosses zero."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

import bayesjax as bj
from experiments.common.claims import log

from .references import lipschitz

KINDS = ("gaussian", "laplace")


def linear(params, x):
    """``x @ w + w0``: the linear model's forward function (module level, so jit caches hit)."""
    return x @ params["w"] + params["bias"]


def map_path(kind: str, scales, x, y, noise, num_steps: int, seed: int = 0) -> list[dict]:
    """MAP by ``fit_map`` from zero at each prior scale, under a Gaussian or Laplace prior on
    ``w`` (flat intercept); one row per scale with θ = (w, w0) and what the claims need."""
    lip = lipschitz(x, noise)
    init = {"w": jnp.zeros(x.shape[1], jnp.float32), "bias": jnp.zeros((), jnp.float32)}
    post = bj.Posterior.from_apply(linear, init, bj.likelihoods.Gaussian(noise=noise),
                                   bj.priors.Flat(), x, y)
    rows = []
    for s in map(float, scales):
        leaf = (bj.priors.Gaussian if kind == "gaussian" else bj.priors.Laplace)(s)
        p = post.replace(prior=bj.priors.ByPath({"w": leaf}, default=bj.priors.Flat()))
        # Laplace: the default optimizer is ISTA (sgd + soft threshold), exact for lr <= 1/L.
        # Gaussian: the prior adds curvature 1/(N s²); plain gradient descent at 1/L_total
        # converges linearly to the ridge solution (one compile per scale: a new sgd each time).
        lr = 1.0 / lip if kind == "laplace" else 1.0 / (lip + 1.0 / (x.shape[0] * s**2))
        opt = None if kind == "laplace" else optax.sgd(lr)
        res = bj.fit_map(jax.random.key(seed), p, opt, num_steps=num_steps, learning_rate=lr)
        w = np.asarray(res.params["w"])
        rows.append(dict(scale=s, lr=lr, theta=np.append(w, np.asarray(res.params["bias"])),
                         grad_norm=float(res.grad_norm), zeros=int(np.sum(w == 0.0)),
                         log_prob=float(p.prior.log_prob(res.params)),
                         penalty=float(p.prior.penalty(res.params))))
    log(f"{kind}: {len(rows)} MAP fits, max grad_norm {max(r['grad_norm'] for r in rows):.2e}")
    return rows


def zero_crossings(rows, names) -> list[str]:
    """Describe each step where a stronger prior has *fewer* zeros: the coefficients that are
    nonzero at the smaller b but zero at the next larger b, with their signs on both sides."""
    w = np.stack([r["theta"][:-1] for r in rows])
    out = []
    for i in range(len(rows) - 1):
        for j in np.flatnonzero((w[i] != 0.0) & (w[i + 1] == 0.0)):
            later = w[i + 1:, j][w[i + 1:, j] != 0.0]
            after = f"{later[0]:+.4f}" if later.size else "0 up to the largest b"
            out.append(f"{names[j]} is {w[i, j]:+.4f} at b = {rows[i]['scale']:.3g}, exactly 0 "
                       f"at b = {rows[i + 1]['scale']:.3g} and {after} further on")
    return out
