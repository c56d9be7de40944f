"""What the label-shift claims rest on: the EM standard error from the test size, the two
corrections being the same Bayes' rule, a wrong correction failing the claim, the drift."""

import numpy as np
import pytest

import bayesjax as bj
from experiments.common import stats
from experiments.label_shift import Config
from experiments.label_shift.shift import em_standard_error, errors, generative_errors
from experiments.label_shift.spam import bayes_probs, drift, make_theta, sample


def test_em_standard_error_matches_the_spread_of_em_estimates():
    """Exact posteriors of the true model: the s.e. 1/√(nI) against the sd of the EM estimates
    over 300 test sets of 400 messages (the sd's own relative error is ≈ 1/√600 ≈ 4%)."""
    theta = make_theta(30, 0.8)
    rng = np.random.default_rng(0)
    estimates, ses = [], []
    for _ in range(300):
        x, _ = sample(rng, theta, 400, 0.8)
        probs = bayes_probs(theta, x, 0.5).astype(np.float32)
        prior, _ = bj.classifiers.em_prior(probs, np.array([0.5, 0.5]), num_steps=200)
        estimates.append(float(prior[1]))
        ses.append(em_standard_error(probs, np.array([0.5, 0.5]), np.asarray(prior)))
    assert np.std(estimates, ddof=1) == pytest.approx(np.mean(ses), rel=0.2)
    assert abs(np.mean(estimates) - 0.8) < stats.Z * np.mean(ses) / np.sqrt(300)
    assert np.mean(ses) > stats.binomial_se(0.8, 400)  # inferred labels: less information


def test_replacing_p_y_is_adapting_the_posteriors_for_naive_bayes():
    theta = make_theta(20, 0.8)
    rng = np.random.default_rng(1)
    x, y = sample(rng, theta, 1000, 0.5)
    clf = bj.classifiers.BernoulliNB()
    fitted = clf.fit(x, y)
    xt, yt = sample(rng, theta, 2000, 0.9)
    train = np.exp(np.asarray(fitted.log_class_prior, np.float64))
    gen = generative_errors(clf, fitted, xt, yt, train, 0.9)
    post = errors(np.asarray(clf.predict_proba(fitted, xt)), yt, train, 0.9)
    assert np.mean(gen["true_prior"] != post["true_prior"]) < 0.002  # float32 ties only
    assert gen["true_prior"].mean() < gen["unadjusted"].mean()


def test_a_correction_in_the_wrong_direction_fails_the_claim():
    """Multiplying by π/π' instead of π'/π (a sign error in the log prior ratio) makes the
    error worse, so the claim's one-sided test rejects it."""
    theta = make_theta(50, 0.8)
    rng = np.random.default_rng(2)
    x, y = sample(rng, theta, 2000, 0.5)
    clf = bj.classifiers.BernoulliNB()
    fitted = clf.fit(x, y)
    xt, yt = sample(rng, theta, 5000, 0.9)
    probs = np.asarray(clf.predict_proba(fitted, xt))
    right = errors(probs, yt, np.array([0.5, 0.5]), 0.9)
    wrong = errors(probs, yt, np.array([0.5, 0.5]), 0.1)   # = adapting by the inverse ratio
    assert stats.paired_z(right["unadjusted"], right["true_prior"]) > stats.Z_ONE_SIDED
    assert not stats.paired_z(wrong["unadjusted"], wrong["true_prior"]) > stats.Z_ONE_SIDED


def test_drift_moves_spam_towards_ham_on_the_log_scale():
    theta = make_theta(10, 0.8)
    np.testing.assert_allclose(drift(theta, 1e-12), theta, rtol=1e-9)
    np.testing.assert_allclose(drift(theta, 1.0)[1], theta[0])
    half = drift(theta, 0.5)[1]
    np.testing.assert_allclose(half, np.sqrt(theta[0] * theta[1]))


def test_sample_has_the_exact_spam_share():
    _, y = sample(np.random.default_rng(3), make_theta(5, 0.5), 1000, 0.9)
    assert y.sum() == 900


def test_config_rejects_a_prior_outside_0_1():
    with pytest.raises(ValueError, match="in \\(0, 1\\)"):
        Config(test_prior=1.0)
