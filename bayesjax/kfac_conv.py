r"""KFAC for ``flax.nnx.Conv`` layers: KFAC-expand (Grosse & Martens 2016), as laplace-torch's Kron.

A convolution applies one kernel at every output position p: with ``ā_{n,p} = [a_{n,p}; 1]`` the
unfolded input patch at p (``jax.lax.conv_general_dilated_patches``, in the row order of the
(kh, kw, in, out) kernel flattened row-major, so that ``W̄ = [W; b]`` is a (kh·kw·in + 1) × out
matrix and ``bayesjax.layer_taps.KFACLayer`` slices it as a dense layer's) and ``B_{n,p} = ∂f_n/∂s_{n,p}``
(K × out) the Jacobian of example n's outputs with respect to the pre-activations at p,
``∂f_n/∂W̄ = Σ_p ā_{n,p} ⊗ B_{n,p}``, so the layer's GGN block is

.. math::

    H_{\text{layer}} = \frac1T \sum_n \sum_{p,q} (\bar a_{n,p} \bar a_{n,q}^\top)
        \otimes (B_{n,p}^\top \Lambda_n B_{n,q}).

**KFAC-expand** treats the positions as more examples and drops the ``p ≠ q`` terms:
``H ≈ A ⊗ G`` with

.. math::

    A = \sum_n \sum_p \bar a_{n,p} \bar a_{n,p}^\top, \qquad
    G = \frac{1}{N\,|P|\,T} \sum_n \sum_p B_{n,p}^\top \Lambda_n B_{n,p},

``|P|`` the number of output positions (an ``nnx.Linear`` is the case ``|P| = 1``). This is
curvlinops' normalisation (``KFACLinearOperator``, ``kfac_approx="expand"``, laplace-torch's
default for Kron): it divides the input covariance by ``N·|P|`` and sums the gradient covariance
(``reduction="sum"``); we put ``1/(N |P|)`` on G instead, the product is the same. The bias:
with ``kfac_bias="separate"`` its block is ``N |P| · G = Σ_{n,p} B_{n,p}ᵀΛ_nB_{n,p} / T``,
laplace-torch's bias factor, not the exact ``Σ_n (Σ_p B_{n,p})ᵀ Λ_n (Σ_p B_{n,p}) / T``.

When it is exact: not for one example in general (the cross-position terms are dropped), but
where a convolution has one output position it is a dense layer on its one patch, and then
conv-KFAC is Linear-KFAC (exact for one example); ``tests/bayesjax/test_kfac_conv.py`` checks
that, and the factors against an independent computation with ``jax.jacobian``.

How close it is, in float64 at a MAP (``fit_map(key(0), num_steps=500, learning_rate=1e-2)``, the
first 300 digits, pixels / 16, prior precision 1) of digits CNNs — 8×8 image → Conv 3×3 SAME with 4
channels → tanh → flatten → Linear 10 — with stride 2 (16 positions) and stride 1 (64): the relative
Frobenius error ``‖KFAC − GGN‖ / ‖GGN‖`` over the per-layer ``[W; b]`` blocks, and the evidence
``log_marginal_likelihood`` of each structure, in nats:

================  ==============  ======================  =========================  =======
net (P)           full (the GGN)  joint: error, evidence  separate: error, evidence  diag
================  ==============  ======================  =========================  =======
stride 2 (690)    −162.41         0.60, −196.77           0.66, −204.74              −368.92
stride 1 (2,610)  −137.25         0.61, −174.46           0.63, −179.50              −485.02
================  ==============  ======================  =========================  =======

(the blocks between the two layers, which KFAC drops, hold 30% and 21% of ``‖GGN‖²``). As
for dense nets (``bayesjax.kfac``) both conventions understate the full evidence, by 34–42 nats here,
and the diagonal by far more. ``kfac_bias="separate"`` is laplace-torch's ``KronLaplace``: on a
stride-2 VALID CNN (P = 410, 100 digits; ``benchmarks/peers/conv_reference.py``) laplace-torch 0.3
gives −125.8192217715 nats and we agree to 4e-14 (float64; ``test_kfac_conv.py`` checks 1e-6).

Supported: any number of spatial dimensions, strides, every padding nnx.Conv has (its own padding
reaches the patches: the tap records the arguments nnx passes to ``conv_general_dilated``), input
and kernel dilation. Refused, with the reason: grouped convolutions, masked kernels and a custom
``conv_general_dilated``. ``structure="diag"`` of a net with a convolution of more than one
position uses the generic GGN diagonal (``bayesjax.curvature.ggn``); the GLM predictive
contracts ``Σ_p ā_p ⊗ B_p`` with the Kronecker eigenbases (``bayesjax.predictive``).
"""

from __future__ import annotations

import functools
import math

from jax import lax

__all__ = ["conv_unsupported", "conv_tap_class", "patches"]


def conv_unsupported(module) -> str | None:
    """Why KFAC cannot read the ``nnx.Conv`` ``module``, or None if it can."""
    if module.feature_group_count != 1:
        return f"a grouped convolution (feature_group_count={module.feature_group_count})"
    if module.mask is not None:
        return "a masked convolution (mask=...)"
    if module.conv_general_dilated is not lax.conv_general_dilated:
        return "a convolution with a custom conv_general_dilated"
    return None


def patches(lhs, filter_shape, window_strides, padding, lhs_dilation, rhs_dilation,
            dimension_numbers):
    """The unfolded input patches of a convolution ``lax.conv_general_dilated(lhs, kernel, ...)``
    with a (*filter_shape, in, out) kernel (nnx's layout): (positions, prod(filter_shape)·in), a
    patch's entries in the order of the kernel flattened row-major. ``Precision.HIGHEST``: the
    patches are copies of the inputs, which a lower default precision (TF32 or bfloat16 passes on
    accelerators) would round."""
    p = lax.conv_general_dilated_patches(lhs, filter_shape, window_strides, padding,
                                         lhs_dilation, rhs_dilation, dimension_numbers,
                                         precision=lax.Precision.HIGHEST)
    size = math.prod(filter_shape)
    channels = p.shape[-1] // size       # nnx's output spec is channels-last; features (in, *filter)
    return p.reshape(-1, channels, size).swapaxes(1, 2).reshape(-1, size * channels)


@functools.cache
def conv_tap_class(record):
    """An ``nnx.Conv`` whose call returns ``record(module, patches, s)`` for its input
    ``patches(...)`` (positions, rows) and pre-activations ``s``."""
    from flax import nnx

    class _TapConv(nnx.Conv):
        def __call__(self, inputs, out_sharding=None):
            conv, seen = self.conv_general_dilated, []

            def recording(lhs, rhs, window_strides, padding, **kw):
                seen.append(patches(lhs, rhs.shape[:-2], window_strides, padding,
                                    kw["lhs_dilation"], kw["rhs_dilation"],
                                    kw["dimension_numbers"]))
                return conv(lhs, rhs, window_strides, padding, **kw)

            # nnx pads (CIRCULAR, REFLECT, CAUSAL) and canonicalises the strides and dilations
            # before it calls conv_general_dilated: the patches see exactly what the kernel sees
            object.__setattr__(self, "conv_general_dilated", recording)
            try:
                s = nnx.Conv.__call__(self, inputs, out_sharding)
            finally:
                object.__setattr__(self, "conv_general_dilated", conv)
            return record(self, seen[0], s)

    return _TapConv
