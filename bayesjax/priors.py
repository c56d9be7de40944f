r"""Priors over a parameter pytree: normalised log densities that are also regularisers.

Every prior reads a parameter pytree (a dict, a ``flax.nnx.State``, a tuple, ...) leaf by leaf
and factorises over the scalar weights:

.. math::

    \log p(\theta) = \sum_i \log p(\theta_i), \qquad
    \mathrm{penalty}(\theta) = -\log p(\theta) - \text{const}.

=================  ==========================================  ===========================
prior              ``log_prob`` per weight                     ``penalty`` (the regulariser)
=================  ==========================================  ===========================
``Gaussian(s, m)``  ``-(w-m)^2/(2 s^2) - log(s sqrt(2 pi))``    ``sum (w-m)^2 / (2 s^2)``: L2, λ = 1/(2 s²)
``Laplace(b, m)``   ``-|w-m|/b - log(2 b)``                     ``sum |w-m| / b``: L1, λ = 1/b
``Flat()``          ``0`` (improper)                            ``0``: maximum likelihood
=================  ==========================================  ===========================

``ByPath`` assigns priors to parameters by dotted path (``"layers.0.kernel"``), as NumPyro's
``random_nnx_module`` names them. A key that matches no parameter is an error, never ignored.

Priors are JAX pytrees whose numbers (scales, means) are leaves, so a sweep over prior scales
does not recompile and can be ``vmap``-ed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import register_pytree_node_class

from bayesjax._checks import finite_scalar, positive_scalar
from bayesjax._pytree import Fields

__all__ = ["Prior", "Gaussian", "Laplace", "Flat", "ByPath", "gaussian_vectors", "param_paths"]

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def _key_name(k) -> str | None:
    if isinstance(k, jax.tree_util.DictKey):
        return str(k.key)
    if isinstance(k, jax.tree_util.SequenceKey):
        return str(k.idx)
    if isinstance(k, jax.tree_util.GetAttrKey):
        return k.name
    if isinstance(k, jax.tree_util.FlattenedIndexKey):
        return str(k.key)
    return str(k)


def _format_path(path) -> str:
    names = [_key_name(k) for k in path]
    # A flax.nnx.Variable flattens to its value under the attribute "value": not part of the name.
    if path and isinstance(path[-1], jax.tree_util.GetAttrKey) and path[-1].name == "value":
        names = names[:-1]
    return ".".join(names)


def param_paths(params) -> list[str]:
    """Dotted paths of the leaves of ``params``, in ``jax.tree.leaves`` order.

    >>> param_paths({"layers": {0: {"kernel": 1.0, "bias": 0.0}}})
    ['layers.0.bias', 'layers.0.kernel']
    """
    return [_format_path(p) for p, _ in jax.tree_util.tree_flatten_with_path(params)[0]]


class Prior:
    """Abstract base. A prior factorises over weights; subclasses define the per-leaf math.

    Public methods work on whole pytrees:

    - ``log_prob(params)``: normalised log density in nats, summed over every leaf.
    - ``penalty(params)``: the regulariser ``-log_prob(params) - const``.
    - ``prox(params, step)``: ``argmin_z step * penalty(z) + ||z - params||^2 / 2``, the
      proximal operator used by ``fit_map`` for non-smooth (L1) priors.
    - ``to_numpyro(params=None)``: NumPyro distribution(s) for ``random_nnx_module(prior=...)``.
    """

    smooth: bool = True

    # --- per-leaf math, defined by the leaf priors -------------------------------------
    def _leaf_penalty(self, w):
        raise NotImplementedError

    def _leaf_log_norm(self, size: int, dtype):
        """``log_prob - (-penalty)`` for a leaf with ``size`` scalars."""
        raise NotImplementedError

    def _leaf_prox(self, w, step):
        raise NotImplementedError

    def _numpyro_dist(self):
        raise NotImplementedError

    # --- pytree-level API ----------------------------------------------------------------
    def leaf_priors(self, params) -> list[tuple[str, Prior]]:
        """``(path, leaf prior)`` for every leaf of ``params`` in ``jax.tree.leaves`` order."""
        return [(p, self) for p in param_paths(params)]

    def check(self, params) -> None:
        """Raise ``ValueError`` if this prior cannot be applied to ``params``."""
        self.leaf_priors(params)

    def log_prob(self, params) -> jax.Array:
        leaves = jax.tree.leaves(params)
        total = jnp.zeros((), jnp.result_type(float))
        for (_, prior), w in zip(self.leaf_priors(params), leaves, strict=True):
            w = jnp.asarray(w)
            total = total + prior._leaf_log_norm(w.size, w.dtype) - prior._leaf_penalty(w)
        return total

    def penalty(self, params) -> jax.Array:
        leaves = jax.tree.leaves(params)
        total = jnp.zeros((), jnp.result_type(float))
        for (_, prior), w in zip(self.leaf_priors(params), leaves, strict=True):
            total = total + prior._leaf_penalty(jnp.asarray(w))
        return total

    def prox(self, params, step):
        leaves, treedef = jax.tree.flatten(params)
        new = [prior._leaf_prox(jnp.asarray(w), step)
               for (_, prior), w in zip(self.leaf_priors(params), leaves, strict=True)]
        return jax.tree.unflatten(treedef, new)

    def to_numpyro(self, params=None):
        """NumPyro prior for ``numpyro.contrib.module.random_nnx_module(..., prior=...)``.

        A single-distribution prior returns one ``numpyro.distributions.Distribution`` (NumPyro
        expands it to each parameter's shape). With ``params`` given, returns a dict
        ``{path: distribution}`` that names every parameter explicitly.
        """
        if params is None:
            return self._numpyro_dist()
        return {path: prior._numpyro_dist() for path, prior in self.leaf_priors(params)}


class _LocationScale(Fields, Prior):
    """A prior with a scale > 0 and a location on every weight (Gaussian, Laplace)."""

    _fields = ("scale", "mean")

    def __init__(self, scale=1.0, mean=0.0):
        owner = f"priors.{type(self).__name__}"
        self.scale = positive_scalar("scale", scale, owner=owner)
        self.mean = finite_scalar("mean", mean, owner=owner)


@register_pytree_node_class
class Gaussian(_LocationScale):
    """Gaussian prior ``N(mean, scale^2)`` on every weight.

    Args:
      scale: standard deviation s (same units as the weights), > 0. ``precision = 1/s^2``.
      mean: prior mean m.

    MAP under this prior is L2 regularisation: ``penalty = sum (w-m)^2/(2 s^2)``, i.e. λ = 1/(2 s²)
    added to the negative log-likelihood (sum over data, not mean).
    """

    smooth = True

    @property
    def precision(self):
        """``1 / scale**2``, the prior precision (laplace-torch's ``prior_precision``)."""
        return 1.0 / jnp.square(self.scale)

    def _leaf_penalty(self, w):
        return 0.5 * jnp.sum(jnp.square(w - self.mean)) / jnp.square(self.scale)

    def _leaf_log_norm(self, size, dtype):
        return -size * (jnp.log(self.scale) + _LOG_SQRT_2PI)

    def _leaf_prox(self, w, step):
        prec = step / jnp.square(self.scale)
        return ((w + prec * self.mean) / (1.0 + prec)).astype(w.dtype)

    def _numpyro_dist(self):
        import numpyro.distributions as dist

        return dist.Normal(self.mean, self.scale)


@register_pytree_node_class
class Laplace(_LocationScale):
    """Laplace prior ``Laplace(mean, b)`` on every weight, density ``exp(-|w-m|/b) / (2b)``.

    Args:
      scale: the Laplace scale b (same units as the weights), > 0. Variance is ``2 b^2``.
      mean: location m.

    MAP under this prior is L1 regularisation: ``penalty = sum |w-m|/b``, i.e. λ = 1/b. The
    penalty is not differentiable at ``m``; ``fit_map`` handles it with its proximal operator
    (soft thresholding), which puts weights at exactly ``m``.
    """

    smooth = False

    def _leaf_penalty(self, w):
        return jnp.sum(jnp.abs(w - self.mean)) / self.scale

    def _leaf_log_norm(self, size, dtype):
        return -size * jnp.log(2.0 * self.scale)

    def _leaf_prox(self, w, step):
        d = w - self.mean
        thr = step / self.scale
        return (self.mean + jnp.sign(d) * jnp.maximum(jnp.abs(d) - thr, 0.0)).astype(w.dtype)

    def _numpyro_dist(self):
        import numpyro.distributions as dist

        return dist.Laplace(self.mean, self.scale)


@register_pytree_node_class
class Flat(Fields, Prior):
    """The improper flat prior ``p(w) ∝ 1``: ``log_prob = 0``, MAP = maximum likelihood.

    It is not a normalisable density, so it has no evidence (marginal likelihood).
    """

    smooth = True

    def _leaf_penalty(self, w):
        return jnp.zeros((), w.dtype)

    def _leaf_log_norm(self, size, dtype):
        return jnp.zeros((), dtype)

    def _leaf_prox(self, w, step):
        return w

    def _numpyro_dist(self):
        import numpyro.distributions as dist

        return dist.ImproperUniform(dist.constraints.real, (), ())


@register_pytree_node_class
class ByPath(Prior):
    """Different priors for different parameters, addressed by dotted path.

    Args:
      priors: ``{path: prior}``. A key matches the parameter with that exact path
        (``"layers.0.kernel"``) or every parameter below it (``"layers.0"``); where several keys
        match, the longest wins.
      default: prior for parameters that no key matches. If ``None`` (the default), every
        parameter must be matched by a key.

    Raises ``ValueError``, listing the valid paths, if a key matches no parameter or a parameter
    is left without a prior: a misspelt path never silently drops a prior.

    >>> prior = ByPath({"layers.0.kernel": Laplace(0.1)}, default=Gaussian(1.0))
    """

    def __init__(self, priors: Mapping[str, Prior], default: Prior | None = None):
        if not isinstance(priors, Mapping) or not priors:
            raise ValueError("priors.ByPath: priors must be a non-empty dict {path: prior}")
        for k, v in priors.items():
            if not isinstance(k, str):
                raise ValueError(f"priors.ByPath: keys must be dotted path strings, got {k!r}")
            if not isinstance(v, Prior) or isinstance(v, ByPath):
                raise ValueError(
                    f"priors.ByPath: value for {k!r} must be Gaussian, Laplace or Flat, got {v!r}")
        if default is not None and (not isinstance(default, Prior) or isinstance(default, ByPath)):
            raise ValueError(f"priors.ByPath: default must be a leaf prior or None, got {default!r}")
        self.keys = tuple(priors)
        self.priors = tuple(priors[k] for k in self.keys)
        self.default = default

    @property
    def smooth(self) -> bool:
        parts = self.priors + ((self.default,) if self.default is not None else ())
        return all(p.smooth for p in parts)

    def _match(self, path: str) -> Prior | None:
        best, best_len = None, -1
        for key, prior in zip(self.keys, self.priors, strict=True):
            if (path == key or path.startswith(key + ".")) and len(key) > best_len:
                best, best_len = prior, len(key)
        return best if best is not None else self.default

    def leaf_priors(self, params):
        paths = param_paths(params)
        unused = [k for k in self.keys if not any(p == k or p.startswith(k + ".") for p in paths)]
        if unused:
            raise ValueError(
                f"priors.ByPath: key(s) {unused} match no parameter; valid paths are {paths}")
        out = []
        for p in paths:
            prior = self._match(p)
            if prior is None:
                raise ValueError(
                    f"priors.ByPath: parameter {p!r} has no prior and no default was given; "
                    f"keys are {list(self.keys)}, valid paths are {paths}")
            out.append((p, prior))
        return out

    def to_numpyro(self, params=None):
        """``{path: distribution}`` for every parameter of ``params``; without ``params``, a
        callable ``(name, shape) -> distribution`` as ``random_nnx_module`` accepts."""
        if params is not None:
            return super().to_numpyro(params)

        def prior_fn(name: str, shape) -> object:
            prior = self._match(name)
            if prior is None:
                raise ValueError(f"priors.ByPath: parameter {name!r} matches no key of "
                                 f"{list(self.keys)} and no default was given")
            return prior._numpyro_dist()

        return prior_fn

    def tree_flatten(self):
        return (self.priors, self.default), self.keys

    @classmethod
    def tree_unflatten(cls, keys, children):
        obj = object.__new__(cls)
        obj.priors, obj.default = children
        obj.keys = keys
        return obj

    def __repr__(self):
        inner = ", ".join(f"{k!r}: {p!r}" for k, p in zip(self.keys, self.priors, strict=True))
        return f"ByPath({{{inner}}}, default={self.default!r})"


def gaussian_vectors(prior: Prior, params, paths, shapes, *, flat_ok: bool, refuse, dtype):
    """Per-parameter precision (1/scale², 0 for a ``Flat`` leaf when ``flat_ok``) and mean of
    ``prior`` over the leaves ``paths`` of ``params`` with ``shapes`` (a flat view's), as two
    vectors of ``dtype``: what the Laplace approximation and marginal-likelihood training read.
    Any other leaf prior raises ``ValueError(refuse(path, leaf_prior))``."""
    by_path = dict(prior.leaf_priors(params))
    prec, mean = [], []
    for path, shape in zip(paths, shapes, strict=True):
        leaf, n = by_path[path], int(np.prod(shape))
        if isinstance(leaf, Gaussian):
            prec.append(np.full(n, 1.0 / float(leaf.scale) ** 2))
            mean.append(np.full(n, float(leaf.mean)))
        elif isinstance(leaf, Flat) and flat_ok:
            prec.append(np.zeros(n))
            mean.append(np.zeros(n))
        else:
            raise ValueError(refuse(path, leaf))
    return jnp.asarray(np.concatenate(prec), dtype), jnp.asarray(np.concatenate(mean), dtype)
