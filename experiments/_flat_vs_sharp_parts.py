r"""Helpers of the ``flat_vs_sharp`` experiment: the four parts' computations and their figures.

(a) ``bowls_posterior``: two quadratic bowls ``½(θ-μ_j)ᵀK_j(θ-μ_j)`` of equal depth 0 as a
``bj.Posterior``; basin masses by quadrature, NUTS, Langevin and the stationary law
of the Langevin chain. (b) the rescaling symmetry of a ReLU network. (c) logistic regression on two
digit classes over a sweep of prior precision. (d) an MLP on digits by full-batch GD and by SGD.
The figures and the report are in ``_flat_vs_sharp_report``.
"""

from __future__ import annotations

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import scipy.integrate
import scipy.sparse.linalg
import scipy.stats
from jax.flatten_util import ravel_pytree

import bayesjax as bj

OFFSET = 1.0  # c in f = sqrt(2(U + c)): keeps the square root away from 0, so f is smooth


# ----------------------------------------------------------------------------- (a) two bowls
def make_bowls(means, precisions, barrier=None):
    r"""``apply_fn(params, x)`` with ``params = {"theta": (D,)}`` returning ``f = √(2(U(θ)+c))``
    of shape (1,), with ``q_j = ½(θ-μ_j)ᵀK_j(θ-μ_j)`` and

    - ``barrier=None``: ``U = min_j q_j`` (each point belongs to the lower bowl);
    - ``barrier=b`` (1-D): ``U = q_0`` for ``θ < b``, ``q_1`` for ``θ ≥ b``. Continuous at the
      crossing point b, and unlike the plain minimum it stays the sharp bowl far to the left
      (where ``min`` would switch back to the wider bowl, a second kink 7 nats up).

    With one datum ``y = 0`` and a Gaussian likelihood of noise 1,
    ``-log p(y|θ) = f²/2 + log√(2π) = U(θ) + c + log√(2π)``: the library's log joint is ``-U``
    up to a constant. ``x`` is ignored."""
    mus = np.asarray(means, np.float32)
    ks = np.asarray(precisions, np.float32)

    def bowls(params, x):
        theta = params["theta"]
        d = theta[None, :] - jnp.asarray(mus)
        q = 0.5 * jnp.einsum("ji,jik,jk->j", d, jnp.asarray(ks), d)
        u = jnp.min(q) if barrier is None else jnp.where(theta[0] < barrier, q[0], q[1])
        return jnp.reshape(jnp.sqrt(2.0 * (u + OFFSET)), (1,))

    return bowls


def bowls_posterior(means, precisions, barrier=None) -> bj.Posterior:
    """The two-bowl potential as a ``Posterior`` with a flat prior (see ``make_bowls``)."""
    dim = np.shape(means)[1]
    return bj.Posterior.from_apply(make_bowls(means, precisions, barrier),
                                   {"theta": jnp.zeros(dim)}, bj.likelihoods.Gaussian(1.0),
                                   bj.priors.Flat(), jnp.zeros((1, 1)), jnp.zeros(1))


def bowl_index(theta, means, precisions, barrier=None):
    """The basin label (0 or 1) of each point of ``theta`` (..., D), as ``make_bowls`` splits."""
    if barrier is not None:
        return (np.asarray(theta)[..., 0] >= barrier).astype(int)
    d = np.asarray(theta, np.float64)[..., None, :] - np.asarray(means, np.float64)
    q = 0.5 * np.einsum("...ji,jik,...jk->...j", d, np.asarray(precisions, np.float64), d)
    return np.argmin(q, axis=-1)


def barrier_1d(means, precisions) -> float:
    """The 1-D crossing point b of the two bowls, between the minima:
    ``√k_0 (b - μ_0) = √k_1 (μ_1 - b)``."""
    (m0, m1), (k0, k1) = np.ravel(means), np.sqrt(np.ravel(precisions))
    return float((k0 * m0 + k1 * m1) / (k0 + k1))


def exact_fraction_1d(means, precisions) -> dict:
    r"""Closed form of the 1-D basin masses. Both bowls are cut at b at the same z-score
    ``z_b = √k_0 (b-μ_0) = √k_1 (μ_1-b) = √(2 U(b))``, so each basin's mass is
    ``√(2π/k_j) Φ(z_b)`` (times ``e^{-c}/√(2π)``): the ratio is exactly ``√(k_1/k_0)``, and the
    Laplace mass ``√(2π/k_j)`` overestimates each basin by the same factor ``1/Φ(z_b)``."""
    (m0, _), (k0, k1) = np.ravel(means), np.ravel(precisions)
    z = math.sqrt(k0) * (barrier_1d(means, precisions) - m0)
    return {"fraction_0": 1.0 / (1.0 + math.sqrt(k0 / k1)), "z_barrier": z,
            "barrier_height": 0.5 * z * z, "laplace_excess": 1.0 / scipy.stats.norm.cdf(z)}


def log_joint_on(post, points):
    """``post.log_joint`` at each row of ``points`` (M, D), as float64 numpy."""
    f = jax.jit(jax.vmap(lambda t: post.log_joint({"theta": t})))
    return np.asarray(f(jnp.asarray(points, jnp.float32)), np.float64)


def quadrature_masses_1d(post, means, precisions, num_points: int):
    """Basin masses ``∫ exp(log_joint)`` over (-∞, b] and [b, ∞) by Simpson's rule on grids that
    end at the barrier b (the kink), each reaching 12 standard deviations past its mode."""
    b = barrier_1d(means, precisions)
    (m0, m1), (k0, k1) = np.ravel(means), np.ravel(precisions)
    out = []
    for lo, hi in ((m0 - 12 / math.sqrt(k0), b), (b, m1 + 12 / math.sqrt(k1))):
        g = np.linspace(lo, hi, num_points)
        out.append(scipy.integrate.simpson(np.exp(log_joint_on(post, g[:, None])), x=g))
    return np.array(out)


def langevin_stationary_fraction(post, means, precisions, step: float) -> dict:
    r"""Basin-0 fraction under the *stationary law of the Langevin chain itself* (unadjusted,
    step ε): the transition density ``N(θ'; θ + ε/2 ∇log p(θ), ε)`` on a grid of spacing ``√ε/6``
    (cells centred symmetrically about the barrier), its left eigenvector ``πK = π`` solved
    directly. The same grid's discretised target gives the reference, so ``bias`` is the O(ε)
    discretisation bias of the sampler, with the grid's own error cancelling to first order."""
    b = barrier_1d(means, precisions)
    (m0, m1), (k0, k1) = np.ravel(means), np.ravel(precisions)
    h = math.sqrt(step) / 6.0
    lo, hi = m0 - 8 / math.sqrt(k0) - 8 * math.sqrt(step), m1 + 8 / math.sqrt(k1)
    g = b + h * (np.arange(math.floor((lo - b) / h), math.ceil((hi - b) / h)) + 0.5)
    grad = jax.jit(jax.vmap(jax.grad(lambda t: post.log_joint({"theta": t}))))
    drift = g + 0.5 * step * np.asarray(grad(jnp.asarray(g[:, None], jnp.float32))[:, 0],
                                        np.float64)
    kern = np.exp(-np.square(g[None, :] - drift[:, None]) / (2.0 * step))
    kern /= kern.sum(1, keepdims=True)
    a = kern.T - np.eye(g.size)
    a[-1, :] = 1.0
    rhs = np.zeros(g.size)
    rhs[-1] = 1.0
    pi = np.linalg.solve(a, rhs)
    target = np.exp(log_joint_on(post, g[:, None]))
    target /= target.sum()
    frac, ref = float(pi[g < b].sum()), float(target[g < b].sum())
    return {"fraction": frac, "grid_reference": ref, "bias": frac - ref, "grid_points": g.size}


def indicator_fraction(ind) -> tuple[float, float, float]:
    """Mean of a (chains, draws) 0/1 indicator, its standard error ``√(f(1-f)/ESS)`` and the ESS
    of the mean (``arviz.ess(method="mean")``, which accounts for autocorrelation and chains)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        import arviz as az
    ind = np.asarray(ind, np.float64)
    f = float(ind.mean())
    ess = float(az.ess(ind, method="mean"))
    return f, math.sqrt(f * (1.0 - f) / ess), ess


def run_nuts(key, post, inits, *, step_size: float, num_warmup: int, num_samples: int):
    """NumPyro NUTS on ``post.log_joint``, one chain per row of ``inits`` (vectorised), at a fixed
    step size and unit mass: a step adapted inside one bowl is unstable in the sharper one (a
    chain that adapted in the flat bowl gets stuck in the sharp one). Returns (chains, draws, D)
    draws and the number of divergent transitions."""
    from numpyro.infer import MCMC, NUTS

    kernel = NUTS(potential_fn=lambda p: -post.log_joint(p), step_size=step_size,
                  adapt_step_size=False, adapt_mass_matrix=False)
    mcmc = MCMC(kernel, num_warmup=num_warmup, num_samples=num_samples,
                num_chains=len(inits), chain_method="vectorized", progress_bar=False)
    mcmc.run(key, init_params={"theta": jnp.asarray(inits, jnp.float32)},
             extra_fields=("diverging",))
    draws = np.asarray(mcmc.get_samples(group_by_chain=True)["theta"], np.float64)
    return draws, int(np.sum(mcmc.get_extra_fields()["diverging"]))


def run_langevin(key, post, inits, *, step_size: float, num_steps: int, thin: int):
    """``bj.sgld`` (full batch: unadjusted Langevin), one chain per row of ``inits``, vmapped."""
    def one(k, theta):
        return bj.sgld(k, post, step_size=step_size, num_steps=num_steps, thin=thin,
                       init_params={"theta": theta}).samples["theta"]

    keys = jax.random.split(key, len(inits))
    return np.asarray(jax.jit(jax.vmap(one))(keys, jnp.asarray(inits, jnp.float32)), np.float64)


def grid_masses_2d(post, means, precisions, num_points: int):
    """2-D basin masses ``∫ exp(log_joint)`` over the region where each bowl is lowest, by the
    trapezoid rule on a square grid reaching 8 standard deviations past both modes."""
    sd = [1 / math.sqrt(np.linalg.eigvalsh(k).min()) for k in precisions]
    lo = np.min(means, 0) - 8 * max(sd)
    hi = np.max(means, 0) + 8 * max(sd)
    xs, ys = np.linspace(lo[0], hi[0], num_points), np.linspace(lo[1], hi[1], num_points)
    pts = np.stack(np.meshgrid(xs, ys, indexing="ij"), -1).reshape(-1, 2)
    w = np.exp(log_joint_on(post, pts))
    lab = bowl_index(pts, means, precisions)
    cell = (xs[1] - xs[0]) * (ys[1] - ys[0])
    return np.array([w[lab == j].sum() * cell for j in (0, 1)])


# ----------------------------------------------------------------------------- (b) rescaling
def relu_net(params, x):
    """``relu(x W1 + b1) W2 + b2``: a 2-layer ReLU network."""
    hidden = jax.nn.relu(x @ params["w1"] + params["b1"][None, :])
    return hidden @ params["w2"] + params["b2"][None, :]


def rescale(params, alpha):
    """``W1, b1 → αW1, αb1``; ``W2 → W2/α``. For α > 0 the network computes the same function
    (``relu(αz) = α relu(z)``); for α a power of 2 every intermediate is scaled exactly, so the
    outputs are bitwise identical."""
    return {"w1": params["w1"] * alpha, "b1": params["b1"] * alpha, "w2": params["w2"] / alpha,
            "b2": params["b2"]}


def balancing_alpha(params) -> float:
    """α* = (‖W2‖² / (‖W1‖² + ‖b1‖²))^{1/4}, the minimiser of ‖rescale(θ, α)‖² = α²A + B/α² + C."""
    a = float(jnp.sum(jnp.square(params["w1"])) + jnp.sum(jnp.square(params["b1"])))
    return (float(jnp.sum(jnp.square(params["w2"]))) / a) ** 0.25


def regression_data(n: int, seed: int):
    """``y = sin(2x) + 0.1 ε`` at n points ``x ~ U(-2, 2)`` (float32, x of shape (n, 1))."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2.0, 2.0, (n, 1))
    y = np.sin(2.0 * x[:, 0]) + 0.1 * rng.normal(size=n)
    return x.astype(np.float32), y.astype(np.float32)


def loss_hessian(post, params) -> np.ndarray:
    """Exact Hessian of the per-datum training loss ``-log p(D|θ)/N`` over the flattened θ,
    in float64 (so that the transformation law ``H_α = D⁻¹ H D⁻¹`` can be checked to 1e-9)."""
    with jax.enable_x64(True):
        p64 = jax.tree.map(lambda a: jnp.asarray(np.asarray(a, np.float64)), params)
        post64 = post.replace(x=jnp.asarray(np.asarray(post.x, np.float64)),
                              y=jnp.asarray(np.asarray(post.y, np.float64)))
        return np.asarray(_loss_hessian(post64, p64), np.float64)


@jax.jit
def _loss_hessian(post, params):
    flat, unravel = ravel_pytree(params)
    return jax.hessian(lambda t: -post.log_likelihood(unravel(t)) / post.num_data)(flat)


def scaling_vector(params, alpha) -> np.ndarray:
    """The diagonal of D with ``rescale(θ, α) = D θ`` (in ``ravel_pytree`` order)."""
    ones = jax.tree.map(lambda a: np.ones(np.shape(a)), params)
    return np.asarray(ravel_pytree(rescale(ones, alpha))[0], np.float64)


# ----------------------------------------------------------------------------- (c) evidence
def logistic(params, x):
    """Logistic regression logits ``x w + b``."""
    return x @ params["w"] + params["b"]


def digit_pair(a: int, b: int, per_class: int, seed: int):
    """Digits ``a`` (label 0) and ``b`` (label 1), pixels / 16; a balanced training set of
    ``per_class`` images each, the rest held out; random labels: a permutation of the training
    labels (same balance), and fair coin flips for the held-out set."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    keep = (y == a) | (y == b)
    x, y = (x[keep] / 16.0).astype(np.float32), (y[keep] == b).astype(np.float32)
    rng = np.random.default_rng(seed)
    tr = np.sort(np.concatenate([rng.permutation(np.flatnonzero(y == c))[:per_class]
                                 for c in (0.0, 1.0)]))
    te = np.setdiff1d(np.arange(y.size), tr)
    y_rand = rng.permutation(y[tr])
    y_rand_te = rng.integers(0, 2, te.size).astype(np.float32)
    return dict(x_tr=x[tr], y_tr=y[tr], x_te=x[te], y_te=y[te], y_rand=y_rand,
                y_rand_te=y_rand_te)


def evidence_sweep(key, data, precisions, num_steps: int):
    """For true and random labels and each prior precision: ``fit_map`` (one compiled fit reused
    via ``post.replace``), full-GGN ``bj.laplace``, the log evidence minus the null model's
    ``N log ½``, held-out cross-entropy (nats per example) and accuracy, and the first-order
    evidence error ``½ gᵀP⁻¹g`` left by an inexact mode (g = ∇log_joint at the fit)."""
    n = data["y_tr"].size
    init = {"w": jnp.zeros(data["x_tr"].shape[1]), "b": jnp.zeros(())}
    post = bj.Posterior.from_apply(logistic, init, bj.likelihoods.Bernoulli(),
                                   bj.priors.Gaussian(1.0), data["x_tr"], data["y_tr"])
    opt = optax.adam(optax.cosine_decay_schedule(0.05, num_steps, 0.01))
    grad = jax.jit(jax.grad(lambda p, q: q.log_joint(p)))
    out = {}
    for name, y, y_te in (("true", data["y_tr"], data["y_te"]),
                          ("random", data["y_rand"], data["y_rand_te"])):
        rows = []
        for c in precisions:
            p = post.replace(prior=bj.priors.Gaussian(float(1.0 / math.sqrt(c))), y=y)
            res = bj.fit_map(key, p, opt, num_steps=num_steps)
            lap = bj.laplace(p, res.params)
            g, _ = ravel_pytree(grad(res.params, p))
            g = np.asarray(g, np.float64)
            err = 0.5 * g @ np.linalg.solve(np.asarray(lap.posterior_precision(), np.float64), g)
            f = np.asarray(p.predict(res.params, data["x_te"]), np.float64)
            rows.append(dict(precision=float(c),
                             evidence_vs_null=float(lap.log_marginal_likelihood())
                             - n * math.log(0.5),
                             train_log_lik=float(p.log_likelihood(res.params)),
                             test_ce=float(np.mean(np.logaddexp(0.0, f) - y_te * f)),
                             test_acc=float(np.mean((f > 0) == (y_te > 0.5))),
                             evidence_error=float(err)))
        out[name] = rows
    return out


# ----------------------------------------------------------------------------- (d) batch size
def digits_split(test_fraction: float, seed: int):
    """All ten digit classes, pixels / 16, stratified train/test split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    return train_test_split((x / 16.0).astype(np.float32), y.astype(np.int32),
                            test_size=test_fraction, random_state=seed, stratify=y)


@jax.jit
def _hvp(post, params, v):
    """Hessian-vector product of ``-log_joint`` (forward-over-reverse), pytree in and out."""
    return jax.jvp(jax.grad(lambda p: -post.log_joint(p)), (params,), (v,))[1]


def top_eigenvalue(post, params, tol: float = 1e-6) -> float:
    """Largest eigenvalue of the Hessian of the per-datum objective ``-log_joint/N`` (the loss
    ``fit_map`` descends) by Lanczos (ARPACK ``eigsh``, deterministic start) on Hessian-vector
    products, never forming the P × P matrix."""
    flat, unravel = ravel_pytree(params)
    n = post.num_data

    def matvec(v):
        hv = _hvp(post, params, unravel(jnp.asarray(np.ravel(v), flat.dtype)))
        return np.asarray(ravel_pytree(hv)[0], np.float64) / n

    op = scipy.sparse.linalg.LinearOperator((flat.size, flat.size), matvec=matvec,
                                            dtype=np.float64)
    return float(scipy.sparse.linalg.eigsh(op, k=1, which="LA", v0=np.ones(flat.size), tol=tol,
                                           return_eigenvectors=False)[0])


def train_with_checkpoints(key, post, optimizer, *, chunks: int, steps_per_chunk: int,
                           batch_size: int | None):
    """``bj.fit_map`` in ``chunks`` pieces (continuing from the last parameters; plain
    ``optax.sgd`` has no state, so this is one run), the top Hessian eigenvalue after each.
    Returns the final ``FitResult``, the eigenvalues and the concatenated per-step losses."""
    params, sharp, losses = post.params, [], []
    for k in jax.random.split(key, chunks):
        res = bj.fit_map(k, post, optimizer, num_steps=steps_per_chunk, batch_size=batch_size,
                         init_params=params)
        params = res.params
        sharp.append(top_eigenvalue(post, params))
        losses.append(np.asarray(res.losses, np.float64))
    return res, np.array(sharp), np.concatenate(losses)
