r"""Claim: "the variance of the predictive distribution is σ_N²(x) = σ² + φ(x)ᵀS_Nφ(x): the first
term is the noise on the data, the second the uncertainty in the parameters w", and the second
grows away from the data (Bishop 2006, *PRML*, §3.3.2, eq. 3.59 and Fig. 3.8; the same for a
network under the Laplace approximation, §5.7.1, eq. 5.173).

**Bayesian linear regression** on polynomial features ``φ(x) = (1, x, …, x^d)``, prior
``w ~ N(0, s²I)``, Gaussian noise of known σ: the exact posterior ``N(μ, Σ)`` is
``bj.conjugate.bayesian_linear_regression``, and the same model written as a
``bj.Posterior.from_apply`` and read by ``bj.laplace`` must equal it (the log joint is quadratic):

.. math::

    \Sigma = (\Phi^\top\Phi/\sigma^2 + I/s^2)^{-1}, \qquad \mu = \Sigma\Phi^\top y/\sigma^2,
    \qquad y_* \mid x_*, D \sim N\big(\phi_*^\top\mu,\ \underbrace{\sigma^2}_{\text{aleatoric}}
        + \underbrace{\phi_*^\top\Sigma\phi_*}_{\text{epistemic}}\big).

Its 95% interval ``φ*ᵀμ ± 1.96·sqrt(σ² + φ*ᵀΣφ*)`` is compared with the plug-in interval
``φ*ᵀμ ± 1.96·σ`` (the same mean, noise only) over many replicate data sets drawn from the model's
own prior predictive (w from the prior, then y): under that draw ``y*`` given D *is* the predictive
above, so the Bayesian interval covers exactly 95% at every x, inside and outside the data range,
while the plug-in covers ``2Φ(1.96·σ/sqrt(σ² + φ*ᵀΣφ*)) − 1``, far below 95% where φ*ᵀΣφ* ≫ σ².
With one fixed w the coverage is conditional on it and only approximately 95% (the posterior mean is
shrunk towards the prior mean, a bias that grows out of range); that is measured too.

**A tanh MLP** (1-16-16-1) on 1-D data in [-1, 1]: ``bj.fit_map``, then ``bj.laplace`` (full GGN,
last layer, KFAC) and the linearised (GLM) predictive ``lap.predictive(x, "glm")``, whose epistemic
variance ``J(x) Σ J(x)ᵀ`` is small where the data are and grows away from them.

**Heteroscedastic noise** (none of the Laplace libraries has it): on data whose noise grows with
|x|, ``y = sin(3x) + σ(x)ε`` with ``σ(x) = σ₀ + σ₁|x|``, a 1-16-16-2 MLP outputs a mean and a
log-variance (``bj.likelihoods.HeteroscedasticGaussian``); its Laplace GLM predictive splits
``Var[y | x, D] = E_θ[σ²(x;θ)] + Var_θ[μ(x;θ)]`` into a per-input aleatoric part that follows the
true σ(x)² and the epistemic part, which grows away from the data (Kendall & Gal 2017 make the same
split with dropout; here it is the Laplace approximation). Its held-out log predictive density beats
a homoscedastic Gaussian's even when that one is given the best constant σ.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import jax

from experiments.common.claims import RunResult, log
from experiments.common.config import integers, positive
from experiments.predictive_uncertainty import claims, figures, report
from experiments.predictive_uncertainty.hetero import hetero_part
from experiments.predictive_uncertainty.linear import linear_part
from experiments.predictive_uncertainty.mlp import mlp_part


@dataclasses.dataclass(frozen=True)
class Config:
    """Settings of the two parts.

    Attributes:
      seed: seeds the designs, the fixed true w, the replicates and the MLP.
      degree: polynomial degree d (d + 1 features).
      num_train: N training inputs, uniform on [-1, 1] (the data range), drawn once.
      noise: the known noise std σ of the linear model (units of y).
      prior_scale: s, the prior std of every coefficient.
      test_half_width: test inputs lie in [-a, a]; 1 < |x| ≤ a is "out of range".
      num_replicates: R replicate data sets for the coverage (each gives one test point per x).
      grid_points: G test inputs on [-a, a] for coverage vs x.
      mlp_width: hidden units of each of the two tanh layers.
      mlp_train: training points of the MLP, uniform on [-1, 1].
      mlp_noise: noise std of the MLP data (and of its Gaussian likelihood).
      mlp_prior_scale: std of the Gaussian prior on every MLP weight.
      mlp_steps, mlp_learning_rate: full-batch Adam steps of ``fit_map`` for the MLP.
      mlp_test_half_width: the MLP predictive is plotted on [-b, b]; 1 < |x| ≤ b is out of range.
      hetero_train: training points of the heteroscedastic part, uniform on [-1, 1] (equal to
        ``mlp_train`` by default, so that its homoscedastic baseline reuses the MLP part's compiled
        fit and Laplace).
      hetero_noise_base, hetero_noise_slope: the true noise std σ(x) = base + slope·|x| (units of y).
      hetero_test_half_width: its predictive is plotted on [-c, c]. The heteroscedastic MLP shares
        ``mlp_width``, ``mlp_prior_scale``, ``mlp_steps`` and ``mlp_learning_rate``.
    """

    seed: int = 0
    degree: int = 5
    num_train: int = 30
    noise: float = 0.3
    prior_scale: float = 1.0
    test_half_width: float = 1.5
    num_replicates: int = 20000
    grid_points: int = 61
    mlp_width: int = 16
    mlp_train: int = 80
    mlp_noise: float = 0.1
    mlp_prior_scale: float = 1.0
    mlp_steps: int = 3000
    mlp_learning_rate: float = 1e-2
    mlp_test_half_width: float = 2.5
    hetero_train: int = 80
    hetero_noise_base: float = 0.05
    hetero_noise_slope: float = 0.2
    hetero_test_half_width: float = 2.0

    def __post_init__(self):
        integers(self, ("degree", "num_train", "num_replicates", "mlp_width", "mlp_train",
                        "mlp_steps", "hetero_train"))
        integers(self, ("grid_points",), minimum=3)
        positive(self, ("noise", "prior_scale", "mlp_noise", "mlp_prior_scale", "mlp_learning_rate",
                        "hetero_noise_base", "hetero_noise_slope"))
        for name in ("test_half_width", "mlp_test_half_width", "hetero_test_half_width"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 1.0):
                raise ValueError(f"{name} must be finite and > 1 (the data range is [-1, 1]), "
                                 f"got {v!r}")

    @classmethod
    def smoke(cls) -> Config:
        return cls(num_replicates=2000, grid_points=31, mlp_steps=1500)


def run(config: Config, outdir: Path) -> RunResult:
    key_lin, key_mlp = jax.random.split(jax.random.key(config.seed))
    log("linear part (float64)")
    with jax.enable_x64(True):
        lin = linear_part(key_lin, degree=config.degree, num_train=config.num_train,
                          noise=config.noise, prior_scale=config.prior_scale,
                          half_width=config.test_half_width,
                          num_replicates=config.num_replicates, grid_points=config.grid_points)
    log("MLP part")
    mlp = mlp_part(key_mlp, width=config.mlp_width, num_train=config.mlp_train,
                   noise=config.mlp_noise, prior_scale=config.mlp_prior_scale,
                   steps=config.mlp_steps, learning_rate=config.mlp_learning_rate,
                   half_width=config.mlp_test_half_width)
    log("heteroscedastic part")
    # its own stream (fold_in), so the two parts above keep the draws they had without it
    het = hetero_part(jax.random.fold_in(jax.random.key(config.seed), 2), width=config.mlp_width,
                      num_train=config.hetero_train, base=config.hetero_noise_base,
                      slope=config.hetero_noise_slope, prior_scale=config.mlp_prior_scale,
                      steps=config.mlp_steps, learning_rate=config.mlp_learning_rate,
                      half_width=config.hetero_test_half_width)
    figures.plot_linear(lin, outdir)
    figures.plot_mlp(mlp, outdir)
    figures.plot_hetero(het, outdir)
    return RunResult(metrics={"claims": claims.build(lin, mlp, het),
                              **claims.metrics(lin, mlp, het)},
                     report=report.body(lin, mlp, het))
