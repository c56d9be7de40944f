"""Input validation shared by the library: fail early, in Python, with the argument's name."""

from __future__ import annotations

import math
import numbers

import jax
import numpy as np


def _is_concrete(value) -> bool:
    return not isinstance(value, jax.core.Tracer)


def positive_scalar(name: str, value, *, owner: str = "") -> float | jax.Array:
    """Return ``value`` if it is a finite number > 0; raise ``ValueError`` naming ``name`` otherwise.

    Traced values (inside ``jit``/``vmap``) are accepted unchecked: they were checked when built.
    """
    where = f"{owner}: " if owner else ""
    if not _is_concrete(value):
        return value
    arr = np.asarray(value)
    if arr.shape != () or not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise ValueError(f"{where}{name} must be a positive real scalar, got {value!r}")
    v = float(arr)
    if not math.isfinite(v) or v <= 0.0:
        raise ValueError(f"{where}{name} must be finite and > 0, got {v}")
    return value


def finite_scalar(name: str, value, *, owner: str = ""):
    where = f"{owner}: " if owner else ""
    if not _is_concrete(value):
        return value
    arr = np.asarray(value)
    if arr.shape != () or not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise ValueError(f"{where}{name} must be a real scalar, got {value!r}")
    if not math.isfinite(float(arr)):
        raise ValueError(f"{where}{name} must be finite, got {float(arr)}")
    return value


def one_of(name: str, value, valid, *, owner: str = ""):
    """Return ``value`` if it is one of ``valid``; raise ``ValueError`` listing them otherwise."""
    if value not in valid:
        where = f"{owner}: " if owner else ""
        raise ValueError(f"{where}unknown {name} {value!r}; valid: {', '.join(map(str, valid))}")
    return value


def positive_int(name: str, value, *, owner: str = "", allow_none: bool = False):
    where = f"{owner}: " if owner else ""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{where}{name} must be an integer >= 1, got {value!r}")
    return int(value)


def finite_array(name: str, value) -> jax.Array:
    """Convert to a JAX array and reject NaN/Inf before anything is compiled (traced values
    inside ``jit``/``vmap`` pass unchecked)."""
    if not _is_concrete(value):
        return value
    arr = np.asarray(value)
    if arr.dtype == object:
        raise ValueError(f"{name} must be a numeric array, got dtype object")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise ValueError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.inexact):
        bad = ~np.isfinite(arr)
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"{name} contains {int(bad.sum())} non-finite value(s) (NaN or Inf), "
                f"first at index {first}"
            )
    return jax.numpy.asarray(arr)


def probability_vector(name: str, p, k: int, *, owner: str = ""):
    """Return ``p`` if it is a length-``k`` probability vector (finite, non-negative, summing to 1
    within 1e-5); ``ValueError`` naming ``name`` otherwise. Traced values pass unchecked."""
    if not _is_concrete(p):
        return p
    arr = np.asarray(p, np.float64)
    if arr.shape != (k,) or not np.all(np.isfinite(arr)) or np.any(arr < 0) or \
            abs(arr.sum() - 1.0) > 1e-5:
        where = f"{owner}: " if owner else ""
        raise ValueError(f"{where}{name} must be a probability vector of length {k} "
                         f"(non-negative, summing to 1), got {arr.tolist()}")
    return jax.numpy.asarray(p)
