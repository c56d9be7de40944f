r"""Generative classifiers — "the artist": model ``p(x, y) = p(x | y) p(y)`` and classify by Bayes' rule,

.. math::

    p(y = k \mid x) = \frac{p(x \mid y = k)\, p(y = k)}{\sum_j p(x \mid y = j)\, p(y = j)} .

Every estimate below is a posterior estimate under a conjugate prior, the same prior-as-regulariser
story as L1/L2: Laplace smoothing is the posterior mean of a Beta(α, α) prior, covariance shrinkage
the posterior mode of an Inverse-Wishart prior. The class prior ``p(y)`` is the empirical class
frequency (its maximum-likelihood estimate) unless one is given; because the model keeps ``p(y)``
separate, a new base rate is one argument away (``predict_proba(..., class_prior=)``), and
``adapt_prior`` / ``em_prior`` (in ``bayesjax/label_shift.py``, re-exported here) apply the same
correction to any classifier's probabilities (Saerens, Latinne & Decaestecker 2002).

``clf.fit(x, y)`` returns a NamedTuple of arrays, so fits are ``jit``- and ``vmap``-able (pass
``num_classes`` to the classifier when ``y`` is traced: the class count must be static). Inputs
are checked when they are concrete; inside ``vmap`` they are not (check the data once, outside).

Example::

    clf = bj.classifiers.BernoulliNB(alpha=1.0)
    fitted = clf.fit(x_train, y_train)                       # x binary (n, d), y ints 0..K-1
    probs = clf.predict_proba(fitted, x_test)                # (n, K)
    shifted = clf.predict_proba(fitted, x_test, class_prior=jnp.array([0.1, 0.9]))
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from bayesjax._checks import (
    _is_concrete,
    finite_array,
    one_of,
    positive_int,
    positive_scalar,
    probability_vector,
)
from bayesjax.label_shift import adapt_prior, em_prior  # re-exported: bj.classifiers.adapt_prior

__all__ = ["BernoulliNB", "GaussianNB", "GaussianClassifier", "InverseWishart", "adapt_prior",
           "em_prior", "BernoulliNBFit", "GaussianNBFit", "GaussianFit"]


# ------------------------------------------------------------------------------- validation
def _labels(y, num_classes: int | None, owner: str) -> tuple[jax.Array, int]:
    """Integer labels in 0..K−1 and K; every class must occur (checked on concrete input)."""
    if not _is_concrete(y):
        if num_classes is None:
            raise ValueError(f"{owner}: pass num_classes= to the classifier when fitting inside "
                             "jit/vmap (the class count must be static)")
        return y, num_classes
    arr = np.asarray(y)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{owner}: y must be a non-empty 1-D array of labels, got shape "
                         f"{arr.shape}")
    if not (np.issubdtype(arr.dtype, np.integer) or (np.issubdtype(arr.dtype, np.floating)
                                                     and np.all(np.isfinite(arr))
                                                     and np.all(arr == np.round(arr)))):
        raise ValueError(f"{owner}: y must hold integer class labels 0..K-1, got dtype "
                         f"{arr.dtype} with values like {arr[:3].tolist()}")
    k = int(arr.max()) + 1 if num_classes is None else num_classes
    if arr.min() < 0 or arr.max() >= k:
        raise ValueError(f"{owner}: y has labels outside 0..{k - 1} (min {arr.min()}, max "
                         f"{arr.max()})")
    counts = np.bincount(arr.astype(np.int64), minlength=k)
    if np.any(counts == 0):
        raise ValueError(f"{owner}: class(es) {np.flatnonzero(counts == 0).tolist()} have no "
                         "training points (an empty class has no p(x|y) to estimate)")
    return jnp.asarray(arr.astype(np.int32)), k


def _inputs(x, owner: str, n: int | None = None) -> jax.Array:
    x = finite_array(f"{owner}: x", x)
    if x.ndim != 2:
        raise ValueError(f"{owner}: x must be a 2-D array (n, d), got shape {tuple(x.shape)}")
    if n is not None and x.shape[0] != n:
        raise ValueError(f"{owner}: x has {x.shape[0]} rows but y has {n} labels")
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.float32)


def _one_hot(y, k, dtype):
    return jax.nn.one_hot(y, k, dtype=dtype)


def _log_class_prior(counts):
    return jnp.log(counts) - jnp.log(jnp.sum(counts))


def _posterior(log_joint, class_prior, log_prior, owner):
    """Bayes' rule on (n, K) log joints; ``class_prior`` replaces the fitted p(y)."""
    if class_prior is not None:
        k = log_joint.shape[-1]
        class_prior = probability_vector("class_prior", class_prior, k, owner=owner)
        log_joint = log_joint - log_prior[None] + jnp.log(class_prior).astype(log_joint.dtype)[None]
    return jax.nn.softmax(log_joint, axis=-1)


# ------------------------------------------------------------------------------ naive Bayes
class BernoulliNBFit(NamedTuple):
    """``log_class_prior`` (K,); ``log_p``, ``log_1mp`` (K, d): log θ_kj and log(1 − θ_kj) of the
    posterior-mean feature probabilities."""

    log_class_prior: jax.Array
    log_p: jax.Array
    log_1mp: jax.Array


@dataclasses.dataclass(frozen=True)
class BernoulliNB:
    r"""Naive Bayes for binary features: ``x_j | y = k ~ Bernoulli(θ_kj)`` independently.

    With a Beta(α, α) prior on each θ_kj the posterior is Beta(α + n_kj, α + n_k − n_kj) and its
    mean ``θ̂_kj = (n_kj + α) / (n_k + 2α)`` is what the classifier uses — Laplace smoothing at
    α = 1, the MLE (zero counts → probability 0) as α → 0. The same probabilities as
    scikit-learn's ``BernoulliNB(alpha=α)`` (empirical class prior).

    Args:
      alpha: α > 0, the Beta prior's pseudo-count per outcome.
      num_classes: K, required only when fitting inside ``jit``/``vmap``.
    """

    alpha: float = 1.0
    num_classes: int | None = None

    def __post_init__(self):
        positive_scalar("alpha", self.alpha, owner="BernoulliNB")
        positive_int("num_classes", self.num_classes, owner="BernoulliNB", allow_none=True)

    def fit(self, x, y) -> BernoulliNBFit:
        """Posterior-mean feature probabilities and the empirical class prior from binary
        ``x`` (n, d) in {0, 1} and labels ``y`` (n,) in 0..K−1."""
        y, k = _labels(y, self.num_classes, "BernoulliNB.fit")
        x = _inputs(x, "BernoulliNB.fit", y.shape[0])
        if _is_concrete(x) and not np.all(np.isin(np.asarray(x), (0.0, 1.0))):
            raise ValueError("BernoulliNB.fit: x must be binary (0/1); threshold your features "
                             "first (e.g. x > 0.5)")
        onehot = _one_hot(y, k, x.dtype)
        n_k = onehot.sum(0)
        n_kj = onehot.T @ x
        a = jnp.asarray(self.alpha, x.dtype)
        log_den = jnp.log(n_k + 2 * a)[:, None]
        return BernoulliNBFit(_log_class_prior(n_k), jnp.log(n_kj + a) - log_den,
                              jnp.log(n_k[:, None] - n_kj + a) - log_den)

    def log_joint(self, fitted: BernoulliNBFit, x) -> jax.Array:
        """``log p(x, y = k)`` (n, K), nats."""
        x = _inputs(x, "BernoulliNB.log_joint")
        return x @ fitted.log_p.T + (1 - x) @ fitted.log_1mp.T + fitted.log_class_prior[None]

    def predict_proba(self, fitted: BernoulliNBFit, x, class_prior=None) -> jax.Array:
        """``p(y = k | x)`` (n, K); ``class_prior`` (K,) replaces p(y) by Bayes' rule."""
        return _posterior(self.log_joint(fitted, x), class_prior, fitted.log_class_prior,
                          "BernoulliNB.predict_proba")


class GaussianNBFit(NamedTuple):
    """``log_class_prior`` (K,), ``mean`` and ``var`` (K, d) of the per-class, per-feature
    Normals."""

    log_class_prior: jax.Array
    mean: jax.Array
    var: jax.Array


@dataclasses.dataclass(frozen=True)
class GaussianNB:
    r"""Naive Bayes for real features: ``x_j | y = k ~ N(μ_kj, σ²_kj)`` independently.

    μ_kj is the class mean (MLE; the posterior mean under a flat prior). σ²_kj is the posterior
    mean under an Inverse-Gamma(a, b) prior with the mean fixed at μ_kj:
    ``σ̂² = (b + S_kj/2) / (a + n_k/2 − 1)``, ``S_kj = Σ_i (x_ij − μ_kj)²`` — the prior adds
    ``2b`` to the sum of squares and ``2a − 2`` points, which keeps a constant feature's variance
    positive. ``var_prior=None`` is the MLE ``S_kj / n_k`` (an error if any variance is 0).

    Args:
      var_prior: ``(a, b)`` with a > 1 (so the posterior mean exists for every n), b > 0; or None.
      num_classes: K, required only when fitting inside ``jit``/``vmap``.
    """

    var_prior: tuple[float, float] | None = (2.0, 0.01)
    num_classes: int | None = None

    def __post_init__(self):
        if self.var_prior is not None:
            if len(self.var_prior) != 2:
                raise ValueError(f"GaussianNB: var_prior must be (a, b), got {self.var_prior!r}")
            a, b = self.var_prior
            positive_scalar("var_prior b", b, owner="GaussianNB")
            if not float(a) > 1.0:
                raise ValueError(f"GaussianNB: var_prior a must be > 1, got {a}")
        positive_int("num_classes", self.num_classes, owner="GaussianNB", allow_none=True)

    def fit(self, x, y) -> GaussianNBFit:
        y, k = _labels(y, self.num_classes, "GaussianNB.fit")
        x = _inputs(x, "GaussianNB.fit", y.shape[0])
        onehot = _one_hot(y, k, x.dtype)
        n_k = onehot.sum(0)
        mean = (onehot.T @ x) / n_k[:, None]
        ss = onehot.T @ jnp.square(x) - n_k[:, None] * jnp.square(mean)
        ss = jnp.maximum(ss, 0.0)
        if self.var_prior is None:
            var = ss / n_k[:, None]
            if _is_concrete(var) and np.any(np.asarray(var) <= 0):
                kk, j = np.argwhere(np.asarray(var) <= 0)[0]
                raise ValueError(f"GaussianNB.fit: feature {j} is constant in class {kk}: its "
                                 "MLE variance is 0; use a var_prior (e.g. (2.0, 0.01))")
        else:
            a, b = self.var_prior
            var = (b + ss / 2) / (a + n_k[:, None] / 2 - 1)
        return GaussianNBFit(_log_class_prior(n_k), mean, var)

    def log_joint(self, fitted: GaussianNBFit, x) -> jax.Array:
        x = _inputs(x, "GaussianNB.log_joint")
        z = jnp.square(x[:, None, :] - fitted.mean[None]) / fitted.var[None]
        ll = -0.5 * jnp.sum(z + jnp.log(2 * jnp.pi * fitted.var)[None], axis=-1)
        return ll + fitted.log_class_prior[None]

    def predict_proba(self, fitted: GaussianNBFit, x, class_prior=None) -> jax.Array:
        return _posterior(self.log_joint(fitted, x), class_prior, fitted.log_class_prior,
                          "GaussianNB.predict_proba")


# --------------------------------------------------------------------- full-covariance Gaussian
@dataclasses.dataclass(frozen=True)
class InverseWishart:
    r"""Inverse-Wishart(ν, Ψ) prior on a d × d covariance, ``Ψ = scale · I`` (or a matrix).

    Given a class's scatter matrix ``S = Σ_i (x_i − x̄)(x_i − x̄)ᵀ`` of n points (mean fixed at
    x̄), the posterior is IW(ν + n, Ψ + S) and its mode ``(Ψ + S) / (ν + n + d + 1)`` is the
    shrinkage estimate used — positive definite for every n, also n ≤ d.
    """

    df: float
    scale: float | np.ndarray = 1.0

    def __post_init__(self):
        positive_scalar("df", self.df, owner="InverseWishart")
        if np.ndim(self.scale) == 0:
            positive_scalar("scale", self.scale, owner="InverseWishart")

    def psi(self, d: int, dtype) -> jax.Array:
        if np.ndim(self.scale) == 0:
            return jnp.asarray(self.scale, dtype) * jnp.eye(d, dtype=dtype)
        psi = np.asarray(self.scale, np.float64)
        if psi.shape != (d, d) or np.min(np.linalg.eigvalsh((psi + psi.T) / 2)) <= 0:
            raise ValueError(f"InverseWishart: scale must be a positive definite ({d}, {d}) "
                             f"matrix, got shape {psi.shape}")
        return jnp.asarray(psi, dtype)


class GaussianFit(NamedTuple):
    """``log_class_prior`` (K,), ``mean`` (K, d), ``chol`` (K, d, d) lower Cholesky factors of the
    class covariances (the same factor K times for ``covariance="shared"``)."""

    log_class_prior: jax.Array
    mean: jax.Array
    chol: jax.Array


COVARIANCES = ("full", "shared")


@dataclasses.dataclass(frozen=True)
class GaussianClassifier:
    r"""``x | y = k ~ N(μ_k, Σ_k)`` with a full covariance: quadratic (``"full"``, one Σ_k per
    class) or linear (``"shared"``, one pooled Σ) discriminant analysis.

    ``prior=None`` is the MLE ``Σ̂_k = S_k / n_k`` — d(d+1)/2 free entries per class, singular
    whenever n_k ≤ d (or a feature is constant): ``fit`` then raises and names the fix. An
    ``InverseWishart`` prior gives the posterior-mode (shrinkage) estimate instead.

    Args:
      covariance: ``"full"`` or ``"shared"``.
      prior: ``None`` (MLE) or an ``InverseWishart``.
      num_classes: K, required only when fitting inside ``jit``/``vmap``.
    """

    covariance: str = "full"
    prior: InverseWishart | None = None
    num_classes: int | None = None

    def __post_init__(self):
        one_of("covariance", self.covariance, COVARIANCES, owner="GaussianClassifier")
        if self.prior is not None and not isinstance(self.prior, InverseWishart):
            raise ValueError(f"GaussianClassifier: prior must be None or an InverseWishart, got "
                             f"{self.prior!r}")
        positive_int("num_classes", self.num_classes, owner="GaussianClassifier",
                     allow_none=True)

    @staticmethod
    def num_parameters(d: int, num_classes: int, covariance: str = "full") -> int:
        """Free parameters: K means of d, d(d+1)/2 covariance entries (per class for ``"full"``),
        K − 1 class probabilities."""
        cov = d * (d + 1) // 2
        return num_classes * d + (num_classes if covariance == "full" else 1) * cov + \
            num_classes - 1

    def fit(self, x, y) -> GaussianFit:
        y, k = _labels(y, self.num_classes, "GaussianClassifier.fit")
        x = _inputs(x, "GaussianClassifier.fit", y.shape[0])
        d = x.shape[1]
        onehot = _one_hot(y, k, x.dtype)
        n_k = onehot.sum(0)
        mean = (onehot.T @ x) / n_k[:, None]
        centred = x - mean[y]
        scatter = jnp.einsum("nk,ni,nj->kij", onehot, centred, centred)
        if self.covariance == "shared":
            scatter, n_eff = scatter.sum(0, keepdims=True), jnp.sum(n_k)[None]
        else:
            n_eff = n_k
        if self.prior is None:
            cov = scatter / n_eff[:, None, None]
        else:
            psi = self.prior.psi(d, x.dtype)
            cov = (psi[None] + scatter) / (self.prior.df + n_eff + d + 1)[:, None, None]
        if self.prior is None and _is_concrete(cov):
            eig = np.linalg.eigvalsh(np.asarray(cov, np.float64))
            tol = d * np.finfo(np.asarray(cov).dtype).eps * np.maximum(eig.max(-1), 1e-300)
            bad = np.flatnonzero(eig.min(-1) <= tol)
            if bad.size:
                c = int(bad[0])
                who = "the pooled covariance" if self.covariance == "shared" else \
                    f"class {c}'s covariance ({int(np.asarray(n_k)[c])} points in d = {d})"
                raise ValueError(
                    f"GaussianClassifier.fit: the MLE of {who} is singular (smallest eigenvalue "
                    f"{eig[c].min():.3g}): a full covariance has d(d+1)/2 = {d * (d + 1) // 2} "
                    "entries to estimate. Use a prior, e.g. prior=bj.classifiers.InverseWishart("
                    f"df={d + 2}, scale=1.0), for the posterior (shrinkage) estimate")
        chol = jnp.linalg.cholesky(cov)
        if self.covariance == "shared":
            chol = jnp.broadcast_to(chol, (k, d, d))
        return GaussianFit(_log_class_prior(n_k), mean, chol)

    def log_joint(self, fitted: GaussianFit, x) -> jax.Array:
        x = _inputs(x, "GaussianClassifier.log_joint")
        d = x.shape[1]

        def one_class(mu, chol):
            z = jax.scipy.linalg.solve_triangular(chol, (x - mu[None]).T, lower=True)
            logdet = 2 * jnp.sum(jnp.log(jnp.diagonal(chol)))
            return -0.5 * (jnp.sum(jnp.square(z), 0) + logdet + d * jnp.log(2 * jnp.pi))

        return jax.vmap(one_class, out_axes=1)(fitted.mean, fitted.chol) + \
            fitted.log_class_prior[None]

    def predict_proba(self, fitted: GaussianFit, x, class_prior=None) -> jax.Array:
        return _posterior(self.log_joint(fitted, x), class_prior, fitted.log_class_prior,
                          "GaussianClassifier.predict_proba")
