"""Prediction scores against scikit-learn and small cases computed by hand."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.metrics import accuracy_score, brier_score_loss, log_loss

from bayesjax import metrics

rng = np.random.default_rng(0)
P = rng.uniform(0.01, 0.99, size=50)
Y = (rng.uniform(size=50) < P).astype(np.int64)
LOGITS = rng.normal(size=(40, 4))
PK = np.exp(LOGITS) / np.exp(LOGITS).sum(1, keepdims=True)
YK = rng.integers(0, 4, size=40)


def test_binary_against_sklearn(x64):
    np.testing.assert_allclose(metrics.nll(P, Y), log_loss(Y, P), rtol=1e-12)
    np.testing.assert_allclose(metrics.accuracy(P, Y), accuracy_score(Y, P > 0.5), rtol=1e-12)
    np.testing.assert_allclose(metrics.brier(P, Y), brier_score_loss(Y, P), rtol=1e-12)


def test_k_class_against_sklearn(x64):
    np.testing.assert_allclose(metrics.nll(PK, YK), log_loss(YK, PK, labels=range(4)), rtol=1e-12)
    np.testing.assert_allclose(metrics.accuracy(PK, YK), accuracy_score(YK, PK.argmax(1)), rtol=1e-12)
    onehot = np.eye(4)[YK]
    np.testing.assert_allclose(metrics.brier(PK, YK), np.mean(np.sum((PK - onehot) ** 2, 1)), rtol=1e-12)
    # K = 2 written as two columns: the same NLL and accuracy, twice the binary Brier score
    p2 = np.stack([1 - P, P], 1)
    np.testing.assert_allclose(metrics.nll(p2, Y), metrics.nll(P, Y), rtol=1e-12)
    np.testing.assert_allclose(metrics.brier(p2, Y), 2 * metrics.brier(P, Y), rtol=1e-12)
    np.testing.assert_allclose(metrics.ece(p2, Y), metrics.ece(P, Y), rtol=1e-12)


def test_nll_clips_like_bnn_posteriors():
    p = np.array([1.0, 0.0, 0.5], np.float32)
    y = np.array([0, 1, 1])
    eps = 1e-7
    by_hand = (-math.log(eps) - math.log(eps) + math.log(2)) / 3   # log1p(-(1-eps)) ≈ log eps
    np.testing.assert_allclose(metrics.nll(p, y), by_hand, rtol=1e-3)
    assert np.isfinite(metrics.nll(np.array([[1.0, 0.0]]), np.array([1])))


def test_ece_four_points_by_hand():
    p = np.array([0.6, 0.4, 0.9, 0.15])
    y = np.array([1, 1, 1, 1])
    # confidences 0.6, 0.6, 0.9, 0.85; correct 1, 0, 1, 0
    # bins (10): [0.6, 0.7): acc ½, conf 0.6; [0.8, 0.9): 0 vs 0.85; [0.9, 1]: 1 vs 0.9
    by_hand = 0.5 * abs(0.5 - 0.6) + 0.25 * abs(0.0 - 0.85) + 0.25 * abs(1.0 - 0.9)
    np.testing.assert_allclose(metrics.ece(p, y), by_hand, rtol=1e-6)
    # two bins: everything in [0.5, 1]: |2/4 − 2.95/4|
    np.testing.assert_allclose(metrics.ece(p, y, num_bins=2), abs(0.5 - 2.95 / 4), rtol=1e-6)
    # K-class: confidence is the largest probability
    pk = np.array([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8], [0.25, 0.25, 0.5]])
    yk = np.array([0, 0, 2, 1])
    by_hand = 0.25 * abs(1 - 0.6) + 0.25 * abs(0 - 0.7) + 0.25 * abs(1 - 0.8) + 0.25 * abs(0 - 0.5)
    np.testing.assert_allclose(metrics.ece(pk, yk), by_hand, rtol=1e-6)


def _bnn_ece(p, y, num_bins=10):
    """experiments/bnn_posteriors.ece, copied: the definition this module must reproduce."""
    p, y = np.asarray(p, np.float64), np.asarray(y)
    conf = np.maximum(p, 1.0 - p)
    correct = ((p > 0.5) == (y > 0.5)).astype(np.float64)
    idx = np.minimum((conf * num_bins).astype(int), num_bins - 1)
    total = 0.0
    for b in range(num_bins):
        m = idx == b
        if m.any():
            total += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return total


def test_matches_bnn_posteriors_definitions(x64):
    np.testing.assert_allclose(metrics.ece(P, Y), _bnn_ece(P, Y), rtol=1e-12)
    np.testing.assert_allclose(metrics.ece(P, Y, num_bins=7), _bnn_ece(P, Y, 7), rtol=1e-12)
    m, v = rng.normal(size=50), rng.uniform(0.1, 2.0, size=50)
    y = rng.normal(size=50)
    np.testing.assert_allclose(metrics.gaussian_nll(y, m, v),
                               np.mean(0.5 * np.log(2 * np.pi * v) + 0.5 * (y - m) ** 2 / v), rtol=1e-12)
    np.testing.assert_allclose(metrics.gaussian_nll(y, m, 0.5),
                               np.mean(0.5 * np.log(np.pi) + (y - m) ** 2), rtol=1e-12)


def test_coverage_and_tv():
    y = np.array([0.0, 1.0, 2.0, 3.0])
    assert float(metrics.coverage(y, y - 0.5, y + 0.5)) == 1.0
    assert float(metrics.coverage(y, np.zeros(4), np.full(4, 1.0))) == 0.5    # closed interval
    p = np.array([[0.2, 0.8], [0.5, 0.5]])
    q = np.array([[0.5, 0.5], [0.5, 0.5]])
    np.testing.assert_allclose(metrics.tv_distance(p, q), [0.3, 0.0], rtol=1e-6)


def test_float32_default_and_jit():
    out = metrics.nll(P.astype(np.float32), Y)
    assert out.dtype == jnp.float32 and out.shape == ()
    f = jax.jit(metrics.ece)
    np.testing.assert_allclose(f(jnp.asarray(P, jnp.float32), jnp.asarray(Y)), _bnn_ece(P, Y), atol=1e-6)


@pytest.mark.parametrize("call, match", [
    (lambda: metrics.nll(P[:, None], Y), r"not \(n, 1\)"),
    (lambda: metrics.nll(P, Y[:, None]), "y must have shape"),
    (lambda: metrics.nll(P, Y[:-1]), "y must have shape"),
    (lambda: metrics.nll(P * 2, Y), r"\[0, 1\]"),
    (lambda: metrics.nll(P, Y * 2), "0 or 1"),
    (lambda: metrics.nll(PK * 0.9, YK), "sum to 1"),
    (lambda: metrics.nll(PK, YK + 4), "integer labels"),
    (lambda: metrics.brier(np.full(3, np.nan), np.ones(3)), "probs"),
    (lambda: metrics.accuracy(np.ones((2, 2, 2)), np.ones(2)), "probs must have shape"),
    (lambda: metrics.ece(P, Y, num_bins=0), "num_bins"),
    (lambda: metrics.gaussian_nll(np.ones(3), np.ones((3, 1)), 1.0), "shapes must match"),
    (lambda: metrics.gaussian_nll(np.ones(3), np.ones(3), np.ones(2)), "shapes must match"),
    (lambda: metrics.gaussian_nll(np.ones(3), np.ones(3), 0.0), "var"),
    (lambda: metrics.coverage(np.ones(3), np.ones((3, 1)), np.ones(3)), "shapes must match"),
    (lambda: metrics.coverage(np.ones(3), np.ones(3), np.zeros(3)), "lower <= upper"),
    (lambda: metrics.tv_distance(np.ones(3), np.ones(2)), "shapes must match"),
    (lambda: metrics.tv_distance(-np.ones(3), np.ones(3)), "non-negative"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ----------------------------------------------------------------------- sample quality
RING = np.array([[2 * np.cos(a), 2 * np.sin(a)] for a in np.arange(8) * np.pi / 4])


def _ring(n, modes=RING, seed=0, sd=0.05):
    r = np.random.default_rng(seed)
    return (modes[r.integers(0, len(modes), n)] + sd * r.normal(size=(n, 2))).astype(np.float32)


def test_precision_recall_identical_disjoint_and_half_the_modes():
    x = _ring(600)
    assert tuple(map(float, metrics.precision_recall(x, x))) == (1.0, 1.0)
    assert tuple(map(float, metrics.precision_recall(x, x + 10.0))) == (0.0, 0.0)
    # a generator on 4 of the 8 modes: every sample realistic, half of the data covered
    real, half = _ring(4000, seed=1), _ring(4000, RING[::2], seed=2)
    p, r = metrics.precision_recall(real, half, k=3)
    full_r = float(metrics.precision_recall(real, _ring(4000, seed=3), k=3).recall)
    assert float(p) > 0.95
    assert abs(float(r) - 0.5 * full_r) < 0.03 and full_r > 0.9
    # a generator spread over the plane: high recall, low precision
    spread = (3 * np.random.default_rng(4).normal(size=(4000, 2))).astype(np.float32)
    p, r = metrics.precision_recall(real, spread, k=3)
    assert float(p) < 0.2 and float(r) > 0.9


def test_precision_recall_matches_a_brute_force_definition(x64):
    r = np.random.default_rng(5)
    real, gen = r.normal(size=(60, 3)), r.normal(size=(45, 3)) + 0.5

    def manifold_hits(points, centres, k):
        d_cc = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
        radius = np.sort(d_cc, 1)[:, k]          # column 0 is the point itself
        d_pc = np.linalg.norm(points[:, None] - centres[None], axis=-1)
        return np.mean(np.any(d_pc <= radius[None], 1))

    for k in (1, 3, 7):
        p, rc = metrics.precision_recall(real, gen, k=k)
        np.testing.assert_allclose([p, rc], [manifold_hits(gen, real, k), manifold_hits(real, gen, k)],
                                   rtol=1e-12)


def test_precision_recall_runs_on_ten_thousand_by_ten_thousand_in_blocks():
    """10⁴ × 10⁴ pairs (10⁸ distances, 400 MB in float32) run in blocks of ≤ 2²² entries."""
    a = np.random.default_rng(6).normal(size=(10_000, 8)).astype(np.float32)
    b = np.random.default_rng(7).normal(size=(10_000, 8)).astype(np.float32)
    assert metrics._block_rows(10_000) * 10_000 <= 1 << 22
    p, r = metrics.precision_recall(a, b)
    assert 0.8 < float(p) < 1.0 and 0.8 < float(r) < 1.0


def test_frechet_distance_against_the_gaussian_closed_form(x64):
    """Sample sets whitened to have exactly the given sample means and covariances: the distance is
    the closed form ‖μ₁ − μ₂‖² + tr(Σ₁ + Σ₂ − 2(Σ₁^½ Σ₂ Σ₁^½)^½) (scipy's sqrtm)."""
    from scipy.linalg import sqrtm

    r = np.random.default_rng(8)

    def with_moments(n, mu, cov):
        z = r.normal(size=(n, mu.size))
        z = (z - z.mean(0)) @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T
        return mu + z @ np.linalg.cholesky(cov).T

    d = 4
    a_, b_ = r.normal(size=(d, d)), r.normal(size=(d, d))
    cov1, cov2 = a_ @ a_.T + 0.1 * np.eye(d), b_ @ b_.T + 0.1 * np.eye(d)
    mu1, mu2 = r.normal(size=d), r.normal(size=d)
    x, y = with_moments(300, mu1, cov1), with_moments(500, mu2, cov2)
    root = sqrtm(cov1)
    closed = np.sum((mu1 - mu2) ** 2) + np.trace(cov1 + cov2 - 2 * np.real(sqrtm(root @ cov2 @ root)))
    np.testing.assert_allclose(metrics.frechet_distance(x, y), closed, rtol=1e-9)
    np.testing.assert_allclose(metrics.frechet_distance(x, x), 0.0, atol=1e-9)


def test_energy_distance_is_the_u_statistic(x64):
    r = np.random.default_rng(9)
    a, b = r.normal(size=(40, 3)), r.normal(size=(30, 3)) + 1.0
    dist = lambda u, v: np.linalg.norm(u[:, None] - v[None], axis=-1)
    u_stat = (2 * dist(a, b).mean() - dist(a, a).sum() / (40 * 39) - dist(b, b).sum() / (30 * 29))
    np.testing.assert_allclose(metrics.energy_distance(a, b), u_stat, rtol=1e-10)
    # unbiased: over fresh pairs of samples of one law it averages to 0 (can be negative)
    null = [float(metrics.energy_distance(r.normal(size=(50, 2)), r.normal(size=(50, 2))))
            for _ in range(200)]
    assert abs(np.mean(null)) < 4.56 * np.std(null) / np.sqrt(200) and min(null) < 0


@pytest.mark.parametrize("call, match", [
    (lambda: metrics.precision_recall(RING, RING, k=0), "k must be an integer >= 1"),
    (lambda: metrics.precision_recall(RING, RING, k=8), "more than k samples in real"),
    (lambda: metrics.precision_recall(RING, RING[:3], k=3), "more than k samples in generated"),
    (lambda: metrics.precision_recall(np.zeros((0, 2)), RING), "at least 1 sample"),
    (lambda: metrics.precision_recall(RING, np.zeros((8, 3))), "same dimension"),
    (lambda: metrics.precision_recall(RING[:, 0], RING), r"shape \(num_samples, d\)"),
    (lambda: metrics.precision_recall(RING * np.nan, RING), "non-finite"),
    (lambda: metrics.frechet_distance(RING[:1], RING), "at least 2"),
    (lambda: metrics.frechet_distance(RING, np.zeros((8, 3))), "same dimension"),
    (lambda: metrics.energy_distance(RING, RING[:1]), "at least 2"),
])
def test_sample_metrics_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
