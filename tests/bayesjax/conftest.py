"""Library tests run with strict dtype promotion: a float32 model silently promoted to float64
(or an int/float mix) by the library fails loudly here."""

import jax
import pytest


@pytest.fixture(autouse=True)
def _strict_dtype_promotion():
    with jax.numpy_dtype_promotion("strict"):
        yield
