r"""Curvature of the negative log-likelihood at a point: the raw material of the Laplace approximation.

For parameters θ (a subset of the network's, flattened to a vector of length P) and per-example outputs
``f_n = f(x_n; θ) ∈ R^K`` with Jacobian ``J_n = ∂f_n/∂θ`` (K × P):

- **GGN** (generalised Gauss-Newton): ``H = Σ_n J_nᵀ Λ_n J_n`` with ``Λ_n = -∂² log p(y_n|f)/∂f²``
  (``1/σ²`` for a Gaussian, ``p(1-p)`` for a Bernoulli, ``diag(p) - ppᵀ`` for a categorical). It is
  positive semi-definite and equals the exact Hessian when f is linear in θ.
- **Hessian**: ``H = -∇² log p(D|θ)``, exact, possibly indefinite away from a minimum.
- **diag**: the diagonal of the GGN, never a P × P matrix.
- **KFAC** (``bayesjax.kfac``): per ``flax.nnx.Linear`` (or ``nnx.Conv``, ``bayesjax.kfac_conv``)
  layer ``H_layer ≈ A ⊗ G`` from the layer's inputs and the output Jacobians of its pre-activations
  (Martens & Grosse 2015); the same taps give the exact GGN diagonal of dense layers without
  per-example Jacobians.

Everything is summed over data in chunks inside one ``lax.scan``, so the memory is
``chunk × K × P`` for the Jacobians, never ``N × K × P``.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from bayesjax import subnetwork as _sub
from bayesjax._checks import positive_int
from bayesjax.priors import param_paths

_JAC_BUDGET = 1 << 24  # floats per chunk of per-example Jacobians (64 MiB in float32)


class FlatView(NamedTuple):
    """A subset of a parameter pytree's leaves seen as one flat vector. Hashable (static)."""

    paths: tuple           # paths of the subset leaves, in tree order
    leaf_index: tuple      # their positions among all leaves
    shapes: tuple
    offsets: tuple         # start of each leaf in the flat vector
    size: int

    def flatten(self, params) -> jax.Array:
        leaves = jax.tree.leaves(params)
        return jnp.concatenate([jnp.ravel(leaves[i]) for i in self.leaf_index])

    def unflatten(self, theta, params):
        """``params`` with the subset leaves replaced by the entries of ``theta``."""
        leaves, treedef = jax.tree.flatten(params)
        leaves = list(leaves)
        for i, shape, off in zip(self.leaf_index, self.shapes, self.offsets, strict=True):
            n = int(np.prod(shape))
            leaves[i] = theta[off:off + n].reshape(shape)
        return jax.tree.unflatten(treedef, leaves)


def _natural(s: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


def make_view(params, subset="all", last_layer: str | None = None):
    """The flat view of a parameter subset: ``"all"``, ``"last_layer"``, a list of parameter paths
    (a ``FlatView`` of whole leaves, in tree order) or a 1-D integer array of flat indices (a
    ``bayesjax.subnetwork.ElementView`` of single entries, for subnetwork Laplace).

    The last layer is the parameters directly under ``last_layer`` (a path prefix); by default the
    parent path that sorts last in natural order (``layers.10`` after ``layers.2``), which is the
    output layer of ``nnx.Sequential`` and of modules whose layers are numbered in order.
    A path in a list selects the leaf with that dotted path and every leaf under it, as
    ``priors.ByPath`` keys do (``"layers.0"``: ``layers.0.bias`` and ``layers.0.kernel``, not
    ``layers.01.bias``); each must match a leaf. ``last_layer`` applies to ``"last_layer"`` only.
    """
    if last_layer is not None and not (isinstance(subset, str) and subset == "last_layer"):
        raise ValueError("laplace: last_layer= applies to subset='last_layer'")
    if not (isinstance(subset, str) or (isinstance(subset, list | tuple)
                                        and all(isinstance(s, str) for s in subset))):
        return _sub.element_view(params, subset)
    paths = param_paths(params)
    leaves = jax.tree.leaves(params)
    if not isinstance(subset, str):
        chosen = _under(paths, subset)
    elif subset == "all":
        chosen = list(range(len(paths)))
    elif subset == "last_layer":
        parents = sorted({p.rsplit(".", 1)[0] if "." in p else "" for p in paths}, key=_natural)
        prefix = parents[-1] if last_layer is None else last_layer
        chosen = [i for i, p in enumerate(paths)
                  if (p.rsplit(".", 1)[0] if "." in p else "") == prefix]
        if not chosen:
            raise ValueError(f"laplace: last_layer={prefix!r} matches no parameter group; "
                             f"groups are {parents}")
    else:
        raise ValueError(f"laplace: unknown subset {subset!r}; valid: 'all', 'last_layer', a list "
                         "of parameter paths or an integer array of flat indices")
    shapes = tuple(tuple(np.shape(leaves[i])) for i in chosen)
    sizes = [int(np.prod(s)) for s in shapes]
    offsets = tuple(int(o) for o in np.concatenate([[0], np.cumsum(sizes)[:-1]]))
    return FlatView(tuple(paths[i] for i in chosen), tuple(chosen), shapes, offsets, sum(sizes))


def _under(paths: list, prefixes) -> list:
    """Positions of the leaves whose path is one of ``prefixes`` or lies under one."""
    def hit(p, s):
        return p == s or p.startswith(s + ".")

    if not prefixes:
        raise ValueError("laplace: subset=[] selects no parameter")
    unmatched = [s for s in prefixes if not any(hit(p, s) for p in paths)]
    if unmatched:
        raise ValueError(f"laplace: subset path(s) {unmatched} match no parameter; valid paths are "
                         f"{paths}")
    return [i for i, p in enumerate(paths) if any(hit(p, s) for s in prefixes)]


def _single_output(post, params, view):
    """``f(theta, x_n) -> (K,)``: one example's outputs as a vector."""
    def f(theta, xn):
        return jnp.reshape(post.apply_fn(view.unflatten(theta, params), xn[None]), (-1,))
    return f


def _chunks(x, chunk: int):
    """Pad the N inputs to a multiple of ``chunk``; returns (x_chunks, mask_chunks)."""
    n = x.shape[0]
    pad = (-n) % chunk
    xp = jnp.concatenate([x, jnp.repeat(x[:1], pad, axis=0)], axis=0)
    mask = jnp.concatenate([jnp.ones(n, x.dtype if jnp.issubdtype(x.dtype, jnp.floating)
                                     else jnp.float32), jnp.zeros(pad)])
    m = (n + pad) // chunk
    return xp.reshape((m, chunk) + x.shape[1:]), mask.reshape(m, chunk)


def _chunk_size(n: int, k: int, p: int) -> int:
    """Examples per chunk: within the budget, and as even as possible (no chunk of padding)."""
    most = int(max(1, min(n, _JAC_BUDGET // max(1, k * p))))
    return -(-n // -(-n // most))


_OUTPUT_DIMS: dict = {}


def output_dim(post, params) -> int:
    """K, the number of outputs per example (cached: ``eval_shape`` costs a trace)."""
    leaves, treedef = jax.tree.flatten(params)
    key = (post.apply_fn, treedef, tuple((np.shape(a), jnp.result_type(a)) for a in leaves),
           tuple(post.x.shape[1:]), post.x.dtype)
    if key not in _OUTPUT_DIMS:
        _OUTPUT_DIMS[key] = int(np.prod(jax.eval_shape(post.apply_fn, params, post.x[:1]).shape))
    return _OUTPUT_DIMS[key]


def _factor_rows(post, params, view, theta, xc):
    """``G_n = M_nᵀ J_n / √T`` (C, K, P) for a chunk of inputs, with ``M_n M_nᵀ = Λ_n``: K
    vector-Jacobian products per example (one backward pass each), batched over the chunk."""
    f = _single_output(post, params, view)

    def one(xn):
        out, vjp = jax.vjp(lambda t: f(t, xn), theta)
        m = post.likelihood.output_precision_sqrt(out)
        return jax.vmap(lambda v: vjp(v)[0])(m.T)               # row k: M[:, k]ᵀ J

    return jax.vmap(one)(xc) / jnp.sqrt(jnp.asarray(post.temperature, theta.dtype))


def ggn(post, params, view: FlatView, diagonal: bool, right=None) -> jax.Array:
    """``Σ_n J_nᵀ Λ_n J_n / T`` (P × P), or only its diagonal (P,), as the Gram matrix of the
    factor rows ``G_n = M_nᵀ J_n`` (``Λ_n = M_n M_nᵀ``): one matrix product per chunk of data.
    With ``right`` (P, P), the Gram matrix of ``G right`` instead: ``rightᵀ GGN right``, each product
    formed from the rows (``bayesjax.full_curvature`` refines a log-det with it)."""
    theta = view.flatten(params)
    k = output_dim(post, params)
    xs, masks = _chunks(post.x, _chunk_size(post.num_data, k, view.size))

    def body(acc, batch):
        xc, mc = batch
        g = _factor_rows(post, params, view, theta, xc) * mc[:, None, None].astype(theta.dtype)
        g = g.reshape(-1, view.size)                             # (C K, P)
        if right is not None:
            g = g @ right
        if diagonal:   # a product with ones: XLA's CPU reduction over a leading axis is ~20× slower
            return acc + jnp.ones(g.shape[0], g.dtype) @ jnp.square(g), None
        return acc + g.T @ g, None

    init = jnp.zeros((view.size,) if diagonal else (view.size, view.size), theta.dtype)
    acc, _ = jax.lax.scan(body, init, (xs, masks))
    return acc


def ggn_factor(post, params, view: FlatView) -> jax.Array:
    """The (N K, P) factor ``G`` with ``GᵀG = ggn(...)``: rows ``M_nᵀ J_n / √T``. Worth forming when
    N K < P (then ``GᵀG`` has rank ≤ N K and its nonzero spectrum is that of ``G``)."""
    theta = view.flatten(params)
    k = output_dim(post, params)
    chunk = _chunk_size(post.num_data, k, view.size)
    xs, _ = _chunks(post.x, chunk)
    g = jax.lax.map(lambda xc: _factor_rows(post, params, view, theta, xc), xs)
    return g.reshape(-1, view.size)[:post.num_data * k]


def hessian(post, params, view: FlatView) -> jax.Array:
    """Exact ``-∇² log p(D|θ) / T`` over the view (P × P)."""
    theta = view.flatten(params)
    h = jax.hessian(lambda t: post.log_likelihood(view.unflatten(t, params)))(theta)
    return -h / post.temperature


def jacobian(post, params, view: FlatView, x) -> tuple[jax.Array, jax.Array]:
    """Outputs ``(M, K)`` and Jacobians ``(M, K, P)`` at inputs ``x`` (M points)."""
    f = _single_output(post, params, view)
    theta = view.flatten(params)
    out = jax.vmap(f, (None, 0))(theta, x)
    jac = jax.lax.map(lambda xn: jax.jacrev(f)(theta, xn), x,
                      batch_size=_chunk_size(x.shape[0], out.shape[1], view.size))
    return out, jac


# --------------------------------------------------------------------------- top Hessian eigenpair
class HessianEigenpair(NamedTuple):
    """The largest eigenvalue of ``H = −∇² log_joint(θ)`` and its eigenvector.

    Attributes:
      eigenvalue: λ_max (the top Ritz value), in nats per unit² of θ; divide by ``post.num_data``
        for the sharpness of the per-datum loss ``−log_joint/N``.
      eigenvector: the unit Ritz vector as a parameter pytree.
      residual_norm: ``‖Hv − λv‖`` recomputed with one more Hessian-vector product: H (symmetric) has
        an eigenvalue within it of ``eigenvalue``.
    """

    eigenvalue: jax.Array
    eigenvector: object
    residual_norm: jax.Array


def top_hessian_eigenvalue(post, params, *, num_iterations: int = 64, key=None) -> HessianEigenpair:
    r"""Top eigenpair of the Hessian of ``−post.log_joint`` at ``params`` by Lanczos, never forming
    the P × P matrix.

    Each iteration is one Hessian-vector product ``Hv = ∂/∂t ∇(−log_joint)(θ + t v)``
    (forward-over-reverse, ``jax.jvp`` of ``jax.grad``); the Krylov basis is fully reorthogonalised
    (twice), so the tridiagonal ``T = VᵀHV`` stays exact to working precision and its largest
    eigenvalue converges to λ_max from below, fast when λ_max is separated from the rest
    (Kaniel–Paige). A breakdown (an invariant subspace found before ``num_iterations``) continues
    from the coordinate vector farthest from the basis. One ``jit``; ``lax.fori_loop`` inside.

    Args:
      post: the ``Posterior``; params: the point (a pytree like ``post.params``).
      num_iterations: Krylov dimension (capped at P); check ``residual_norm`` to see if it sufficed.
      key: ``None`` starts from the normalised all-ones vector (deterministic); a ``jax.random``
        key starts from a Gaussian vector instead (use it when ones may be orthogonal to the top
        eigenvector, e.g. a symmetric model).

    Example::

        top = bj.curvature.top_hessian_eigenvalue(post, fit.params)
        sharpness = top.eigenvalue / post.num_data     # of the per-datum loss, vs 2/η for GD
    """
    flat, _ = ravel_pytree(params)
    m = min(positive_int("num_iterations", num_iterations, owner="top_hessian_eigenvalue"),
            flat.size)
    v0 = jnp.ones_like(flat) if key is None else jax.random.normal(key, flat.shape, flat.dtype)
    return _lanczos(post, params, v0, jnp.zeros((m, flat.size), flat.dtype))


def _hvp_flat(post, params):
    flat, unravel = ravel_pytree(params)
    grad = jax.grad(lambda t: -post.log_joint(unravel(t)))
    return flat, unravel, lambda v: jax.jvp(grad, (flat,), (v,))[1]


@jax.jit
def _lanczos(post, params, v0, basis):
    flat, unravel, hvp = _hvp_flat(post, params)
    m, p = basis.shape

    def orthogonalise(w, vs):
        for _ in range(2):
            w = w - vs.T @ (vs @ w)
        return w

    def step(j, carry):
        vs, alphas, betas = carry
        v = vs[j]
        w = hvp(v)
        alpha = jnp.vdot(w, v)
        w = orthogonalise(w, vs)                     # rows > j are still zero
        beta = jnp.linalg.norm(w)
        # breakdown: continue from the coordinate vector with the least weight in the basis
        e = jax.nn.one_hot(jnp.argmin(jnp.sum(jnp.square(vs), 0)), p, dtype=w.dtype)
        e = orthogonalise(e, vs)
        scale = jnp.maximum(jnp.max(jnp.abs(alphas)), jnp.abs(alpha))
        ok = beta > 100 * jnp.finfo(w.dtype).eps * scale
        nxt = jnp.where(ok, w / jnp.where(ok, beta, 1.0), e / jnp.linalg.norm(e))
        vs = vs.at[j + 1].set(nxt, mode="drop")
        return vs, alphas.at[j].set(alpha), betas.at[j].set(jnp.where(ok, beta, 0.0))

    vs = basis.at[0].set(v0 / jnp.linalg.norm(v0))
    zeros = jnp.zeros(m, flat.dtype)
    vs, alphas, betas = jax.lax.fori_loop(0, m, step, (vs, zeros, zeros))
    t = jnp.diag(alphas) + jnp.diag(betas[:-1], 1) + jnp.diag(betas[:-1], -1)
    evals, evecs = jnp.linalg.eigh(t)
    x = vs.T @ evecs[:, -1]
    x = x / jnp.linalg.norm(x)
    hx = hvp(x)
    lam = jnp.vdot(x, hx)                              # Rayleigh quotient of the Ritz vector
    return HessianEigenpair(lam, unravel(x), jnp.linalg.norm(hx - lam * x))
