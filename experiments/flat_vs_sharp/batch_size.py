r"""(d) Batch size and sharpness: a tanh MLP on digits by full-batch GD and by small-batch SGD at
the same learning rates and epochs; the top Hessian eigenvalue (``bj.curvature``'s Lanczos) during
training against the stability edge 2/η, the Laplace log evidence and test accuracy."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import bayesjax as bj
from bayesjax.curvature import top_hessian_eigenvalue
from experiments.common.claims import claim, log
from experiments.common.data import load
from experiments.common.models import MLP

U32 = 2.0**-24  # unit roundoff of float32


def sharpness(post, params) -> float:
    """Top eigenvalue of the Hessian of the per-datum objective ``-log_joint/N`` (the loss
    ``fit_map`` descends), by Lanczos on Hessian-vector products."""
    return float(top_hessian_eigenvalue(post, params).eigenvalue) / post.num_data


def train_with_checkpoints(key, post, optimizer, *, chunks: int, steps_per_chunk: int,
                           batch_size: int | None):
    """``bj.fit_map`` in ``chunks`` pieces (continuing from the last parameters; plain
    ``optax.sgd`` has no state, so this is one run), the sharpness after each.
    Returns the final ``FitResult``, the sharpnesses and the concatenated per-step losses."""
    params, sharp, losses = post.params, [], []
    for k in jax.random.split(key, chunks):
        res = bj.fit_map(k, post, optimizer, num_steps=steps_per_chunk, batch_size=batch_size,
                         init_params=params)
        params = res.params
        sharp.append(sharpness(post, params))
        losses.append(np.asarray(res.losses, np.float64))
    return res, np.array(sharp), np.concatenate(losses)


def gd_vs_sgd(key, *, hidden: int, prior_scale: float, learning_rates, epochs: int,
              batch_size: int, checkpoints: int, evidence_structure: str, test_fraction: float,
              seed: int) -> dict:
    """For each η: full-batch GD (one step per epoch) and SGD (``N // batch_size`` steps per
    epoch) from the same initialisation (``nnx.Rngs(seed)``) on the digits split of ``seed``:
    sharpness at ``checkpoints`` points, its median over the second half ("late"), test accuracy,
    ``bj.laplace`` log evidence at the end, and how often GD's full-batch loss rose."""
    d = load("digits", scaling="unit", test_fraction=test_fraction, seed=seed)
    model = MLP((64, hidden, 10), jnp.tanh, nnx.Rngs(seed))
    post = bj.Posterior(model, bj.likelihoods.Categorical(), bj.priors.Gaussian(prior_scale),
                        d.x_train, d.y_train)
    n, per = post.num_data, epochs // checkpoints
    late = slice(checkpoints // 2, None)
    runs = []
    for lr in learning_rates:
        opt = optax.sgd(lr)
        row = dict(lr=lr)
        for name, bs, steps in (("gd", None, per), ("sgd", batch_size, per * (n // batch_size))):
            res, sharp, losses = train_with_checkpoints(key, post, opt, chunks=checkpoints,
                                                        steps_per_chunk=steps, batch_size=bs)
            lap = bj.laplace(post, res.params, structure=evidence_structure)
            probs = jax.nn.softmax(post.predict(res.params, d.x_test), axis=-1)
            row.update({f"{name}_sharpness": sharp, f"{name}_late": float(np.median(sharp[late])),
                        f"{name}_final": float(sharp[-1]),
                        f"{name}_test_acc": float(bj.metrics.accuracy(probs, d.y_test)),
                        f"{name}_log_evidence": float(lap.log_marginal_likelihood()),
                        f"{name}_grad_norm": float(res.grad_norm),
                        f"{name}_final_loss": float(losses[-1])})
            if name == "gd":
                rise = np.diff(losses) > 8 * U32 * np.abs(losses[1:])
                row.update(gd_loss_increases=int(rise.sum()),
                           gd_max_sharpness_ratio=float(sharp.max() * lr / 2.0))
        log(f"(d) η = {lr:g}: late sharpness GD {row['gd_late']:.3f}, SGD {row['sgd_late']:.3f}, "
            f"2/η = {2 / lr:.3f}")
        runs.append(row)
    return dict(runs=runs, n_train=n, epochs=np.arange(1, checkpoints + 1) * per,
                initial_sharpness=sharpness(post, post.params),
                num_params=sum(int(np.size(v)) for v in jax.tree.leaves(post.params)),
                settings=dict(hidden=hidden, prior_scale=prior_scale, epochs=epochs,
                              batch_size=batch_size, checkpoints=checkpoints,
                              evidence_structure=evidence_structure))


def claims(d: dict) -> list:
    """The claim of (d), from ``gd_vs_sgd``'s result."""
    late = {f"η={r['lr']:g}": {"gd": r["gd_late"], "sgd": r["sgd_late"]} for r in d["runs"]}
    return [claim("(d) small-batch SGD ends at a flatter point than full-batch GD at the same "
                  "learning rate", late,
                  "at every η: median top Hessian eigenvalue over the second half of training, "
                  "SGD < GD", all(r["sgd_late"] < r["gd_late"] for r in d["runs"]))]
