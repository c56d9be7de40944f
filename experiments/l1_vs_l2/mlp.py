"""The same contrast in a network: a 64-H-10 MLP on digits, one MAP fit under a Laplace prior on
both kernels and one under a Gaussian prior of the same variance."""

from __future__ import annotations

import math

import jax
import numpy as np
import optax
from flax import nnx

import bayesjax as bj
from experiments.common.claims import log
from experiments.common.data import Dataset
from experiments.common.models import MLP


def mlp_fits(data: Dataset, *, hidden: int, num_steps: int, learning_rate: float,
             laplace_scale: float, seed: int) -> dict:
    """One MAP fit of the MLP per prior (``laplace``: Laplace(b) on both kernels; ``gaussian``:
    Gaussian(√2·b), the same variance 2b²; biases flat), same init and optimizer.

    Returns ``{"dead_pixels": int, "gaussian": {...}, "laplace": {...}}``, each prior's entry with
    its scale, the first-layer kernel ``w1``, zero fractions, accuracies and the final gradient
    norm.
    """
    x_tr, y_tr, x_te, y_te = data.x_train, data.y_train, data.x_test, data.y_test
    model = MLP((x_tr.shape[1], hidden, data.num_classes), jax.nn.relu, nnx.Rngs(seed))
    priors = {"gaussian": bj.priors.Gaussian(math.sqrt(2.0) * laplace_scale),
              "laplace": bj.priors.Laplace(laplace_scale)}
    # Plain sgd for both: with the Laplace prior, fit_map's prox after an sgd step is ISTA;
    # with momentum or Adam the prox would be a heuristic.
    opt = optax.sgd(learning_rate)
    dead = x_tr.std(0) == 0.0  # pixels that are constant on the training set
    out = {"dead_pixels": int(dead.sum())}
    for kind, leaf in priors.items():
        prior = bj.priors.ByPath({"layers.0.kernel": leaf, "layers.1.kernel": leaf},
                                 default=bj.priors.Flat())
        post = bj.Posterior(model, bj.likelihoods.Categorical(), prior, x_tr, y_tr)
        res = bj.fit_map(jax.random.key(seed), post, opt, num_steps=num_steps,
                         learning_rate=learning_rate)
        w1, w2 = (np.asarray(res.params["layers"][i]["kernel"]) for i in (0, 1))
        acc = [float(np.mean(np.argmax(np.asarray(post.predict(res.params, xs)), -1) == ys))
               for xs, ys in ((x_tr, y_tr), (x_te, y_te))]
        out[kind] = dict(scale=float(leaf.scale), w1=w1, zero_frac_w1=float(np.mean(w1 == 0.0)),
                         zero_frac_w1_live=float(np.mean(w1[~dead] == 0.0)),
                         zero_frac_w2=float(np.mean(w2 == 0.0)), train_acc=acc[0],
                         test_acc=acc[1], grad_norm=float(res.grad_norm),
                         final_loss=float(res.losses[-1]))
        log(f"MLP {kind}: train acc {acc[0]:.3f}, test acc {acc[1]:.3f}, zeros in layer 1 "
            f"{out[kind]['zero_frac_w1']:.3f}")
    return out
