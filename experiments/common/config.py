"""Checks for an experiment's ``Config.__post_init__``: plain functions, one rule each.

Each takes the object whose attributes it reads (the config being built), the attribute names and
the bound, and raises ``ValueError`` naming the first attribute that breaks the rule, in the words
the runner prints as ``error: invalid config: ...``. Checks that are particular to one experiment
(orderings, tuples, divisibility) stay in that experiment's ``__post_init__``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable


def _is_number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def integers(config, names: Iterable[str], minimum: int = 1) -> None:
    """Each of ``names`` is an ``int`` (not a ``bool``) ``>= minimum``."""
    for name in names:
        v = getattr(config, name)
        if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
            raise ValueError(f"{name} must be an integer >= {minimum}, got {v!r}")


def positive(config, names: Iterable[str]) -> None:
    """Each of ``names`` is a finite number ``> 0``."""
    for name in names:
        v = getattr(config, name)
        if not (_is_number(v) and math.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be finite and > 0, got {v!r}")


def in_interval(config, names: Iterable[str], low: float = 0.0, high: float = 1.0, *,
                closed_low: bool = False, closed_high: bool = False) -> None:
    """Each of ``names`` is a number in the interval from ``low`` to ``high``, open at each end
    unless ``closed_low`` / ``closed_high``: by default the open unit interval (0, 1)."""
    text = f"{'[' if closed_low else '('}{low:g}, {high:g}{']' if closed_high else ')'}"
    for name in names:
        v = getattr(config, name)
        ok = _is_number(v) and (low <= v if closed_low else low < v) \
            and (v <= high if closed_high else v < high)
        if not ok:
            raise ValueError(f"{name} must be in {text}, got {v}")
