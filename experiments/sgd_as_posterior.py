r"""Claim: "constant SGD can be used as an approximate Bayesian posterior inference algorithm": its
iterates have a stationary variance set by the learning rate ε and the batch size B through ε/B, and
ε can be tuned so that it equals the posterior variance (Mandt, Hoffman & Blei 2017, *Stochastic
Gradient Descent as Approximate Bayesian Inference*, JMLR 18(134)); and adding Gaussian noise
of variance ε to each minibatch gradient step (SGLD) samples the posterior, even one with two modes
(Welling & Teh 2011, *Bayesian Learning via Stochastic Gradient Langevin Dynamics*, ICML, §5.1).

**Part 1: constant-rate SGD on a Gaussian mean.** ``y_i ~ N(θ, σ²)``, ``i = 1..N``, prior
``θ ~ N(0, s₀²)``: a conjugate model whose posterior is ``N(m, 1/(N a))`` with
``a = 1/σ² + 1/(N s₀²)``. ``bj.sgd_iterates`` runs SGD on the per-datum objective
``L(θ) = −log_joint(θ)/N = (1/N) Σ ℓ_i(θ) + penalty(θ)/N`` with B indices drawn uniformly *with
replacement*. Its minibatch gradient is

.. math::

    \widehat{\nabla L}(\theta) = a(\theta - m) - \xi, \qquad
    \xi = \frac{1}{\sigma^2}\Big(\frac1B \sum_{j=1}^B y_{I_j} - \bar y\Big), \qquad
    \mathrm{Var}\,\xi = \frac{s_g^2}{B}, \quad s_g^2 = \frac{1}{N}\sum_i (y_i - \bar y)^2 / \sigma^4,

where ``s_g²`` is the variance over the N data points of the per-example gradient
``∇ℓ_i = (θ − y_i)/σ²`` (in units of gradient², not of y²) and ``a = L''`` the curvature. The
per-example gradients differ only by a constant, so the noise does not depend on θ and the iterates
``θ_{t+1} − m = (1 − εa)(θ_t − m) + εξ_t`` are *exactly* an AR(1) process, with stationary variance

.. math::

    V(\varepsilon, B) = \frac{\varepsilon^2 s_g^2 / B}{1 - (1 - \varepsilon a)^2}
                      = \frac{\varepsilon\, s_g^2}{B\, a\, (2 - \varepsilon a)}
    \qquad (0 < \varepsilon a < 2).

The issue's ``ε s²/(B(2−ε))`` is this law at unit curvature ``a = 1`` (σ = 1, no prior) with
``s² = s_g²``; Mandt et al.'s continuous-time (Ornstein-Uhlenbeck) law ``ε s_g²/(2aB)`` is its
ε → 0 limit. ``V`` depends on ε and B through ε/B only up to the factor ``2/(2 − εa)``, so two
(ε, B) pairs with equal ε/B have variances in the ratio ``(2 − ε₂a)/(2 − ε₁a)``. Setting ``V`` equal
to the posterior variance ``1/(N a)`` gives

.. math::

    \varepsilon^* = \frac{2B}{N s_g^2 + B a}
    \qquad\text{(Mandt et al.'s small-}\varepsilon\text{ result: } 2B/(N s_g^2)\text{)}.

``s_g²`` and ``a`` are measured through the library (per-example gradients of
``post.log_joint_estimate`` and the Hessian of ``post.log_joint``). Each (ε, B) is run as many
independent chains (``jax.vmap`` over keys) started at m; the first ``10/(−ln|1 − εa|)`` steps
(``|1 − εa|^{2t} < e^{−20}``) are discarded; the standard error of the variance comes from the spread
of the per-chain estimates, so "within 5%" is tested against Monte Carlo error.

**Part 2: SGLD on a two-mode posterior.** ``y_i ~ N(θ², σ²)`` with ``θ ~ N(0, s₀²)``: the likelihood
depends on θ only through θ², so the posterior is symmetric with two mirror modes near ``±√ȳ``
separated by a barrier of about ``Nȳ²/(2σ²)`` nats at θ = 0, and each mode holds exactly half the
mass. Welling & Teh's own example (``x_i ~ ½N(θ₁, 2) + ½N(θ₁+θ₂, 2)``) is not used: its likelihood
is a mixture, which ``bayesjax.likelihoods`` does not provide, and with components 1 apart and
variance 2 whether 100 draws give two modes at all depends on the draw (the sample variance must
exceed 2 noticeably), whereas here bimodality follows from symmetry. The noise is standardised so
that ``ȳ = 1`` exactly; the posterior depends on the data only through ȳ, so it is the same for
every seed (only SGLD's minibatch noise depends on the draw). The exact posterior is
``exp(post.log_joint)`` normalised by quadrature on a fine grid; ``bj.sgld`` (minibatches with
replacement) runs many chains, all started in the positive mode, so reaching the negative one is
evidence of crossing; NumPyro's NUTS (``bj.nuts``) runs on the same target from the same start.
Histograms are compared with the exact bin masses by the total-variation distance
``TV = ½ Σ_k |p̂_k − p_k|``; its Monte Carlo floor is the distribution of ½Σ|δ_k| for bin-frequency
errors δ ~ N(0, S/n_b), S the covariance of the bin frequencies over n_b independent chains
(SGLD) or long batches of the chains (NUTS, batch means), i.e. the TV an exact sampler with the same
autocorrelations would show. The TV of an i.i.d. sample of size ESS (ArviZ bulk ESS of θ) is
reported too; it is far more lenient because the ESS of θ is set by the slow mode switching, while
the shape within a mode is sampled much faster.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import bayesjax as bj
from experiments import _sgd_as_posterior_parts as P
from experiments import _sgd_as_posterior_report as R
from experiments.runner import claim, log


@dataclasses.dataclass(frozen=True)
class Config:
    """Settings of the two parts.

    Attributes:
      seed: seeds the data, the chains and the Monte Carlo floors.
      num_data: N of the Gaussian-mean model (part 1).
      noise: σ of the Gaussian-mean model (units of y).
      prior_scale: s₀ of its Gaussian prior on θ (units of y).
      true_mean: θ that generates the data.
      eps_over_b: the grid of ε/B; every batch size runs ε = (ε/B)·B, so each value gives
        pairs of (ε, B) with equal ε/B to compare.
      batch_sizes: the batch sizes B (drawn with replacement).
      sgd_chains: independent SGD chains per (ε, B) (the SE comes from their spread).
      sgd_steps: SGD steps per chain (the same for every ε: one compile per B).
      sgd_thin: keep every sgd_thin-th iterate.
      mode_data, mode_noise, mode_prior_scale: N, σ and s₀ of the two-mode model (part 2).
      sgld_step_sizes: SGLD ε (parameter units², the injected noise variance per step); the first
        is the one tested, the others show the O(ε) bias of a constant step.
      sgld_batch_size: SGLD minibatch size (with replacement).
      sgld_chains: independent SGLD chains (all started in the positive mode).
      sgld_steps: SGLD steps per chain at the first step size, scaled ∝ 1/ε for the others.
      sgld_thin: keep every sgld_thin-th SGLD state (at the first step size; scaled ∝ 1/ε too).
      burn_fraction: share of each SGLD/NUTS chain discarded while the two modes equilibrate.
      nuts_chains, nuts_warmup, nuts_samples: NUTS settings (``bj.nuts``).
      nuts_batches: batches per NUTS chain for the batch-means TV floor.
      num_bins: histogram bins on [−grid_limit, grid_limit].
      grid_limit: half-width of the quadrature grid and histogram range (units of θ).
    """

    seed: int = 0
    num_data: int = 100
    noise: float = 1.0
    prior_scale: float = 0.3
    true_mean: float = 1.0
    eps_over_b: tuple[float, ...] = (0.002, 0.008, 0.03, 0.1)
    batch_sizes: tuple[int, ...] = (8, 16)
    sgd_chains: int = 384
    sgd_steps: int = 9_000
    sgd_thin: int = 5
    mode_data: int = 20
    mode_noise: float = 2.0
    mode_prior_scale: float = 2.0
    sgld_step_sizes: tuple[float, ...] = (2e-3, 1.6e-2)
    sgld_batch_size: int = 10
    sgld_chains: int = 256
    sgld_steps: int = 40_000
    sgld_thin: int = 10
    burn_fraction: float = 0.5
    nuts_chains: int = 4
    nuts_warmup: int = 1000
    nuts_samples: int = 25_000
    nuts_batches: int = 10
    num_bins: int = 120
    grid_limit: float = 3.0

    def __post_init__(self):
        for name in ("noise", "prior_scale", "mode_noise", "mode_prior_scale", "grid_limit"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {v!r}")
        if not math.isfinite(self.true_mean):
            raise ValueError(f"true_mean must be finite, got {self.true_mean!r}")
        lows = dict(num_data=2, sgd_chains=2, sgd_steps=2, sgd_thin=1, mode_data=2,
                    sgld_batch_size=1, sgld_chains=2, sgld_steps=2, sgld_thin=1, nuts_chains=1,
                    nuts_warmup=0, nuts_samples=2, nuts_batches=1, num_bins=2)
        for name, low in lows.items():
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {v!r}")
        if self.num_bins % 2:
            raise ValueError(f"num_bins must be even (θ = 0 is a bin edge), got {self.num_bins}")
        if not 0.0 <= self.burn_fraction < 1.0:
            raise ValueError(f"burn_fraction must be in [0, 1), got {self.burn_fraction!r}")
        if self.nuts_chains * self.nuts_batches < 2:
            raise ValueError("nuts_chains * nuts_batches must be >= 2 (the batch-means floor)")
        if self.nuts_samples * (1 - self.burn_fraction) < 2 * self.nuts_batches:
            raise ValueError(f"nuts_samples={self.nuts_samples} too few for "
                             f"nuts_batches={self.nuts_batches} after burn-in")
        for name, vals, kind in (("eps_over_b", self.eps_over_b, float),
                                 ("sgld_step_sizes", self.sgld_step_sizes, float),
                                 ("batch_sizes", self.batch_sizes, int)):
            if not vals:
                raise ValueError(f"{name} must not be empty")
            for v in vals:
                ok = (isinstance(v, int) and not isinstance(v, bool) and v >= 1) if kind is int \
                    else (isinstance(v, int | float) and math.isfinite(v) and v > 0)
                if not ok:
                    want = "integers >= 1" if kind is int else "finite numbers > 0"
                    raise ValueError(f"{name} must hold {want}, got {v!r}")
        if len(set(self.batch_sizes)) < 2:
            raise ValueError(f"batch_sizes needs two different B (equal-ε/B pairs), got "
                             f"{self.batch_sizes}")
        if max(self.batch_sizes) > self.num_data:
            raise ValueError(f"batch_sizes {self.batch_sizes} exceed num_data={self.num_data}")
        if self.sgld_batch_size > self.mode_data:
            raise ValueError(f"sgld_batch_size={self.sgld_batch_size} exceeds "
                             f"mode_data={self.mode_data}")
        a = P.curvature(self.num_data, self.noise, self.prior_scale)
        for eps in self.learning_rates:
            if not eps * a < 2.0:
                raise ValueError(f"learning rate {eps} is unstable: ε·a = {eps * a:.3f} >= 2 "
                                 f"(a = 1/σ² + 1/(N s₀²) = {a:.4f})")
            if P.burn_in_steps(eps, a) > self.sgd_steps // 2:
                raise ValueError(f"sgd_steps={self.sgd_steps} too few for learning rate {eps}: "
                                 f"the burn-in alone is {P.burn_in_steps(eps, a)} steps")
        if self.sgld_steps // self.sgld_thin < 4:
            raise ValueError("sgld_steps // sgld_thin must be >= 4")

    @property
    def learning_rates(self) -> tuple[float, ...]:
        """Every ε of the grid, over all batch sizes."""
        return tuple(sorted({q * b for q in self.eps_over_b for b in self.batch_sizes}))

    @classmethod
    def smoke(cls) -> Config:
        return cls(eps_over_b=(0.004,), sgd_chains=128, sgd_steps=14_000,
                   sgld_step_sizes=(2e-3,), sgld_chains=64, sgld_steps=40_000,
                   nuts_warmup=500, nuts_samples=10_000, nuts_batches=5)


# ------------------------------------------------------------------------------------ part 1
def sgd_variance(key, post, eps, batch_size, cfg: Config, start, a) -> dict:
    """Stationary variance of constant-rate SGD iterates over ``cfg.sgd_chains`` chains.

    The variance is estimated per chain around the pooled mean (after the burn-in) and averaged;
    its standard error is the spread of the per-chain estimates over √chains.
    """
    keys = jax.random.split(key, cfg.sgd_chains)
    res = jax.vmap(lambda k: bj.sgd_iterates(
        k, post, learning_rate=eps, num_steps=cfg.sgd_steps, batch_size=batch_size,
        thin=cfg.sgd_thin, init_params=start))(keys)
    s = np.asarray(res.samples["mu"], np.float64)
    s = s[:, math.ceil(P.burn_in_steps(eps, a) / cfg.sgd_thin):]
    per_chain = np.mean(np.square(s - s.mean()), axis=1)
    var = float(per_chain.mean())
    return {"learning_rate": eps, "batch_size": batch_size, "variance": var,
            "se": float(per_chain.std(ddof=1) / math.sqrt(len(per_chain))),
            "mean": float(s.mean()),
            "mean_se": float(s.mean(axis=1).std(ddof=1) / math.sqrt(len(per_chain))),
            "kept_per_chain": int(s.shape[1])}


def _rel(measured, predicted, se) -> dict:
    return {"rel_dev": measured / predicted - 1.0, "rel_se": se / predicted,
            "z": (measured - predicted) / se}


def part_sgd(cfg: Config, key, rng) -> dict:
    post = P.gaussian_mean_posterior(cfg, rng)
    n = post.num_data
    y = np.asarray(post.y, np.float64)
    a_closed = P.curvature(n, cfg.noise, cfg.prior_scale)
    post_mean = float(y.sum() / cfg.noise**2 / (n * a_closed))
    start = {"mu": jnp.asarray(post_mean, jnp.float32)}
    grad_var, a = P.loss_geometry(post, start)
    post_var = 1.0 / (n * a)
    log(f"Gaussian mean: N = {n}, a = {a:.5f}, s_g² = {grad_var:.5f}, posterior variance "
        f"{post_var:.3e}")

    runs = []
    for i, (bsz, q) in enumerate((b, q) for b in cfg.batch_sizes for q in cfg.eps_over_b):
        eps = q * bsz
        r = sgd_variance(jax.random.fold_in(key, i), post, eps, bsz, cfg, start, a)
        r["exact"] = P.stationary_variance(eps, bsz, grad_var, a)
        r["ou"] = P.ou_variance(eps, bsz, grad_var, a)
        r["issue"] = P.issue_variance(eps, bsz, grad_var)
        r.update(_rel(r["variance"], r["exact"], r["se"]))
        r["issue_rel_dev"] = r["variance"] / r["issue"] - 1.0
        r["ou_rel_dev"] = r["variance"] / r["ou"] - 1.0
        runs.append(r)
        log(f"SGD ε = {eps:g}, B = {bsz}: V = {r['variance']:.4e} ± {r['se']:.1e}, exact "
            f"{r['exact']:.4e} ({100 * r['rel_dev']:+.2f}%, z = {r['z']:+.2f})")

    pairs = []
    for i, r1 in enumerate(runs):
        for r2 in runs[i + 1:]:
            q1 = r1["learning_rate"] / r1["batch_size"]
            q2 = r2["learning_rate"] / r2["batch_size"]
            if r1["batch_size"] != r2["batch_size"] and math.isclose(q1, q2, rel_tol=1e-9):
                ratio = r1["variance"] / r2["variance"]
                se = ratio * math.hypot(r1["se"] / r1["variance"], r2["se"] / r2["variance"])
                pred = r1["exact"] / r2["exact"]
                pairs.append({"eps_over_b": q1, "first": [r1["learning_rate"], r1["batch_size"]],
                              "second": [r2["learning_rate"], r2["batch_size"]],
                              "ratio": ratio, "se": se, "predicted_ratio": pred,
                              "z": (ratio - pred) / se})
    pairs.sort(key=lambda p: p["eps_over_b"])

    stars = []
    for j, bsz in enumerate(cfg.batch_sizes):
        eps = P.matching_learning_rate(bsz, n, grad_var, a)
        r = sgd_variance(jax.random.fold_in(key, 1000 + j), post, eps, bsz, cfg, start, a)
        r.update(_rel(r["variance"], post_var, r["se"]))
        eps_mandt = 2.0 * bsz / (n * grad_var)
        r["mandt_learning_rate"] = eps_mandt
        r["mandt_variance_rel_dev"] = P.stationary_variance(eps_mandt, bsz, grad_var, a) / post_var \
            - 1.0
        stars.append(r)
        log(f"ε* = {eps:.4f} (B = {bsz}): V = {r['variance']:.4e} ± {r['se']:.1e} vs posterior "
            f"{post_var:.4e} ({100 * r['rel_dev']:+.2f}%)")

    s_y2 = float(np.var(y))
    return {"num_data": n, "a": a, "a_closed_form": a_closed, "grad_var": grad_var,
            "grad_var_closed_form": s_y2 / cfg.noise**4, "data_var": s_y2,
            "posterior_mean": post_mean, "posterior_var": post_var, "runs": runs, "pairs": pairs,
            "matching": stars}


def part_two_modes(cfg: Config, key, rng) -> dict:
    post = P.two_mode_posterior(cfg, rng)
    edges, masses, centres, density, end = P.exact_on_grid(post, cfg.grid_limit, cfg.num_bins)
    h = centres[1] - centres[0]
    mode = float(abs(centres[np.argmax(density)]))
    barrier = float(np.log(density.max() / np.interp(0.0, centres, density)))
    pos_exact = float(masses[cfg.num_bins // 2:].sum())
    m_abs = float(np.sum(density * np.abs(centres)) * h)
    within_var = float(np.sum(density * np.square(centres)) * h) - m_abs**2
    start = {"theta": jnp.asarray(mode, jnp.float32)}
    log(f"two-mode posterior: modes ±{mode:.3f}, barrier {barrier:.2f} nats, "
        f"P(θ > 0) = {pos_exact:.4f}")

    # linear (Gaussian-mode) theory of SGLD's variance inflation: (1 + εVar η/4)/(1 − εU''/4) − 1
    # with η the minibatch gradient noise of log_joint, Var η = Var_i(per-example gradient)/B
    g, hess = P.gradients_and_curvature(post, start)
    grad_noise = float(np.var(np.asarray(g, np.float64))) / cfg.sgld_batch_size
    u2 = -float(hess)

    sgld, traces, hists = [], [], []
    for j, eps in enumerate(cfg.sgld_step_sizes):
        scale = cfg.sgld_step_sizes[0] / eps
        steps = max(4, round(cfg.sgld_steps * scale))
        thin = max(1, round(cfg.sgld_thin * scale))
        keys = jax.random.split(jax.random.fold_in(key, j), cfg.sgld_chains)
        res = jax.vmap(lambda k, eps=eps, steps=steps, thin=thin: bj.sgld(
            k, post, step_size=eps, num_steps=steps, batch_size=cfg.sgld_batch_size, thin=thin,
            init_params=start, with_replacement=True))(keys)
        s = np.asarray(res.samples["theta"], np.float64)
        traces.append((eps, thin, (s > 0).mean(axis=0)))
        s = s[:, int(cfg.burn_fraction * s.shape[1]):]
        r = P.sampler_summary(s, 1, edges, masses, rng, within_var)
        hists.append(r.pop("frequencies")[:-1])
        r.update(step_size=eps, num_steps=steps, thin=thin,
                 predicted_var_inflation=(1 + eps * grad_noise / 4) / (1 - eps * u2 / 4) - 1)
        sgld.append(r)
        log(f"SGLD ε = {eps:g}: TV = {r['tv']:.4f} (noise floor {r['tv_null_mean']:.4f}, "
            f"q{P.NULL_QUANTILE:g} {r['tv_null_q']:.4f}), P(θ > 0) = {r['positive_fraction']:.3f} ± "
            f"{r['positive_fraction_se']:.3f}")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mc = bj.nuts(jax.random.fold_in(key, 99), post, num_warmup=cfg.nuts_warmup,
                     num_samples=cfg.nuts_samples, num_chains=cfg.nuts_chains,
                     init_params=start, progress_bar=False)
    for w in caught:
        log(f"NUTS warning: {str(w.message)[:160]}")
    s = np.asarray(mc.samples["theta"], np.float64)
    s = s[:, int(cfg.burn_fraction * s.shape[1]):]
    nuts = P.sampler_summary(s, cfg.nuts_batches, edges, masses, rng, within_var)
    hists.append(nuts.pop("frequencies")[:-1])
    nuts.update(num_divergent=mc.diagnostics.num_divergent, r_hat=mc.diagnostics.max_r_hat,
                mean_tree_depth=mc.diagnostics.mean_tree_depth,
                step_size=np.asarray(mc.diagnostics.step_size).tolist(),
                positive_fraction_per_chain=(s > 0).mean(axis=1).tolist())
    log(f"NUTS: TV = {nuts['tv']:.4f} (noise floor {nuts['tv_null_mean']:.4f}, q{P.NULL_QUANTILE:g} "
        f"{nuts['tv_null_q']:.4f}), P(θ > 0) = {nuts['positive_fraction']:.3f} ± "
        f"{nuts['positive_fraction_se']:.3f}, {nuts['num_divergent']} divergent")

    return {"num_data": post.num_data, "mode": mode, "barrier_nats": barrier,
            "positive_mass_exact": pos_exact, "within_mode_var_exact": within_var,
            "log_density_at_grid_end": end, "sgld_grad_noise_var": grad_noise,
            "curvature_at_mode": u2, "sgld": sgld, "nuts": nuts,
            "_plot": {"edges": edges, "masses": masses, "centres": centres,
                      "density": density, "traces": traces,
                      "hists": hists}}


# ------------------------------------------------------------------------------------ run
def run(cfg: Config, outdir: Path) -> dict:
    key = jax.random.key(cfg.seed)
    k1, k2 = jax.random.split(key)
    rng = np.random.default_rng(cfg.seed)
    sgd = part_sgd(cfg, k1, rng)
    modes = part_two_modes(cfg, k2, rng)
    plot = modes.pop("_plot")
    R.figure_sgd(outdir, sgd, cfg)
    R.figure_pairs(outdir, sgd, cfg)
    R.figure_modes(outdir, modes, plot, cfg)

    runs, pairs, stars = sgd["runs"], sgd["pairs"], sgd["matching"]
    worst = max(runs, key=lambda r: abs(r["rel_dev"]))
    small = pairs[0] if pairs else None
    s0, nu = modes["sgld"][0], modes["nuts"]
    claims = [
        claim("The stationary variance of constant-rate SGD iterates matches the predicted law "
              "V = ε s_g²/(B a (2 − εa)) within 5%",
              {"max_abs_rel_dev": abs(worst["rel_dev"]), "at": [worst["learning_rate"],
                                                                worst["batch_size"]],
               "max_abs_z": max(abs(r["z"]) for r in runs),
               "max_rel_se": max(r["rel_se"] for r in runs)},
              f"for all {len(runs)} (ε, B): |V̂/V − 1| ≤ 5% and ≤ {P.NUM_SE:g} SE, with "
              f"{P.NUM_SE:g} SE ≤ 5% (SE from {cfg.sgd_chains} independent chains)",
              all(abs(r["rel_dev"]) <= P.TOLERANCE and abs(r["z"]) <= P.NUM_SE
                  and P.NUM_SE * r["rel_se"] <= P.TOLERANCE for r in runs)),
        claim("Two (ε, B) pairs with equal ε/B give equal variance (smallest-ε pair)",
              None if small is None else {"ratio": small["ratio"], "se": small["se"],
                                          "pairs": [small["first"], small["second"]],
                                          "exact_ratio": small["predicted_ratio"]},
              f"|V̂₁/V̂₂ − 1| ≤ 5%, with |exact ratio − 1| + {P.NUM_SE:g} SE ≤ 5%",
              small is not None and abs(small["ratio"] - 1) <= P.TOLERANCE
              and abs(small["predicted_ratio"] - 1) + P.NUM_SE * small["se"] <= P.TOLERANCE),
        claim("… and exactly: equal-ε/B variances differ by the factor (2 − ε₂a)/(2 − ε₁a)",
              {"z": [p["z"] for p in pairs], "ratio": [p["ratio"] for p in pairs],
               "exact_ratio": [p["predicted_ratio"] for p in pairs]},
              f"every equal-ε/B pair: |V̂₁/V̂₂ − exact ratio| ≤ {P.NUM_SE:g} SE",
              bool(pairs) and all(abs(p["z"]) <= P.NUM_SE for p in pairs)),
        claim("ε* = 2B/(N s_g² + B a) makes the iterate variance equal the posterior variance "
              "1/(N a)",
              {"learning_rate": [r["learning_rate"] for r in stars],
               "rel_dev": [r["rel_dev"] for r in stars], "z": [r["z"] for r in stars]},
              f"for every B: |V̂(ε*)/V_post − 1| ≤ 5% and ≤ {P.NUM_SE:g} SE, {P.NUM_SE:g} SE ≤ 5%",
              all(abs(r["rel_dev"]) <= P.TOLERANCE and abs(r["z"]) <= P.NUM_SE
                  and P.NUM_SE * r["rel_se"] <= P.TOLERANCE for r in stars)),
        claim(f"SGLD (ε = {s0['step_size']:g}, B = {cfg.sgld_batch_size}) started in one mode "
              "crosses to the other and gives each mode its posterior mass",
              {"positive_fraction": s0["positive_fraction"], "se": s0["positive_fraction_se"],
               "exact": modes["positive_mass_exact"]},
              f"|P̂(θ > 0) − P(θ > 0)| ≤ {P.NUM_SE:g} SE (SE from {cfg.sgld_chains} chains, all "
              "started at the positive mode)",
              abs(s0["positive_fraction"] - modes["positive_mass_exact"])
              <= P.NUM_SE * s0["positive_fraction_se"]),
        claim("SGLD's histogram matches the exact posterior (TV distance)",
              {"tv": s0["tv"], "noise_floor_mean": s0["tv_null_mean"],
               "noise_floor_q": s0["tv_null_q"]},
              f"TV ≤ the {P.NULL_QUANTILE:g} quantile of the TV of Monte Carlo noise alone "
              f"(bin-frequency covariance over the {s0['batches']} chains)",
              s0["tv"] <= s0["tv_null_q"]),
        claim("NUTS on the same target: both modes with their mass, histogram matches the exact "
              "posterior",
              {"tv": nu["tv"], "noise_floor_q": nu["tv_null_q"],
               "positive_fraction": nu["positive_fraction"], "se": nu["positive_fraction_se"]},
              f"TV ≤ the {P.NULL_QUANTILE:g} noise quantile (batch means, {nu['batches']} batches "
              f"of {nu['draws_per_batch']} draws) and |P̂(θ > 0) − P(θ > 0)| ≤ {P.NUM_SE:g} SE",
              nu["tv"] <= nu["tv_null_q"]
              and abs(nu["positive_fraction"] - modes["positive_mass_exact"])
              <= P.NUM_SE * nu["positive_fraction_se"]),
    ]
    metrics = {"sgd": sgd, "two_modes": modes, "claims": claims}
    metrics["report"] = R.report(cfg, sgd, modes)
    return metrics

