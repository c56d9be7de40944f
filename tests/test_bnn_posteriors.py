"""The bnn_posteriors experiment: the smoke run passes its claims and writes its files, and the
scores it reports (NLL, ECE, the paired test, the whitened covariance) are right."""

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree
from scipy.stats import norm

from experiments import bnn_posteriors as exp
from experiments.runner import run_experiment

FIGURES = ["regression_" + n for n in (
    "mle", "map_l2", "map_l1", "laplace_full_glm", "laplace_full_mc", "laplace_diag_glm",
    "laplace_kfac_glm", "laplace_last_layer_glm", "nuts", "epistemic_std")] + [
    "nuts_mass_matrix", "moons_confidence", "far_confidence"]


def test_smoke_run_passes_every_claim(tmp_path):
    metrics, outdir = run_experiment("bnn_posteriors", smoke=True, out=tmp_path / "bnn")
    failed = [c for c in metrics["claims"] if not c["passed"]]
    assert not failed, failed
    assert len(metrics["claims"]) == 5                 # the smoke run skips breast cancer
    for name in ["metrics.json", "config.json", "report.md"] + [f + ".png" for f in FIGURES]:
        assert (outdir / name).is_file(), name
    text = (outdir / "metrics.json").read_text()
    assert json.loads(text)["claims"] == metrics["claims"]
    # wall-clock times go to the report only: the same seed gives the same metrics.json
    assert "time" not in text and "per_s" not in text and "compile" not in text
    report = (outdir / "report.md").read_text()
    assert "ESS per second, Laplace mass / diag adaptation" in report
    assert "| MLE |" in report and "| NUTS |" in report
    s = metrics["nuts_mass"]
    for k in ("diag", "laplace"):
        assert s[k]["grad_evals"] >= 2 * 100            # ≥ one gradient per draw and chain
        assert 1.0 <= s[k]["mean_tree_depth"] <= 10.0
    m = metrics["regression"]
    assert m["MLE"]["std_data"] == m["MLE"]["std_outside"] == 0.0


def test_config_rejects_invalid_values():
    for bad in (dict(noise=0.0), dict(prior_scale=-1.0), dict(width=0), dict(nuts_warmup=-1),
                dict(gap_half_width=2.5), dict(test_half_width=1.5), dict(num_train=2.5),
                dict(far_scale=float("nan")), dict(cancer_test=600), dict(nuts_chains=True)):
        with pytest.raises(ValueError):
            dataclasses.replace(exp.Config(), **bad)


def test_regression_data_has_a_gap_and_test_points_beyond_both_ends():
    cfg = exp.Config(num_train=64, num_test=2000)
    d = exp.regression_data(cfg)
    a = np.abs(d["x"])
    assert np.all((a >= cfg.gap_half_width) & (a <= cfg.data_half_width))
    assert np.sum(d["x"] < 0) == np.sum(d["x"] > 0) == 32
    r = exp.regions(d["x_test"], cfg)
    assert not np.any(r["data"] & r["outside"]) and np.all(r["data"] | r["outside"])
    np.testing.assert_array_equal(r["outside"], r["gap"] | r["beyond"])
    assert np.any(d["x_test"] < -cfg.data_half_width) and np.any(d["x_test"] > cfg.data_half_width)
    assert np.all(exp.regions(d["x"], cfg)["data"])
    again = exp.regression_data(cfg)
    np.testing.assert_array_equal(again["y_test"], d["y_test"])


def test_gaussian_and_binary_nll():
    y, m, v = np.array([0.3, -1.0]), np.array([0.0, 0.5]), np.array([0.04, 2.0])
    np.testing.assert_allclose(exp.gaussian_nll(y, m, v), -norm.logpdf(y, m, np.sqrt(v)),
                               rtol=1e-12)
    logit = np.array([-3.0, 0.2, 5.0])
    p = 1.0 / (1.0 + np.exp(-logit))
    yb = np.array([1.0, 0.0, 1.0])
    np.testing.assert_allclose(exp.binary_nll(p, yb),
                               np.logaddexp(0.0, -logit) + (1.0 - yb) * logit, rtol=1e-9)
    assert np.isfinite(exp.binary_nll(np.array([1.0]), np.array([0.0]))).all()


def test_ece_by_hand_and_on_calibrated_and_overconfident_predictions():
    # bin [0.9, 1.0): two points of confidence 0.95, one right -> |0.5 − 0.95| · 2/4;
    # bin [0.6, 0.7): p = 0.35 predicts class 0 with confidence 0.65, p = 0.6 class 1; both right
    p = np.array([0.95, 0.95, 0.35, 0.6])
    y = np.array([1, 0, 0, 1])
    expected = 0.5 * abs(0.5 - 0.95) + 0.5 * abs(1.0 - (0.65 + 0.6) / 2)
    assert exp.ece(p, y) == pytest.approx(expected, abs=1e-12)
    rng = np.random.default_rng(0)
    p = rng.uniform(0.0, 1.0, 200_000)
    y = (rng.uniform(size=p.size) < p).astype(float)
    assert exp.ece(p, y) < 0.01                       # calibrated: sampling error only
    over = np.where(p > 0.5, 1.0, 0.0) * 0.999 + 0.0005  # same predictions, confidence ≈ 1
    # accuracy E[max(p, 1 − p)] = 3/4 against a confidence of 0.9995
    assert exp.ece(over, y) == pytest.approx(0.2495, abs=0.01)


def test_paired_z_counts_standard_errors():
    rng = np.random.default_rng(1)
    b = rng.normal(size=10_000)
    a = b + 0.1 + rng.normal(scale=1.0, size=b.size)
    assert exp.paired_z(a, b) == pytest.approx(0.1 / (1.0 / 100.0), rel=0.15)
    assert abs(exp.paired_z(b + rng.normal(size=b.size), b)) < 4.0


def test_whitened_eigenvalues_are_one_for_draws_from_the_laplace_gaussian():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(5, 5))
    prec = a @ a.T + 0.5 * np.eye(5)
    draws = rng.multivariate_normal(np.ones(5), np.linalg.inv(prec), size=40_000)
    eig = exp.whitened_eigenvalues(draws, prec)
    assert np.all(np.abs(eig - 1.0) < 0.1)
    assert np.all(np.abs(exp.whitened_eigenvalues(draws, 2.0 * prec) - 2.0) < 0.2)


def test_flat_draws_follow_ravel_pytree_order():
    samples = {"a": jnp.arange(2 * 3 * 4.0).reshape(2, 3, 4),
               "b": {"c": jnp.arange(2 * 3 * 2.0).reshape(2, 3, 2) + 100}}
    flat = exp._flat_draws(samples)
    assert flat.shape == (6, 6)
    one = jax.tree.map(lambda v: v[1, 2], samples)
    np.testing.assert_array_equal(flat[1 * 3 + 2], ravel_pytree(one)[0])


def test_far_points_scale_distances_from_the_training_mean():
    rng = np.random.default_rng(3)
    x, xt = rng.normal(size=(50, 3)), rng.normal(size=(7, 3))
    mu = x.mean(0)
    np.testing.assert_allclose(exp.far_points(x, xt, 1.0), xt, rtol=1e-6, atol=1e-6)
    far = exp.far_points(x, xt, 20.0)
    np.testing.assert_allclose(np.linalg.norm(far - mu, axis=1),
                               20.0 * np.linalg.norm(xt - mu, axis=1), rtol=1e-5)
