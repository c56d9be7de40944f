"""Markdown tables from rows, so reports are not built by hand."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence


def fmt(v, spec: str = ".4g") -> str:
    """One cell: floats with ``spec``, bools as yes/**no**, None as —, anything else ``str``."""
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "**no**"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float) or hasattr(v, "dtype"):
        v = float(v)
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "∞" if v > 0 else "−∞"
        return format(v, spec)
    return str(v).replace("|", "\\|")   # a literal "|" would end the cell


def markdown_table(header: Sequence[str], rows: Iterable[Sequence], *,
                   floatfmt: str | Sequence[str] = ".4g") -> str:
    """A GitHub markdown table.

    Args:
      header: the column titles.
      rows: sequences of cells, each as long as ``header``.
      floatfmt: a format spec for every float cell, or one spec per column.

    Example::

        markdown_table(["method", "error"], [["NB", 0.12345], ["LR", 0.1]], floatfmt=("", ".3f"))
    """
    header = list(header)
    specs = [floatfmt] * len(header) if isinstance(floatfmt, str) else list(floatfmt)
    if len(specs) != len(header):
        raise ValueError(f"markdown_table: {len(specs)} formats for {len(header)} columns")
    lines = ["| " + " | ".join(fmt(h) for h in header) + " |", "|" + "---|" * len(header)]
    for i, row in enumerate(rows):
        row = list(row)
        if len(row) != len(header):
            raise ValueError(f"markdown_table: row {i} has {len(row)} cells, the header "
                             f"{len(header)}")
        lines.append("| " + " | ".join(fmt(v, s or ".4g") for v, s in zip(row, specs,
                                                                          strict=True)) + " |")
    return "\n".join(lines)
