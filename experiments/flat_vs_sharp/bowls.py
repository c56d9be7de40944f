r"""(a) Two quadratic bowls of equal depth: the sharp basin's share of the posterior mass by
quadrature, Laplace, NUTS (``bj.nuts``) and full-batch Langevin (``bj.sgld``).

``bowls_posterior``: ``½(θ-μ_j)ᵀK_j(θ-μ_j)`` as a ``bj.Posterior`` with a flat prior;
``one_dimensional`` / ``two_dimensional`` run every method on it; ``claims`` states what (a)
claims.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import NamedTuple

import arviz_stats as azs
import jax
import jax.numpy as jnp
import numpy as np
import scipy.stats

import bayesjax as bj
from experiments.common import stats
from experiments.common.claims import claim, log, show_progress

OFFSET = 1.0  # c in f = sqrt(2(U + c)): keeps the square root away from 0, so f is smooth
U32 = 2.0**-24  # unit roundoff of float32


class Samplers(NamedTuple):
    """NUTS and Langevin settings: chains (half started in each bowl), NUTS burn-in and draws per
    chain, the Langevin step ε (θ² units), steps per chain and thinning."""

    nuts_chains: int
    nuts_warmup: int
    nuts_samples: int
    langevin_chains: int
    langevin_step: float
    langevin_steps: int
    langevin_thin: int


# ----------------------------------------------------------------------------- the potential
def make_bowls(means, precisions, barrier=None):
    r"""``apply_fn(params, x)`` with ``params = {"theta": (D,)}`` returning ``f = √(2(U(θ)+c))``
    of shape (1,), with ``q_j = ½(θ-μ_j)ᵀK_j(θ-μ_j)`` and

    - ``barrier=None``: ``U = min_j q_j`` (each point belongs to the lower bowl);
    - ``barrier=b`` (1-D): ``U = q_0`` for ``θ < b``, ``q_1`` for ``θ ≥ b``. Continuous at the
      crossing point b, and unlike the plain minimum it stays the sharp bowl far to the left
      (where ``min`` would switch back to the wider bowl, a second kink 7 nats up).

    With one datum ``y = 0`` and a Gaussian likelihood of noise 1,
    ``-log p(y|θ) = f²/2 + log√(2π) = U(θ) + c + log√(2π)``: the library's log joint is ``-U``
    up to a constant. ``x`` is ignored.

    The callable compares and hashes by its numbers (``_Bowls``), so a second posterior with the
    same bowls reuses every program compiled for the first (a rerun of the experiment compiles
    nothing); a closure would be a new function each time, and a cache miss."""
    return _Bowls(tuple(map(tuple, np.asarray(means, np.float32).tolist())),
                  tuple(np.asarray(precisions, np.float32).ravel().tolist()),
                  None if barrier is None else float(barrier))


@dataclasses.dataclass(frozen=True)
class _Bowls:
    """``make_bowls``'s apply function: its bowls as hashable tuples (means (J, D), precisions
    flattened J·D·D, the 1-D barrier or None)."""

    means: tuple
    precisions: tuple
    barrier: float | None

    def __call__(self, params, x):
        theta = params["theta"]
        mus = jnp.asarray(self.means, jnp.float32)
        ks = jnp.asarray(self.precisions, jnp.float32).reshape(mus.shape + mus.shape[-1:])
        d = theta[None, :] - mus
        q = 0.5 * jnp.einsum("ji,jik,jk->j", d, ks, d)
        u = jnp.min(q) if self.barrier is None else jnp.where(theta[0] < self.barrier, q[0], q[1])
        return jnp.reshape(jnp.sqrt(2.0 * (u + OFFSET)), (1,))


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


# ----------------------------------------------------------------------------- exact masses
def quadrature_masses_1d(post, means, precisions, num_points: int):
    """Basin masses ``∫ exp(log_joint)`` over (-∞, b] and [b, ∞) by ``bj.quadrature.grid``
    (midpoint rule) on two grids that end at the barrier b (the kink), each reaching 12 standard
    deviations past its mode: the error is then only the O(h²) boundary term at b."""
    b = barrier_1d(means, precisions)
    (m0, m1), (k0, k1) = np.ravel(means), np.ravel(precisions)
    log_density = lambda t: post.log_joint({"theta": t})  # noqa: E731
    return np.array([math.exp(float(bj.quadrature.grid(log_density, ((lo, hi),), num_points)
                                    .log_normalizer))
                     for lo, hi in ((m0 - 12 / math.sqrt(k0), b), (b, m1 + 12 / math.sqrt(k1)))])


def grid_masses_2d(post, means, precisions, num_points: int):
    """2-D basin masses ``∫ exp(log_joint)`` over the region where each bowl is lowest, by
    ``bj.quadrature.grid`` on a square grid reaching 8 standard deviations past both modes."""
    sd = max(1 / math.sqrt(np.linalg.eigvalsh(k).min()) for k in precisions)
    lo, hi = np.min(means, 0) - 8 * sd, np.max(means, 0) + 8 * sd
    q = bj.quadrature.grid(lambda t: post.log_joint({"theta": t}),
                           ((lo[0], hi[0]), (lo[1], hi[1])), num_points)
    labels = bowl_index(np.asarray(q.points), means, precisions)
    return math.exp(float(q.log_normalizer)) * np.asarray(q.masses(labels, 2), np.float64)


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


# ----------------------------------------------------------------------------- samplers
def indicator_fraction(ind) -> tuple[float, float, float]:
    """Mean of a (chains, draws) 0/1 indicator, its standard error ``√(f(1-f)/ESS)`` and the ESS
    of the mean (``arviz_stats.ess(method="mean")``, which accounts for autocorrelation and chains)."""
    ind = np.asarray(ind, np.float64)
    f = float(ind.mean())
    ess = float(azs.ess(ind, method="mean"))
    return f, math.sqrt(f * (1.0 - f) / ess), ess


def run_nuts(key, post, inits, *, step_size: float, num_warmup: int, num_samples: int):
    """``bj.nuts`` on ``post``, one chain per row of ``inits``, at a fixed step size and a unit
    mass, neither adapted: a step adapted inside one bowl is unstable in the sharper one (a chain
    that adapted in the flat bowl gets stuck in the sharp one). Warmup is burn-in only. Returns
    (chains, draws, D) draws, the number of divergent transitions, the post-warmup gradient
    evaluations (leapfrog steps) and the sampling seconds."""
    mc = bj.nuts(key, post, num_warmup=num_warmup, num_samples=num_samples,
                 num_chains=len(inits), init_params={"theta": jnp.asarray(inits, jnp.float32)},
                 mass="identity", step_size=step_size, progress_bar=show_progress())
    return (np.asarray(mc.samples["theta"], np.float64), mc.diagnostics.num_divergent,
            int(mc.stats["num_steps"].sum()), mc.diagnostics.sampling_time)


def run_mclmc(key, post, inits, *, num_samples: int, adjusted: bool = False):
    """``bj.mclmc`` (unadjusted, or Metropolis-adjusted; BlackJAX's own tuning, per chain) on
    ``post``, one chain per row of ``inits``. Returns (chains, draws, D) draws, the draws flagged
    divergent, the post-tuning gradient evaluations and the seconds of tuning + sampling."""
    mc = bj.mclmc(key, post, num_samples=num_samples, num_chains=len(inits),
                  init_params={"theta": jnp.asarray(inits, jnp.float32)}, adjusted=adjusted,
                  progress_bar=show_progress())
    return (np.asarray(mc.samples["theta"], np.float64), mc.diagnostics.num_divergent,
            int(mc.stats["num_grads"].sum()), mc.diagnostics.sampling_time)


def run_langevin(key, post, inits, *, step_size: float, num_steps: int, thin: int):
    """``bj.sgld`` (full batch: unadjusted Langevin), one chain per row of ``inits``, vmapped (one
    bar for all, on a terminal)."""
    keys = jax.random.split(key, len(inits))
    return np.asarray(_langevin(keys, post, jnp.asarray(inits, jnp.float32), step_size=step_size,
                                num_steps=num_steps, thin=thin, bar=show_progress()), np.float64)


@functools.partial(jax.jit, static_argnames=("step_size", "num_steps", "thin", "bar"))
def _langevin(keys, post, inits, *, step_size, num_steps, thin, bar):
    """``run_langevin``'s program, module-level so that a rerun with the same shapes reuses it."""
    def one(k, theta):
        return bj.sgld(k, post, step_size=step_size, num_steps=num_steps, thin=thin,
                       init_params={"theta": theta}, progress_bar=bar).samples["theta"]

    return jax.vmap(one)(keys, inits)


def sample_bowls(key, means, precs, samplers: Samplers, *, nuts_samples: int,
                 langevin_steps: int, barrier=None, mclmc: bool = False,
                 mclmc_adjusted: bool = False) -> dict:
    """Laplace masses at the two modes and NUTS / Langevin (and with ``mclmc``, MCLMC with the
    gradient budget of NUTS; with ``mclmc_adjusted`` also its Metropolis-adjusted variant) draws,
    with each sampler's sharp-basin share, its s.e. and ESS, and how often its chains crossed the
    barrier."""
    post = bowls_posterior(means, precs, barrier)
    laps = [bj.laplace(post, {"theta": jnp.asarray(m, jnp.float32)}, curvature="hessian")
            for m in means]
    log_mass = np.array([float(lap.log_basin_mass) for lap in laps])
    grad0 = max(float(jnp.max(jnp.abs(jax.grad(post.log_joint)(lap.mean)["theta"])))
                for lap in laps)
    step = 1 / math.sqrt(max(float(np.linalg.eigvalsh(np.asarray(k)).max()) for k in precs))
    kn, kl, km = jax.random.split(key, 3)
    half = lambda n: np.repeat(np.asarray(means, np.float32), n // 2, axis=0)  # noqa: E731
    nuts, divergent, nuts_grads, nuts_time = run_nuts(
        kn, post, half(samplers.nuts_chains), step_size=step, num_warmup=samplers.nuts_warmup,
        num_samples=nuts_samples)
    lang = run_langevin(kl, post, half(samplers.langevin_chains),
                        step_size=samplers.langevin_step, num_steps=langevin_steps,
                        thin=samplers.langevin_thin)
    out = dict(post=post, laps=laps, log_mass=log_mass, grad_at_modes=grad0,
               laplace_fraction=float(1.0 / (1.0 + np.exp(log_mass[1] - log_mass[0]))),
               nuts=nuts, langevin=lang, divergent=divergent, nuts_step=step,
               nuts_grads=nuts_grads, nuts_time=nuts_time)
    draws = {"nuts": nuts, "langevin": lang}
    if mclmc:
        # unadjusted MCLMC takes 2 gradients a step and a step a draw: NUTS's gradient budget
        per_chain = max(10, nuts_grads // (2 * samplers.nuts_chains))
        (draws["mclmc"], out["mclmc_divergent"], out["mclmc_grads"],
         out["mclmc_time"]) = run_mclmc(km, post, half(samplers.nuts_chains), num_samples=per_chain)
    if mclmc and mclmc_adjusted:
        # adjusted: several integrator steps a draw, so a quarter of the draws
        (draws["mclmc_adjusted"], out["mclmc_adjusted_divergent"], out["mclmc_adjusted_grads"],
         out["mclmc_adjusted_time"]) = run_mclmc(km, post, half(samplers.nuts_chains),
                                                 num_samples=max(10, per_chain // 4), adjusted=True)
    for name, d in draws.items():
        ind = bowl_index(d, means, precs, barrier) == 0
        out[name] = d
        out[f"{name}_fraction"], out[f"{name}_se"], out[f"{name}_ess"] = indicator_fraction(ind)
        out[f"{name}_crossings"] = int(np.sum(np.diff(ind, axis=1) != 0))
    return out


# ----------------------------------------------------------------------------- the two parts
def one_dimensional(key, *, k_sharp: float, k_flat: float, separation: float, quad_points: int,
                    samplers: Samplers) -> dict:
    """(a) in 1-D: bowls ``k_sharp θ²/2`` and ``k_flat (θ − separation)²/2`` cut at the barrier;
    the sharp share by quadrature, Laplace, NUTS and Langevin, the Langevin chain's own bias, and
    the curves of the figure."""
    means, precs = [[0.0], [separation]], [[[k_sharp]], [[k_flat]]]
    b = barrier_1d(means, precs)
    r = sample_bowls(key, means, precs, samplers, nuts_samples=samplers.nuts_samples,
                     langevin_steps=samplers.langevin_steps, barrier=b)
    quad = quadrature_masses_1d(r["post"], means, precs, quad_points)
    stat = langevin_stationary_fraction(r["post"], means, precs, samplers.langevin_step)
    g = np.linspace(-1.5, separation + 4.0 / math.sqrt(k_flat), 1200)
    lj = log_joint_on(r["post"], g[:, None])
    log_lap_mass = r["log_mass"]
    log(f"(a) sharp share: exact {quad[0] / quad.sum():.4f}, Laplace {r['laplace_fraction']:.4f}, "
        f"NUTS {r['nuts_fraction']:.4f}±{r['nuts_se']:.4f}, Langevin "
        f"{r['langevin_fraction']:.4f}±{r['langevin_se']:.4f} (bias {stat['bias']:+.4f})")
    return dict(k=(k_sharp, k_flat), barrier=b, closed=exact_fraction_1d(means, precs),
                exact_fraction=float(quad[0] / quad.sum()),
                laplace_fraction=r["laplace_fraction"],
                laplace_curvature=[float(lap.posterior_precision()[0, 0]) for lap in r["laps"]],
                laplace_mass_ratio=float(np.exp(log_lap_mass[1] - log_lap_mass[0])),
                quadrature_mass_ratio=float(quad[1] / quad[0]),
                laplace_over_exact=np.exp(log_lap_mass - np.log(quad)),
                grad_at_modes=r["grad_at_modes"], nuts_fraction=r["nuts_fraction"],
                nuts_se=r["nuts_se"], nuts_ess=r["nuts_ess"], nuts_divergent=r["divergent"],
                nuts_step=r["nuts_step"], nuts_crossings=r["nuts_crossings"],
                langevin_fraction=r["langevin_fraction"], langevin_se=r["langevin_se"],
                langevin_ess=r["langevin_ess"], langevin_crossings=r["langevin_crossings"],
                langevin_stationary=stat, grid=g, potential=-(lj - lj.max()),
                density=np.exp(lj) / quad.sum(), nuts_draws=r["nuts"].ravel(),
                langevin_draws=r["langevin"].ravel(),
                settings=dict(separation=separation, quad_points=quad_points, **samplers._asdict()))


def two_dimensional(key, *, grid_points: int, num_samples: int, samplers: Samplers,
                    mclmc_adjusted: bool = True) -> dict:
    """(a) in 2-D, report only: a rotated sharp bowl at (0, 0) and a wide one at (4, 0), each point
    in the basin of the lower bowl; grid quadrature, Laplace, NUTS (``num_samples`` per chain) and
    Langevin (a quarter of the 1-D steps)."""
    rot = np.array([[math.cos(math.pi / 6), -math.sin(math.pi / 6)],
                    [math.sin(math.pi / 6), math.cos(math.pi / 6)]])
    means = [[0.0, 0.0], [4.0, 0.0]]
    precs = [rot @ np.diag([25.0, 4.0]) @ rot.T, np.diag([0.5, 2.0])]
    r = sample_bowls(key, means, precs, samplers, nuts_samples=num_samples,
                     langevin_steps=samplers.langevin_steps // 4, mclmc=True,
                     mclmc_adjusted=mclmc_adjusted)
    masses = grid_masses_2d(r["post"], means, precs, grid_points)
    eff, walls = sampler_efficiency(r)
    variants = ("mclmc", "mclmc_adjusted") if mclmc_adjusted else ("mclmc",)
    xs, ys = np.linspace(-2.0, 8.0, 201), np.linspace(-4.0, 4.0, 161)
    pts = np.stack(np.meshgrid(xs, ys, indexing="ij"), -1).reshape(-1, 2)
    lj = log_joint_on(r["post"], pts).reshape(xs.size, ys.size)
    thin = lambda d: d.reshape(-1, 2)[:: max(1, d.size // 2 // 4000)]  # noqa: E731
    log(f"(a, 2-D) sharp share: exact {masses[0] / masses.sum():.4f}, Laplace "
        f"{r['laplace_fraction']:.4f}, NUTS {r['nuts_fraction']:.4f}±{r['nuts_se']:.4f}")
    return dict(means=means, precisions=[p.tolist() for p in precs],
                exact_fraction=float(masses[0] / masses.sum()),
                laplace_fraction=r["laplace_fraction"], nuts_fraction=r["nuts_fraction"],
                nuts_se=r["nuts_se"], langevin_fraction=r["langevin_fraction"],
                langevin_se=r["langevin_se"], nuts_divergent=r["divergent"],
                laplace_precisions=[np.asarray(lap.posterior_precision()) for lap in r["laps"]],
                grid_x=xs, grid_y=ys, potential=-(lj - lj.max()), nuts_draws=thin(r["nuts"]),
                langevin_draws=thin(r["langevin"]), mclmc_draws=thin(r["mclmc"]),
                efficiency=eff, walls=walls,
                **{f"{m}_{k}": r[f"{m}_{k}"] for m in variants
                   for k in ("fraction", "se", "divergent")},
                **{f"{m}_z": float(stats.z_score(r[f"{m}_fraction"], masses[0] / masses.sum(),
                                                 r[f"{m}_se"])) for m in variants},
                nuts_z=float(stats.z_score(r["nuts_fraction"], masses[0] / masses.sum(),
                                           r["nuts_se"])))


def sampler_efficiency(r: dict) -> tuple[dict, dict]:
    """ESS of the sharp-basin indicator per post-warmup (post-tuning) gradient evaluation, NUTS and
    MCLMC, and, apart because they are wall times (not in metrics.json), ESS per second of warmup
    + sampling (tuning + sampling)."""
    eff, walls = {}, {}
    names = [n for n in ("nuts", "mclmc", "mclmc_adjusted") if f"{n}_ess" in r]
    for name in names:
        ess, grads, secs = r[f"{name}_ess"], r[f"{name}_grads"], r[f"{name}_time"]
        eff[name] = {"ess": ess, "grads": grads, "ess_per_1000_grads": 1000.0 * ess / grads}
        walls[name] = {"seconds": secs, "ess_per_s": ess / secs}
    for name in names[1:]:
        eff[f"{name}_over_nuts_per_grad"] = (eff[name]["ess_per_1000_grads"]
                                             / eff["nuts"]["ess_per_1000_grads"])
        walls[f"{name}_over_nuts_per_s"] = walls[name]["ess_per_s"] / walls["nuts"]["ess_per_s"]
    return eff, walls


def claims(a: dict) -> list:
    """The four claims of (a), from ``one_dimensional``'s result."""
    k_sharp, k_flat = a["k"]
    ratio = math.sqrt(k_sharp / k_flat)
    exact = a["closed"]["fraction_0"]
    bias = a["langevin_stationary"]["bias"]
    lang_target = a["exact_fraction"] + bias
    return [
        claim(f"(a) the Laplace basin masses of the sharp (k={k_sharp:g}) and flat "
              f"(k={k_flat:g}) minima are in the ratio √(k_s/k_f) = {ratio:g}",
              {"flat_over_sharp": a["laplace_mass_ratio"], "curvatures": a["laplace_curvature"]},
              "|ratio/√(k_s/k_f) − 1| ≤ 64u (u = 2⁻²⁴: a few dozen float32 roundings)",
              abs(a["laplace_mass_ratio"] / ratio - 1) <= 64 * U32),
        claim("(a) the exact basin masses (quadrature of exp(log_joint) up to the barrier) have "
              "the same ratio, so exact and Laplace shares agree",
              {"exact_sharp_share": a["exact_fraction"], "laplace_sharp_share":
               a["laplace_fraction"], "closed_form": exact},
              "|quadrature share − 1/(1+√(k_s/k_f))| ≤ 1e-6 and |Laplace share − closed form| "
              "≤ 1e-6 (float32 log_joint: density error ≲ 4u(U+2) where the mass is; "
              "bj.quadrature midpoint rule ending at the kink: ≲ 1e-8)",
              abs(a["exact_fraction"] - exact) <= 1e-6 and abs(a["laplace_fraction"] - exact)
              <= 1e-6),
        claim("(a) the share of NUTS draws in the sharp basin is its exact mass",
              {"nuts": a["nuts_fraction"], "se": a["nuts_se"], "ess": a["nuts_ess"],
               "z": float(stats.z_score(a["nuts_fraction"], a["exact_fraction"], a["nuts_se"]))},
              f"|share − exact| ≤ Z = {stats.Z:.2f} s.e. (suite policy; s.e. from the ESS of the "
              "basin indicator)",
              stats.within(a["nuts_fraction"], a["exact_fraction"], a["nuts_se"]),
              sampled_tests=1),
        claim("(a) the share of time noisy gradient descent (Langevin, bj.sgld) spends in the "
              "sharp basin is its exact mass, up to the step's O(ε) bias",
              {"langevin": a["langevin_fraction"], "se": a["langevin_se"],
               "ess": a["langevin_ess"], "discretisation_bias": bias,
               "z": float(stats.z_score(a["langevin_fraction"], lang_target, a["langevin_se"]))},
              f"|share − (exact + bias)| ≤ Z = {stats.Z:.2f} s.e. (suite policy); bias of the "
              "step-ε chain from its stationary law on a grid",
              stats.within(a["langevin_fraction"], lang_target, a["langevin_se"]),
              sampled_tests=1),
    ]
