"""The linear VAE (σ² learned, β = 1) against probabilistic PCA's closed form, plain PCA and
scikit-learn's ``PCA``, in float64 (the claims assert agreement to ~1e-6)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from scipy.linalg import subspace_angles

import bayesjax as bj


class Comparison(NamedTuple):
    """One latent size K: the VAE's and pPCA's σ², the summed ELBO and log-likelihood (nats), the
    squared column norms (descending) against λ_i − σ², the largest principal angle (radians)
    between span(W) and the top-K eigenvectors, the final gradient norm, held-out log-likelihood
    per row, scikit-learn's numbers (``noise_variance_``, ``score`` × N, largest angle), PCA's
    reconstruction error and the smallest relative gap ``1 − λ_{i+1}/λ_i`` for i ≤ K (a near-tie
    makes the VAE's choice of rotation, hence the split of ‖w_i‖², slow to converge)."""

    latent_dim: int
    noise_var: float
    ppca_noise_var: float
    elbo: float
    log_likelihood: float
    col_norms: np.ndarray
    ppca_col_norms: np.ndarray
    max_angle: float
    grad_norm: float
    test_log_lik_per_row: float
    sklearn_noise_var: float
    sklearn_log_lik: float
    sklearn_max_angle: float
    pca_recon_error: float
    min_eigengap: float
    W: np.ndarray
    eigvecs: np.ndarray


def gaussian_log_lik(x, mean, cov) -> float:
    """``Σ_n log N(x_n | mean, cov)`` (nats), by a Cholesky factor, float64."""
    from scipy.stats import multivariate_normal

    return float(multivariate_normal(mean, cov).logpdf(np.asarray(x, np.float64)).sum())


def compare(key, x_train, x_test, latent_dim: int, *, num_steps: int,
            learning_rate: float, progress_bar: bool = False) -> Comparison:
    """Fit ``bj.vae.fit_linear_vae`` (σ² learned) and ``bj.conjugate.ppca`` on ``x_train``; compare
    them with each other, with PCA and with ``sklearn.decomposition.PCA``."""
    from sklearn.decomposition import PCA

    x = np.asarray(x_train, np.float64)
    n, d = x.shape
    with jax.enable_x64(True):
        res = bj.vae.fit_linear_vae(key, jnp.asarray(x), latent_dim, num_steps=num_steps,
                                    learning_rate=learning_rate, progress_bar=progress_bar)
        ref = bj.conjugate.ppca(jnp.asarray(x), latent_dim)
        w, lam = np.asarray(res.W), np.asarray(ref.eigenvalues)
        ref_w, ref_mean, s2 = np.asarray(ref.W), np.asarray(ref.mean), float(ref.noise_var)
        out = dict(noise_var=float(res.noise_var), elbo=float(res.elbo),
                   log_likelihood=float(ref.log_likelihood), grad_norm=float(res.grad_norm))
    _, vecs = np.linalg.eigh(np.cov(x.T, bias=True))
    u = vecs[:, ::-1][:, :latent_dim]
    sk = PCA(n_components=latent_dim).fit(x)
    cov = ref_w @ ref_w.T + s2 * np.eye(d)
    return Comparison(
        latent_dim=latent_dim, ppca_noise_var=s2,
        col_norms=np.sort(np.sum(w * w, axis=0))[::-1], ppca_col_norms=lam[:latent_dim] - s2,
        max_angle=float(np.max(subspace_angles(w, u))),
        test_log_lik_per_row=gaussian_log_lik(x_test, ref_mean, cov) / len(x_test),
        sklearn_noise_var=float(sk.noise_variance_), sklearn_log_lik=float(sk.score(x) * n),
        sklearn_max_angle=float(np.max(subspace_angles(sk.components_.T, u))),
        pca_recon_error=float(lam[latent_dim:].sum()),
        min_eigengap=float(np.min(1.0 - lam[1:latent_dim + 1] / lam[:latent_dim])),
        W=w, eigvecs=u, **out)
