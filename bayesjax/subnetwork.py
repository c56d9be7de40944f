r"""Subnetwork Laplace (Daxberger et al. 2021, "Bayesian deep learning via subnetwork inference"):
a Gaussian over a chosen set of *individual* scalar parameters, every other one fixed at the MAP.

With the rest fixed, the posterior precision over the subnetwork S is the principal sub-matrix
``P_SS = H_SS/T + P₀,SS`` of the full one (no Schur complement: the others are conditioned on, not
marginalised), so ``laplace(post, params, subset=indices)`` with ``structure="full"`` costs
``|S|²`` memory instead of ``P²``. ``structure="diag"`` works too; ``"kfac"`` does not (a Kronecker
block needs whole ``nnx.Linear`` kernels).

``subnetwork_indices(post, params, k)`` picks S as laplace-torch's
``LargestVarianceDiagLaplaceSubnetMask`` does: fit a diagonal Laplace over all P parameters and
keep the k of largest marginal variance ``1 / (H_ii/T + P₀,ii)``.

Indices address the flat parameter vector of ``jax.flatten_util.ravel_pytree(params)`` (leaves in
``jax.tree.leaves`` order, each raveled in C order), the order of ``laplace(..., subset="all")``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from bayesjax._checks import positive_int
from bayesjax.priors import param_paths

__all__ = ["ElementView", "element_view", "subnetwork_indices"]


class ElementView(NamedTuple):
    """Individual entries of a parameter pytree seen as one flat vector. Hashable (static).

    The interface of ``bayesjax.curvature.FlatView``: leaf ``paths[i]`` contributes
    ``prod(shapes[i])`` entries to θ from ``offsets[i]`` on; here ``shapes[i] = (n_i,)``, the number
    of its chosen entries (not the leaf's shape), so code that slices θ by path works unchanged.
    """

    paths: tuple           # paths of the leaves with a chosen entry, in tree order
    leaf_index: tuple      # their positions among all leaves
    shapes: tuple          # ((n_i,), ...): chosen entries per leaf
    offsets: tuple         # start of each leaf's entries in θ
    size: int
    positions: tuple       # per leaf, the chosen positions in the raveled leaf (ascending)
    starts: tuple          # per leaf, its start in the full flat vector

    @property
    def indices(self) -> np.ndarray:
        """The chosen entries as ascending indices into the full flat parameter vector."""
        return np.concatenate([s + np.asarray(pos, np.int64)
                               for s, pos in zip(self.starts, self.positions, strict=True)])

    def flatten(self, params) -> jax.Array:
        leaves = jax.tree.leaves(params)
        return jnp.concatenate([jnp.ravel(leaves[i])[np.asarray(pos)]
                                for i, pos in zip(self.leaf_index, self.positions, strict=True)])

    def unflatten(self, theta, params):
        """``params`` with the chosen entries replaced by those of ``theta``."""
        leaves, treedef = jax.tree.flatten(params)
        leaves = list(leaves)
        for i, pos, off, (n,) in zip(self.leaf_index, self.positions, self.offsets, self.shapes,
                                     strict=True):
            leaf = jnp.asarray(leaves[i])
            leaves[i] = jnp.ravel(leaf).at[np.asarray(pos)].set(theta[off:off + n]).reshape(leaf.shape)
        return jax.tree.unflatten(treedef, leaves)


def element_view(params, indices) -> ElementView:
    """The view of the entries ``indices`` (a 1-D integer array into the flat parameter vector,
    any order, no repeats); θ holds them in ascending order. Raises ``TypeError`` for a non-integer
    array and ``ValueError`` for an empty one, repeats, or indices outside ``[0, P)``."""
    idx = np.asarray(indices)
    if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
        raise TypeError(f"laplace: subset must be 'all', 'last_layer', a list of parameter paths or "
                        f"a 1-D integer array of flat parameter indices, got {type(indices).__name__}"
                        f" of dtype {idx.dtype} and shape {idx.shape}")
    leaves = jax.tree.leaves(params)
    sizes = np.asarray([int(np.size(leaf)) for leaf in leaves], np.int64)
    total = int(sizes.sum())
    if idx.size == 0:
        raise ValueError("laplace: subset=[] selects no parameter")
    if idx.min() < 0 or idx.max() >= total:
        raise ValueError(f"laplace: subset indices must lie in [0, {total}) (the flat parameter "
                         f"vector), got min {int(idx.min())}, max {int(idx.max())}")
    chosen = np.unique(idx)
    if chosen.size != idx.size:
        raise ValueError(f"laplace: subset indices repeat {idx.size - chosen.size} time(s); "
                         "each parameter can be chosen once")
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    leaf_of = np.searchsorted(starts, chosen, side="right") - 1   # an empty leaf shares its start
    paths = param_paths(params)
    used = [int(i) for i in np.unique(leaf_of)]
    positions = tuple(tuple(int(j) for j in chosen[leaf_of == i] - starts[i]) for i in used)
    counts = [len(pos) for pos in positions]
    offsets = tuple(int(o) for o in np.concatenate([[0], np.cumsum(counts)[:-1]]))
    return ElementView(tuple(paths[i] for i in used), tuple(used), tuple((n,) for n in counts),
                       offsets, int(chosen.size), positions, tuple(int(starts[i]) for i in used))


def subnetwork_indices(post, params=None, num_params: int = 1) -> np.ndarray:
    """The ``num_params`` parameters of largest diagonal-Laplace marginal variance, as ascending
    flat indices for ``laplace(post, params, subset=...)``.

    The variances ``1 / (H_ii/T + P₀,ii)`` (unit² of each parameter) are those of
    ``laplace(post, params, structure="diag")`` over all parameters (so its prior must be Gaussian,
    or flat where the curvature is positive); ties go to the lower index. Parameters the data do
    not constrain (weights of an input that is always 0, of a dead ReLU) keep the prior's variance,
    the largest of all, so they come first: on an untrained 85k-parameter digits MLP 11,451
    parameters have zero curvature.

    Raises ``ValueError`` unless ``1 ≤ num_params ≤ P``.

    Example::

        idx = bj.subnetwork_indices(post, fit.params, 500)
        lap = bj.laplace(post, fit.params, subset=idx)      # full 500 × 500 precision
    """
    from bayesjax.laplace import laplace  # a cycle at import time: laplace imports this module

    k = positive_int("num_params", num_params, owner="subnetwork_indices")
    total = sum(int(np.size(leaf)) for leaf in jax.tree.leaves(post.params if params is None
                                                                  else params))
    if k > total:
        raise ValueError(f"subnetwork_indices: num_params={k} exceeds the {total} parameters")
    variance = 1.0 / np.asarray(laplace(post, params, structure="diag").posterior_precision())
    return np.sort(np.argsort(-variance, kind="stable")[:k])
