r"""Claim: "the lasso estimate is the posterior mode under independent double-exponential
(Laplace) priors", as ridge regression is the mode under Gaussian priors, and only the Laplace
prior sets weights to exactly zero (Tibshirani 1996, *Regression shrinkage and selection via the
lasso*, JRSS-B, §5; Bishop 2006, *PRML*, §3.1.4).

Linear regression on scikit-learn's diabetes data (442 patients, 10 standardised features,
standardised target) with a Gaussian likelihood of fixed noise σ (the OLS residual standard
deviation, in closed form) and a flat prior on the intercept. The negative log posterior is

.. math::

    -\log p(w, w_0 \mid D) = \frac{\lVert y - Xw - w_0\rVert^2}{2\sigma^2}
        + \begin{cases} \lVert w\rVert_2^2 / (2 s^2) & w_j \sim N(0, s^2):\ \text{ridge},
          \ \lambda = 1/(2s^2) \\
          \lVert w\rVert_1 / b & w_j \sim \mathrm{Laplace}(0, b):\ \text{lasso},\ \lambda = 1/b
          \end{cases} + \text{const}.

Both MAPs are found with ``bj.fit_map`` over a log-spaced sweep of prior scales and checked
against the math: the Gaussian MAP against the closed-form ridge solution, the Laplace MAP against
the lasso KKT conditions (for ``w_j ≠ 0``: ``X_jᵀr/σ² = sign(w_j)/b``; for ``w_j = 0``:
``|X_jᵀr|/σ² ≤ 1/b``), both to a float32 rounding bound; the KKT conditions also certify each
zero pattern. A 64-32-10 MLP on the digits data, trained once under each prior (with the same
variance), shows the same contrast in a network.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import bayesjax as bj
from experiments._models import MLP
from experiments.runner import claim, log, save_figure

U32 = 2.0**-24  # unit roundoff of float32
KINDS = ("gaussian", "laplace")


@dataclasses.dataclass(frozen=True)
class Config:
    """Sweep and MLP settings.

    Attributes:
      seed: seeds the MLP initialisation and the digits train/test split.
      num_scales: number of prior scales in the sweep (log-spaced; s for Gaussian, b for Laplace,
        in units of a standardised coefficient).
      scale_min, scale_max: the ends of the sweep.
      linear_steps: full-batch gradient (ISTA) steps per linear fit, at step 1/L.
      mlp_hidden: hidden units of the digits MLP.
      mlp_steps: full-batch steps of ``optax.sgd`` for each MLP fit.
      mlp_learning_rate: the MLP's step size (per-datum objective).
      mlp_laplace_scale: b of the MLP's Laplace prior on both kernels; the Gaussian prior gets
        s = √2·b, the same prior variance 2b², so the two differ only in shape.
      test_fraction: share of each digit class held out for the test accuracy.
    """

    seed: int = 0
    num_scales: int = 16
    scale_min: float = 1e-3
    scale_max: float = 3.0
    linear_steps: int = 20000
    mlp_hidden: int = 32
    mlp_steps: int = 4000
    mlp_learning_rate: float = 0.5
    mlp_laplace_scale: float = 0.3
    test_fraction: float = 0.25

    def __post_init__(self):
        for name in ("num_scales", "linear_steps", "mlp_hidden", "mlp_steps"):
            v = getattr(self, name)
            lo = 2 if name == "num_scales" else 1  # a sweep needs two scales
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
        for name in ("scale_min", "scale_max", "mlp_learning_rate", "mlp_laplace_scale"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be finite and > 0, got {v!r}")
        if self.scale_min >= self.scale_max:
            raise ValueError(f"scale_min ({self.scale_min}) must be < scale_max ({self.scale_max})")
        if not 0.0 < self.test_fraction < 1.0:
            raise ValueError(f"test_fraction must be in (0, 1), got {self.test_fraction}")

    @classmethod
    def smoke(cls) -> Config:
        return cls(num_scales=6, mlp_steps=800)

    @property
    def scales(self) -> np.ndarray:
        """The sweep's prior scales, ascending."""
        return np.logspace(np.log10(self.scale_min), np.log10(self.scale_max), self.num_scales)


# --------------------------------------------------------------------------- linear model
def linear(params, x):
    """``x @ w + w0``: the linear model's forward function (module level, so jit caches hit)."""
    return x @ params["w"] + params["bias"]


def diabetes():
    """Standardised diabetes features (N, 10) and target (N,), float32, and the feature names."""
    from sklearn.datasets import load_diabetes

    data = load_diabetes()
    x = (data.data - data.data.mean(0)) / data.data.std(0)
    y = (data.target - data.target.mean()) / data.target.std()
    return x.astype(np.float32), y.astype(np.float32), list(data.feature_names)


def with_ones(x):
    """``X̃ = [X, 1]``, float64: the design with the intercept column."""
    x = np.asarray(x, np.float64)
    return np.concatenate([x, np.ones((x.shape[0], 1))], axis=1)


def ols_noise(x, y) -> float:
    """σ = sqrt(RSS / (N - p - 1)), the unbiased residual std of least squares (closed form)."""
    xt, y = with_ones(x), np.asarray(y, np.float64)
    r = y - xt @ np.linalg.lstsq(xt, y, rcond=None)[0]
    return float(np.sqrt(r @ r / (xt.shape[0] - xt.shape[1])))


def lipschitz(x, noise) -> float:
    """L = λmax(X̃ᵀX̃)/(N σ²): Lipschitz constant of the gradient of the per-datum negative
    log-likelihood ``||y - X̃θ||² / (2σ² N)`` that ``fit_map`` minimises."""
    xt = with_ones(x)
    return float(np.linalg.eigvalsh(xt.T @ xt).max() / (xt.shape[0] * noise**2))


def ridge(x, y, noise, scale):
    """Closed-form Gaussian-prior MAP ``(w, w0)``: solves ``A θ = X̃ᵀy/σ²`` with
    ``A = X̃ᵀX̃/σ² + diag(1/s², …, 1/s², 0)`` (λ = 1/(2s²) on the summed NLL; flat intercept).
    Returns θ (p+1,) and A, in float64."""
    xt, y = with_ones(x), np.asarray(y, np.float64)
    a = xt.T @ xt / noise**2 + np.diag(np.append(np.full(xt.shape[1] - 1, scale**-2.0), 0.0))
    return np.linalg.solve(a, xt.T @ y / noise**2), a


def gradient_floor(x, y, noise, theta, lr):
    """Componentwise float32 floor under the summed NLL gradient ``X̃ᵀ(X̃θ - y)/σ²`` that an
    iteration at step ``lr`` (per-datum units) can reach: the evaluation error
    ``γ_n (|X̃|ᵀ(|y| + |X̃||θ|))/σ²``, ``γ_n = n u/(1 - n u)``, n = N + p + 2 (the dot-product
    bound, Higham 2002, §3.1), plus the stagnation floor ``N u |θ_j| / lr`` (a step smaller than
    half an ulp of θ_j is lost)."""
    xt, y, theta = with_ones(x), np.asarray(y, np.float64), np.abs(np.asarray(theta, np.float64))
    n = xt.shape[0] + xt.shape[1] + 1
    ax = np.abs(xt)
    return (n * U32 / (1.0 - n * U32)) * (ax.T @ (np.abs(y) + ax @ theta)) / noise**2 \
        + U32 * xt.shape[0] * theta / lr


def ridge_tolerance(x, y, noise, scale, theta, a, lr) -> float:
    """Float32 bound on ``||θ̂ - θ*||₂`` for the Gaussian MAP: for a quadratic
    ``||θ̂ - θ*||₂ ≤ ||A⁻¹||₂ ||e||₂``, e the gradient floor plus the rounding of the prior
    gradient ``w/s²`` (relative 3u)."""
    e = gradient_floor(x, y, noise, theta, lr)
    e[:-1] += 3.0 * U32 * np.abs(theta[:-1]) / scale**2
    return float(np.linalg.norm(e) / np.linalg.eigvalsh(a).min())


def lasso_kkt(x, y, noise, b, theta):
    """Violation of the lasso KKT conditions for ``||y - X̃θ||²/(2σ²) + ||w||₁/b`` at θ = (w, w0),
    per coordinate, in nats per unit weight: ``|X_jᵀr/σ² - sign(w_j)/b|`` where ``w_j ≠ 0``,
    ``max(0, |X_jᵀr|/σ² - 1/b)`` where ``w_j = 0``, and ``|Σr|/σ²`` for the intercept."""
    xt, y, theta = with_ones(x), np.asarray(y, np.float64), np.asarray(theta, np.float64)
    c = xt.T @ (y - xt @ theta) / noise**2
    w = theta[:-1]
    viol = np.where(w != 0.0, np.abs(c[:-1] - np.sign(w) / b),
                    np.maximum(0.0, np.abs(c[:-1]) - 1.0 / b))
    return np.append(viol, abs(c[-1]))


def lasso_tolerance(x, y, noise, b, theta, lr):
    """Per-coordinate float32 bound on the KKT violation: the gradient floor plus the rounding of
    the prox threshold ``lr/(N b)`` (relative 4u)."""
    e = gradient_floor(x, y, noise, theta, lr)
    e[:-1] += 4.0 * U32 / b
    return e


def prior_constant(prior_kind: str, scale: float, size: int) -> float:
    """``log_prob + penalty`` for ``size`` weights: ``-size·log(s√(2π))`` (Gaussian) or
    ``-size·log(2b)`` (Laplace)."""
    if prior_kind == "gaussian":
        return -size * (math.log(scale) + 0.5 * math.log(2.0 * math.pi))
    return -size * math.log(2.0 * scale)


def map_path(kind: str, scales, x, y, noise, num_steps: int, seed: int = 0) -> list[dict]:
    """MAP by ``fit_map`` from zero at each prior scale, under a Gaussian or Laplace prior on
    ``w`` (flat intercept); one row per scale with θ = (w, w0) and what the claims need."""
    lip = lipschitz(x, noise)
    init = {"w": jnp.zeros(x.shape[1], jnp.float32), "bias": jnp.zeros((), jnp.float32)}
    post = bj.Posterior.from_apply(linear, init, bj.likelihoods.Gaussian(noise=noise),
                                   bj.priors.Flat(), x, y)
    rows = []
    for s in map(float, scales):
        leaf = (bj.priors.Gaussian if kind == "gaussian" else bj.priors.Laplace)(s)
        p = post.replace(prior=bj.priors.ByPath({"w": leaf}, default=bj.priors.Flat()))
        # Laplace: the default optimizer is ISTA (sgd + soft threshold), exact for lr <= 1/L.
        # Gaussian: the prior adds curvature 1/(N s²); plain gradient descent at 1/L_total
        # converges linearly to the ridge solution (one compile per scale: a new sgd each time).
        lr = 1.0 / lip if kind == "laplace" else 1.0 / (lip + 1.0 / (x.shape[0] * s**2))
        opt = None if kind == "laplace" else optax.sgd(lr)
        res = bj.fit_map(jax.random.key(seed), p, opt, num_steps=num_steps, learning_rate=lr)
        w = np.asarray(res.params["w"])
        rows.append(dict(scale=s, lr=lr, theta=np.append(w, np.asarray(res.params["bias"])),
                         grad_norm=float(res.grad_norm), zeros=int(np.sum(w == 0.0)),
                         log_prob=float(p.prior.log_prob(res.params)),
                         penalty=float(p.prior.penalty(res.params))))
    log(f"{kind}: {len(rows)} MAP fits, max grad_norm {max(r['grad_norm'] for r in rows):.2e}")
    return rows


def zero_crossings(rows, names) -> list[str]:
    """Describe each step where a stronger prior has *fewer* zeros: the coefficients that are
    nonzero at the smaller b but zero at the next larger b, with their signs on both sides."""
    w = np.stack([r["theta"][:-1] for r in rows])
    out = []
    for i in range(len(rows) - 1):
        for j in np.flatnonzero((w[i] != 0.0) & (w[i + 1] == 0.0)):
            later = w[i + 1:, j][w[i + 1:, j] != 0.0]
            after = f"{later[0]:+.4f}" if later.size else "0 up to the largest b"
            out.append(f"{names[j]} is {w[i, j]:+.4f} at b = {rows[i]['scale']:.3g}, exactly 0 "
                       f"at b = {rows[i + 1]['scale']:.3g} and {after} further on")
    return out


# --------------------------------------------------------------------------- MLP on digits
def stratified_split(y, test_fraction: float, seed: int):
    """Sorted ``(train, test)`` index arrays: within each class c, a permutation drawn by
    ``np.random.default_rng(seed)`` sends the first ``round(f·n_c)`` points to test, so every
    class keeps the share f."""
    rng, y = np.random.default_rng(seed), np.asarray(y)
    test = np.zeros(y.shape[0], bool)
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        test[rng.permutation(idx)[:round(test_fraction * idx.size)]] = True
    return np.flatnonzero(~test), np.flatnonzero(test)


def mlp_fits(config: Config):
    """One MAP fit of the MLP per prior (on both kernels; biases flat), same optimizer, on the
    digits pixels / 16 with a stratified train/test split."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x, y = (x / 16.0).astype(np.float32), y.astype(np.int32)
    tr, te = stratified_split(y, config.test_fraction, config.seed)
    model = MLP((64, config.mlp_hidden, 10), jax.nn.relu, nnx.Rngs(config.seed))
    b = config.mlp_laplace_scale
    priors = {"gaussian": bj.priors.Gaussian(math.sqrt(2.0) * b), "laplace": bj.priors.Laplace(b)}
    # Plain sgd for both: with the Laplace prior, fit_map's prox after an sgd step is ISTA;
    # with momentum or Adam the prox would be a heuristic.
    opt = optax.sgd(config.mlp_learning_rate)
    dead = x[tr].std(0) == 0.0  # pixels that are constant on the training set
    out = {"dead_pixels": int(dead.sum())}
    for kind, leaf in priors.items():
        prior = bj.priors.ByPath({"layers.0.kernel": leaf, "layers.1.kernel": leaf},
                                 default=bj.priors.Flat())
        post = bj.Posterior(model, bj.likelihoods.Categorical(), prior, x[tr], y[tr])
        res = bj.fit_map(jax.random.key(config.seed), post, opt, num_steps=config.mlp_steps,
                         learning_rate=config.mlp_learning_rate)
        w1, w2 = (np.asarray(res.params["layers"][i]["kernel"]) for i in (0, 1))
        acc = [float(np.mean(np.argmax(np.asarray(post.predict(res.params, x[i])), -1) == y[i]))
               for i in (tr, te)]
        out[kind] = dict(scale=float(leaf.scale), w1=w1, zero_frac_w1=float(np.mean(w1 == 0.0)),
                         zero_frac_w1_live=float(np.mean(w1[~dead] == 0.0)),
                         zero_frac_w2=float(np.mean(w2 == 0.0)), train_acc=acc[0],
                         test_acc=acc[1], grad_norm=float(res.grad_norm),
                         final_loss=float(res.losses[-1]))
        log(f"MLP {kind}: train acc {acc[0]:.3f}, test acc {acc[1]:.3f}, zeros in layer 1 "
            f"{out[kind]['zero_frac_w1']:.3f}")
    return out


# --------------------------------------------------------------------------- figures
def plot_paths(sw, names, ridge_paths, outdir):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6), sharey=True)
    colors = plt.cm.tab10(np.arange(len(names)))
    for ax, kind in zip(axes, KINDS, strict=True):
        w = np.stack([r["theta"][:-1] for r in sw[kind]])
        for j, name in enumerate(names):
            ax.plot(sw["scales"], w[:, j], "o-", ms=3, color=colors[j],
                    label=name if kind == "gaussian" else None)
        if kind == "gaussian":
            ax.plot(sw["scales"], ridge_paths, "k:", lw=1)
            ax.plot([], [], "k:", lw=1, label="closed-form ridge")
            ax.set_title("Gaussian prior N(0, s²): ridge, λ = 1/(2s²)")
        else:
            ax.axvline(sw["b_max"], color="grey", ls="--", lw=1,
                       label=f"b_max = σ²/max|X_jᵀy| = {sw['b_max']:.2g}")
            ax.set_title("Laplace prior Laplace(0, b): lasso, λ = 1/b")
        ax.set_xlabel(f"prior scale {'s' if kind == 'gaussian' else 'b'} (standardised "
                      "coefficient units, log)")
        ax.axhline(0.0, color="k", lw=0.5)
        ax.set_xscale("log")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("MAP coefficient (standardised units)")
    fig.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=6)
    fig.suptitle("Diabetes: MAP coefficient paths over the prior scale")
    save_figure(fig, outdir, "coefficient_paths")


def plot_zeros(sw, outdir):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for kind, marker in zip(KINDS, ("s-", "o-"), strict=True):
        ax.plot(sw["scales"], [r["zeros"] for r in sw[kind]], marker,
                label=f"{kind.capitalize()} prior (fit_map)")
    ax.axvline(sw["b_max"], color="grey", ls="--", lw=1, label="b_max (all zero below)")
    ax.set_xscale("log")
    ax.set_xlabel("prior scale b or s (standardised coefficient units, log)")
    ax.set_ylabel("number of coefficients exactly 0 (of 10)")
    ax.set_title("Exact zeros in the MAP: only the Laplace prior")
    ax.set_ylim(-0.5, 10.5)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save_figure(fig, outdir, "zeros_vs_scale")


def plot_histograms(mlp, outdir):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    lim = max(np.abs(mlp[k]["w1"]).max() for k in KINDS)
    for ax, kind, color in zip(axes, KINDS, ("C0", "C1"), strict=True):
        r = mlp[kind]
        ax.hist(r["w1"].ravel(), bins=np.linspace(-lim, lim, 81), color=color,
                label=f"exactly 0: {100 * r['zero_frac_w1']:.1f}% of weights")
        ax.set_yscale("log")
        ax.set_title(f"{kind.capitalize()} prior, {'s' if kind == 'gaussian' else 'b'} = "
                     f"{r['scale']:.2g}  (test acc {r['test_acc']:.3f})")
        ax.set_xlabel("first-layer weight (input pixel in [0, 1] → hidden unit)")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("count (log scale)")
    fig.suptitle("Digits MLP 64-32-10, MAP first-layer weights (same prior variance)")
    save_figure(fig, outdir, "mlp_weight_histograms")


# --------------------------------------------------------------------------- run
def run(config: Config, outdir: Path) -> dict:
    x, y, names = diabetes()
    n, p = x.shape
    noise = ols_noise(x, y)
    lip, scales = lipschitz(x, noise), config.scales
    log(f"diabetes: N={n}, p={p}, noise σ={noise:.4f} (OLS residual std)")
    sw = {k: map_path(k, scales, x, y, noise, config.linear_steps, config.seed) for k in KINDS}
    xc, yc = x - x.mean(0, dtype=np.float64), y - y.mean(dtype=np.float64)
    sw.update(scales=scales, b_max=float(noise**2 / np.abs(xc.T @ yc).max()))
    gau, lap = sw["gaussian"], sw["laplace"]
    for r in gau:  # Gaussian ↔ ridge
        theta, a = ridge(x, y, noise, r["scale"])
        r.update(ridge=theta[:-1], diff=float(np.abs(r["theta"] - theta).max()),
                 tol=ridge_tolerance(x, y, noise, r["scale"], theta, a, r["lr"]))
    for r in lap:  # Laplace ↔ lasso KKT; ratio ≤ 1 at a b also certifies its zero pattern
        v = lasso_kkt(x, y, noise, r["scale"], r["theta"])
        r.update(kkt_rel=float(v[:-1].max() * r["scale"]), kkt_ratio=float(
            (v / lasso_tolerance(x, y, noise, r["scale"], r["theta"], r["lr"])).max()))
    pen_dev, pen_ratio = [], []
    for kind in KINDS:
        for r in sw[kind]:
            const = prior_constant(kind, r["scale"], p)
            pen_dev.append(abs(r["log_prob"] + r["penalty"] - const))
            # float32 rounding of the two sums of p + 1 terms and of the constant
            pen_ratio.append(pen_dev[-1] / ((p + 4) * U32 * (
                abs(r["log_prob"]) + abs(r["penalty"]) + abs(const))))
    ridge_ratio = max(r["diff"] / r["tol"] for r in gau)
    kkt_ratio = [r["kkt_ratio"] for r in lap]
    gau_zeros, lap_zeros = ([r["zeros"] for r in rows] for rows in (gau, lap))
    # scales ascend, so "b shrinks" reads the lists right to left
    monotone = all(a >= b for a, b in zip(lap_zeros[:-1], lap_zeros[1:], strict=True))
    crossings = zero_crossings(lap, names)
    all_zero = [z == p for z in lap_zeros]
    max_gn = {k: max(r["grad_norm"] for r in sw[k]) for k in KINDS}

    mlp = mlp_fits(config)
    plot_paths(sw, names, np.stack([r["ridge"] for r in gau]), outdir)
    plot_zeros(sw, outdir)
    plot_histograms(mlp, outdir)

    zeros_w1 = {k: mlp[k]["zero_frac_w1"] for k in KINDS}
    test_acc = {k: mlp[k]["test_acc"] for k in KINDS}
    claims = [
        claim("Gaussian prior N(0, s²): the MAP is ridge regression with λ = 1/(2s²) on the "
              "summed NLL (closed form)",
              {"max_abs_diff": max(r["diff"] for r in gau),
               "max_diff_over_float32_bound": ridge_ratio},
              "at every s, max|θ̂ − θ_ridge| ≤ ||A⁻¹||₂·||e||₂, e the float32 rounding bound of the "
              "gradient (ratio ≤ 1)", ridge_ratio <= 1.0),
        claim("Laplace prior Laplace(0, b): the MAP satisfies the lasso KKT conditions with "
              "λ = 1/b",
              {"max_violation_times_b": max(r["kkt_rel"] for r in lap),
               "max_violation_over_float32_bound": max(kkt_ratio)},
              "at every b and coordinate, KKT violation ≤ its float32 rounding bound (ratio ≤ 1)",
              max(kkt_ratio) <= 1.0),
        claim("Laplace: every coefficient is exactly zero iff b ≤ b_max = σ²/max_j|X_jᵀy| "
              "(λ = 1/b ≥ λ_max)", {"b_max": sw["b_max"], "all_zero": all_zero},
              "all-zero at exactly the scales b ≤ b_max of the sweep",
              all_zero == [bool(s <= sw["b_max"]) for s in scales]),
        claim("Laplace: the number of exact zeros grows as b shrinks, as a trend (on this data not at "
              "every step: see zero_crossings)",
              {"zeros_by_ascending_b": lap_zeros, "kkt_certified": [k <= 1.0 for k in kkt_ratio],
               "non_decreasing_as_b_shrinks": monotone, "zero_crossings": crossings},
              "more exact zeros at the smallest b than at the largest, and every count certified "
              "by the lasso KKT conditions of claim 2 (violation ≤ float32 bound at that b, so "
              "the zero pattern is optimal to float32 precision)",
              lap_zeros[0] > lap_zeros[-1] and max(kkt_ratio) <= 1.0),
        claim("Gaussian prior: no coefficient is exactly zero at any scale",
              max(gau_zeros), "0 exact zeros at every s", max(gau_zeros) == 0),
        claim("penalty = −log_prob + const for both priors (const = −p·log(s√(2π)), −p·log(2b))",
              {"max_abs_deviation": max(pen_dev), "max_over_float32_bound": max(pen_ratio)},
              "|log_prob + penalty − const| ≤ (p+4)·u·(|log_prob| + |penalty| + |const|) at "
              "every MAP", max(pen_ratio) <= 1.0),
        claim("MLP on digits: the Laplace prior puts a substantial share of first-layer weights "
              "at exactly zero, the Gaussian prior (same variance) none", zeros_w1,
              "Laplace ≥ 0.5 and Gaussian = 0",
              zeros_w1["laplace"] >= 0.5 and zeros_w1["gaussian"] == 0.0),
        claim("MLP on digits: both MAP networks classify well (chance is 0.1)", test_acc,
              "test accuracy ≥ 0.9 for both", min(test_acc.values()) >= 0.9),
    ]

    rows = ["| scale | Gaussian: max abs(w) | Gaussian: abs diff to ridge | float32 bound | "
            "Laplace: zeros | Laplace: KKT violation × b | KKT violation / float32 bound |",
            "|---" * 7 + "|"]
    rows += [f"| {g['scale']:.3g} | {np.abs(g['theta'][:-1]).max():.3g} | {g['diff']:.2e} | "
             f"{g['tol']:.1e} | {r['zeros']} | {r['kkt_rel']:.1e} | {r['kkt_ratio']:.1e} |"
             for g, r in zip(gau, lap, strict=True)]
    mrows = ["| prior | scale | zeros in layer 1 | zeros in layer 1, non-constant pixels | "
              "zeros in layer 2 | train acc | test acc | grad_norm |", "|---" * 8 + "|"]
    mrows += [f"| {k} | {m['scale']:.3g} | {m['zero_frac_w1']:.3f} | {m['zero_frac_w1_live']:.3f} "
              f"| {m['zero_frac_w2']:.3f} | {m['train_acc']:.3f} | {m['test_acc']:.3f} | "
              f"{m['grad_norm']:.1e} |" for k, m in ((k, mlp[k]) for k in KINDS)]
    mono_text = ("The zero count is non-decreasing as b shrinks over this sweep." if monotone else
                 "The zero count is **not** monotone at every step: " + "; ".join(crossings)
                 + ". This is the lasso path itself, not the optimiser: the KKT conditions "
                 "certify every zero pattern to float32 precision (claim 2), and "
                 "tests/test_l1_vs_l2.py finds the same counts on the default sweep with "
                 "scikit-learn's float64 coordinate descent. With "
                 "correlated features a coefficient can cross zero as the prior weakens (it hits "
                 "zero, leaves the active set and re-enters with the other sign: the 'lasso "
                 "modification' of LARS, Efron et al. 2004, whose running example is this data "
                 "set), so 'the number of zeros grows as b shrinks' holds as a trend, not at every "
                 "step; the claim checks the trend and the certification.")
    report = "\n".join([
        f"Noise σ = {noise:.4f}; {len(scales)} log-spaced prior scales from {scales[0]:.3g} to "
        f"{scales[-1]:.3g}. MAP by `bj.fit_map`, full batch, {config.linear_steps} steps from "
        "zero: Laplace with the default ISTA (sgd + soft threshold) at step 1/L, "
        f"L = λmax(X̃ᵀX̃)/(Nσ²) = {lip:.4g}; Gaussian with `optax.sgd` at step 1/(L + 1/(N s²)) "
        "(the prior's curvature included; one compile per scale). Max `grad_norm` over the "
        f"sweep: Gaussian {max_gn['gaussian']:.1e}, Laplace {max_gn['laplace']:.1e} (per-datum "
        "units).",
        "", *rows, "",
        "The float32 bounds are worst-case (Higham's γ_n for a dot product of n = N + p + 2 "
        "terms); the measured differences are typically far below them — the table shows both.",
        "", mono_text, "",
        f"MLP 64-{config.mlp_hidden}-10 (ReLU) on digits ({1.0 - config.test_fraction:.0%} of "
        f"each class for training, split by `numpy.random.default_rng({config.seed})`), "
        "pixels / 16, Categorical likelihood, prior on both kernels (biases flat): Laplace "
        f"b = {config.mlp_laplace_scale:g} vs Gaussian s = √2·b (the same prior variance 2b²). "
        f"Both trained by `fit_map` with the same `optax.sgd({config.mlp_learning_rate:g})`, "
        f"{config.mlp_steps} full-batch steps (the prox after a plain sgd step is ISTA; Adam "
        f"would make it a heuristic). {mlp['dead_pixels']} pixels are constant 0 on the "
        "training set; their weights get no likelihood gradient, so the Laplace prior zeroes "
        "them trivially — the table also gives the zero share over the other pixels.",
        "", *mrows, "",
        "Remarks: the Gaussian prior's weights on dead pixels decay geometrically, by "
        "(1 − lr/(N s²)) per step, but never reach 0 here; with a much smaller s or many more "
        "steps they could underflow float32 to an exact 0, which would be rounding, not "
        "sparsity. The MLP objective is non-convex, so its MAP is a local mode.",
    ])
    return {
        "noise": noise, "lipschitz": lip, "scales": scales, "b_max": sw["b_max"],
        "gaussian_coefficients": [r["theta"] for r in gau],
        "laplace_coefficients": [r["theta"] for r in lap],
        "ridge_abs_diff": [r["diff"] for r in gau],
        "kkt_violation_times_b": [r["kkt_rel"] for r in lap],
        "kkt_violation_over_float32_bound": kkt_ratio, "max_grad_norm": max_gn,
        "mlp": {"dead_pixels": mlp["dead_pixels"],
                **{k: {kk: v for kk, v in mlp[k].items() if kk != "w1"} for k in KINDS}},
        "claims": claims, "report": report,
    }
