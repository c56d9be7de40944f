"""Layer taps: the ``flax.nnx.Linear`` and ``nnx.Conv`` layers of a network and, per example, each
layer's inputs ``ā = [a; 1]`` and the Jacobian ``B = ∂f/∂s`` of the outputs with respect to its
pre-activations s, batched over chunks of examples in one ``lax.scan``. KFAC's factors and the exact
GGN diagonal (``bayesjax.kfac``) and the KFAC GLM predictive (``bayesjax.predictive``) are sums over
them; ``KFACLayer`` says where each layer's block sits in the flat parameter vector. The maths and
the cost are in ``bayesjax.kfac``'s docstring, the convolutions' in ``bayesjax.kfac_conv``."""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from bayesjax import curvature as _curv
from bayesjax import kfac_conv as _conv

__all__ = ["BIAS_CONVENTIONS", "KFACLayer", "dense_layers", "kfac_layers", "layer_taps"]

BIAS_CONVENTIONS = ("joint", "separate")


class KFACLayer(NamedTuple):
    """One Kronecker block ``A ⊗ G`` of an ``nnx.Linear`` or ``nnx.Conv`` layer and where its
    parameters sit in the flat vector; ``theta`` restricted to it is the (rows, out) matrix
    ``[W; b]``, ``W`` or ``b`` (a conv kernel (kh, kw, in, out) as (kh·kw·in, out)). Hashable."""

    path: str              # the module's path, e.g. "layers.0"
    part: str              # "joint" ([W; b], or W without a bias), "kernel" (W) or "bias" (b)
    n_in: int
    n_out: int
    kernel_offset: int     # start of the row-major (in, out) kernel; -1 for a bias block
    bias_offset: int       # start of the bias; -1 if the block has none
    positions: int = 1     # output positions sharing the weights (1 for nnx.Linear)

    @property
    def has_bias(self) -> bool:
        return self.bias_offset >= 0

    @property
    def rows(self) -> slice:
        """The rows of ``ā = [a; 1]`` (and of ``A``) the block uses."""
        return slice(0 if self.kernel_offset >= 0 else self.n_in, self.n_in + self.has_bias)

    @property
    def shape(self) -> tuple[int, int]:
        r = self.rows
        return (r.stop - r.start, self.n_out)

    @property
    def slices(self) -> tuple[slice, ...]:
        """Where its kernel (row-major) and its bias sit in the flat vector."""
        return tuple(slice(off, off + n) for off, n in ((self.kernel_offset, self.n_in * self.n_out),
                                                        (self.bias_offset, self.n_out)) if off >= 0)

    @property
    def index(self) -> np.ndarray:
        """(rows, out) positions of the block in the flat vector."""
        return np.concatenate([np.arange(sl.start, sl.stop) for sl in self.slices]).reshape(
            self.shape)

    def take(self, z):
        """``z[index]`` for a flat ``z`` of shape (P, ...): (rows, out, ...), by slicing."""
        parts = [z[sl].reshape((-1, self.n_out) + z.shape[1:]) for sl in self.slices]
        return parts[0] if len(parts) == 1 else jnp.concatenate(parts, axis=0)

    def put(self, z, block):
        """``z`` with ``z[index] = block`` (the inverse of ``take``)."""
        parts = [block[:-1], block[-1:]] if len(self.slices) == 2 else [block]
        for sl, part in zip(self.slices, parts, strict=True):
            z = z.at[sl].set(part.reshape((-1,) + block.shape[2:]))
        return z


class _Dense(NamedTuple):
    """A tapped ``nnx.Linear`` or ``nnx.Conv``: its path and sizes."""

    path: str
    n_in: int
    n_out: int
    positions: int = 1


def _dense(layers) -> tuple[_Dense, ...]:
    return tuple(dict.fromkeys(_Dense(lay.path, lay.n_in, lay.n_out, lay.positions)
                               for lay in layers))


# ------------------------------------------------------------------------------------ the taps
_TAPS: dict = {}


def _record(module, inputs, s):
    """A tap: keeps the layer's inputs (positions, in) and adds a (zero) perturbation to its
    pre-activations ``s``, so that the gradient with respect to it is ``∂f/∂s``."""
    rec = _TAPS[id(module)]
    if rec["input"] is not None:
        raise ValueError(f"laplace(structure='kfac'): layer {rec['path']!r} is applied "
                         "more than once per example; KFAC needs one use per layer")
    rec["input"] = inputs
    if rec["eps"] is not None and rec["eps"].size != s.size:
        raise ValueError(f"laplace(structure='kfac'): layer {rec['path']!r} has "
                         f"{s.size // s.shape[-1]} output positions at these inputs but "
                         f"{rec['eps'].size // s.shape[-1]} at the training inputs its KFAC factors "
                         "were built from; give inputs of the training inputs' shape")
    return s if rec["eps"] is None else s + jnp.reshape(rec["eps"], s.shape)


@functools.cache
def _tap_classes() -> dict:
    from flax import nnx

    class _TapLinear(nnx.Linear):
        def __call__(self, x, out_sharding=None):
            return _record(self, jnp.reshape(x, (1, -1)), nnx.Linear.__call__(self, x, out_sharding))

    return {nnx.Linear: _TapLinear, nnx.Conv: _conv.conv_tap_class(_record)}


def _tapped_forward(post, params, dense, xn, eps):
    """One example through the model with taps: (outputs (K,), [inputs a (positions, in)] per
    layer); ``eps`` is [(positions, out)] per layer, or None (no perturbation)."""
    from flax import nnx

    model = nnx.merge(post.apply_fn.graphdef, params, post.apply_fn.rest)
    by_name = {".".join(str(p) for p in path): m for path, m in nnx.iter_modules(model)}
    taps = _tap_classes()
    mods = [by_name[d.path] for d in dense]
    kinds = [type(m) for m in mods]
    try:
        for d, m, e in zip(dense, mods, eps or [None] * len(dense), strict=True):
            _TAPS[id(m)] = {"input": None, "eps": e, "path": d.path}
            m.__class__ = taps[type(m)]
        out = jnp.reshape(model(xn[None]), (-1,))
        inputs = []
        for d, m in zip(dense, mods, strict=True):
            a = _TAPS[id(m)]["input"]
            if a is None or a.shape[1] != d.n_in:
                raise ValueError(f"laplace(structure='kfac'): layer {d.path!r} must see one "
                                 "input vector per example")
            inputs.append(a)
    finally:
        for m, kind in zip(mods, kinds, strict=True):
            _TAPS.pop(id(m), None)
            m.__class__ = kind
    return out, inputs


def _dtype(params):
    return jnp.result_type(*jax.tree.leaves(params))


def _taps(post, params, dense, x, sqrt: bool):
    """For M examples: outputs f (M, K), per layer ā = [a, 1] (M, positions, in+1) and the rows
    ``R[k, n, p] = v_{n,k}ᵀ B_{n,p}`` (K, M, positions, out) of ``B_{n,p} = ∂f_n/∂s_{n,p}``, for
    ``v_{n,k}`` the columns of I or, with ``sqrt``, of ``M_n`` (``M_n M_nᵀ = Λ_n``: ``B_nᵀΛ_nB_n``
    is then the Gram matrix of the rows).
    One forward pass (vmapped over the examples, each on its own) and K backward passes to the
    pre-activations, vmapped over k: a matrix product per layer and pass."""
    dtype = _dtype(params)
    fwd = jax.vmap(lambda xn, e: _tapped_forward(post, params, dense, xn, e))
    eps = [jnp.zeros((x.shape[0], d.positions, d.n_out), dtype) for d in dense]
    out, vjp, inputs = jax.vjp(lambda e: fwd(x, e), eps, has_aux=True)
    k = out.shape[1]
    if sqrt:
        cts = jnp.moveaxis(jax.vmap(post.likelihood.output_precision_sqrt)(out), 2, 0)
    else:
        cts = jnp.broadcast_to(jnp.eye(k, dtype=out.dtype)[:, None, :], (k,) + out.shape)
    (rows,) = jax.vmap(vjp)(cts)                                      # [(K, M, positions, out)]
    return out, [jnp.concatenate([a, jnp.ones(a.shape[:2] + (1,), dtype)], axis=2)
                 for a in inputs], rows


def layer_taps(post, params, layers, x):
    """Outputs f (M, K) at inputs ``x`` and, per block of ``layers``, its ``ā`` (M, positions,
    rows) and ``B = ∂f/∂s`` (M, K, positions, out); positions is 1 for an ``nnx.Linear``."""
    dense = _dense(layers)
    out, abar, rows = _taps(post, params, dense, x, sqrt=False)
    where = {d.path: i for i, d in enumerate(dense)}
    return (out, [abar[where[lay.path]][..., lay.rows] for lay in layers],
            [jnp.moveaxis(rows[where[lay.path]], 0, 1) for lay in layers])


def _floats_per_example(k: int, dense) -> int:
    """Floats held per example of a chunk: ā and MᵀB of every layer and their cotangents."""
    return sum((2 * k * d.n_out + 2 * (d.n_in + 1)) * d.positions for d in dense)


def _chunk(n: int, k: int, dense) -> int:
    """Examples per chunk: within ``curvature._JAC_BUDGET`` floats, as few chunks as that allows,
    of equal size (the padding of the last one is under one example per chunk)."""
    most = max(1, min(n, _curv._JAC_BUDGET // _floats_per_example(k, dense)))
    return -(-n // -(-n // most))


def _scan(post, params, dense, init, update):
    """``Σ`` over the N examples, in chunks inside one ``lax.scan``, of
    ``update(acc, [ā (C, positions, in+1)], [rows of MᵀB (K C positions, out)], mask (C,))``;
    padded examples have zero rows."""
    chunk = _chunk(post.num_data, _curv.output_dim(post, params), dense)
    xs, masks = _curv._chunks(post.x, chunk)

    def body(acc, batch):
        xc, mc = batch
        out, abar, rows = _taps(post, params, dense, xc, sqrt=True)
        m = mc.astype(out.dtype)
        rows = [(r * m[None, :, None, None]).reshape(-1, r.shape[-1]) for r in rows]
        return update(acc, abar, rows, m), None

    acc, _ = jax.lax.scan(body, init, (xs, masks))
    return acc


# --------------------------------------------------------------------------- finding the layers
_LAYERS: dict = {}


def _find(post, params, view, bias: str):
    """(blocks, None), or (None, why not) when the view is not made of nnx.Linear and nnx.Conv
    kernels and biases, each layer used once per example (a Linear on one input vector)."""
    from flax import nnx

    from bayesjax.posterior import _NNXApply

    if not isinstance(post.apply_fn, _NNXApply):
        return None, ("laplace(structure='kfac') needs a Posterior built from a flax.nnx.Module "
                      "(KFAC reads its nnx.Linear layers); use 'diag' or 'full' for from_apply")
    model = nnx.merge(post.apply_fn.graphdef, params, post.apply_fn.rest)
    where = dict(zip(view.paths, zip(view.offsets, view.shapes, strict=True), strict=True))
    layers, covered = [], set()
    for path, m in nnx.iter_modules(model):
        if type(m) not in (nnx.Linear, nnx.Conv):
            continue
        name = ".".join(str(p) for p in path)
        kpath, bpath = (f"{name}.kernel", f"{name}.bias") if name else ("kernel", "bias")
        if kpath not in where:
            continue
        if type(m) is nnx.Conv and (why := _conv.conv_unsupported(m)):
            return None, (f"laplace(structure='kfac'): layer {name!r} is {why}, which KFAC does "
                          "not cover; use structure='diag' or 'full'")
        koff, shape = where[kpath]
        n_in, n_out = math.prod(shape[:-1]), shape[-1]          # a conv kernel as (kh·kw·in, out)
        boff = where[bpath][0] if bpath in where else -1
        covered.update({kpath, bpath} if boff >= 0 else {kpath})
        if bias == "separate" and boff >= 0:
            layers += [KFACLayer(name, "kernel", n_in, n_out, koff, -1),
                       KFACLayer(name, "bias", n_in, n_out, -1, boff)]
        else:
            layers.append(KFACLayer(name, "joint", n_in, n_out, koff, boff))
    missing = [p for p in view.paths if p not in covered]
    if missing:
        return None, (f"laplace(structure='kfac'): parameters {missing} are not the kernel or "
                      "bias of an nnx.Linear or nnx.Conv layer; use structure='diag' or 'full'")
    dense = _dense(layers)
    try:  # trace one example: each layer used once (a Linear on one input vector); positions
        inputs = jax.eval_shape(lambda xn: _tapped_forward(post, params, dense, xn, None)[1],
                                post.x[0])
    except ValueError as e:
        return None, str(e)
    positions = {d.path: a.shape[0] for d, a in zip(dense, inputs, strict=True)}
    return tuple(lay._replace(positions=positions[lay.path]) for lay in layers), None


def _cached_find(post, params, view, bias):
    key = (post.apply_fn, view, bias, tuple(post.x.shape[1:]), post.x.dtype, _dtype(params))
    try:
        hash(key)
    except TypeError:
        return _find(post, params, view, bias)
    if key not in _LAYERS:
        if len(_LAYERS) > 256:
            _LAYERS.clear()
        _LAYERS[key] = _find(post, params, view, bias)
    return _LAYERS[key]


def kfac_layers(post, params, view, bias: str = "joint") -> tuple[KFACLayer, ...]:
    """The Kronecker blocks of the view's ``nnx.Linear`` and ``nnx.Conv`` layers, for the bias
    convention ``bias`` (``"joint"``: one block per layer; ``"separate"``: a kernel and a bias
    block). Raises ``ValueError`` if a parameter of the view is not a kernel or bias of such a
    layer used once per example (a Linear on one input vector)."""
    if bias not in BIAS_CONVENTIONS:
        raise ValueError(f"laplace: unknown kfac_bias {bias!r}; valid: "
                         f"{', '.join(BIAS_CONVENTIONS)}")
    layers, why = _cached_find(post, params, view, bias)
    if layers is None:
        raise ValueError(why)
    return layers


def dense_layers(post, params, view) -> tuple[KFACLayer, ...] | None:
    """``kfac_layers(..., "joint")``, or ``None`` where it would raise or a layer shares its
    weights over several positions (a convolution): then ``linear_diag`` does not apply."""
    layers = _cached_find(post, params, view, "joint")[0]
    return None if layers is None or any(lay.positions > 1 for lay in layers) else layers
