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
against the math: the Gaussian MAP against the closed-form ridge solution (the Bayesian linear
regression posterior mean), the Laplace MAP against the lasso KKT conditions (for ``w_j ≠ 0``:
``X_jᵀr/σ² = sign(w_j)/b``; for ``w_j = 0``: ``|X_jᵀr|/σ² ≤ 1/b``), both to a float32 rounding
bound; the KKT conditions also certify each zero pattern. A 64-32-10 MLP on the digits data,
trained once under each prior (with the same variance), shows the same contrast in a network.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from experiments.common.claims import RunResult, log
from experiments.common.config import in_interval, integers, positive
from experiments.common.data import load

from . import figures, report
from .checks import check_gaussian, check_laplace, claims
from .mlp import mlp_fits
from .paths import KINDS, map_path, zero_crossings
from .references import lasso_b_max, lipschitz, ols_noise


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
        integers(self, ("num_scales",), minimum=2)  # a sweep needs two scales
        integers(self, ("linear_steps", "mlp_hidden", "mlp_steps"))
        positive(self, ("scale_min", "scale_max", "mlp_learning_rate", "mlp_laplace_scale"))
        if self.scale_min >= self.scale_max:
            raise ValueError(f"scale_min ({self.scale_min}) must be < scale_max ({self.scale_max})")
        in_interval(self, ("test_fraction",))

    @classmethod
    def smoke(cls) -> Config:
        return cls(num_scales=6, mlp_steps=800)

    @property
    def scales(self) -> np.ndarray:
        """The sweep's prior scales, ascending."""
        return np.logspace(np.log10(self.scale_min), np.log10(self.scale_max), self.num_scales)


def run(config: Config, outdir: Path) -> RunResult:
    # 1. diabetes, all 442 points for training; the noise σ and the step size in closed form
    data = load("diabetes", test_fraction=0.0)
    x, y, names = data.x_train, data.y_train, list(data.feature_names)
    noise = ols_noise(x, y)
    lip, scales = lipschitz(x, noise), config.scales
    log(f"diabetes: N={x.shape[0]}, p={x.shape[1]}, noise σ={noise:.4f} (OLS residual std)")
    # 2. the MAP paths, each checked against ridge / the lasso KKT conditions
    paths = {k: map_path(k, scales, x, y, noise, config.linear_steps, config.seed) for k in KINDS}
    check_gaussian(paths["gaussian"], x, y, noise)
    check_laplace(paths["laplace"], x, y, noise)
    b_max, crossings = lasso_b_max(x, y, noise), zero_crossings(paths["laplace"], names)
    # 3. the same contrast in an MLP on digits
    digits = load("digits", scaling="unit", test_fraction=config.test_fraction, seed=config.seed)
    mlp = mlp_fits(digits, hidden=config.mlp_hidden, num_steps=config.mlp_steps,
                   learning_rate=config.mlp_learning_rate,
                   laplace_scale=config.mlp_laplace_scale, seed=config.seed)
    # 4. figures, claims, report
    figures.plot_paths(paths, scales, b_max, names, outdir)
    figures.plot_zeros(paths, scales, b_max, outdir)
    figures.plot_histograms(mlp, outdir)
    gau, lap = paths["gaussian"], paths["laplace"]
    metrics = {
        "noise": noise, "lipschitz": lip, "scales": scales, "b_max": b_max,
        "gaussian_coefficients": [r["theta"] for r in gau],
        "laplace_coefficients": [r["theta"] for r in lap],
        "ridge_abs_diff": [r["diff"] for r in gau],
        "kkt_violation_times_b": [r["kkt_rel"] for r in lap],
        "kkt_violation_over_float32_bound": [r["kkt_ratio"] for r in lap],
        "max_grad_norm": {k: max(r["grad_norm"] for r in paths[k]) for k in KINDS},
        "mlp": {"dead_pixels": mlp["dead_pixels"],
                **{k: {kk: v for kk, v in mlp[k].items() if kk != "w1"} for k in KINDS}},
        "claims": claims(paths, scales, b_max, crossings, x.shape[1], mlp),
    }
    body = report.body(paths=paths, mlp=mlp, noise=noise, lip=lip, scales=scales,
                       crossings=crossings, linear_steps=config.linear_steps,
                       mlp_hidden=config.mlp_hidden, mlp_steps=config.mlp_steps,
                       mlp_learning_rate=config.mlp_learning_rate,
                       mlp_laplace_scale=config.mlp_laplace_scale,
                       test_fraction=config.test_fraction, seed=config.seed)
    return RunResult(metrics, body)
