"""Test settings: rank promotion raises, so an (N,) vs (N, 1) broadcast in a log-likelihood
fails loudly instead of silently building an N x N matrix."""

import jax
import pytest

jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def x64():
    """Run a test in float64 (for assertions of exactness against closed forms)."""
    with jax.enable_x64(True):
        yield


# The smoke runs are the longest tests (up to ~70 s each on 2 cores). Collected last, they left one
# xdist worker finishing a long test while the other idled; run first, the short tests fill the gaps.
_FIRST = ("tests/experiments/test_smoke.py", "tests/test_readme.py",
          "tests/experiments/test_compile_cache.py")


_HEAVIEST = ("flat_vs_sharp", "bnn_posteriors", "gan_mode_collapse")   # smoke runs, longest first


def pytest_collection_modifyitems(session, config, items):
    def rank(item):
        path = item.nodeid.split("::")[0]
        group = _FIRST.index(path) if path in _FIRST else len(_FIRST)
        heavy = [i for i, n in enumerate(_HEAVIEST) if item.nodeid.endswith(f"[{n}]")]
        return group, heavy[0] if heavy else len(_HEAVIEST)
    items.sort(key=rank)       # stable: the order within each group is kept
