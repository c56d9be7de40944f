r"""Claim: "a Bayesian neural network's predictive is more uncertain away from the data, so its
predictive NLL there beats the MAP's, and it is not overconfident far from the data, where a MAP
ReLU network is near-certain" (MacKay 1992, *A practical Bayesian framework for backprop
networks*; Neal 1996, *Bayesian Learning for Neural Networks*; Hein et al. 2019 and Kristiadi et al.
2020, *Being Bayesian, even just a bit, fixes overconfidence in ReLU networks*).

**Regression.** A 1-16-1 tanh MLP on 1-D data ``y = sin(2x) + N(0, σ²)`` with inputs in
``0.7 ≤ |x| ≤ 2`` (a gap in the middle), tested on ``|x| ≤ 3`` (the gap and beyond both ends).
Point estimates: MLE (``bj.fit_mle``), MAP-L2 (Gaussian prior ``N(0, s²)``) and MAP-L1 (Laplace
prior of the same variance, ``b = s/√2``, ISTA). Their predictive is ``N(f(x; θ̂), σ²)``: the epistemic
variance is zero by construction. Posteriors: ``bj.laplace`` at the MAP-L2 weights (full, diag,
KFAC, last layer; linearised "GLM" predictive ``N(f(x; θ*), σ² + J Σ Jᵀ)``, and the full one also
with Monte Carlo samples through the network) and NUTS (``bj.nuts``, NumPyro's diagonal mass
adaptation). Every predictive is scored as the Gaussian with its mean and variance:

.. math::

    \mathrm{NLL}(x, y) = \tfrac12\log(2\pi v) + \frac{(y-m)^2}{2v}, \qquad
    v = \sigma^2 + \mathrm{Var}_\theta[f(x;\theta)].

**Sampler efficiency.** The same NUTS with the Laplace covariance ``P⁻¹`` at the MAP as the inverse
mass matrix, started at the MAP, against NumPyro's diagonal adaptation started at the random
initialisation: effective sample size (min over parameters of ArviZ's bulk ESS) per gradient
evaluation (in ``metrics.json``) and per second (report only). If the posterior were the Laplace
Gaussian, the NUTS covariance ``C`` whitened by it, ``Lᵀ C L`` with ``P = L Lᵀ``, would have all
eigenvalues ≈ 1; they are reported.

**Classification.** Two moons (2-16-16-1) and scikit-learn's breast-cancer data (30-16-1), ReLU
MLPs with a Bernoulli likelihood: MAP, Laplace (GLM predictive with the probit approximation) and
NUTS; accuracy, NLL, ECE (10 bins) and the mean confidence ``max(p, 1−p)`` at points
``x̄ + α (x − x̄)`` far from the data. For a ReLU network the logit is piecewise linear, so along a
ray it grows linearly in α and the MAP confidence tends to 1 (Hein et al. 2019); the Laplace GLM
logit has mean and standard deviation both linear in α, so its probit confidence stays below 1.
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

import bayesjax as bj
from experiments import _bnn_plots as plots
from experiments._models import MLP
from experiments.runner import claim, log

GROWTH = 2.0      # "grows outside the data": mean epistemic std outside ≥ 2× inside
Z_TEST = 3.0      # one-sided paired test over test points: mean difference > 3 standard errors
NEAR_ONE = 0.99   # "MAP → near 1": mean confidence far from the data ≥ 0.99
LAPLACE = {"Laplace full (GLM)": dict(structure="full"),
           "Laplace diag (GLM)": dict(structure="diag"),
           "Laplace KFAC (GLM)": dict(structure="kfac"),
           "Laplace last layer (GLM)": dict(subset="last_layer")}
# one XLA program per Laplace structure (LaplaceResult is a pytree): faster than op by op
_glm = jax.jit(lambda lap, x: lap.predictive(x, "glm"))


@dataclasses.dataclass(frozen=True)
class Config:
    """Settings.

    Attributes:
      seed: seeds the data, the initial weights and the samplers.
      num_train: N regression points, half on each side of the gap.
      noise: σ, the noise std of the data and of the Gaussian likelihood (units of y).
      width: hidden units of the regression MLP (1-width-1, tanh).
      prior_scale: s, the Gaussian prior std of every weight (regression and classification).
      data_half_width, gap_half_width: training inputs lie in gap ≤ |x| ≤ data.
      test_half_width: test inputs are uniform on |x| ≤ this (> data_half_width).
      num_test: regression test points.
      map_steps, map_learning_rate: Adam steps of ``fit_map``/``fit_mle`` (full batch).
      l1_steps, l1_learning_rate: ISTA steps of MAP-L1 (step ≤ 1/Lipschitz for stability).
      mc_samples: samples of the Monte Carlo Laplace predictive.
      nuts_warmup, nuts_samples, nuts_chains: NUTS settings (regression and classification).
      moons_train, moons_test, moons_noise: two-moons data (scikit-learn ``make_moons``).
      cls_width: hidden units of the classification MLPs.
      cls_steps: Adam steps of the classification MAPs.
      far_scale: α, the far points are ``x̄ + α (x_test − x̄)``.
      cancer_test: breast-cancer points held out (of 569).
      cancer: run the breast-cancer part (the smoke run skips it: same code as the moons).
    """

    seed: int = 0
    num_train: int = 64
    noise: float = 0.1
    width: int = 16
    prior_scale: float = 1.0
    data_half_width: float = 2.0
    gap_half_width: float = 0.7
    test_half_width: float = 3.0
    num_test: int = 600
    map_steps: int = 10000
    map_learning_rate: float = 1e-2
    l1_steps: int = 20000
    l1_learning_rate: float = 1e-3
    mc_samples: int = 200
    nuts_warmup: int = 500
    nuts_samples: int = 500
    nuts_chains: int = 2
    moons_train: int = 200
    moons_test: int = 500
    moons_noise: float = 0.2
    cls_width: int = 16
    cls_steps: int = 3000
    far_scale: float = 20.0
    cancer_test: int = 169
    cancer: bool = True

    def __post_init__(self):
        for name in ("num_train", "width", "num_test", "map_steps", "l1_steps", "mc_samples",
                     "nuts_samples", "nuts_chains", "moons_train", "moons_test", "cls_width",
                     "cls_steps", "cancer_test"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
        if isinstance(self.nuts_warmup, bool) or not isinstance(self.nuts_warmup, int) \
                or self.nuts_warmup < 0:
            raise ValueError(f"nuts_warmup must be an integer >= 0, got {self.nuts_warmup!r}")
        if self.num_train < 4 or self.cancer_test >= 569 - 10:
            raise ValueError("num_train must be >= 4 and cancer_test < 559")
        for name in ("noise", "prior_scale", "map_learning_rate", "l1_learning_rate",
                     "moons_noise", "gap_half_width", "far_scale"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be finite and > 0, got {v!r}")
        if not self.gap_half_width < self.data_half_width < self.test_half_width < math.inf:
            raise ValueError("need 0 < gap_half_width < data_half_width < test_half_width < inf")

    @classmethod
    def smoke(cls) -> Config:
        return cls(num_test=300, map_steps=3000, l1_steps=5000, mc_samples=100, nuts_warmup=100,
                   nuts_samples=100, moons_test=300, cls_steps=1500, cancer=False)


# ------------------------------------------------------------------------------- models, data
def target(x):
    """The true regression function ``sin(2x)``."""
    return np.sin(2.0 * x)


def regions(x, cfg: Config):
    """``"data"`` for gap ≤ |x| ≤ data half-width, ``"gap"`` inside the gap, ``"beyond"`` past
    both ends; ``"outside"`` (gap or beyond) is everything the training inputs do not cover."""
    a = np.abs(np.asarray(x))
    return {"data": (a >= cfg.gap_half_width) & (a <= cfg.data_half_width),
            "gap": a < cfg.gap_half_width, "beyond": a > cfg.data_half_width,
            "outside": (a < cfg.gap_half_width) | (a > cfg.data_half_width)}


def regression_data(cfg: Config) -> dict:
    """N training points, half uniform on each side of the gap, and uniform test points."""
    rng = np.random.default_rng(cfg.seed)
    half = cfg.num_train // 2
    lo, hi = cfg.gap_half_width, cfg.data_half_width
    x = np.concatenate([-rng.uniform(lo, hi, half), rng.uniform(lo, hi, cfg.num_train - half)])
    x_test = rng.uniform(-cfg.test_half_width, cfg.test_half_width, cfg.num_test)
    y = target(x) + cfg.noise * rng.normal(size=x.shape)
    y_test = target(x_test) + cfg.noise * rng.normal(size=x_test.shape)
    f32 = np.float32
    return dict(x=x.astype(f32), y=y.astype(f32), x_test=x_test.astype(f32),
                y_test=y_test.astype(f32), init_seed=int(rng.integers(2**31 - 1)))


def regression_posterior(cfg: Config, data: dict) -> bj.Posterior:
    """The MAP-L2 / Laplace / NUTS posterior: 1-width-1 tanh MLP, Gaussian prior and noise."""
    model = MLP((1, cfg.width, 1), jnp.tanh, nnx.Rngs(data["init_seed"]))
    return bj.Posterior(model, bj.likelihoods.Gaussian(cfg.noise),
                        bj.priors.Gaussian(cfg.prior_scale), data["x"][:, None], data["y"])


# ------------------------------------------------------------------------------------ scores
def gaussian_nll(y, mean, var):
    """Per-point ``½ log(2π v) + (y − m)²/(2v)`` in nats (float64)."""
    y, mean, var = (np.asarray(a, np.float64) for a in (y, mean, var))
    return 0.5 * np.log(2.0 * np.pi * var) + 0.5 * (y - mean) ** 2 / var


def binary_nll(p, y, eps: float = 1e-7):
    """Per-point ``−y log p − (1−y) log(1−p)``; p is clipped to [eps, 1−eps] (float32 rounds
    probabilities within 6e-8 of 1 to 1)."""
    p = np.clip(np.asarray(p, np.float64), eps, 1.0 - eps)
    y = np.asarray(y, np.float64)
    return -(y * np.log(p) + (1.0 - y) * np.log1p(-p))


def confidence(p):
    """``max(p, 1 − p)``: the probability of the predicted class."""
    p = np.asarray(p, np.float64)
    return np.maximum(p, 1.0 - p)


def ece(p, y, num_bins: int = 10) -> float:
    r"""Expected calibration error (Guo et al. 2017): with the confidences ``c_n = max(p, 1−p)``
    binned into ``num_bins`` equal bins of [0, 1], ``Σ_b (n_b/N) |acc_b − conf_b|``."""
    p, y = np.asarray(p, np.float64), np.asarray(y)
    conf, correct = confidence(p), ((p > 0.5) == (y > 0.5)).astype(np.float64)
    idx = np.minimum((conf * num_bins).astype(int), num_bins - 1)
    total = 0.0
    for b in range(num_bins):
        m = idx == b
        if m.any():
            total += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(total)


def paired_z(a, b) -> float:
    """``mean(a − b) / s.e.``: how many standard errors the mean of the paired differences of two
    per-point scores is above zero (the points are independent draws)."""
    d = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    se = d.std(ddof=1) / np.sqrt(d.size)
    return float(d.mean() / se) if se > 0 else (math.inf if d.mean() > 0 else 0.0)


def whitened_eigenvalues(draws, precision):
    """Eigenvalues of ``Lᵀ C L`` (``P = L Lᵀ``, C the covariance of the (S, P) draws): all ≈ 1
    when the draws come from ``N(·, P⁻¹)``; ≫ 1 where the posterior is wider than the Gaussian."""
    chol = np.linalg.cholesky(np.asarray(precision, np.float64))
    cov = np.cov(np.asarray(draws, np.float64), rowvar=False)
    return np.linalg.eigvalsh(chol.T @ cov @ chol)


def _flat_draws(samples):
    """(chain, draw, …) parameter pytree → (chain · draw, P) in ``ravel_pytree`` order."""
    leaves = [np.asarray(v).reshape(v.shape[0] * v.shape[1], -1) for v in jax.tree.leaves(samples)]
    return np.concatenate(leaves, axis=1)


def _timed(fn):
    t0 = time.perf_counter()
    out = jax.block_until_ready(fn())
    return out, time.perf_counter() - t0


def _nuts(key, post, cfg, **kw):
    """``bj.nuts`` with the run's settings; tree-depth and divergence warnings become log lines
    (the counts are in the diagnostics and the report)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        mc = bj.nuts(key, post, num_warmup=cfg.nuts_warmup, num_samples=cfg.nuts_samples,
                     num_chains=cfg.nuts_chains, progress_bar=False, **kw)
    for w in caught:
        log(f"  nuts warning: {str(w.message).removeprefix('nuts: ').split(':')[0]}")
    return mc


def sampler_summary(mc) -> dict:
    """Deterministic efficiency numbers of a NUTS run (no wall-clock times)."""
    d = mc.diagnostics
    grads = int(np.sum(mc.stats["num_steps"]))
    return {"min_ess_bulk": d.min_ess_bulk, "max_r_hat": d.max_r_hat,
            "num_divergent": d.num_divergent, "mean_tree_depth": d.mean_tree_depth,
            "max_tree_depth_fraction": d.max_tree_depth_fraction,
            "step_size": np.asarray(d.step_size), "grad_evals": grads,
            "ess_per_1000_grads": 1000.0 * d.min_ess_bulk / grads,
            "mean_accept_prob": d.mean_accept_prob}


# -------------------------------------------------------------------------------- regression
def regression_part(cfg: Config) -> dict:
    data = regression_data(cfg)
    post = regression_posterior(cfg, data)
    grid = np.linspace(-cfg.test_half_width, cfg.test_half_width, 301, dtype=np.float32)
    xs = np.concatenate([grid, data["x_test"]])[:, None]
    g, sig2 = grid.size, cfg.noise**2
    key = jax.random.key(cfg.seed)
    k_fit, k_mc, k_nuts = jax.random.split(key, 3)
    times, preds, fits = {}, {}, {}

    def point(name, fn):
        res, times[name] = _timed(fn)
        fits[name] = res
        mean = np.asarray(post.predict(res.params, xs)[:, 0], np.float64)
        preds[name] = (mean, np.full_like(mean, sig2), np.zeros_like(mean))
        log(f"regression: {name}: log joint {float(res.log_joint):.2f}, grad norm "
            f"{float(res.grad_norm):.1e} ({times[name]:.1f} s)")

    kw = dict(num_steps=cfg.map_steps, learning_rate=cfg.map_learning_rate)
    point("MLE", lambda: bj.fit_mle(k_fit, post, **kw))
    point("MAP-L2", lambda: bj.fit_map(k_fit, post, **kw))
    l1 = post.replace(prior=bj.priors.Laplace(cfg.prior_scale / math.sqrt(2.0)))
    point("MAP-L1", lambda: bj.fit_map(k_fit, l1, num_steps=cfg.l1_steps,
                                       learning_rate=cfg.l1_learning_rate))
    zeros_l1 = sum(int(np.sum(np.asarray(v) == 0)) for v in jax.tree.leaves(fits["MAP-L1"].params))
    mode = fits["MAP-L2"].params

    def moments(pred):
        return tuple(np.asarray(v[:, 0], np.float64) for v in pred)

    laps = {}
    for name, lkw in LAPLACE.items():
        def build(lkw=lkw):
            lap = bj.laplace(post, mode, **lkw)
            return lap, _glm(lap, xs)
        (laps[name], pred), times[name] = _timed(build)
        preds[name] = moments(pred)
    name = "Laplace full (MC)"
    pred, times[name] = _timed(lambda: laps["Laplace full (GLM)"].predictive(
        xs, "mc", key=k_mc, n_samples=cfg.mc_samples))
    preds[name] = moments(pred)
    times[name] += times["Laplace full (GLM)"]

    log("regression: NUTS, diagonal mass adapted from the random initialisation ...")
    runs = {"diag": _nuts(k_nuts, post, cfg, mass="diag")}
    log("regression: NUTS, Laplace covariance as the mass matrix, from the MAP ...")
    runs["laplace"] = _nuts(k_nuts, post, cfg, mass=laps["Laplace full (GLM)"])
    mc = runs["diag"]
    preds["NUTS"] = moments(mc.predictive(xs))
    d = mc.diagnostics
    times["NUTS"] = d.compile_time + d.sampling_time
    samplers = {k: sampler_summary(r) for k, r in runs.items()}
    walls = {k: {"compile": r.diagnostics.compile_time, "sampling": r.diagnostics.sampling_time,
                 "ess_per_s": r.diagnostics.min_ess_bulk / r.diagnostics.sampling_time}
             for k, r in runs.items()}
    prec = np.asarray(laps["Laplace full (GLM)"].posterior_precision(), np.float64)
    eig = whitened_eigenvalues(_flat_draws(mc.samples), prec)

    reg_grid, reg_test = regions(grid, cfg), regions(data["x_test"], cfg)
    table = {}
    for name, (mean, alea, epi) in preds.items():
        nll = gaussian_nll(data["y_test"], mean[g:], alea[g:] + epi[g:])
        err2 = (mean[g:] - data["y_test"]) ** 2
        std = np.sqrt(epi[:g])
        table[name] = {
            "nll": {r: float(nll[m].mean()) for r, m in reg_test.items()},
            "rmse": {r: float(np.sqrt(err2[m].mean())) for r, m in reg_test.items()},
            "std_data": float(std[reg_grid["data"]].mean()),
            "std_outside": float(std[reg_grid["outside"]].mean()),
            "nll_points_outside": nll[reg_test["outside"]]}
        table[name]["std_ratio"] = (table[name]["std_outside"] / table[name]["std_data"]
                                    if table[name]["std_data"] > 0 else 0.0)
    return dict(data=data, grid=grid, preds={k: tuple(v[:g] for v in p) for k, p in preds.items()},
                table=table, times=times, samplers=samplers, walls=walls, runs=runs,
                whitened=eig, laplace_precision_eig=np.linalg.eigvalsh(prec), zeros_l1=zeros_l1,
                num_params=post.num_params,
                grad_norm={k: float(f.grad_norm) for k, f in fits.items()})


# ---------------------------------------------------------------------------- classification
def moons_data(cfg: Config) -> dict:
    from sklearn.datasets import make_moons

    x, y = make_moons(cfg.moons_train + cfg.moons_test, noise=cfg.moons_noise,
                      random_state=cfg.seed)
    n = cfg.moons_train
    return dict(x=x[:n].astype(np.float32), y=y[:n].astype(np.float32),
                x_test=x[n:].astype(np.float32), y_test=y[n:].astype(np.float32))


def cancer_data(cfg: Config) -> dict:
    """Breast-cancer features standardised with the training mean and std."""
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    idx = np.random.default_rng(cfg.seed).permutation(len(y))
    tr, te = idx[cfg.cancer_test:], idx[:cfg.cancer_test]
    mu, sd = x[tr].mean(0), x[tr].std(0)
    x = (x - mu) / sd
    return dict(x=x[tr].astype(np.float32), y=y[tr].astype(np.float32),
                x_test=x[te].astype(np.float32), y_test=y[te].astype(np.float32))


def far_points(x_train, x, alpha: float):
    """``x̄ + α (x − x̄)``: the test inputs pushed α times further from the training mean."""
    mu = np.asarray(x_train, np.float64).mean(0)
    return (mu + alpha * (np.asarray(x, np.float64) - mu)).astype(np.float32)


def classification_part(cfg: Config, name: str, data: dict, hidden: tuple[int, ...],
                        maps: np.ndarray | None = None) -> dict:
    """MAP, the four Laplace GLM predictives and NUTS on one binary data set; ``maps`` are extra
    inputs (a plotting grid) whose probabilities are returned too."""
    d_in = data["x"].shape[1]
    key = jax.random.key(cfg.seed + 1)
    k_init, k_fit, k_nuts = jax.random.split(key, 3)
    seed = int(jax.random.randint(k_init, (), 0, 2**31 - 1))
    model = MLP((d_in, *hidden, 1), jax.nn.relu, nnx.Rngs(seed))
    post = bj.Posterior(model, bj.likelihoods.Bernoulli(), bj.priors.Gaussian(cfg.prior_scale),
                        data["x"], data["y"])
    alphas = (1.0, 2.0, 5.0, 10.0, cfg.far_scale)
    sets = [data["x_test"]] + [far_points(data["x"], data["x_test"], a) for a in alphas[1:]]
    if maps is not None:
        sets.append(maps)
    xs = np.concatenate(sets)
    n = data["x_test"].shape[0]
    probs, times = {}, {}
    fit, times["MAP"] = _timed(lambda: bj.fit_map(k_fit, post, num_steps=cfg.cls_steps,
                                                  learning_rate=cfg.map_learning_rate))
    logit = np.asarray(post.predict(fit.params, xs)[:, 0], np.float64)
    probs["MAP"] = 1.0 / (1.0 + np.exp(-logit))
    for lname, lkw in LAPLACE.items():
        def build(lkw=lkw):
            return _glm(bj.laplace(post, fit.params, **lkw), xs).probs
        p, times[lname] = _timed(build)
        probs[lname] = np.asarray(p[:, 0], np.float64)
    log(f"{name}: NUTS (P = {post.num_params}) ...")
    mc = _nuts(k_nuts, post, cfg, mass="diag")
    probs["NUTS"] = np.asarray(mc.predictive(xs).probs[:, 0], np.float64)
    times["NUTS"] = mc.diagnostics.compile_time + mc.diagnostics.sampling_time
    y = data["y_test"]
    table = {}
    for m, p in probs.items():
        pt = p[:n]
        nll = (np.logaddexp(0.0, -logit[:n]) + (1.0 - y) * logit[:n] if m == "MAP"
               else binary_nll(pt, y))
        far = [confidence(p[(i + 1) * n:(i + 2) * n]) for i in range(len(alphas) - 1)]
        table[m] = {"accuracy": float(np.mean((pt > 0.5) == (y > 0.5))),
                    "nll": float(nll.mean()), "ece": ece(pt, y),
                    "confidence_test": float(confidence(pt).mean()),
                    "confidence_far": [float(confidence(pt).mean())] + [float(c.mean())
                                                                        for c in far],
                    "far_points": far[-1]}
        log(f"{name}: {m}: accuracy {table[m]['accuracy']:.3f}, NLL {table[m]['nll']:.3f}, "
            f"ECE {table[m]['ece']:.3f}, confidence at α={cfg.far_scale:g} "
            f"{table[m]['confidence_far'][-1]:.4f}")
    grid_probs = ({m: p[len(alphas) * n:] for m, p in probs.items()} if maps is not None
                  else None)
    return dict(table=table, times=times, alphas=alphas, sampler=sampler_summary(mc),
                num_params=post.num_params, grid_probs=grid_probs, data=data)


# --------------------------------------------------------------------------------------- run
def run(config: Config, outdir: Path) -> dict:
    cfg = config
    reg = regression_part(cfg)
    moons = moons_data(cfg)
    grid2d = plots.moons_grid(moons)
    cls = {"two moons": classification_part(cfg, "moons", moons, (cfg.cls_width, cfg.cls_width),
                                            maps=grid2d[2])}
    if cfg.cancer:
        cls["breast cancer"] = classification_part(cfg, "cancer", cancer_data(cfg),
                                                   (cfg.cls_width,))
    plots.regression_figures(reg, cfg, outdir)
    plots.sampler_figure(reg, outdir)
    plots.classification_figures(cls, grid2d, cfg, outdir)

    t = reg["table"]
    claims = []
    for bayes in ("NUTS", "Laplace full (GLM)"):
        z = paired_z(t["MAP-L2"]["nll_points_outside"], t[bayes]["nll_points_outside"])
        claims.append(claim(
            f"{bayes}'s predictive NLL beats MAP-L2's on the test points outside the data "
            "(gap and beyond both ends)",
            {"nll_map": t["MAP-L2"]["nll"]["outside"], f"nll_{bayes}": t[bayes]["nll"]["outside"],
             "z": z},
            f"mean per-point NLL(MAP) − NLL({bayes}) > {Z_TEST:g} standard errors over the "
            f"{int(regions(reg['data']['x_test'], cfg)['outside'].sum())} outside test points",
            z > Z_TEST))
    ratios = {m: t[m]["std_ratio"] for m in ("NUTS", "Laplace full (GLM)", "MLE")}
    claims.append(claim(
        "NUTS and Laplace-full epistemic std grow outside the data, while MLE has none (a point "
        "estimate: its epistemic std is 0 by construction)",
        {"ratio_outside_over_data": ratios, "mle_std": [t["MLE"]["std_data"],
                                                        t["MLE"]["std_outside"]]},
        f"mean epistemic std outside / inside the data ≥ {GROWTH:g} for NUTS and Laplace full; "
        "MLE's is exactly 0",
        ratios["NUTS"] >= GROWTH and ratios["Laplace full (GLM)"] >= GROWTH
        and t["MLE"]["std_data"] == 0.0 and t["MLE"]["std_outside"] == 0.0))
    for dname, part in cls.items():
        ct = part["table"]
        conf = {m: ct[m]["confidence_far"][-1] for m in ct}
        claims.append(claim(
            f"{dname}: the MAP ReLU network is near-certain far from the data",
            conf["MAP"], f"mean confidence max(p, 1−p) at α = {cfg.far_scale:g} ≥ {NEAR_ONE}",
            conf["MAP"] >= NEAR_ONE))
        zs = {m: paired_z(ct["MAP"]["far_points"], ct[m]["far_points"]) for m in ct if m != "MAP"}
        claims.append(claim(
            f"{dname}: Bayesian predictives (Laplace full/diag/KFAC/last layer, NUTS) are less "
            "confident far from the data than the MAP",
            {"confidence": conf, "z": zs},
            f"for each: mean per-point confidence(MAP) − confidence(method) at α = "
            f"{cfg.far_scale:g} > {Z_TEST:g} standard errors",
            all(z > Z_TEST for z in zs.values())))

    metrics = {
        "regression": {m: {k: v for k, v in row.items() if k != "nll_points_outside"}
                       for m, row in t.items()},
        "regression_grad_norm": reg["grad_norm"], "map_l1_exact_zeros": reg["zeros_l1"],
        "nuts_mass": reg["samplers"],
        "ess_per_grad_ratio_laplace_over_diag": (reg["samplers"]["laplace"]["ess_per_1000_grads"]
                                                 / reg["samplers"]["diag"]["ess_per_1000_grads"]),
        "nuts_cov_in_laplace_whitened_frame": {"min_eig": float(reg["whitened"].min()),
                                               "max_eig": float(reg["whitened"].max())},
        "laplace_precision_max_eig": float(reg["laplace_precision_eig"].max()),
        "classification": {dn: {"methods": {m: {k: v for k, v in r.items() if k != "far_points"}
                                            for m, r in p["table"].items()},
                                "alphas": p["alphas"], "nuts": p["sampler"],
                                "num_params": p["num_params"]}
                           for dn, p in cls.items()},
        "claims": claims,
    }
    metrics["report"] = plots.report(cfg, reg, cls, GROWTH, Z_TEST, NEAR_ONE)
    return metrics

