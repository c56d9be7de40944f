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
