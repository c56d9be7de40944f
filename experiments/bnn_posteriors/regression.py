r"""The regression part: a 1-width-1 tanh MLP on ``y = sin(2x) + N(0, σ²)`` with a gap in the
inputs, read by MLE, MAP-L2, MAP-L1, four Laplace structures and NUTS (two mass matrices).

Every predictive is scored as the Gaussian with its mean and variance, per point
``½ log(2π v) + (y − m)²/(2v)`` with ``v = σ² + Var_θ f(x; θ)`` (``bj.metrics.gaussian_nll``).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

import bayesjax as bj
from experiments.bnn_posteriors.geometry import mass_geometry, whitened_eigenvalues
from experiments.bnn_posteriors.inference import (
    LAPLACE,
    flat_draws,
    glm_predictive,
    mclmc,
    nuts,
    sampler_summary,
    timed,
)
from experiments.common.claims import log
from experiments.common.models import MLP

# per-point Gaussian NLL (the paired test needs the points, bj.metrics returns their mean)
pointwise_gaussian_nll = jax.jit(jax.vmap(
    lambda y, m, v: bj.metrics.gaussian_nll(y[None], m[None], v[None])))


def target(x):
    """The true regression function ``sin(2x)``."""
    return np.sin(2.0 * x)


def regions(x, gap_half_width: float, data_half_width: float) -> dict:
    """``"data"`` for gap ≤ |x| ≤ data half-width, ``"gap"`` inside the gap, ``"beyond"`` past
    both ends; ``"outside"`` (gap or beyond) is everything the training inputs do not cover."""
    a = np.abs(np.asarray(x))
    return {"data": (a >= gap_half_width) & (a <= data_half_width), "gap": a < gap_half_width,
            "beyond": a > data_half_width,
            "outside": (a < gap_half_width) | (a > data_half_width)}


def regression_data(seed: int, *, num_train: int, num_test: int, noise: float,
                    gap_half_width: float, data_half_width: float,
                    test_half_width: float) -> dict:
    """N training points, half uniform on each side of the gap, and uniform test points."""
    rng = np.random.default_rng(seed)
    half = num_train // 2
    lo, hi = gap_half_width, data_half_width
    x = np.concatenate([-rng.uniform(lo, hi, half), rng.uniform(lo, hi, num_train - half)])
    x_test = rng.uniform(-test_half_width, test_half_width, num_test)
    y = target(x) + noise * rng.normal(size=x.shape)
    y_test = target(x_test) + noise * rng.normal(size=x_test.shape)
    f32 = np.float32
    return dict(x=x.astype(f32), y=y.astype(f32), x_test=x_test.astype(f32),
                y_test=y_test.astype(f32), init_seed=int(rng.integers(2**31 - 1)))


def regression_posterior(data: dict, *, width: int, noise: float,
                         prior_scale: float) -> bj.Posterior:
    """The MAP-L2 / Laplace / NUTS posterior: 1-width-1 tanh MLP, Gaussian prior and noise."""
    model = MLP((1, width, 1), jnp.tanh, nnx.Rngs(data["init_seed"]))
    return bj.Posterior(model, bj.likelihoods.Gaussian(noise), bj.priors.Gaussian(prior_scale),
                        data["x"][:, None], data["y"])


def score(preds: dict, data: dict, num_grid: int, reg_grid: dict, reg_test: dict) -> dict:
    """Per method: NLL and RMSE by region of the test points, the mean epistemic std on the grid
    in and outside the data, their ratio, and the per-point NLLs outside (for the paired test)."""
    table = {}
    g = num_grid
    for name, (mean, alea, epi) in preds.items():
        nll = np.asarray(pointwise_gaussian_nll(data["y_test"], mean[g:], alea[g:] + epi[g:]),
                         np.float64)
        err2 = (mean[g:] - data["y_test"]) ** 2
        std = np.sqrt(epi[:g])
        row = {"nll": {r: float(nll[m].mean()) for r, m in reg_test.items()},
               "rmse": {r: float(np.sqrt(err2[m].mean())) for r, m in reg_test.items()},
               "std_data": float(std[reg_grid["data"]].mean()),
               "std_outside": float(std[reg_grid["outside"]].mean()),
               "nll_points_outside": nll[reg_test["outside"]]}
        row["std_ratio"] = row["std_outside"] / row["std_data"] if row["std_data"] > 0 else 0.0
        table[name] = row
    return table


def measure(seed: int, *, num_train: int, num_test: int, noise: float, width: int,
            prior_scale: float, gap_half_width: float, data_half_width: float,
            test_half_width: float, map_steps: int, map_learning_rate: float, l1_steps: int,
            l1_learning_rate: float, mc_samples: int, nuts_warmup: int, nuts_samples: int,
            nuts_chains: int, mclmc_budget: float = 1.0) -> dict:
    data = regression_data(seed, num_train=num_train, num_test=num_test, noise=noise,
                           gap_half_width=gap_half_width, data_half_width=data_half_width,
                           test_half_width=test_half_width)
    post = regression_posterior(data, width=width, noise=noise, prior_scale=prior_scale)
    grid = np.linspace(-test_half_width, test_half_width, 301, dtype=np.float32)
    xs = np.concatenate([grid, data["x_test"]])[:, None]
    sig2 = noise**2
    k_fit, k_mc, k_nuts = jax.random.split(jax.random.key(seed), 3)
    times, preds, fits = {}, {}, {}

    def point(name, fn):
        res, times[name] = timed(fn)
        fits[name] = res
        mean = np.asarray(post.predict(res.params, xs)[:, 0], np.float64)
        preds[name] = (mean, np.full_like(mean, sig2), np.zeros_like(mean))
        log(f"regression: {name}: log joint {float(res.log_joint):.2f}, grad norm "
            f"{float(res.grad_norm):.1e} ({times[name]:.1f} s)")

    kw = dict(num_steps=map_steps, learning_rate=map_learning_rate)
    point("MLE", lambda: bj.fit_mle(k_fit, post, **kw))
    point("MAP-L2", lambda: bj.fit_map(k_fit, post, **kw))
    l1 = post.replace(prior=bj.priors.Laplace(prior_scale / math.sqrt(2.0)))
    point("MAP-L1", lambda: bj.fit_map(k_fit, l1, num_steps=l1_steps,
                                       learning_rate=l1_learning_rate))
    zeros_l1 = sum(int(np.sum(np.asarray(v) == 0)) for v in jax.tree.leaves(fits["MAP-L1"].params))
    mode = fits["MAP-L2"].params

    def moments(pred):
        return tuple(np.asarray(v[:, 0], np.float64) for v in pred)

    laps = {}
    for name, lkw in LAPLACE.items():
        def build(lkw=lkw):
            lap = bj.laplace(post, mode, **lkw)
            return lap, glm_predictive(lap, xs)
        (laps[name], pred), times[name] = timed(build)
        preds[name] = moments(pred)
    name = "Laplace full (MC)"
    pred, times[name] = timed(lambda: laps["Laplace full (GLM)"].predictive(
        xs, "mc", key=k_mc, num_samples=mc_samples))
    preds[name] = moments(pred)
    times[name] += times["Laplace full (GLM)"]

    chains = dict(num_warmup=nuts_warmup, num_samples=nuts_samples, num_chains=nuts_chains)
    log("regression: NUTS, diagonal mass adapted from the random initialisation ...")
    runs = {"diag": nuts(k_nuts, post, mass="diag", **chains)}
    log("regression: NUTS, diagonal mass adapted from the MAP ...")
    runs["diag_map"] = nuts(k_nuts, post, mass="diag", init_params=mode, **chains)
    log("regression: NUTS, Laplace covariance as the mass matrix, from the MAP ...")
    runs["laplace"] = nuts(k_nuts, post, mass=laps["Laplace full (GLM)"], **chains)
    # unadjusted MCLMC: 2 gradients a step, a step a draw: NUTS's post-warmup gradient budget times
    # mclmc_budget (BlackJAX tunes on fractions of the run, so a shorter one is also tuned worse:
    # with a tenth of it, seed 0 gave min bulk ESS 9 and R̂ 1.2)
    per_chain = max(100, int(mclmc_budget * int(runs["diag"].stats["num_steps"].sum())
                             // (2 * nuts_chains)))
    log(f"regression: MCLMC (BlackJAX, unadjusted), same start, {per_chain} draws x {nuts_chains} "
        "chains ...")
    runs["mclmc"] = mclmc(k_nuts, post, num_samples=per_chain, num_chains=nuts_chains)
    mc = runs["diag"]
    preds["NUTS"] = moments(mc.predictive(xs))
    times["NUTS"] = mc.diagnostics.compile_time + mc.diagnostics.sampling_time
    walls = {k: {"compile": r.diagnostics.compile_time, "sampling": r.diagnostics.sampling_time,
                 "ess_per_s": r.diagnostics.min_ess_bulk / r.diagnostics.sampling_time}
             for k, r in runs.items()}
    prec = np.asarray(laps["Laplace full (GLM)"].posterior_precision(), np.float64)
    log("regression: the geometry of the NUTS draws around the MAP under four mass matrices ...")
    around = runs["diag_map"]
    geo = mass_geometry(post, mode, flat_draws(around.samples),
                        inv_mass_diag=np.asarray(around.diagnostics.inverse_mass_matrix).mean(0),
                        precision_ggn=prec)

    reg_grid = regions(grid, gap_half_width, data_half_width)
    reg_test = regions(data["x_test"], gap_half_width, data_half_width)
    g = grid.size
    return dict(data=data, grid=grid, preds={k: tuple(v[:g] for v in p) for k, p in preds.items()},
                table=score(preds, data, g, reg_grid, reg_test), times=times,
                samplers={k: sampler_summary(r) for k, r in runs.items()}, walls=walls,
                runs=runs, whitened=whitened_eigenvalues(flat_draws(mc.samples), prec), geometry=geo,
                laplace_precision_eig=np.linalg.eigvalsh(prec), zeros_l1=zeros_l1,
                num_params=post.num_params, num_outside=int(reg_test["outside"].sum()),
                grad_norm={k: float(f.grad_norm) for k, f in fits.items()})
