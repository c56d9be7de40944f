r"""The classification part: ReLU MLPs with a Bernoulli likelihood on two moons and on
breast cancer, read by MAP, the four Laplace GLM predictives (probit) and NUTS.

Scores are ``bj.metrics`` (accuracy, NLL, ECE with 10 bins) on the test set, and the mean
confidence ``max(p, 1−p)`` at probe points ``x̄ + α (x − x̄)``: every input x (training and test)
pushed α times further from the training mean x̄. For a ReLU network the logit is piecewise linear,
so along a ray it grows linearly in α and the MAP confidence tends to 1 (Hein et al. 2019); the
Laplace GLM logit has mean and standard deviation both linear in α, so its probit confidence stays
below 1.
"""

from __future__ import annotations

import jax
import numpy as np
from flax import nnx

import bayesjax as bj
from experiments.bnn_posteriors.inference import (
    LAPLACE,
    glm_predictive,
    nuts,
    sampler_summary,
    timed,
)
from experiments.common import data as datasets
from experiments.common.claims import log
from experiments.common.models import MLP


def moons_data(seed: int, *, num_train: int, num_test: int, noise: float) -> dict:
    """scikit-learn's ``make_moons`` (simulated with the seed): the first ``num_train`` points
    train, the rest test."""
    from sklearn.datasets import make_moons

    x, y = make_moons(num_train + num_test, noise=noise, random_state=seed)
    return dict(x=x[:num_train].astype(np.float32), y=y[:num_train].astype(np.float32),
                x_test=x[num_train:].astype(np.float32), y_test=y[num_train:].astype(np.float32))


def cancer_data(seed: int, *, test_fraction: float) -> dict:
    """Breast cancer under the suite's protocol (``experiments.common.data``): a stratified split,
    features standardised by the training statistics."""
    d = datasets.load("breast_cancer", test_fraction=test_fraction, seed=seed)
    return dict(x=d.x_train, y=d.y_train.astype(np.float32), x_test=d.x_test,
                y_test=d.y_test.astype(np.float32))


def far_points(x_train, x, alpha: float):
    """``x̄ + α (x − x̄)``: the inputs pushed α times further from the training mean."""
    mu = np.asarray(x_train, np.float64).mean(0)
    return (mu + alpha * (np.asarray(x, np.float64) - mu)).astype(np.float32)


def confidence(p):
    """``max(p, 1 − p)`` per point: the probability of the predicted class."""
    p = np.asarray(p, np.float64)
    return np.maximum(p, 1.0 - p)


def measure(seed: int, name: str, data: dict, hidden: tuple[int, ...], *, prior_scale: float,
            steps: int, learning_rate: float, far_scale: float, nuts_warmup: int,
            nuts_samples: int, nuts_chains: int, maps: np.ndarray | None = None) -> dict:
    """MAP, the four Laplace GLM predictives and NUTS on one binary data set; ``maps`` are extra
    inputs (a plotting grid) whose probabilities are returned too."""
    k_init, k_fit, k_nuts = jax.random.split(jax.random.key(seed + 1), 3)
    model = MLP((data["x"].shape[1], *hidden, 1), jax.nn.relu,
                nnx.Rngs(int(jax.random.randint(k_init, (), 0, 2**31 - 1))))
    post = bj.Posterior(model, bj.likelihoods.Bernoulli(), bj.priors.Gaussian(prior_scale),
                        data["x"], data["y"])
    alphas = (1.0, 2.0, 5.0, 10.0, far_scale)
    probe = np.concatenate([data["x"], data["x_test"]])
    sets = [data["x_test"]] + [far_points(data["x"], probe, a) for a in alphas]
    if maps is not None:
        sets.append(maps)
    xs = np.concatenate(sets)
    n, k = data["x_test"].shape[0], probe.shape[0]
    probs, times = {}, {}
    fit, times["MAP"] = timed(lambda: bj.fit_map(k_fit, post, num_steps=steps,
                                                 learning_rate=learning_rate))
    probs["MAP"] = np.asarray(jax.nn.sigmoid(post.predict(fit.params, xs)[:, 0]), np.float64)
    for lname, lkw in LAPLACE.items():
        def build(lkw=lkw):
            return glm_predictive(bj.laplace(post, fit.params, **lkw), xs).probs
        p, times[lname] = timed(build)
        probs[lname] = np.asarray(p[:, 0], np.float64)
    log(f"{name}: NUTS (P = {post.num_params}) ...")
    mc = nuts(k_nuts, post, mass="diag", num_warmup=nuts_warmup, num_samples=nuts_samples,
              num_chains=nuts_chains)
    probs["NUTS"] = np.asarray(mc.predictive(xs).probs[:, 0], np.float64)
    times["NUTS"] = mc.diagnostics.compile_time + mc.diagnostics.sampling_time
    y = data["y_test"].astype(np.int32)
    table = {}
    for m, p in probs.items():
        pt = p[:n]
        far = [confidence(p[n + i * k:n + (i + 1) * k]) for i in range(len(alphas))]
        table[m] = {"accuracy": float(bj.metrics.accuracy(pt, y)),
                    "nll": float(bj.metrics.nll(pt, y)), "ece": float(bj.metrics.ece(pt, y)),
                    "confidence_test": float(confidence(pt).mean()),
                    "confidence_far": [float(c.mean()) for c in far], "far_points": far[-1]}
        log(f"{name}: {m}: accuracy {table[m]['accuracy']:.3f}, NLL {table[m]['nll']:.3f}, "
            f"ECE {table[m]['ece']:.3f}, confidence at α={far_scale:g} "
            f"{table[m]['confidence_far'][-1]:.4f}")
    grid_probs = ({m: p[n + len(alphas) * k:] for m, p in probs.items()} if maps is not None
                  else None)
    return dict(table=table, times=times, alphas=alphas, sampler=sampler_summary(mc),
                num_params=post.num_params, num_far=k, grid_probs=grid_probs, data=data)
