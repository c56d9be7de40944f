"""What an experiment's ``run`` returns: its claims, its metrics and its report.

Every experiment's ``run(config, outdir)`` returns a :class:`RunResult`; the runner writes
``metrics.json`` (``metrics`` with its ``claims`` list), ``report.md`` (``report`` framed by the
claim table and the config) and leaves the figures the run saved in ``outdir``.
"""

from __future__ import annotations

import math
import sys
import time
from typing import NamedTuple

import numpy as np

from experiments.common import compile_cache


class RunResult(NamedTuple):
    """``metrics``: a JSON-able dict with a ``claims`` list (rows made by :func:`claim`) and any
    measured numbers; ``report``: the markdown body of ``report.md`` (the runner adds the title, the
    claim table, the figures and the config)."""

    metrics: dict
    report: str


def claim(statement: str, value, criterion: str, passed, *, sampled_tests: int = 0) -> dict:
    """One row of ``metrics.json["claims"]``: the text's statement, what we measured, the
    criterion that a wrong implementation would fail, and whether it held.

    ``sampled_tests`` counts the elementary comparisons of a *sampled* quantity against a threshold
    of ``experiments.common.stats`` that the claim makes (a claim "for each of 8 runs, within Z s.e."
    makes 8; a deterministic or closed-form check makes 0). The suite's significance policy budgets
    these per run; the smoke test checks the budget.
    """
    if not isinstance(sampled_tests, int) or sampled_tests < 0:
        raise ValueError(f"claim: sampled_tests must be a non-negative int, got {sampled_tests!r}")
    return {"statement": statement, "value": jsonable(value), "criterion": criterion,
            "passed": bool(passed), "sampled_tests": sampled_tests}


def log(msg: str) -> None:
    """Progress line for long runs (flushed so it shows under ``make``)."""
    print(f"  [{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def show_progress() -> bool:
    """``progress_bar=`` for an experiment's long loops (``bayesjax.progress``): a bar when a
    person watches, i.e. from the command line with stderr on a terminal; none under pytest
    (``compile_cache.under_pytest``), none when stderr is a file or pipe (``make figures > log``,
    CI), and ``CI=1`` silences them too. The bars change no result, but a program with a bar's
    host callbacks is not written to the persistent compile cache, so scripted runs keep it."""
    return not compile_cache.under_pytest() and sys.stderr.isatty()


def jsonable(v):
    """``v`` with arrays as lists, numpy scalars as Python scalars and non-finite floats as
    strings (``"inf"``, ``"nan"``), so ``json.dumps`` writes it exactly."""
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, np.bool_):
        return bool(v)
    if hasattr(v, "tolist") and not isinstance(v, (str, bytes)):
        return jsonable(np.asarray(v).tolist())
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v
