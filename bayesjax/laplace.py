r"""The Laplace approximation: a Gaussian ``N(θ*, P⁻¹)`` at a mode θ* of the log posterior.

With ``H`` the curvature of the negative log-likelihood at θ* (``bayesjax.curvature``: GGN or exact
Hessian; ``full``, ``diag`` or ``kfac``), a Gaussian prior ``N(m₀, P₀⁻¹)`` and temperature T, the
posterior precision is ``P = H/T + P₀`` and

.. math::

    \log p(D) \approx \log p(D\mid\theta^*)/T - \tfrac12 (\theta^*-m_0)^\top P_0 (\theta^*-m_0)
        - \tfrac12 \left(\log\det P - \log\det P_0\right)

(``log_marginal_likelihood``, in nats, the same convention as laplace-torch). The **basin mass**
``log_basin_mass = log p(D|θ*)/T + log p(θ*) + (P/2) log 2π − ½ log det P`` is the Laplace integral
of ``exp(log_joint)`` over the basin around θ*; with a proper Gaussian prior it equals the evidence.

Priors: Gaussian leaves give ``P₀ = 1/s²``; flat leaves give ``P₀ = 0`` (basin mass and predictive
work if ``H`` is positive definite there, the evidence needs ``prior_precision=``). A Laplace (L1)
prior is refused: its log density has zero curvature away from its mean and a kink at it, so a
second-order expansion says nothing about it and the evidence would be meaningless.

Cheap re-evaluation: a new scalar prior precision ``c`` costs O(P) given the curvature's eigenvalues
``λᵢ``: ``log det P = Σ log(λᵢ + c)``. For ``diag`` they are the diagonal; for ``kfac`` the products
``αᵢ γⱼ`` of each ``A ⊗ G`` block's factor eigenvalues; for ``full`` the build factorises ``P`` by
Cholesky only (one evidence needs no more) and the eigenvalues come from the low-rank factor or one
``eigvalsh`` per grid or optimiser call (``bayesjax.full_curvature``, which also explains how the
float32 log-det stays within a millinat of float64). The evidence as a function of that scalar
(grid, optimisation) is ``bayesjax.evidence``; ``optimize_prior_precision`` is re-exported here.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import register_pytree_node_class

from bayesjax import curvature as _curv
from bayesjax import evidence as _evidence
from bayesjax import full_curvature as _full
from bayesjax import kfac as _kf
from bayesjax import likelihoods as _lik
from bayesjax import memory as _mem
from bayesjax import predictive as _pred
from bayesjax import priors as _priors
from bayesjax import subnetwork as _sub
from bayesjax._checks import one_of, positive_int
from bayesjax.evidence import optimize_prior_precision
from bayesjax.posterior import Posterior

__all__ = ["LaplaceResult", "laplace", "optimize_prior_precision"]

STRUCTURES = ("full", "diag", "kfac")
CURVATURES = ("ggn", "hessian")

_ggn = jax.jit(_curv.ggn, static_argnames=("view", "diagonal"))
_kfac = jax.jit(_kf.kfac_curvature, static_argnames=("layers",))
_linear_diag = jax.jit(_kf.linear_diag, static_argnames=("view",))


_flatten = jax.jit(lambda view, params: view.flatten(params), static_argnums=0)


def _refuse(path, prior):
    return (f"laplace: parameter {path!r} has a {prior!r} prior; the Laplace approximation needs "
            "Gaussian (or flat) priors: an L1 prior has zero curvature away from its mean and a kink "
            "at it, so the evidence would be meaningless. Use a Gaussian prior, or "
            "laplace(..., subset=...) over Gaussian-prior parameters only")


@register_pytree_node_class
class LaplaceResult:
    """A Laplace approximation; build it with ``bayesjax.laplace``. A JAX pytree: the Posterior
    and the arrays are its children; the flat view (Python ints that slice θ), ``structure``,
    ``curvature`` and the KFAC index maps are static aux data, so it can cross ``jax.jit``.

    Attributes:
      mean: the parameter pytree θ* it was built at.
      structure, curvature, subset_paths: how it was built.
      prior_precision: (P,) prior precision of the approximated parameters (1/scale², per unit²).
      noise: the Gaussian likelihood's σ (regression), else None.
    """

    def __init__(self, post, mean, theta, prior_precision, prior_mean, curv, noise_scale,
                 view, structure, curvature, layers):
        self.post, self.mean, self.theta = post, mean, theta
        self.prior_precision, self.prior_mean = prior_precision, prior_mean
        self.curv = curv                      # full: FullCurvature; diag: h; kfac: [(α, Qa, γ, Qg)]
        self.noise_scale = noise_scale        # multiplies the curvature (σ_fit² / σ²)
        self.view, self.structure, self.curvature, self.layers = view, structure, curvature, layers

    def tree_flatten(self):
        children = (self.post, self.mean, self.theta, self.prior_precision, self.prior_mean,
                    self.curv, self.noise_scale)
        return children, (self.view, self.structure, self.curvature, self.layers)

    @classmethod
    def tree_unflatten(cls, aux, children):
        return cls(*children, *aux)

    def _replace(self, **kw):
        fields = dict(post=self.post, mean=self.mean, theta=self.theta,
                      prior_precision=self.prior_precision, prior_mean=self.prior_mean,
                      curv=self.curv, noise_scale=self.noise_scale, view=self.view,
                      structure=self.structure, curvature=self.curvature, layers=self.layers)
        fields.update(kw)
        if self.structure == "full" and ("prior_precision" in kw or "noise_scale" in kw):
            # the cached factorisation belongs to the old prior and noise
            fields["curv"] = fields["curv"]._replace(chol=None, logdet=None)
        return LaplaceResult(**fields)

    @property
    def subset_paths(self) -> tuple:
        return self.view.paths

    @property
    def num_params(self) -> int:
        return self.view.size

    @property
    def noise(self):
        lik = self.post.likelihood
        return lik.noise if isinstance(lik, _lik.Gaussian) else None

    def __repr__(self):
        return (f"LaplaceResult(structure={self.structure!r}, curvature={self.curvature!r}, "
                f"P={self.num_params}, subset={list(self.subset_paths)[:4]}...)")

    # ----------------------------------------------------------------- precision algebra
    def _prec(self, prior_precision):
        """(P,) prior precision vector from None / scalar / vector, and the scalar if uniform."""
        if prior_precision is None:
            p0 = self.prior_precision
        else:
            p0 = jnp.asarray(prior_precision, self.theta.dtype)
            if p0.ndim == 0:
                return jnp.full_like(self.theta, p0), p0
            if p0.shape != self.theta.shape:
                raise ValueError(f"prior_precision must be a scalar or have shape "
                                 f"({self.num_params},), got {p0.shape}")
        if not isinstance(p0, jax.core.Tracer):
            host = np.asarray(p0)                 # one copy, no device dispatches
            if (host == host[0]).all():
                return p0, host[0]
        return p0, None

    def _kfac_blocks(self, p0):
        """``[(λ, Q_A, Q_G)]`` per block: ``λ = s·αγᵀ + c``, the eigenvalues of its precision."""
        return _kf.block_eigenvalues(self.layers, self.curv, self.noise_scale, p0)

    def _curvature_eigenvalues(self):
        """Eigenvalues of the likelihood curvature before the noise rescaling (P,): the O(P)
        ingredient of the prior grid and the evidence optimiser."""
        if self.structure == "diag":
            return self.curv
        if self.structure == "kfac":
            return jnp.concatenate([jnp.outer(alpha, gamma).reshape(-1)
                                    for alpha, _, gamma, _ in self.curv])
        return _full.eigenvalues(self.curv, psd=self.curvature == "ggn")

    def _eig_posterior(self, p0, c):
        """Eigenvalues of the posterior precision (diag and kfac; for logdet and definiteness)."""
        s = self.noise_scale
        if self.structure == "diag":
            return _diag_posterior(s, self.curv, p0)
        if self.structure == "kfac":
            return jnp.concatenate([lam.reshape(-1) for lam, _, _ in self._kfac_blocks(p0)])
        if c is not None:
            return s * self._curvature_eigenvalues() + c
        raise ValueError("_eig_posterior: a full curvature with a non-uniform prior has no O(P) "
                         "eigenvalues; use _full_factor")

    def _full_factor(self, p0, what: str, need_chol: bool = False) -> _full.FullCurvature:
        """The full curvature factorised at prior ``p0`` (the cached log-det when it is this
        result's own prior; the Cholesky factor, for sampling and the predictive, made on demand);
        raises if the posterior precision is not positive definite."""
        fc = self.curv
        own = p0 is self.prior_precision and fc.logdet is not None
        if not own or (need_chol and fc.chol is None):
            proper = not isinstance(p0, jax.core.Tracer) and bool((np.asarray(p0) > 0).all())
            fc = _full.factorise(self.post, self.mean, self.view, _full.gram(fc), fc.factor,
                                 fc.eig, p0, self.noise_scale, proper, self._refinable)
        if not isinstance(fc.logdet, jax.core.Tracer) and not np.isfinite(float(fc.logdet)):
            self._check_pd(jnp.linalg.eigvalsh(self.noise_scale * _full.gram(fc)
                                               + jnp.diag(p0)), what)
        return fc

    @property
    def _refinable(self) -> bool:
        """A full GGN Gram matrix (not low-rank, not clipped): its log-det is refined from the data."""
        return (self.structure == "full" and self.curvature == "ggn" and self.curv.factor is None
                and self.curv.eig is None)

    def _assert_pd(self, what: str):
        p0, c = self._prec(None)
        if self.structure == "full":
            self._full_factor(p0, what)
        else:
            self._check_pd(_sum_log_and_min(self._eig_posterior(p0, c))[1], what)

    def _check_pd(self, eig, what: str):
        if isinstance(eig, jax.core.Tracer):
            return
        smallest = float(np.min(np.asarray(eig)))
        if not smallest > 0:
            raise ValueError(
                f"laplace: the posterior precision {what} is not positive definite (smallest "
                f"eigenvalue {smallest:.4g}); the point is not a strict mode"
                + (" for the exact Hessian: use curvature='ggn', or clip=True"
                   if self.curvature == "hessian" else "; give a proper prior (prior_precision>0)"))

    def _logdet(self, prior_precision=None, what="at the posterior's prior"):
        p0, c = self._prec(prior_precision)
        if self.structure == "full":
            if c is None or self.curv.eig is None or prior_precision is None:
                return self._full_factor(p0, what).logdet, p0
            # a uniform prior and known eigenvalues (low-rank route): O(P) and accurate
        logdet, smallest = _sum_log_and_min(self._eig_posterior(p0, c))
        self._check_pd(smallest, what)
        return logdet, p0

    # ----------------------------------------------------------------- evidence and mass
    def _log_lik(self, noise):
        lik = self.post.likelihood
        if noise is None:
            return _tempered_log_lik(self.post, self.mean), 1.0
        if not isinstance(lik, _lik.Gaussian):
            raise ValueError("log_marginal_likelihood: noise= applies to a Gaussian likelihood")
        new = _lik.Gaussian(noise)
        ll = new.log_prob(self.post.predict(self.mean), self.post.y)
        return ll / self.post.temperature, jnp.square(lik.noise / new.noise)

    def log_marginal_likelihood(self, prior_precision=None, noise=None) -> jax.Array:
        """Laplace estimate of ``log p(D)`` in nats.

        Args:
          prior_precision: ``None`` (the posterior's prior), a scalar (the same precision for
            every approximated parameter) or a (P,) vector. Must be > 0: the evidence needs a
            proper prior.
          noise: a new likelihood σ (Gaussian likelihood only); the curvature is rescaled by
            ``σ_old²/σ²``, exact for the GGN and the Hessian of a Gaussian likelihood.
        """
        ll, ratio = self._log_lik(noise)
        lap = self if ratio == 1.0 else self._replace(
            post=self.post.replace(likelihood=_lik.Gaussian(noise)),
            noise_scale=self.noise_scale * ratio)   # noise_scale·H is the GGN of lap.post
        p0, _ = lap._prec(prior_precision)
        if not isinstance(p0, jax.core.Tracer) and not (host := np.asarray(p0) > 0).all():
            flat = [p for p, off, shape in zip(self.view.paths, self.view.offsets,
                                                self.view.shapes, strict=True)
                    if not host[off:off + int(np.prod(shape))].all()]
            raise ValueError(f"log_marginal_likelihood: the prior of {flat} is flat (precision 0),"
                             " so the evidence is undefined; pass prior_precision > 0")
        logdet, _ = lap._logdet(prior_precision, "at this prior precision")
        return _evidence.laplace_evidence(ll, p0, self.theta - self.prior_mean, logdet)

    def log_marginal_likelihood_grid(self, prior_precisions) -> jax.Array:
        """``log_marginal_likelihood(c)`` for each scalar ``c`` of a 1-D array, O(P) each."""
        host = np.asarray(prior_precisions, dtype=self.theta.dtype)
        if host.ndim != 1 or not (host > 0).all():
            raise ValueError("prior_precisions must be a 1-D array of positive numbers")
        cs = jnp.asarray(host)
        values, smallest = _evidence.evidence_grid(self, cs)
        c = host.min()                       # definiteness is monotone in c
        self._check_pd(np.asarray(smallest) + c, f"at prior precision {float(c):.4g}")
        return values

    @property
    def log_basin_mass(self) -> jax.Array:
        """``log p(D|θ*)/T + log p(θ*) + (P/2) log 2π − ½ log det P``: the log of the Laplace mass
        of the basin around the mode (flat parameters contribute no prior term)."""
        logdet, p0 = self._logdet()
        ll, _ = self._log_lik(None)
        # = the evidence formula, plus ½ log 2π for each flat parameter (no prior density term)
        num_flat = jnp.sum(jnp.where(p0 > 0, jnp.zeros_like(p0), jnp.ones_like(p0)))
        return (_evidence.laplace_evidence(ll, p0, self.theta - self.prior_mean, logdet)
                + 0.5 * math.log(2 * math.pi) * num_flat)

    def posterior_precision(self) -> jax.Array:
        """The posterior precision ``P``: (P, P) for ``full``, (P,) for ``diag``."""
        p0, _ = self._prec(None)
        if self.structure == "diag":
            return self.noise_scale * self.curv + p0
        if self.structure == "full":
            return self.noise_scale * _full.gram(self.curv) + jnp.diag(p0)
        raise ValueError("posterior_precision: KFAC keeps only its factors (use structure='full')")

    # ----------------------------------------------------------------- sampling, predictive
    def _scaled(self, z, p0, c, power):
        """``P^power z`` for power in {-1/2, -1} (sampling and covariance products), z: (P, ...)."""
        s = self.noise_scale
        if self.structure == "diag":
            return z * ((s * self.curv + p0) ** power)[:, None]
        if self.structure == "full":
            chol = self._full_factor(p0, "at the posterior's prior", need_chol=True).chol
            if power == -1:
                return jax.scipy.linalg.cho_solve((chol, True), z)
            return jax.scipy.linalg.solve_triangular(chol.T, z, lower=False)
        out = jnp.zeros_like(z)
        for layer, (lam, qa, qg) in zip(self.layers, self._kfac_blocks(p0), strict=True):
            zl = layer.take(z)                                    # (rows, out, S)
            rot = jnp.einsum("ia,ios,ob->abs", qa, zl, qg) * (lam ** power)[..., None]
            out = layer.put(out, jnp.einsum("ia,abs,ob->ios", qa, rot, qg))
        return out

    def sample(self, key, num_samples: int):
        """``num_samples`` parameter pytrees from ``N(θ*, P⁻¹)``, stacked on a leading axis."""
        num_samples = positive_int("num_samples", num_samples, owner="LaplaceResult.sample")
        p0, c = self._prec(None)
        self._assert_pd("at the posterior's prior")
        z = jax.random.normal(key, (self.num_params, num_samples), self.theta.dtype)
        thetas = self.theta[:, None] + self._scaled(z, p0, c, -0.5)
        return jax.vmap(lambda t: self.view.unflatten(t, self.mean), in_axes=1)(thetas)

    def predictive(self, x, method: str = "glm", *, link_approx: str = "probit", key=None,
                   num_samples: int = 200):
        """Predictive at inputs ``x``: ``Predictive`` (regression) or ``ClassPredictive``.

        ``method="glm"`` linearises the network at θ*: ``f ~ N(f(x;θ*), J Σ Jᵀ)`` (the epistemic
        variance); ``"mc"`` averages over ``num_samples`` draws of θ through the network (not
        linearised) and needs ``key`` (a ``jax.random`` key; ``"glm"`` draws nothing unless
        ``link_approx="mc"``). ``key`` is keyword-only here, not first: the default is deterministic.

        ``link_approx`` (classification with ``"glm"``; laplace-torch's names) maps the logits'
        Gaussian to probabilities: ``"probit"`` (MacKay, per-class variances only; the default),
        ``"bridge"`` / ``"bridge_norm"`` (Laplace bridge to a Dirichlet, Hobbhahn et al. 2022;
        Categorical only: ``bayesjax.predictive.laplace_bridge``), ``"mc"`` (``num_samples`` draws of
        the logits from ``N(μ, Σ_x)``, Σ_x their K × K covariance, ``predictive.logit_covariance``;
        needs ``key``). Another link with ``method="mc"`` or a regression likelihood: ``ValueError``.
        """
        return _pred.laplace_predictive(self, x, method, key, num_samples, link_approx)


@jax.jit
def _tempered_log_lik(post, params):
    return post.log_likelihood(params) / post.temperature


@jax.jit
def _diag_posterior(s, h, p0):
    return s * h + p0


@jax.jit
def _sum_log_and_min(eig):
    return jnp.sum(jnp.log(eig)), jnp.min(eig)


def laplace(post: Posterior, params=None, *, structure: str = "full", curvature: str = "ggn",
            subset="all", last_layer: str | None = None,
            clip: bool = False, kfac_bias: str = "joint") -> LaplaceResult:
    """Laplace approximation of ``post`` at a mode ``params`` (e.g. ``fit_map(...).params``).

    Args:
      post: the ``Posterior`` (its prior must be Gaussian or flat on the approximated params).
      params: the mode θ*; default ``post.params``.
      structure: ``"full"`` (P × P), ``"diag"`` or ``"kfac"`` (per ``nnx.Linear`` or ``nnx.Conv``
        layer; neither of the last two allocates a P × P matrix). ``"full"`` raises ``MemoryError`` before
        allocating when its ~3 P² floats exceed 80% of the free memory (``bayesjax.memory``),
        naming the bytes and the structures that fit.
      curvature: ``"ggn"`` (generalised Gauss-Newton, PSD) or ``"hessian"`` (exact; ``full`` only).
      subset: which parameters get the Gaussian; the others stay fixed at θ*. ``"all"``,
        ``"last_layer"``, a list of dotted parameter paths or path prefixes (``["layers.1"]``: every
        leaf under ``layers.1``; a path matching nothing raises, listing the valid ones), or a 1-D
        integer array of flat parameter indices (subnetwork Laplace, ``full`` or ``diag``: e.g.
        ``bayesjax.subnetwork.subnetwork_indices(post, params, k)``, the k of largest
        diagonal-Laplace variance; ``bayesjax.subnetwork``).
      last_layer: path prefix of the last layer (default: the group that sorts last).
      clip: clip negative eigenvalues of the likelihood curvature to 0 (``full`` only), with a
        warning. Without it an indefinite posterior precision raises ``ValueError`` naming the
        smallest eigenvalue.
      kfac_bias: ``"joint"`` (one Kronecker block per layer over ``[W; b]``) or ``"separate"``
        (laplace-torch's ``Kron``: a kernel block and a bias block); ``kfac`` only
        (``bayesjax.kfac``, with how close each is to the GGN).

    Returns:
      ``LaplaceResult``: ``log_marginal_likelihood(prior_precision=None, noise=None)``,
      ``log_basin_mass``, ``sample(key, num_samples)``, ``predictive(x, method="glm")``.
    """
    if not isinstance(post, Posterior):
        raise TypeError(f"laplace: post must be a bayesjax.Posterior, got {type(post).__name__}")
    for name, value, valid in (("structure", structure, STRUCTURES),
                               ("curvature", curvature, CURVATURES),
                               ("kfac_bias", kfac_bias, _kf.BIAS_CONVENTIONS)):
        one_of(name, value, valid, owner="laplace")
    if kfac_bias != "joint" and structure != "kfac":
        raise ValueError(f"laplace: kfac_bias={kfac_bias!r} applies to structure='kfac'")
    if curvature == "hessian" and structure != "full":
        raise ValueError(f"laplace: curvature='hessian' needs structure='full' (the exact Hessian "
                         f"has no {structure} form here); use curvature='ggn'")
    if clip and structure != "full":
        raise ValueError("laplace: clip=True applies to structure='full'")
    params = post.check_params(params, name="params", owner="laplace")
    view = _curv.make_view(params, subset, last_layer)      # validates subset
    elements = isinstance(view, _sub.ElementView)
    if elements and structure == "kfac":
        raise ValueError("laplace: structure='kfac' needs whole nnx.Linear / nnx.Conv kernels and "
                         "biases; a subset of single parameters (subset=indices) takes 'full' or 'diag'")
    p0, m0 = _priors.gaussian_vectors(post.prior, params, view.paths, view.shapes, flat_ok=True,
                                      refuse=_refuse, dtype=jnp.result_type(float))
    theta = _flatten(view, params)
    layers = ()
    if structure == "full":
        _mem.check_fits("full", view.size, jnp.dtype(theta.dtype).itemsize)   # before allocating
        proper = bool(jnp.all(p0 > 0))
        curv = _full.build(post, params, view, curvature, p0,
                           _full.low_rank(post, params, view, curvature), proper)
        if clip:
            curv = _full.clipped(post, params, view, curv, p0, proper)
    elif structure == "diag":
        # exact either way; for nnx.Linear layers from their taps, without per-example Jacobians
        # (for single parameters: the whole diagonal from the taps, then its entries)
        whole = _curv.make_view(params) if elements else view
        if _kf.dense_layers(post, params, whole) is not None:
            curv = _linear_diag(post, params, whole)
            curv = curv[view.indices] if elements else curv
        else:
            curv = _ggn(post, params, view, True)
    else:
        layers = _kf.kfac_layers(post, params, view, kfac_bias)
        curv = _kfac(post, params, layers)       # factors and their eigendecompositions, one jit
    lap = LaplaceResult(post, params, theta, p0, m0, curv, jnp.ones((), theta.dtype), view,
                        structure, curvature, layers)
    lap._assert_pd("at the posterior's prior")
    return lap
