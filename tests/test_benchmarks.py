"""The benchmarks are not part of ``make test`` (they time things), but they must still import:
a moved experiment helper once broke ``make bench`` silently."""

import importlib

import pytest

from benchmarks import BENCHMARKS


@pytest.mark.parametrize("name", BENCHMARKS)
def test_benchmark_module_imports_and_has_run(name):
    assert callable(importlib.import_module(f"benchmarks.{name}").run)
