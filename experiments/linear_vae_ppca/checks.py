"""linear_vae_ppca's claims (explicit arguments; tolerances from the optimiser's convergence)."""

from __future__ import annotations

import numpy as np

from experiments.common.claims import claim

from .fits import Comparison

GRAD_TOL = 1e-6    # gradient norm of the per-row negative ELBO that counts as converged
REL_TOL = 1e-6     # σ², relative
GAP_TOL = 1e-8     # nats per row, ELBO vs log-likelihood
NORM_TOL = 1e-6    # squared column norms (units of a standardised pixel's variance)
ANGLE_TOL = 1e-5   # radians


def claims(comps: list[Comparison], num_data: int) -> list[dict]:
    ks = [c.latent_dim for c in comps]
    rel = [abs(c.noise_var / c.ppca_noise_var - 1.0) for c in comps]
    gap = [(c.log_likelihood - c.elbo) / num_data for c in comps]
    norm = [float(np.max(np.abs(c.col_norms - c.ppca_col_norms))) for c in comps]
    ang = [c.max_angle for c in comps]
    grad = [c.grad_norm for c in comps]
    per_k = lambda v: dict(zip(map(str, ks), v, strict=True))  # noqa: E731
    return [
        claim("The optimiser converged (σ² learned, β = 1)", per_k(grad),
              f"gradient norm of the per-row negative ELBO ≤ {GRAD_TOL:g} at every K", max(grad) <= GRAD_TOL),
        claim("σ² equals the mean of the discarded eigenvalues (Tipping & Bishop 1999)", per_k(rel),
              f"|σ²_VAE / σ²_pPCA − 1| ≤ {REL_TOL:g} at every K (the 1/(N−1) covariance would be "
              f"off by {1 / (num_data - 1):.1e})", max(rel) <= REL_TOL),
        claim("The ELBO equals the pPCA log-likelihood: the bound is tight (the true posterior is "
              "Gaussian with the encoder's form)", per_k(gap),
              f"|log p(X) − ELBO| ≤ {GAP_TOL:g} nats per row at every K", max(map(abs, gap)) <= GAP_TOL),
        claim("The squared column norms of W are λ_i − σ²", per_k(norm),
              f"max |‖w_i‖² − (λ_i − σ²)| ≤ {NORM_TOL:g} at every K", max(norm) <= NORM_TOL),
        claim("The columns of W span the principal subspace", per_k(ang),
              f"largest principal angle to the top-K eigenvectors ≤ {ANGLE_TOL:g} rad at every K",
              max(ang) <= ANGLE_TOL),
    ]
