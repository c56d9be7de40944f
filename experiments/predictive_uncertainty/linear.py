r"""Bayesian linear regression on polynomial features: the exact posterior, its reading by
``bj.laplace``, and the coverage of its predictive interval (float64: exactness is asserted).

The exact posterior is ``bj.conjugate.bayesian_linear_regression``; the same model written as a
``bj.Posterior.from_apply`` (``apply_fn(params, x) = Φ(x) w``) and read by ``bj.fit_map`` then
``bj.laplace`` must reproduce it, the log joint being quadratic in w.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

import bayesjax as bj
import experiments.predictive_uncertainty.coverage as coverage
from bayesjax import conjugate
from experiments.common.claims import log

U64 = 2.0**-53                            # unit roundoff of float64
QUADRATURE_POINTS = 4001                  # per side, for averages over the test-input laws


def features(x, degree: int):
    """The (M, d + 1) polynomial design ``[1, x, …, x^d]`` (numpy or jax, same dtype as x)."""
    xp = jnp if isinstance(x, jax.Array) else np
    return x[:, None] ** xp.arange(degree + 1, dtype=x.dtype)[None, :]


def poly(params, x):
    """``Φ(x) w`` with ``Φ(x)_{nk} = x_n^k``, k = 0..d (d + 1 = len(w)); x of shape (M,)."""
    return features(x, params["w"].shape[0] - 1) @ params["w"]


def out_of_range_points(key, n: int, half_width: float):
    """n points uniform on ``1 < |x| ≤ half_width``."""
    ku, ks = jax.random.split(key)
    mag = jax.random.uniform(ku, (n,), minval=1.0, maxval=half_width)
    return jnp.where(jax.random.bernoulli(ks, 0.5, (n,)), mag, -mag)


def newton_step(post, params, precision):
    r"""One Newton step on ``post.log_joint`` from ``params`` with the Laplace ``precision``:
    ``θ + P⁻¹ ∇_θ log p(y, θ)``. The log joint of a linear-Gaussian model is quadratic, so this is
    its mode from any starting point (it polishes ``fit_map``'s answer to rounding level)."""
    grad = jax.grad(post.log_joint)(params)
    chol = jnp.linalg.cholesky(precision)
    return {"w": params["w"] + jax.scipy.linalg.cho_solve((chol, True), grad["w"])}


@functools.partial(jax.jit, static_argnames=("n", "d", "r"))
def draws(key, n: int, d: int, r: int, scale, noise, half_width):
    """The random inputs of the linear part, in one compiled call: the design x (n,), the fixed
    true w and its data y, per replicate a test input in [-1, 1] and one in 1 < |x| ≤ a, R draws
    of w from the prior N(0, s²I) and two sets of R replicate keys."""
    k_x, k_w, k_y, k_in, k_out, k_ws, k_prior_pred, k_fixed = jax.random.split(key, 8)
    x = jax.random.uniform(k_x, (n,), minval=-1.0, maxval=1.0)
    w_true = scale * jax.random.normal(k_w, (d + 1,))
    y = poly({"w": w_true}, x) + noise * jax.random.normal(k_y, (n,))
    x_own = jnp.stack([jax.random.uniform(k_in, (r,), minval=-1.0, maxval=1.0),
                       out_of_range_points(k_out, r, half_width)], axis=1)
    ws = scale * jax.random.normal(k_ws, (r, d + 1))
    return x, w_true, y, x_own, ws, jax.random.split(k_prior_pred, r), jax.random.split(k_fixed, r)


class LinearResult(NamedTuple):
    """What the linear part measured. ``coverage[run]`` (run = "prior predictive" or "fixed w")
    holds ``bayes_grid``/``plugin_grid`` (G,) and ``bayes_in/out``, ``plugin_in/out``;
    ``expect`` the closed-form coverages averaged over the test-input laws, ``expect_grid`` on the
    grid; ``errs`` the relative errors of ``bj.laplace`` against the conjugate posterior."""

    x: np.ndarray
    y: np.ndarray
    w_true: np.ndarray
    grid: np.ndarray
    mean: np.ndarray
    aleatoric: np.ndarray
    epistemic: np.ndarray
    errs: dict
    exact_tol: float
    cond: float
    fit_gap: float
    coverage: dict
    expect: dict
    expect_grid: dict
    degree: int
    noise: float
    prior_scale: float
    half_width: float
    num_replicates: int


def _rel(a, b) -> float:
    """Max abs difference relative to the largest entry of the reference ``b``."""
    b = np.asarray(b)
    return float(np.max(np.abs(np.asarray(a) - b)) / np.max(np.abs(b)))


def linear_part(key, *, degree: int, num_train: int, noise: float, prior_scale: float,
                half_width: float, num_replicates: int, grid_points: int) -> LinearResult:
    """Fit, check against the closed form, and measure coverage over ``num_replicates`` data sets.
    Call under ``jax.enable_x64(True)``."""
    d, s, a, r, g = degree, prior_scale, half_width, num_replicates, grid_points
    x, w_true, y, x_own, ws_prior, keys_prior, keys_fixed = draws(key, num_train, d, r, s, noise, a)
    phi = features(x, d)
    exact = conjugate.bayesian_linear_regression(phi, y, noise=noise, prior_scale=s)

    # the library's general route: fit_map, polished by one Newton step, then bj.laplace
    post = bj.Posterior.from_apply(poly, {"w": jnp.zeros(d + 1)}, bj.likelihoods.Gaussian(noise),
                                   bj.priors.Gaussian(s), x, y)
    fit = bj.fit_map(jax.random.key(0), post, num_steps=5000, learning_rate=0.05)
    mode = jax.jit(newton_step)(post, fit.params, bj.laplace(post, fit.params).posterior_precision())
    lap = bj.laplace(post, mode)
    fit_gap = float(np.max(np.abs(np.asarray(mode["w"]) - np.asarray(fit.params["w"]))))
    log(f"linear: fit_map is {fit_gap:.1e} from the exact mode (grad_norm "
        f"{float(fit.grad_norm):.1e})")

    grid = np.linspace(-a, a, g)
    pred = lap.predictive(grid)
    ref = exact.predictive(features(grid, d))
    v_ref = np.asarray(ref.epistemic_var)
    errs = {"precision": _rel(lap.posterior_precision(), exact.precision),
            "mean": _rel(mode["w"], exact.mean),
            "epistemic_var": float(np.max(np.abs(np.asarray(pred.epistemic_var) - v_ref) / v_ref)),
            "aleatoric_var": float(np.max(np.abs(np.asarray(pred.aleatoric_var) - noise**2))
                                   / noise**2)}
    cond = float(np.linalg.cond(np.asarray(exact.precision)))

    # coverage: replicate r has its own w (prior predictive) or the fixed w_true
    phi_grid, phi_own = features(jnp.asarray(grid), d), features(x_own.reshape(-1), d)
    phi_own = phi_own.reshape(r, 2, d + 1)
    runs = {"prior predictive": (ws_prior, keys_prior),
            "fixed w": (jnp.broadcast_to(w_true, (r, d + 1)), keys_fixed)}
    cov = {}
    for name, (ws, keys) in runs.items():
        bayes, plug = coverage.replicate_coverage(phi, ws, keys, phi_grid, phi_own, noise=noise,
                                                  prior_scale=s)
        bayes, plug = np.asarray(bayes, np.float64), np.asarray(plug, np.float64)
        cov[name] = {"bayes_grid": bayes[:g], "plugin_grid": plug[:g],
                     "bayes_in": float(bayes[g]), "bayes_out": float(bayes[g + 1]),
                     "plugin_in": float(plug[g]), "plugin_out": float(plug[g + 1])}
        log(f"linear: {name}: Bayesian coverage in {cov[name]['bayes_in']:.4f}, out "
            f"{cov[name]['bayes_out']:.4f}; plug-in in {cov[name]['plugin_in']:.4f}, out "
            f"{cov[name]['plugin_out']:.4f}")

    # what the math says: averages over the uniform test-input laws
    q = np.linspace(0.0, 1.0, QUADRATURE_POINTS)
    quad_out = 1.0 + (a - 1.0) * q
    laws = {"in": 2.0 * q - 1.0, "out": np.concatenate([-quad_out, quad_out])}
    phi_np, w_np, cov_np = np.asarray(phi), np.asarray(w_true), np.asarray(exact.cov)

    def epistemic(xs):
        return np.asarray(exact.predictive(features(xs, d)).epistemic_var)

    expect = {}
    for k, xs in laws.items():
        expect[f"plugin_{k}"] = float(coverage.plugin_coverage(epistemic(xs), noise).mean())
        expect[f"fixed_{k}"] = float(coverage.fixed_w_coverage(features(xs, d), w_np, phi_np,
                                                               cov_np, noise, s).mean())
    expect_grid = {"plugin": coverage.plugin_coverage(v_ref, noise),
                   "fixed": coverage.fixed_w_coverage(features(grid, d), w_np, phi_np, cov_np,
                                                      noise, s)}
    return LinearResult(
        x=np.asarray(x), y=np.asarray(y), w_true=w_np, grid=grid,
        mean=np.asarray(pred.mean), aleatoric=np.asarray(pred.aleatoric_var),
        epistemic=np.asarray(pred.epistemic_var), errs=errs,
        exact_tol=cond * (num_train + d + 1) * U64, cond=cond, fit_gap=fit_gap, coverage=cov,
        expect=expect, expect_grid=expect_grid, degree=d, noise=noise, prior_scale=s,
        half_width=a, num_replicates=r)
