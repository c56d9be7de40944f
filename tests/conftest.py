"""Test settings: rank promotion raises, so an (N,) vs (N, 1) broadcast in a log-likelihood
fails loudly instead of silently building an N x N matrix; one session-wide compilation cache."""

import os
import shutil
import tempfile

import jax
import pytest

jax.config.update("jax_numpy_rank_promotion", "raise")

# One persistent JAX compilation cache per test session, in a temporary directory shared by the xdist
# workers (made by the controller, inherited through the environment, removed at the end): a program
# traced again with the same HLO (a new closure, a new Posterior of the same model, the other
# worker's test) loads the executable instead of compiling it (~15% of the suite's time). The same
# binary either way, so no result changes; subprocesses started by tests do not read this variable.
# Never the user's cache: `make test` writes nothing to the home directory.
_CACHE_ENV = "BAYESJAX_TEST_JAX_CACHE"


def pytest_configure(config):
    if not hasattr(config, "workerinput") and _CACHE_ENV not in os.environ:
        os.environ[_CACHE_ENV] = tempfile.mkdtemp(prefix="bayesjax-test-jax-cache-")
        config._bayesjax_cache_owner = True
    jax.config.update("jax_compilation_cache_dir", os.environ[_CACHE_ENV])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)


def pytest_unconfigure(config):
    if getattr(config, "_bayesjax_cache_owner", False):
        shutil.rmtree(os.environ.pop(_CACHE_ENV), ignore_errors=True)


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
