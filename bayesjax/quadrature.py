r"""Quadrature of ``exp(log_density)`` on a 1-D or 2-D grid: the exact posterior of a tiny model.

The box ``[lo₁, hi₁] × … `` is cut into equal cells of volume ``h = Π_i (hi_i − lo_i)/n_i``; the
midpoint rule gives

.. math::

    \log Z = \log \int e^{f(\theta)}\, d\theta \approx \operatorname{logsumexp}_j f(\theta_j) + \log h,
    \qquad p_j = e^{f(\theta_j) - \log Z}\, h,

with ``θ_j`` the cell midpoints and ``p_j`` the normalised cell masses (they sum to 1). For a smooth
density that is negligible at the box's edges the error is ``O(h²)`` per axis (and much smaller for
analytic, rapidly decaying densities); mass outside the box is simply missing, so choose the box
wide enough (a Gaussian needs ~8 standard deviations each side for float64 exactness).
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from jax.scipy.special import logsumexp

from bayesjax._checks import positive_int

__all__ = ["Quadrature", "from_posterior", "grid"]


class Quadrature(NamedTuple):
    """A density tabulated at cell midpoints.

    Fields:
      axes: tuple of (n_i,) midpoint arrays, one per dimension.
      points: (M, d) the midpoints of all M = Π n_i cells (first axis varies slowest, ``"ij"``).
      log_density: (M,) the un-normalised ``f`` at ``points``.
      cell_volume: scalar h.
      log_normalizer: ``log ∫ exp f`` in nats (midpoint rule).
      probs: (M,) the normalised cell masses, summing to 1.
    """

    axes: tuple
    points: jax.Array
    log_density: jax.Array
    cell_volume: jax.Array
    log_normalizer: jax.Array
    probs: jax.Array

    @property
    def density(self) -> jax.Array:
        """The normalised density ``exp(f − log Z)`` at ``points`` (M,)."""
        return jnp.exp(self.log_density - self.log_normalizer)

    @property
    def mean(self) -> jax.Array:
        """``Σ_j p_j θ_j``, shape (d,)."""
        return self.probs @ self.points

    @property
    def cov(self) -> jax.Array:
        """``Σ_j p_j (θ_j − mean)(θ_j − mean)ᵀ``, shape (d, d)."""
        c = self.points - self.mean[None, :]
        return (c * self.probs[:, None]).T @ c

    def masses(self, labels, num_labels: int) -> jax.Array:
        """The mass of the cells carrying each integer label in ``[0, num_labels)`` (e.g. the basin
        of attraction of each mode): ``labels`` is (M,), the result (num_labels,)."""
        num_labels = positive_int("num_labels", num_labels, owner="Quadrature.masses")
        labels = jnp.asarray(labels)
        if labels.shape != self.probs.shape:
            raise ValueError(f"Quadrature.masses: labels must have shape {self.probs.shape} (one per "
                             f"cell), got {labels.shape}")
        if not jnp.issubdtype(labels.dtype, jnp.integer):
            raise ValueError(f"Quadrature.masses: labels must be integers, got dtype {labels.dtype}")
        if not isinstance(labels, jax.core.Tracer) and labels.size and (
                int(labels.min()) < 0 or int(labels.max()) >= num_labels):
            raise ValueError(f"Quadrature.masses: labels must lie in [0, {num_labels}), got range "
                             f"[{int(labels.min())}, {int(labels.max())}]")
        return jax.ops.segment_sum(self.probs, labels, num_segments=num_labels)

    def histogram(self, edges) -> jax.Array:
        """1-D only: the mass in each bin ``[e_b, e_{b+1})`` (the last bin closed), shape (B,).

        A cell counts wholly in the bin holding its midpoint, so the edges should fall on cell
        boundaries (e.g. ``num_points`` a multiple of the number of bins over the same range) or
        be much coarser than the cells; cells outside ``[e_0, e_B]`` are not counted.
        """
        if self.points.shape[1] != 1:
            raise ValueError(f"Quadrature.histogram: needs a 1-D grid, this one is "
                             f"{self.points.shape[1]}-D")
        edges = jnp.asarray(edges, self.points.dtype)
        if edges.ndim != 1 or edges.shape[0] < 2:
            raise ValueError(f"Quadrature.histogram: edges must have shape (B + 1,) with B >= 1, got "
                             f"{edges.shape}")
        if not bool(jnp.all(jnp.diff(edges) > 0)):
            raise ValueError("Quadrature.histogram: edges must be finite and strictly increasing")
        x = self.points[:, 0]
        nb = edges.shape[0] - 1
        idx = jnp.clip(jnp.searchsorted(edges, x, side="right") - 1, 0, nb - 1)
        inside = (x >= edges[0]) & (x <= edges[-1])
        return jax.ops.segment_sum(jnp.where(inside, self.probs, 0.0), idx, num_segments=nb)


def _check_grid(bounds, num_points):
    try:
        bounds = tuple((float(lo), float(hi)) for lo, hi in bounds)
    except (TypeError, ValueError):
        raise ValueError(f"grid: bounds must be ((lo, hi),) or ((lo1, hi1), (lo2, hi2)), got "
                         f"{bounds!r}") from None
    if len(bounds) not in (1, 2):
        raise ValueError(f"grid: bounds must give 1 or 2 dimensions, got {len(bounds)}")
    for i, (lo, hi) in enumerate(bounds):
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise ValueError(f"grid: bounds[{i}] must be finite with lo < hi, got {(lo, hi)}")
    if isinstance(num_points, numbers.Integral) and not isinstance(num_points, bool):
        num_points = (num_points,) * len(bounds)
    if not isinstance(num_points, tuple | list) or len(num_points) != len(bounds):
        raise ValueError(f"grid: num_points must be an int or a tuple of {len(bounds)} ints, got "
                         f"{num_points!r}")
    num_points = tuple(positive_int(f"num_points[{i}]", n, owner="grid") for i, n in enumerate(num_points))
    return bounds, num_points


def _evaluate(log_density, points, chunk_size):
    """``vmap(log_density)`` over the rows of ``points``, ``chunk_size`` rows at a time."""
    m = points.shape[0]
    chunk = min(chunk_size, m)
    pad = -m % chunk
    padded = jnp.concatenate([points, jnp.broadcast_to(points[:1], (pad, points.shape[1]))])
    out = jax.lax.map(jax.vmap(log_density), padded.reshape(-1, chunk, points.shape[1]))
    return out.reshape(-1)[:m]


def grid(log_density, bounds, num_points, *, chunk_size: int = 65536) -> Quadrature:
    r"""Tabulate and normalise ``exp(log_density)`` by the midpoint rule on equal cells.

    Args:
      log_density: maps ONE point of shape (d,) to a scalar log density (un-normalised, nats);
        it is ``vmap``-ed over ``chunk_size`` points at a time (``lax.map`` over the chunks), so a
        large grid does not hold every intermediate in memory at once.
      bounds: ``((lo, hi),)`` in 1-D or ``((lo1, hi1), (lo2, hi2))`` in 2-D.
      num_points: cells per axis, an int (the same for every axis) or a tuple.

    Raises ``ValueError`` for bad bounds, a non-scalar ``log_density``, or a normaliser that is not
    finite (all values -inf, a NaN or +inf somewhere).

    Example:
      >>> q = grid(lambda t: -0.5 * jnp.sum(t**2), ((-8.0, 8.0),), 400)
      >>> round(float(q.log_normalizer), 4)  # log √(2π)
      0.9189
    """
    bounds, num_points = _check_grid(bounds, num_points)
    chunk_size = positive_int("chunk_size", chunk_size, owner="grid")
    dt = jnp.result_type(float)
    axes = tuple(lo + (hi - lo) / n * (jnp.arange(n, dtype=dt) + 0.5)
                 for (lo, hi), n in zip(bounds, num_points, strict=True))
    points = jnp.stack([g.reshape(-1) for g in jnp.meshgrid(*axes, indexing="ij")], axis=-1)
    out = jax.eval_shape(log_density, points[0])
    if not hasattr(out, "shape") or out.shape != ():
        raise ValueError(f"grid: log_density must map a point of shape ({len(bounds)},) to a scalar, "
                         f"got {getattr(out, 'shape', out)!r}")
    logf = jax.jit(_evaluate, static_argnums=(0, 2))(log_density, points, chunk_size)
    cell = jnp.asarray(np.prod([(hi - lo) / n for (lo, hi), n in zip(bounds, num_points, strict=True)]),
                       logf.dtype)
    log_z = logsumexp(logf) + jnp.log(cell)
    if not bool(jnp.isfinite(log_z)) or bool(jnp.any(jnp.isnan(logf))):
        bad = int(jnp.sum(~jnp.isfinite(logf)))
        raise ValueError(f"grid: the normaliser log ∫ exp(log_density) is {float(log_z)} (not finite): "
                         f"{bad} of {logf.size} grid values are NaN or ±inf; widen or move the bounds")
    probs = jnp.exp(logf - log_z) * cell
    return Quadrature(axes, points, logf, cell, log_z, probs)


def from_posterior(post, bounds, num_points, *, chunk_size: int = 65536) -> Quadrature:
    r"""``grid`` of ``post.log_joint`` for a ``bayesjax.Posterior`` with 1 or 2 scalar parameters
    in total (flattened in ``jax.flatten_util.ravel_pytree`` order). ``log_normalizer`` is then
    the evidence ``log p(D)`` (nats), and ``mean``/``cov`` the posterior moments.

    Example:
      >>> post = bj.Posterior.from_apply(lambda p, x: jnp.broadcast_to(p["mu"], x.shape[:1]),
      ...     {"mu": jnp.zeros(())}, bj.likelihoods.Gaussian(1.0), bj.priors.Gaussian(1.0),
      ...     jnp.zeros((2, 1)), jnp.array([0.5, 1.5]))
      >>> q = from_posterior(post, ((-6.0, 6.0),), 600)
      >>> round(float(q.mean[0]), 4)  # 2/3, as conjugate.normal_known_variance
      0.6667
    """
    flat, unravel = ravel_pytree(post.params)
    if flat.size not in (1, 2):
        raise ValueError(f"from_posterior: the posterior has {flat.size} scalar parameters; "
                         "quadrature needs 1 or 2")
    if len(bounds) != flat.size:
        raise ValueError(f"from_posterior: bounds has {len(bounds)} (lo, hi) pairs for "
                         f"{flat.size} parameter(s)")
    return grid(lambda t: post.log_joint(unravel(t.astype(flat.dtype))), bounds, num_points,
                chunk_size=chunk_size)
