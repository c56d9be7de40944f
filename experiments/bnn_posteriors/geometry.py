r"""Why the Laplace covariance is a poor NUTS mass matrix on the regression posterior, measured.

For an inverse mass ``M⁻¹ = L Lᵀ`` the leapfrog integrator runs in the coordinates ``z = L⁻¹θ``, where
the kinetic energy is isotropic. There the posterior's covariance is ``L⁻¹ C L⁻ᵀ`` (eigenvalues of
``M C``) and the potential's curvature at a point θ is ``Lᵀ H(θ) L`` (eigenvalues of ``M⁻¹ H(θ)``,
H the exact Hessian of ``U = −log_joint``). The leapfrog step is stable only for ``ε ω < 2`` along every
direction of frequency ``ω² = λ_max(M⁻¹ H(θ))``, and a trajectory must cover the widest standard
deviation ``√λ_max(M C)`` to decorrelate a draw: the number of steps per effectively independent
draw grows like ``√κ``, ``κ = λ_max(M C) · λ_max(M⁻¹ H)``. For a Gaussian posterior and
``M⁻¹ = C = H⁻¹`` every eigenvalue is 1 and κ = 1; a mass matrix helps exactly as much as it lowers κ
*along the draws*, not at the mode.

``mass_geometry`` evaluates this for the adapted diagonal mass, the Laplace covariances (GGN and
exact Hessian at the MAP), and the draws' own covariance (the best a dense adaptation could
learn), with H(θ) at ``num_points`` draws; and two measures of how non-Gaussian the mode is: the
Laplace-whitened spread of the draws and their mean Mahalanobis distance ``(θ − θ*)ᵀ P (θ − θ*)``
(P for a Gaussian with precision P).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree


def whitened_eigenvalues(draws, precision):
    """Eigenvalues of ``Lᵀ C L`` (``P = L Lᵀ``, C the covariance of the (S, P) draws): all ≈ 1
    when the draws come from ``N(·, P⁻¹)``; ≫ 1 where the posterior is wider than the Gaussian."""
    chol = np.linalg.cholesky(np.asarray(precision, np.float64))
    cov = np.cov(np.asarray(draws, np.float64), rowvar=False)
    return np.linalg.eigvalsh(chol.T @ cov @ chol)


def _hessians(post, mode, points):
    """Exact Hessians of ``U(θ) = −log_joint(θ)`` at the (K, P) flat points, float64 on the host."""
    _, unravel = ravel_pytree(mode)
    hess = jax.jit(jax.vmap(jax.hessian(lambda t: -post.log_joint(unravel(t)))))
    return np.asarray(hess(jnp.asarray(points, jnp.result_type(*jax.tree.leaves(mode)))),
                      np.float64)


def _sym_sqrt(m):
    """Symmetric square root and inverse square root of a symmetric PSD matrix; eigenvalues below
    1e-12 of the largest (rounding, or a covariance estimated from few draws) are raised to it."""
    w, v = np.linalg.eigh(0.5 * (m + m.T))
    w = np.maximum(w, 1e-12 * w.max())
    return (v * np.sqrt(w)) @ v.T, (v / np.sqrt(w)) @ v.T


def _frame(inv_mass, cov, hessian_map, hessians):
    """Eigen-summary of one metric: widest std of the draws, stiffest frequency at each point."""
    inv_mass = np.asarray(inv_mass, np.float64)
    if inv_mass.ndim == 1:
        root, inv_root = np.diag(np.sqrt(inv_mass)), np.diag(1.0 / np.sqrt(inv_mass))
    else:
        root, inv_root = _sym_sqrt(inv_mass)
    widest = float(np.linalg.eigvalsh(inv_root @ cov @ inv_root).max())      # λ_max(M C)
    stiff = np.array([np.linalg.eigvalsh(root @ h @ root).max() for h in hessians])
    stiff_at_mode = float(np.linalg.eigvalsh(root @ hessian_map @ root).max())
    return {"widest_std": float(np.sqrt(widest)),
            "max_step_at_map": float(2.0 / np.sqrt(stiff_at_mode)),
            "max_step_draws_median": float(2.0 / np.sqrt(np.median(stiff))),
            "max_step_draws_min": float(2.0 / np.sqrt(stiff.max())),
            "sqrt_kappa_median": float(np.sqrt(widest * np.median(stiff))),
            "steps_to_cross": float(np.sqrt(widest) / (2.0 / np.sqrt(np.median(stiff))))}


def mass_geometry(post, mode, draws, *, inv_mass_diag, precision_ggn, num_points: int = 64) -> dict:
    """The step-size and width budget of NUTS under four inverse mass matrices.

    Args:
      post: the regression ``Posterior``.
      mode: the MAP parameters (pytree).
      draws: (S, P) NUTS draws around that mode, ``ravel_pytree`` order.
      inv_mass_diag: (P,) the adapted diagonal ``M⁻¹`` of that run.
      precision_ggn: (P, P) the GGN Laplace posterior precision at the MAP. The exact-Hessian one,
        ``H(θ*)`` (what ``bj.laplace(..., curvature="hessian")`` builds), is computed here, so that
        an indefinite one is reported (its smallest eigenvalue) rather than refused.
      num_points: draws (evenly spaced) at which the exact Hessian is evaluated.

    Returns:
      ``{"frames": {metric: _frame dict}, "spectra": {name: sorted eigenvalues of the covariance},
      "hessian_min_eig_at_map", "mahalanobis_mean": {"ggn", "hessian"}, "whitened_range": {...},
      "num_params"}``; steps and widths in units of θ's Euclidean norm after the metric's whitening.
    """
    theta_map = np.asarray(ravel_pytree(mode)[0], np.float64)
    draws = np.asarray(draws, np.float64)
    cov = np.cov(draws, rowvar=False)
    pick = np.linspace(0, draws.shape[0] - 1, num_points).round().astype(int)
    hessians = _hessians(post, mode, np.concatenate([theta_map[None], draws[pick]]))
    prec = {"ggn": np.asarray(precision_ggn, np.float64),
            "hessian": hessians[0]}
    prec = {k: 0.5 * (p + p.T) for k, p in prec.items()}      # float32 rounding: not symmetric
    hess_min = float(np.linalg.eigvalsh(prec["hessian"]).min())
    inv = lambda p: 0.5 * (np.linalg.inv(p) + np.linalg.inv(p).T)  # noqa: E731
    covs = {"Laplace GGN": inv(prec["ggn"])}
    if hess_min > 0:
        covs["Laplace Hessian"] = inv(prec["hessian"])
    metrics = {"adapted diag": np.asarray(inv_mass_diag, np.float64), **covs,
               "draws' covariance": cov}
    frames = {k: _frame(m, cov, hessians[0], hessians[1:]) for k, m in metrics.items()}
    spectra = {"NUTS draws": np.sort(np.linalg.eigvalsh(cov))[::-1],
               **{k: np.sort(np.linalg.eigvalsh(c))[::-1] for k, c in covs.items()}}
    dev = draws - theta_map
    maha = {k: float(np.mean(np.einsum("sp,pq,sq->s", dev, p, dev))) for k, p in prec.items()}
    whitened = {k: whitened_eigenvalues(draws, p)[[0, -1]].tolist() for k, p in prec.items()
                if k == "ggn" or hess_min > 0}
    stiff_draws = np.array([np.linalg.eigvalsh(h).max() for h in hessians[1:]])
    return {"frames": frames, "spectra": spectra, "hessian_min_eig_at_map": hess_min,
            "hessian_max_eig_at_map": float(np.linalg.eigvalsh(hessians[0]).max()),
            "hessian_max_eig_draws": (float(np.min(stiff_draws)), float(np.median(stiff_draws)),
                                      float(np.max(stiff_draws))),
            "mahalanobis_mean": maha, "whitened_range": whitened,
            "num_params": int(theta_map.size), "num_points": int(num_points)}
