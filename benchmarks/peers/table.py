r"""Rows of ``make bench-peers``: the arithmetic each row needs at least, and the table.

FLOP counts (multiply and add counted apart, as the measured matmul rate ``2n³/t`` does), for N
data, K outputs, P parameters and dense layers (in, out) — a lower bound on the work, so
``limit_s = flops / matmul rate`` is the time neither library can beat on this machine:

* a backward pass of one datum through the net ≈ ``4P`` (``2P`` for the input-side products, ``2P``
  for the weight gradients); the GGN needs K of them per datum (one per output: Λ's square root has
  K columns);
* ``full``: Jacobians ``N·K·4P`` + the Gram ``JᵀΛJ`` ``N·K·P²`` (symmetric: half of ``2·N·K·P²``)
  + a Cholesky log-determinant ``P³/3`` (bayesjax uses an eigendecomposition, ~9P³, to make the
  prior grid O(P); laplace-torch an LU ``logdet``, 2P³/3 — both above the bound);
* ``diag``: Jacobians ``N·K·4P`` + squaring and summing them ``N·K·2P``;
* ``kfac``: K backward passes per datum that stop at the pre-activations ``N·K·2P`` + per layer the
  factors ``N·(in+1)²`` (input covariance, bias folded in; symmetric) and ``N·K·out²`` (output-gradient
  covariance) + eigendecompositions of both ``9·((in+1)³ + out³)``;
* the grid of C prior precisions once the curvature's eigenvalues are known: ``C·3P``
  (``log(λ + c)``, its sum and the prior terms).
"""

from __future__ import annotations

import math

from experiments.common.tables import markdown_table


def num_params(layers) -> int:
    """P of dense layers ``[(in, out), ...]`` with biases."""
    return sum(i * o + o for i, o in layers)


def flops(structure: str, n: int, k: int, layers, grid_size: int = 50) -> float:
    """The lower bound on the floating-point operations of one row (see the module docstring);
    ``structure`` is ``full``, ``diag``, ``kfac`` or ``grid``."""
    p = num_params(layers)
    if structure == "full":
        return n * k * 4 * p + n * k * p**2 + p**3 / 3
    if structure == "diag":
        return n * k * 4 * p + n * k * 2 * p
    if structure == "kfac":
        factors = sum(n * (i + 1) ** 2 + n * k * o**2 for i, o in layers)
        eigh = sum(9 * ((i + 1) ** 3 + o**3) for i, o in layers)
        return n * k * 2 * p + factors + eigh
    if structure == "grid":
        return grid_size * 3 * p
    raise ValueError(f"flops: unknown structure {structure!r}")


def _num(v, spec=".3g") -> str:
    if v is None:
        return "—"
    if isinstance(v, str):
        return v
    if isinstance(v, float) and math.isnan(v):
        return "nan"
    return format(v, spec)


def _ms(seconds) -> str:
    if seconds is None or isinstance(seconds, str):
        return _num(seconds)
    ms = 1e3 * seconds
    return f"{ms:.3g}" if ms < 1000 else f"{ms:,.0f}"


def max_abs_diff(a, b):
    """``max |a - b|`` over two equal-length sequences (scalars allowed); ``nan`` when any value is
    NaN (a failed evaluation is not an agreement); ``None`` when either side is missing."""
    if a is None or b is None:
        return None
    a = a if isinstance(a, (list, tuple)) else [a]
    b = b if isinstance(b, (list, tuple)) else [b]
    if len(a) != len(b):
        raise ValueError(f"max_abs_diff: {len(a)} values against {len(b)}")
    diffs = [abs(x - y) for x, y in zip(a, b, strict=True)]
    return float("nan") if any(math.isnan(d) for d in diffs) else max(diffs)


def describe_diff(a, b):
    """``max_abs_diff``, but where some values are NaN, a cell that says how many and the largest
    difference among the others (``"2/50 nan, 9.4e+00 elsewhere"``)."""
    d = max_abs_diff(a, b)
    if d is None or not math.isnan(d) or not isinstance(a, (list, tuple)):
        return d
    diffs = [abs(x - y) for x, y in zip(a, b, strict=True)]
    ok = [x for x in diffs if not math.isnan(x)]
    rest = f", {max(ok):.1e} elsewhere" if ok else ""
    return f"{len(diffs) - len(ok)}/{len(diffs)} nan{rest}"


HEADER = ["net", "P", "structure", "bayesjax warm (ms)", "laplace-torch warm (ms)",
          "torch / bayesjax", "bayesjax cold (ms)", "laplace-torch cold (ms)", "limit (ms)",
          "bayesjax f32 err (nats)", "laplace-torch f32 err (nats)", "f64 agreement (nats)"]


def table_row(row: dict) -> list[str]:
    """The cells of one result row (keys as ``__main__.make_row`` writes them)."""
    bj_w, th_w = row.get("bayesjax_warm_s"), row.get("torch_warm_s")
    ratio = th_w / bj_w if isinstance(bj_w, float) and isinstance(th_w, float) else None
    torch_warm = row.get("torch_error") or th_w
    torch_cold = row.get("torch_error") or row.get("torch_cold_s")
    return [row["net"], f"{row['P']:,}", row["structure"], _ms(bj_w), _ms(torch_warm),
            _num(ratio, ".3g"), _ms(row.get("bayesjax_cold_s")), _ms(torch_cold),
            _ms(row.get("limit_s")), _num(row.get("bayesjax_f32_err"), ".1e"),
            _num(row.get("torch_f32_err"), ".1e"), _num(row.get("f64_agreement"), ".1e")]


def markdown(rows) -> str:
    """The GitHub markdown table of result rows."""
    return markdown_table(HEADER, [table_row(r) for r in rows], floatfmt="")
