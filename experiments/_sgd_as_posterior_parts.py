"""sgd_as_posterior's mathematics and statistics: the stationary law of constant-rate SGD, the two
models, and the exact-posterior / total-variation machinery of part 2 (see sgd_as_posterior.py)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np

import bayesjax as bj

if TYPE_CHECKING:
    from experiments.sgd_as_posterior import Config

NUM_SE = 4.0            # |deviation| ≤ 4 standard errors: false alarm 6e-5 per test (normal)
TOLERANCE = 0.05        # the issue's "within 5%"
BURN_RELAXATIONS = 10.0  # discard t with |1 − εa|^{2t} ≥ e^{−20}: the start is forgotten
NULL_QUANTILE = 0.999   # TV floor: a correct sampler exceeds it with probability 0.1%
NULL_DRAWS = 20_000


# ------------------------------------------------------------------------------------ the math
def curvature(num_data: int, noise: float, prior_scale: float) -> float:
    """``a = L''(θ) = 1/σ² + 1/(N s₀²)``, the curvature of ``L = −log_joint/N`` (part 1)."""
    return 1.0 / noise**2 + 1.0 / (num_data * prior_scale**2)


def stationary_variance(eps, batch_size, grad_var, a):
    """Exact stationary variance of the AR(1) iterates: ``ε s_g² / (B a (2 − εa))``."""
    return eps * grad_var / (batch_size * a * (2.0 - eps * a))


def ou_variance(eps, batch_size, grad_var, a):
    """Mandt et al.'s continuous-time (small-ε) law ``ε s_g² / (2 a B)``."""
    return eps * grad_var / (2.0 * batch_size * a)


def issue_variance(eps, batch_size, grad_var):
    """The issue's form ``ε s² / (B (2 − ε))`` with ``s² = s_g²`` (exact when ``a = 1``)."""
    return eps * grad_var / (batch_size * (2.0 - eps))


def matching_learning_rate(batch_size, num_data, grad_var, a):
    """``ε* = 2B / (N s_g² + B a)``: ``stationary_variance(ε*) = 1/(N a)``, the posterior's."""
    return 2.0 * batch_size / (num_data * grad_var + batch_size * a)


def burn_in_steps(eps: float, a: float) -> int:
    """Steps after which ``|1 − εa|^{2t} < e^{−20}``: the variance has forgotten the start."""
    rho = abs(1.0 - eps * a)
    return 1 if rho == 0.0 else max(1, math.ceil(BURN_RELAXATIONS / -math.log(rho)))


# ------------------------------------------------------------------------------------ models
def constant_mean(params, x):
    """Part 1: every point has mean θ (``x`` only carries the number of points)."""
    return jnp.broadcast_to(params["mu"], x.shape[:1])


def squared_mean(params, x):
    """Part 2: every point has mean θ², so θ and −θ explain the data equally well."""
    return jnp.broadcast_to(jnp.square(params["theta"]), x.shape[:1])


def gaussian_mean_posterior(cfg: Config, rng: np.random.Generator) -> bj.Posterior:
    y = (cfg.true_mean + cfg.noise * rng.normal(size=cfg.num_data)).astype(np.float32)
    return bj.Posterior.from_apply(
        constant_mean, {"mu": jnp.zeros((), jnp.float32)}, bj.likelihoods.Gaussian(cfg.noise),
        bj.priors.Gaussian(cfg.prior_scale), np.zeros((cfg.num_data, 1), np.float32), y)


def two_mode_posterior(cfg: Config, rng: np.random.Generator) -> bj.Posterior:
    z = rng.normal(size=cfg.mode_data)
    z = (z - z.mean()) / z.std()
    y = (1.0 + cfg.mode_noise * z).astype(np.float32)
    return bj.Posterior.from_apply(
        squared_mean, {"theta": jnp.zeros((), jnp.float32)},
        bj.likelihoods.Gaussian(cfg.mode_noise), bj.priors.Gaussian(cfg.mode_prior_scale),
        np.zeros((cfg.mode_data, 1), np.float32), y)


@jax.jit
def gradients_and_curvature(post: bj.Posterior, params):
    """Per-example gradients ``∇_θ log_joint_estimate(θ, [i]) = N ∇log p(y_i|θ) + ∇log p(θ)`` for
    every i, and ``∂²log_joint/∂θ²``, of a one-parameter posterior (one compiled program)."""
    idx = jnp.arange(post.num_data)[:, None]
    g = jax.vmap(lambda i: jax.grad(post.log_joint_estimate)(params, i))(idx)
    hess = jax.hessian(post.log_joint)(params)
    return jax.tree.leaves(g)[0], jax.tree.leaves(hess)[0]


def loss_geometry(post: bj.Posterior, params) -> tuple[float, float]:
    """``(s_g², a)`` of ``L = −log_joint/N`` at ``params`` through the library: the variance over
    the data of the per-example gradient of L, and ``L'' = −∂²log_joint/∂θ² / N``."""
    n = post.num_data
    g, hess = gradients_and_curvature(post, params)
    return float(np.var(np.asarray(g, np.float64) / n)), -float(hess) / n


# ------------------------------------------------------------------------------------ part 2
def exact_on_grid(post: bj.Posterior, limit: float, num_bins: int, cells_per_bin: int = 25):
    """Exact posterior of the one-parameter ``post`` on ``[−limit, limit]``: midpoint quadrature
    of ``exp(log_joint)`` on ``num_bins·cells_per_bin`` cells. Returns the bin edges, the bin
    masses, the cell centres and the normalised density there, and ``log_joint`` at the ends
    relative to its maximum (how much mass the grid can miss)."""
    edges = np.linspace(-limit, limit, num_bins + 1)
    h = (edges[1] - edges[0]) / cells_per_bin
    centres = -limit + h * (np.arange(num_bins * cells_per_bin) + 0.5)
    lj = jax.jit(jax.vmap(lambda t: post.log_joint({"theta": t})))(
        jnp.asarray(centres, jnp.float32))
    lj = np.asarray(lj, np.float64)
    w = np.exp(lj - lj.max())
    density = w / (w.sum() * h)
    masses = (density * h).reshape(num_bins, cells_per_bin).sum(axis=1)
    end = float(max(lj[0], lj[-1]) - lj.max())
    return edges, masses, centres, density, end


def frequencies(samples: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin frequencies of each row of ``samples`` (batches, draws): ``(batches, bins + 1)``, the
    last column counting draws outside the edges."""
    k = len(edges) - 1
    idx = np.searchsorted(edges, samples, side="right") - 1
    idx = np.where((samples < edges[0]) | (samples > edges[-1]), k, np.minimum(idx, k - 1))
    counts = np.stack([np.bincount(row, minlength=k + 1) for row in idx])
    return counts / samples.shape[1]


def tv_distance(freq: np.ndarray, masses: np.ndarray) -> float:
    """``½ Σ_k |p̂_k − p_k|`` over the bins and the outside (exact mass there taken as 0)."""
    return 0.5 * float(np.abs(freq - np.append(masses, 0.0)).sum())


def tv_noise_null(batch_freqs: np.ndarray, rng, num_draws: int = NULL_DRAWS) -> np.ndarray:
    """TV values of pure Monte Carlo noise: ``½ Σ|δ|`` with ``δ ~ N(0, S/n_b)``, S the covariance
    of the bin frequencies over the ``n_b`` independent batches (rows of ``batch_freqs``).

    ``δ = Σ_b g_b (f_b − f̄)/√(n_b(n_b − 1))`` with ``g ~ N(0, I)`` has exactly that covariance.
    """
    nb = batch_freqs.shape[0]
    dev = (batch_freqs - batch_freqs.mean(axis=0)) / math.sqrt(nb * (nb - 1))
    out = np.empty(num_draws)
    for lo in range(0, num_draws, 2000):
        g = rng.normal(size=(min(2000, num_draws - lo), nb))
        out[lo:lo + g.shape[0]] = 0.5 * np.abs(g @ dev).sum(axis=1)
    return out


def iid_tv_floor(masses: np.ndarray, n: int, rng, num_draws: int = 2000) -> np.ndarray:
    """TV values of i.i.d. samples of size n from the exact bin masses (multinomial)."""
    p = masses / masses.sum()
    counts = rng.multinomial(n, p, size=num_draws)
    return 0.5 * np.abs(counts / n - p).sum(axis=1)


def sampler_summary(samples: np.ndarray, batches: int, edges, masses, rng, exact_within_var):
    """TV, its noise floor, the positive-mode fraction and its SE for ``samples (chains, draws)``
    split into ``batches`` contiguous batches per chain (independent rows for the floor)."""
    c, d = samples.shape
    d_use = (d // batches) * batches
    rows = samples[:, d - d_use:].reshape(c * batches, d_use // batches)
    f = frequencies(rows, edges)
    tv = tv_distance(f.mean(axis=0), masses)
    null = tv_noise_null(f, rng)
    ess = float(az.ess(samples, method="bulk"))
    iid = iid_tv_floor(masses, max(1, int(ess)), rng)
    pos = (rows > 0).mean(axis=1)
    signs = np.sign(samples)
    return {"tv": tv, "tv_null_mean": float(null.mean()),
            "tv_null_q": float(np.quantile(null, NULL_QUANTILE)),
            "tv_iid_at_ess_mean": float(iid.mean()),
            "tv_iid_at_ess_q": float(np.quantile(iid, NULL_QUANTILE)),
            "ess_bulk": ess, "ess_sign": float(az.ess(signs, method="bulk")),
            "positive_fraction": float(pos.mean()),
            "positive_fraction_se": float(pos.std(ddof=1) / math.sqrt(len(pos))),
            "chains_visiting_both": int(np.sum((samples > 0).any(1) & (samples < 0).any(1))),
            "num_chains": int(c),
            "crossings_per_chain": float(np.mean(np.sum(signs[:, 1:] != signs[:, :-1], axis=1))),
            "within_mode_var": float(np.var(np.abs(samples))),
            "within_mode_var_rel_dev": float(np.var(np.abs(samples)) / exact_within_var - 1.0),
            "batches": int(c * batches), "draws_per_batch": int(d_use // batches),
            "frequencies": f.mean(axis=0)}

