r"""A tanh MLP on 1-D data in [-1, 1]: ``bj.fit_map``, then ``bj.laplace`` (full GGN, last layer,
KFAC) and the linearised (GLM) predictive, whose epistemic variance ``J(x) Σ J(x)ᵀ`` is small
where the data are and grows away from them (float32)."""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

import bayesjax as bj
from bayesjax import metrics
from experiments.common.claims import log
from experiments.common.models import MLP
from experiments.predictive_uncertainty.coverage import Z95

NUM_TEST = 2000                           # fresh in-range test points
GRID_POINTS = 201
STRUCTURES = {"full GGN": dict(structure="full"), "last layer": dict(subset="last_layer"),
              "KFAC": dict(structure="kfac")}


def mlp_target(x):
    """The MLP's true regression function, ``sin(3x)``."""
    return jnp.sin(3.0 * x)


@functools.partial(jax.jit, static_argnames=("n", "n_test"))
def draws(key, n: int, n_test: int, noise):
    """Training data (x (n, 1), y (n,)), fresh in-range test data, an init seed and a fit key."""
    k_x, k_y, k_xt, k_yt, k_init, k_fit = jax.random.split(key, 6)
    x = jax.random.uniform(k_x, (n, 1), minval=-1.0, maxval=1.0)
    xt = jax.random.uniform(k_xt, (n_test, 1), minval=-1.0, maxval=1.0)
    y = mlp_target(x[:, 0]) + noise * jax.random.normal(k_y, (n,))
    yt = mlp_target(xt[:, 0]) + noise * jax.random.normal(k_yt, (n_test,))
    return x, y, xt, yt, jax.random.randint(k_init, (), 0, 2**31 - 1), k_fit


def _coverage64(y, mean, half) -> float:
    """``bj.metrics.coverage`` of ``mean ± half`` in float64 (a share of n points, exactly)."""
    with jax.enable_x64(True):
        return float(metrics.coverage(y, mean - half, mean + half))


class MLPResult(NamedTuple):
    """What the MLP part measured. ``preds[name]`` (one per Laplace, plus the evidence-optimised
    full GGN) holds ``num_params``, the grid predictive ``mean``/``aleatoric``/``std`` (epistemic
    std), ``std_in``/``std_out`` (its mean in and out of the data range), ``test_coverage`` and
    ``truth_in_band_out``."""

    x: np.ndarray
    y: np.ndarray
    grid: np.ndarray
    preds: dict
    rmse: float
    resid_rms: float
    grad_norm: float
    opt_prior_precision: float
    opt_noise: float
    num_test: int
    width: int
    noise: float
    prior_scale: float
    steps: int
    half_width: float


def mlp_part(key, *, width: int, num_train: int, noise: float, prior_scale: float, steps: int,
             learning_rate: float, half_width: float) -> MLPResult:
    """Fit the MLP by MAP, then each Laplace and its GLM predictive on ``[-half_width, half_width]``
    and on ``NUM_TEST`` fresh in-range points."""
    x, y, xt, yt, seed, k_fit = draws(key, num_train, NUM_TEST, noise)
    post = bj.Posterior(MLP((1, width, width, 1), jnp.tanh, nnx.Rngs(int(seed))),
                        bj.likelihoods.Gaussian(noise), bj.priors.Gaussian(prior_scale), x, y)
    fit = bj.fit_map(k_fit, post, num_steps=steps, learning_rate=learning_rate)
    x_np, y_np = np.asarray(x[:, 0], np.float64), np.asarray(y, np.float64)
    xt_np, yt_np = np.asarray(xt[:, 0], np.float64), np.asarray(yt, np.float64)
    f_fit = np.asarray(post.predict(fit.params)[:, 0], np.float64)
    rmse = float(np.sqrt(np.mean((f_fit - np.sin(3.0 * x_np)) ** 2)))
    resid_rms = float(np.sqrt(np.mean((y_np - f_fit) ** 2)))
    log(f"mlp: MAP after {steps} steps, grad_norm {float(fit.grad_norm):.1e}, "
        f"RMSE to sin(3x) on the training inputs {rmse:.3f}")
    grid = np.linspace(-half_width, half_width, GRID_POINTS)
    m = grid.size
    inside = np.abs(grid) <= 1.0
    laps = {name: bj.laplace(post, fit.params, **kw) for name, kw in STRUCTURES.items()}
    laps["full GGN, evidence-optimised"] = bj.optimize_prior_precision(laps["full GGN"])
    out = {}
    for name, lap in laps.items():
        # the grid and the fresh test points in one predictive call (one compile per Laplace)
        pred = lap.predictive(np.concatenate([grid, xt_np])[:, None].astype(np.float32), "glm")
        mean, alea, epi = (np.asarray(v[:, 0], np.float64) for v in pred)
        half = Z95 * np.sqrt(alea + epi)
        std = np.sqrt(epi[:m])
        truth = np.sin(3.0 * grid[~inside])
        out[name] = {"num_params": lap.num_params, "mean": mean[:m], "aleatoric": alea[:m],
                     "std": std, "std_in": float(std[inside].mean()),
                     "std_out": float(std[~inside].mean()),
                     "test_coverage": _coverage64(yt_np, mean[m:], half[m:]),
                     "truth_in_band_out": _coverage64(truth, mean[:m][~inside],
                                                      half[:m][~inside])}
        log(f"mlp: {name} (P = {lap.num_params}): mean epistemic std in range "
            f"{out[name]['std_in']:.4f}, out of range {out[name]['std_out']:.4f}")
    opt = laps["full GGN, evidence-optimised"]
    return MLPResult(x=x_np, y=y_np, grid=grid, preds=out, rmse=rmse, resid_rms=resid_rms,
                     grad_norm=float(fit.grad_norm),
                     opt_prior_precision=float(opt.prior_precision[0]), opt_noise=float(opt.noise),
                     num_test=NUM_TEST, width=width, noise=noise, prior_scale=prior_scale,
                     steps=steps, half_width=half_width)
