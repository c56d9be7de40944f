r"""Claim: "if the VAE's decoder is restricted to a linear map it is mathematically the
probabilistic version of PCA" — with σ² learned, the linear VAE's optimum is Tipping & Bishop's
(1999) maximum-likelihood pPCA (*Probabilistic principal component analysis*, JRSS-B), and the
ELBO is tight there (Lucas et al. 2019, *Don't blame the ELBO!*, NeurIPS, §4).

On the digits training images (standardised by their own statistics), ``bj.vae.fit_linear_vae``
(decoder N(Wz + μ, σ²I), encoder N(V(x − μ), diag s²), analytic ELBO, σ² learned, float64) is
compared with ``bj.conjugate.ppca``: σ² equals the mean of the D − K discarded eigenvalues of the
(1/N) covariance, the ELBO equals the pPCA log-likelihood, ‖w_i‖² = λ_i − σ², and span(W) is the
principal subspace; plain PCA and scikit-learn's ``PCA`` are compared in the report.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import numpy as np

from experiments.common.claims import RunResult, log, show_progress
from experiments.common.config import in_interval, integers, positive
from experiments.common.data import load

from . import figures, report
from .checks import claims
from .fits import compare


@dataclasses.dataclass(frozen=True)
class Config:
    """Attributes:
      seed: the digits split and the initialisations.
      latent_dims: the latent sizes K fitted (each 1 ≤ K < 64); chosen so that no two of the
        top K + 1 eigenvalues nearly tie at seeds 0–4 (K = 10 meets a 0.7% tie at seed 1, see
        the report).
      num_steps, learning_rate: Adam (cosine-decayed) on the analytic ELBO.
      test_fraction: share of each digit class held out (for the held-out log-likelihood).
    """

    seed: int = 0
    latent_dims: tuple[int, ...] = (2, 5, 8)
    num_steps: int = 20000
    learning_rate: float = 0.02
    test_fraction: float = 0.25

    def __post_init__(self):
        if not self.latent_dims or any(isinstance(k, bool) or not isinstance(k, int) or not 1 <= k < 64
                                       for k in self.latent_dims):
            raise ValueError(f"latent_dims must be integers in [1, 63], got {self.latent_dims!r}")
        integers(self, ("num_steps",))
        positive(self, ("learning_rate",))
        in_interval(self, ("test_fraction",))

    @classmethod
    def smoke(cls) -> Config:
        return cls(latent_dims=(3,))


def run(config: Config, outdir: Path) -> RunResult:
    data = load("digits", test_fraction=config.test_fraction, seed=config.seed)
    keys = jax.random.split(jax.random.key(config.seed), len(config.latent_dims))
    comps = []
    for key, k in zip(keys, config.latent_dims, strict=True):
        comps.append(compare(key, data.x_train, data.x_test, k, num_steps=config.num_steps,
                             learning_rate=config.learning_rate, progress_bar=show_progress()))
        c = comps[-1]
        log(f"K={k}: σ² VAE {c.noise_var:.6f} vs pPCA {c.ppca_noise_var:.6f}; "
            f"ELBO − log p = {c.elbo - c.log_likelihood:.2e} nats")
    n = data.x_train.shape[0]
    lam = np.sort(np.linalg.eigvalsh(np.cov(data.x_train.astype(np.float64).T, bias=True)))[::-1]
    figures.plot_spectrum(comps, lam, outdir)
    figures.plot_components(max(comps, key=lambda c: c.latent_dim), outdir)
    metrics = {
        "eigenvalues": lam,
        "fits": [{"latent_dim": c.latent_dim, "noise_var": c.noise_var,
                  "ppca_noise_var": c.ppca_noise_var, "elbo": c.elbo,
                  "log_likelihood": c.log_likelihood, "col_norms": c.col_norms,
                  "ppca_col_norms": c.ppca_col_norms, "max_angle": c.max_angle,
                  "grad_norm": c.grad_norm, "test_log_lik_per_row": c.test_log_lik_per_row,
                  "sklearn_noise_var": c.sklearn_noise_var, "sklearn_log_lik": c.sklearn_log_lik,
                  "sklearn_max_angle": c.sklearn_max_angle, "min_eigengap": c.min_eigengap}
                 for c in comps],
        "claims": claims(comps, n),
    }
    return RunResult(metrics, report.body(comps=comps, num_data=n, num_steps=config.num_steps))
