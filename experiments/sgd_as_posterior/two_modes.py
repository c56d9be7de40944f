r"""Part 2: SGLD and NUTS on a posterior with two mirror modes, against its exact quadrature.

``y_i ~ N(θ², σ²)`` with ``θ ~ N(0, s₀²)``: the likelihood depends on θ only through θ², so the
posterior is symmetric with two mirror modes near ``±√ȳ`` separated by a barrier of about
``Nȳ²/(2σ²)`` nats at θ = 0, and each mode holds exactly half the mass. Welling & Teh's own example
(``x_i ~ ½N(θ₁, 2) + ½N(θ₁+θ₂, 2)``) is not used: its likelihood is a mixture, which
``bayesjax.likelihoods`` does not provide, and with components 1 apart and variance 2 whether 100
draws give two modes at all depends on the draw, whereas here bimodality follows from symmetry.
The noise is standardised so that ``ȳ = 1`` exactly; the posterior depends on the data only
through ȳ, so it is the same for every seed (only the samplers' noise depends on the draw).

The exact posterior is ``bj.quadrature.from_posterior`` on a fine grid. ``bj.sgld`` (minibatches
with replacement) runs many chains, all started in the positive mode, so reaching the negative one
is evidence of crossing; NumPyro's NUTS (``bj.nuts``) runs on the same target from the same start.

**How a histogram is tested.** It is split into what the two modes hold and their shape:

* the mass of the positive mode, ``P̂(θ > 0)``, against the exact 1/2: a z-test (suite policy), its
  SE from independent chains (SGLD) or batch means (NUTS);
* the shape within the modes: the total-variation distance ``TV = ½ Σ_k |p̂_k − p_k|``
  (``bj.metrics.tv_distance``) between the histogram of ``|θ|`` and the exact folded bin masses
  ``p_k + p_{−k}``.

The TV of Monte Carlo noise alone is ``½‖δ‖₁`` with bin-frequency errors ``δ ~ N(0, C)``,
``C = S/n_b`` and S the covariance of the bin frequencies over n_b independent chains (SGLD) or
long batches of the chains (NUTS). That null is **not** close to normal: the histogram noise of a
chain is dominated by a few smooth components (its slowest modes: the mass flipping between the
modes, a shift of a mode), so the normal approximation ``mean + Z·sd`` of simulated null draws
is exceeded about 10⁻³ of the time, not at the policy's α. The threshold used is instead the
Gaussian-concentration (Borell–TIS) bound, valid for any C:

.. math::

    P\big(\tfrac12\|\delta\|_1 > \mathbb{E} + L\sqrt{2\ln(1/\alpha)}\big) \le \alpha,\qquad
    \mathbb{E} = \tfrac12 \sum_k \sqrt{2 C_{kk}/\pi},\qquad
    L = \tfrac12 \max_{s \in \{\pm 1\}^K} \sqrt{s^\top C s} \le \tfrac12 \sqrt{\textstyle\sum_{jk} |C_{jk}|}.

Folding removes the mode-mass flip, which dominates the unfolded TV's noise and would make its
threshold blind to a 20% error in the width of the modes; the flip is what the z-test on
``P̂(θ > 0)`` measures. The full histogram's TV is reported beside it. The TV of an i.i.d. sample of
size ESS (ArviZ bulk ESS of θ) is reported too; it is far more lenient because the ESS of θ is set by
the slow mode switching, while the shape within a mode is sampled much faster.
"""

from __future__ import annotations

import math
import warnings

import arviz_stats as azs
import jax
import jax.numpy as jnp
import numpy as np

import bayesjax as bj
from experiments.common import stats
from experiments.common.claims import log, show_progress
from experiments.common.stats import mean_se
from experiments.sgd_as_posterior.sgd_law import gradients_and_curvature

CELLS_PER_BIN = 25


# ------------------------------------------------------------------------------------ the model
def squared_mean(params, x):
    """Every point has mean θ², so θ and −θ explain the data equally well."""
    return jnp.broadcast_to(jnp.square(params["theta"]), x.shape[:1])


def two_mode_posterior(rng: np.random.Generator, *, num_data: int, noise: float,
                       prior_scale: float) -> bj.Posterior:
    """``y = 1 + noise·z`` with z standardised (so ȳ = 1 exactly), mean θ², prior N(0, s₀²)."""
    z = rng.normal(size=num_data)
    z = (z - z.mean()) / z.std()
    y = (1.0 + noise * z).astype(np.float32)
    return bj.Posterior.from_apply(
        squared_mean, {"theta": jnp.zeros((), jnp.float32)}, bj.likelihoods.Gaussian(noise),
        bj.priors.Gaussian(prior_scale), np.zeros((num_data, 1), np.float32), y)


def exact_posterior(post: bj.Posterior, limit: float, num_bins: int) -> dict:
    """Midpoint quadrature of ``exp(log_joint)`` on ``[−limit, limit]`` with ``CELLS_PER_BIN``
    cells per histogram bin: the bin edges and masses, the cell centres, the normalised density
    and the cell masses there, and ``log_joint`` at the ends relative to its maximum (how much
    mass the grid misses)."""
    q = bj.quadrature.from_posterior(post, ((-limit, limit),), num_bins * CELLS_PER_BIN)
    edges = np.linspace(-limit, limit, num_bins + 1)
    lj = np.asarray(q.log_density, np.float64)
    return {"edges": edges, "masses": np.asarray(q.histogram(edges), np.float64),
            "centres": np.asarray(q.axes[0], np.float64),
            "density": np.asarray(q.density, np.float64),
            "probs": np.asarray(q.probs, np.float64),
            "log_density_at_grid_end": float(max(lj[0], lj[-1]) - lj.max())}


# ------------------------------------------------------------------------------------ histograms
def frequencies(samples: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin frequencies of each row of ``samples`` (batches, draws): ``(batches, bins + 1)``, the
    last column counting draws outside the edges."""
    k = len(edges) - 1
    idx = np.searchsorted(edges, samples, side="right") - 1
    idx = np.where((samples < edges[0]) | (samples > edges[-1]), k, np.minimum(idx, k - 1))
    counts = np.stack([np.bincount(row, minlength=k + 1) for row in idx])
    return counts / samples.shape[1]


def fold(freqs: np.ndarray) -> np.ndarray:
    """Frequencies of ``|θ|`` from those of θ on bins symmetric about 0 (an even number K of bins,
    plus the outside column): bin j of the result is bins K/2 + j and K/2 − 1 − j of the input."""
    k = freqs.shape[-1] - 1
    h = k // 2
    return np.concatenate([freqs[..., h:k] + freqs[..., :h][..., ::-1], freqs[..., k:]], axis=-1)


def tv(freq: np.ndarray, masses: np.ndarray) -> float:
    """``bj.metrics.tv_distance`` of frequencies with an outside column against bin masses (the
    exact mass outside taken as 0)."""
    return float(bj.metrics.tv_distance(freq, np.append(masses, 0.0)))


def tv_noise_threshold(batch_freqs: np.ndarray) -> tuple[float, float]:
    """``(E, threshold)`` of the TV of Monte Carlo noise alone, ``½‖δ‖₁`` with ``δ ~ N(0, C)``,
    ``C = S/n_b`` from the ``n_b`` independent rows of ``batch_freqs``: its exact mean
    ``½ Σ √(2C_kk/π)`` and the level-``stats.ALPHA`` Borell–TIS bound
    ``E + ½√(Σ|C_jk|)·√(2 ln(1/α))`` (see the module docstring)."""
    nb = batch_freqs.shape[0]
    dev = (batch_freqs - batch_freqs.mean(axis=0)) / math.sqrt(nb * (nb - 1))
    c = dev.T @ dev
    mean = 0.5 * float(np.sum(np.sqrt(2.0 * np.diag(c) / math.pi)))
    lipschitz = 0.5 * math.sqrt(float(np.abs(c).sum()))
    return mean, mean + lipschitz * math.sqrt(2.0 * math.log(1.0 / stats.ALPHA))


def iid_tv_floor(masses: np.ndarray, n: int, rng, num_draws: int = 2000) -> float:
    """Mean TV of i.i.d. samples of size n from the exact bin masses (multinomial)."""
    p = masses / masses.sum()
    counts = rng.multinomial(n, p, size=num_draws)
    return float(np.mean(0.5 * np.abs(counts / n - p).sum(axis=1)))


def sampler_summary(samples: np.ndarray, batches: int, edges, masses, rng,
                    exact_within_var) -> dict:
    """TVs (folded and full), their noise thresholds, the positive-mode fraction and its SE for
    ``samples (chains, draws)`` split into ``batches`` contiguous batches per chain (independent
    rows for the thresholds and the SE)."""
    c, d = samples.shape
    d_use = (d // batches) * batches
    rows = samples[:, d - d_use:].reshape(c * batches, d_use // batches)
    f = frequencies(rows, edges)
    folded_masses = fold(np.append(masses, 0.0)[None, :])[0, :-1]
    full_mean, full_thr = tv_noise_threshold(f)
    fold_mean, fold_thr = tv_noise_threshold(fold(f))
    ess = float(azs.ess(samples, method="bulk"))
    pos, pos_se = mean_se((rows > 0).mean(axis=1))
    signs = np.sign(samples)
    return {"tv_folded": tv(fold(f).mean(axis=0), folded_masses), "tv_folded_null_mean": fold_mean,
            "tv_folded_threshold": fold_thr,
            "tv": tv(f.mean(axis=0), masses), "tv_null_mean": full_mean, "tv_threshold": full_thr,
            "tv_iid_at_ess_mean": iid_tv_floor(masses, max(1, int(ess)), rng),
            "ess_bulk": ess, "ess_sign": float(azs.ess(signs, method="bulk")),
            "positive_fraction": float(pos), "positive_fraction_se": float(pos_se),
            "chains_visiting_both": int(np.sum((samples > 0).any(1) & (samples < 0).any(1))),
            "num_chains": int(c),
            "crossings_per_chain": float(np.mean(np.sum(signs[:, 1:] != signs[:, :-1], axis=1))),
            "within_mode_var": float(np.var(np.abs(samples))),
            "within_mode_var_rel_dev": float(np.var(np.abs(samples)) / exact_within_var - 1.0),
            "batches": int(c * batches), "draws_per_batch": int(d_use // batches),
            "frequencies": f.mean(axis=0)}


# ------------------------------------------------------------------------------------ the runs
def measure(key, rng, *, num_data: int, noise: float, prior_scale: float, grid_limit: float,
            num_bins: int, sgld_step_sizes, sgld_batch_size: int, sgld_chains: int,
            sgld_steps: int, sgld_thin: int, burn_fraction: float, nuts_chains: int,
            nuts_warmup: int, nuts_samples: int, nuts_batches: int) -> tuple[dict, dict]:
    """Part 2: the exact posterior, SGLD at each step size (steps and thinning ∝ 1/ε) and NUTS.
    Returns the metrics and the arrays the figure needs."""
    post = two_mode_posterior(rng, num_data=num_data, noise=noise, prior_scale=prior_scale)
    ex = exact_posterior(post, grid_limit, num_bins)
    edges, masses, centres, density = ex["edges"], ex["masses"], ex["centres"], ex["density"]
    probs = ex["probs"]
    mode = float(abs(centres[np.argmax(density)]))
    barrier = float(np.log(density.max() / np.interp(0.0, centres, density)))
    pos_exact = float(masses[num_bins // 2:].sum())
    within_var = float(probs @ np.square(centres) - (probs @ np.abs(centres)) ** 2)
    start = {"theta": jnp.asarray(mode, jnp.float32)}
    log(f"two-mode posterior: modes ±{mode:.3f}, barrier {barrier:.2f} nats, "
        f"P(θ > 0) = {pos_exact:.4f}")

    # linear (Gaussian-mode) theory of SGLD's variance inflation: (1 + εVar η/4)/(1 − εU''/4) − 1
    # with η the minibatch gradient noise of log_joint, Var η = Var_i(per-example gradient)/B
    g, hess = gradients_and_curvature(post, start)
    grad_noise = float(np.var(np.asarray(g, np.float64))) / sgld_batch_size
    u2 = -float(hess)

    sgld, traces, hists = [], [], []
    for j, eps in enumerate(sgld_step_sizes):
        scale = sgld_step_sizes[0] / eps
        thin = max(1, round(sgld_thin * scale))
        steps = max(4, round(sgld_steps * scale / thin)) * thin
        keys = jax.random.split(jax.random.fold_in(key, j), sgld_chains)
        res = jax.vmap(lambda k, eps=eps, steps=steps, thin=thin: bj.sgld(
            k, post, step_size=eps, num_steps=steps, batch_size=sgld_batch_size, thin=thin,
            init_params=start, with_replacement=True, progress_bar=show_progress()))(keys)
        s = np.asarray(res.samples["theta"], np.float64)
        traces.append((eps, thin, (s > 0).mean(axis=0)))
        s = s[:, int(burn_fraction * s.shape[1]):]
        r = sampler_summary(s, 1, edges, masses, rng, within_var)
        hists.append(r.pop("frequencies")[:-1])
        r.update(step_size=eps, num_steps=steps, thin=thin,
                 predicted_var_inflation=(1 + eps * grad_noise / 4) / (1 - eps * u2 / 4) - 1)
        sgld.append(r)
        log(f"SGLD ε = {eps:g}: TV of |θ| = {r['tv_folded']:.4f} (threshold "
            f"{r['tv_folded_threshold']:.4f}), P(θ > 0) = {r['positive_fraction']:.3f} ± "
            f"{r['positive_fraction_se']:.3f}")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mc = bj.nuts(jax.random.fold_in(key, 99), post, num_warmup=nuts_warmup,
                     num_samples=nuts_samples, num_chains=nuts_chains, init_params=start,
                     progress_bar=False)
    for w in caught:
        log(f"NUTS warning: {str(w.message)[:160]}")
    s = np.asarray(mc.samples["theta"], np.float64)
    s = s[:, int(burn_fraction * s.shape[1]):]
    nuts = sampler_summary(s, nuts_batches, edges, masses, rng, within_var)
    hists.append(nuts.pop("frequencies")[:-1])
    nuts.update(num_divergent=mc.diagnostics.num_divergent, r_hat=mc.diagnostics.max_r_hat,
                mean_tree_depth=mc.diagnostics.mean_tree_depth,
                step_size=np.asarray(mc.diagnostics.step_size).tolist(),
                positive_fraction_per_chain=(s > 0).mean(axis=1).tolist())
    log(f"NUTS: TV of |θ| = {nuts['tv_folded']:.4f} (threshold {nuts['tv_folded_threshold']:.4f}), "
        f"P(θ > 0) = {nuts['positive_fraction']:.3f} ± {nuts['positive_fraction_se']:.3f}, "
        f"{nuts['num_divergent']} divergent")

    metrics = {"num_data": post.num_data, "mode": mode, "barrier_nats": barrier,
               "positive_mass_exact": pos_exact, "within_mode_var_exact": within_var,
               "log_density_at_grid_end": ex["log_density_at_grid_end"],
               "sgld_grad_noise_var": grad_noise, "curvature_at_mode": u2, "sgld": sgld,
               "nuts": nuts}
    plot = {"edges": edges, "centres": centres, "density": density, "traces": traces,
            "hists": hists}
    return metrics, plot
