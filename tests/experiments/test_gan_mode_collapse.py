"""gan_mode_collapse: the constructed generators' precision/recall orderings (what the claims
rest on) and the collapse detectors. (A bad config value is rejected by the CLI:
test_runner.py.)"""

import jax
import pytest

from experiments import gan_mode_collapse as gm
from experiments.common import ring
from experiments.gan_mode_collapse.quality import constructed, first_collapse


def test_constructed_generators_have_the_claimed_orderings():
    con = constructed(jax.random.key(0), ring.modes(), 0.1, num_samples=600, num_replicates=3,
                      spread=3.0, k=3)
    c, d, s = con["covering"], con["dropped"], con["spread"]
    assert c["precision_mean"] > 0.9 and c["recall_mean"] > 0.9
    assert d["precision_mean"] > 0.9 and d["recall_mean"] == pytest.approx(
        0.5 * c["recall_mean"], abs=0.05)
    assert s["recall_mean"] > 0.9 and s["precision_mean"] < 0.7


def test_collapse_detectors():
    rows = {"precision": [0.1, 0.9, 0.95], "recall": [1.0, 0.6, 0.12]}
    assert first_collapse(rows, 100) == 200
    assert first_collapse({"precision": [0.9], "recall": [0.9]}, 100) is None
    assert gm._pr_gap_z(0.97, 0.12, 2000) > 50
    assert abs(gm._pr_gap_z(0.9, 0.9, 2000)) < 1e-9
