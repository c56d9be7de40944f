r"""KFAC, and the exact GGN diagonal, of networks made of ``flax.nnx.Linear`` layers (and
``nnx.Conv`` layers: KFAC-expand, ``bayesjax.kfac_conv``).

A dense layer computes ``s = Wᵀa + b`` (kernel ``W``: in × out). Write ``ā = [a; 1]`` and
``W̄ = [W; b]`` ((in+1) × out, flattened row-major as the flat parameter vector holds it), and let
``B_n = ∂f_n/∂s_n`` (K × out) be the Jacobian of example n's outputs with respect to the layer's
pre-activations. Then ``∂f_n[k]/∂W̄[i, o] = ā_n[i] B_n[k, o]``, so the layer's block of the GGN
``Σ_n J_nᵀ Λ_n J_n / T`` (``bayesjax.curvature``) is a sum of Kronecker products,

.. math::

    H_{\text{layer}} = \frac1T \sum_n (\bar a_n \bar a_n^\top) \otimes (B_n^\top \Lambda_n B_n).

**KFAC** (Martens & Grosse 2015) replaces it by a Kronecker product of sums,
``H ≈ A ⊗ G`` with ``A = Σ_n ā_n ā_nᵀ`` and ``G = (1/N) Σ_n B_nᵀ Λ_n B_n / T``, and ignores the
blocks between layers. It is exact when ``B_nᵀ Λ_n B_n`` is the same for every n: one example, or a
single dense layer with a Gaussian likelihood (``B_n = I``, ``Λ_n = 1/σ²``). With the
eigendecompositions ``A = Q_A diag(α) Q_Aᵀ`` and ``G = Q_G diag(γ) Q_Gᵀ``, the block of the posterior
precision ``A ⊗ G + c I`` has eigenvectors ``Q_A ⊗ Q_G`` and eigenvalues ``α_i γ_j + c``: its log
determinant, its powers and a new prior precision c cost nothing more (``bayesjax.laplace``).

The bias, ``kfac_bias=``:

- ``"joint"`` (default): one block per layer over ``[W; b]``, as above; ``A`` is (in+1) × (in+1).
- ``"separate"``, laplace-torch's ``Kron`` (its default backend, curvlinops' ``KFACLinearOperator``
  with ``separate_weight_and_bias=True``, and BackPACK's KFLR): a kernel block
  ``(Σ_n a_n a_nᵀ) ⊗ G`` and a bias block ``N·G`` (its "A" is the scalar ``Σ_n 1``): the two
  diagonal blocks of the joint ``A ⊗ G``, without its kernel–bias cross terms ``(Σ_n a_n) ⊗ G``.
  laplace-torch puts the 1/N on the other factor (``A = Σ aaᵀ/N``, ``G = Σ BᵀΛB``; the bias block
  is ``G``); the products are the same. It adds the prior precision per block (one number per
  parameter tensor), we do too: ``α_i γ_j + c``, ``N γ_j + c``.

How close each is to the GGN, measured at the MAP of ``benchmarks/bench_laplace.py``'s nets in
float64: the relative Frobenius error ``‖KFAC − GGN‖ / ‖GGN‖`` over the per-layer ``[W; b]`` blocks
(the blocks between layers, which both drop, hold 54% and 12% of ``‖GGN‖²``), and the evidence
``log_marginal_likelihood`` minus that of ``structure="full"``, in nats:

=============================  ============================  ============================
net (P)                        joint: error, Δ evidence      separate: error, Δ evidence
=============================  ============================  ============================
1-16-16-1 toy (321)            0.31, −64.6                   0.35, −72.7
digits 64-32-10 (2,410)        0.33, −191.2                  0.49, −223.6
=============================  ============================  ============================

Both understate the evidence there (their log determinants are larger than the GGN's). "separate"
always sits below "joint": its precision is the joint one's diagonal blocks, whose log determinant
is larger (Fischer's inequality), though its bias block ``N·G = Σ_n B_nᵀΛ_nB_n / T`` is the exact
GGN block (ā = 1). Its evidence is laplace-torch's: ``KronLaplace`` (curvlinops backend) at the
same points gives −57.735987 and −798.105109 nats, equal to ours to 1e-12 (float64). The same
comparison for convolutional nets is in ``bayesjax.kfac_conv``.

**The diagonal** of the GGN needs no approximation: ``diag(H)[i, o] = Σ_n ā_n[i]² d_n[o] / T`` with
``d_n = diag(B_nᵀ Λ_n B_n)``, one matmul ``(ā²)ᵀ d`` per layer (``linear_diag``), where the generic
``bayesjax.curvature.ggn(..., diagonal=True)`` forms every per-example Jacobian ``J_n`` (K × P).

Cost: a forward pass and K backward passes (to the pre-activations only) per example, batched over
chunks of examples inside one ``lax.scan``; then ``2NK·out²`` FLOPs per G, ``2N·in²`` per A and
``2N·in·out`` per diagonal. Memory: chunk × Σ_layers (2K·out + 2·in) floats, the chunk chosen
to fit ``bayesjax.curvature._JAC_BUDGET``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from bayesjax import layer_taps as _lt
from bayesjax.layer_taps import BIAS_CONVENTIONS, KFACLayer, dense_layers, kfac_layers, layer_taps

__all__ = ["KFACLayer", "BIAS_CONVENTIONS", "kfac_layers", "dense_layers", "kfac_factors",
           "kfac_curvature", "block_eigenvalues", "layer_taps", "linear_diag"]


# ------------------------------------------------------------------------------ KFAC and diag
def _factor_sums(post, params, dense):
    """Per layer: ``A = Σ ā āᵀ`` ((in+1)², ā = [a, 1]) and ``G = Σ BᵀΛB / (N |P| T)``, the sums
    over the examples and the |P| positions (``bayesjax.kfac_conv``; |P| = 1 for nnx.Linear)."""
    dtype = _lt._dtype(params)

    def update(acc, abar, mbs, m):
        out = []
        for (a_acc, g_acc), a, r in zip(acc, abar, mbs, strict=True):
            am = (a * m[:, None, None]).reshape(-1, a.shape[-1])
            out.append((a_acc + am.T @ a.reshape(-1, a.shape[-1]), g_acc + r.T @ r))
        return out

    init = [(jnp.zeros((d.n_in + 1,) * 2, dtype), jnp.zeros((d.n_out,) * 2, dtype))
            for d in dense]
    acc = _lt._scan(post, params, dense, init, update)
    return [(a, g / (post.num_data * post.temperature * d.positions))
            for (a, g), d in zip(acc, dense, strict=True)]


def kfac_factors(post, params, layers) -> list[tuple[jax.Array, jax.Array]]:
    """``[(A, G)]`` per block: ``A = Σ ā āᵀ`` over the block's rows of ``ā = [a, 1]`` (``N |P|``
    for a bias block), ``G = Σ BᵀΛB / (N |P| T)``, summed over examples and positions."""
    dense = _lt._dense(layers)
    sums = dict(zip((d.path for d in dense), _factor_sums(post, params, dense), strict=True))
    return [(sums[lay.path][0][lay.rows, lay.rows], sums[lay.path][1]) for lay in layers]


def _eigh(m):
    w, q = jnp.linalg.eigh(m)
    return jnp.maximum(w, 0.0), q      # PSD factors: round-off can leave tiny negative values


def kfac_curvature(post, params, layers) -> list[tuple[jax.Array, ...]]:
    """``[(α, Q_A, γ, Q_G)]`` per block: the eigendecompositions of its ``A`` and ``G``
    (eigenvalues clipped at 0: the factors are PSD, round-off can leave tiny negative ones).
    One jit for the whole build (``bayesjax.laplace`` jits it); G is decomposed once per layer."""
    factors = kfac_factors(post, params, layers)
    g_of = {lay.path: g for lay, (_, g) in zip(layers, factors, strict=True)}
    eig_g = {path: _eigh(g) for path, g in g_of.items()}                 # once per layer
    return [_eigh(a) + eig_g[lay.path] for lay, (a, _) in zip(layers, factors, strict=True)]


def block_eigenvalues(layers, curv, scale, p0) -> list[tuple[jax.Array, ...]]:
    """``[(λ, Q_A, Q_G)]`` per block, ``λ = scale·αγᵀ + c``: the eigenvalues of its posterior
    precision ``scale·A ⊗ G + c I`` for a (P,) prior precision ``p0`` that is one number ``c``
    per block (checked when ``p0`` is concrete)."""
    firsts = np.asarray([lay.slices[0].start for lay in layers])
    if isinstance(p0, jax.core.Tracer):
        cs = p0[firsts]
    else:
        p0n = np.asarray(p0)
        cs = jnp.asarray(p0n[firsts])
        for lay in layers:
            first = p0n[lay.slices[0].start]
            if any(np.any(p0n[sl] != first) for sl in lay.slices):
                what = ("layer (kernel and bias alike)" if lay.part == "joint"
                        else "block (kfac_bias='separate': one for the kernel, one for the bias)")
                raise ValueError(f"laplace(structure='kfac'): the prior precision must be one "
                                 f"number per {what}; {lay.part} block of {lay.path!r} has "
                                 "several")
    lams = _block_lams(curv, scale, cs)
    return [(lam, qa, qg) for lam, (_, qa, _, qg) in zip(lams, curv, strict=True)]


@jax.jit
def _block_lams(curv, scale, cs):
    return [scale * jnp.outer(alpha, gamma) + cs[i] for i, (alpha, _, gamma, _) in enumerate(curv)]


def linear_diag(post, params, view) -> jax.Array:
    """The exact GGN diagonal ``diag(Σ_n J_nᵀ Λ_n J_n) / T`` (P,) in the view's order, for views
    made of ``nnx.Linear`` kernels and biases (``dense_layers`` is not None); equal to
    ``bayesjax.curvature.ggn(post, params, view, True)`` at a fraction of its cost."""
    layers = dense_layers(post, params, view)
    if layers is None:
        kfac_layers(post, params, view, "joint")            # raises why, if it is not a conv net
        raise ValueError("linear_diag: a convolution shares its weights over positions; use "
                         "bayesjax.curvature.ggn(..., diagonal=True)")
    dense = _lt._dense(layers)
    dtype = _lt._dtype(params)

    def update(acc, abar, rows, m):
        # d = Σ_k rows_k²: as a product with ones (XLA:CPU's reduction over a leading axis is
        # ~20× slower than this on the 108k-parameter net)
        c = m.shape[0]
        out = []
        for acc_l, a, r in zip(acc, abar, rows, strict=True):
            sq = jnp.square(r).reshape(-1, c * r.shape[-1])
            d = (jnp.ones((sq.shape[0],), sq.dtype) @ sq).reshape(c, r.shape[-1])
            out.append(acc_l + jnp.square(a[:, 0]).T @ d)                    # (in+1, out)
        return out

    acc = _lt._scan(post, params, dense, [jnp.zeros((d.n_in + 1, d.n_out), dtype) for d in dense],
                update)
    flat = jnp.zeros((view.size,), dtype)
    for lay, diag in zip(layers, acc, strict=True):
        flat = lay.put(flat, diag[lay.rows])
    return flat / post.temperature
