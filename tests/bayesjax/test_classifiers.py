"""Generative classifiers against scikit-learn and closed forms; label-shift corrections."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import multivariate_normal
from sklearn.naive_bayes import BernoulliNB as SkBernoulliNB
from sklearn.naive_bayes import GaussianNB as SkGaussianNB

import bayesjax as bj
from bayesjax import classifiers as C


def _binary_data(seed=0, n=120, d=7, k=3):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    theta = rng.uniform(0.1, 0.9, (k, d))
    x = (rng.uniform(size=(n, d)) < theta[y]).astype(np.float32)
    return x, y


@pytest.mark.parametrize("alpha", [1.0, 0.3])
def test_bernoulli_nb_matches_sklearn(alpha):
    x, y = _binary_data()
    clf = C.BernoulliNB(alpha=alpha)
    fitted = clf.fit(x, y)
    sk = SkBernoulliNB(alpha=alpha, force_alpha=True).fit(x, y)
    np.testing.assert_allclose(np.exp(fitted.log_p), np.exp(sk.feature_log_prob_), rtol=1e-5)
    np.testing.assert_allclose(clf.predict_proba(fitted, x), sk.predict_proba(x), atol=1e-5)
    np.testing.assert_allclose(np.exp(fitted.log_class_prior), np.bincount(y) / y.size, rtol=1e-6)


def test_bernoulli_nb_is_the_beta_posterior_mean(x64):
    x, y = _binary_data(seed=1)
    x = x.astype(np.float64)
    fitted = C.BernoulliNB(alpha=2.0).fit(x, y)
    for k in range(3):
        n_k, n_kj = np.sum(y == k), x[y == k].sum(0)
        post = bj.conjugate.beta_bernoulli(n_kj, n_k, alpha=2.0, beta=2.0)
        np.testing.assert_allclose(np.exp(fitted.log_p[k]), post.mean, rtol=1e-12)


def test_gaussian_nb_mle_matches_sklearn():
    rng = np.random.default_rng(2)
    y = np.arange(90) % 3
    x = (rng.normal(size=(90, 4)) + y[:, None]).astype(np.float32)
    clf = C.GaussianNB(var_prior=None)
    fitted = clf.fit(x, y)
    sk = SkGaussianNB(var_smoothing=0.0).fit(x, y)
    np.testing.assert_allclose(fitted.var, sk.var_, rtol=1e-4)
    np.testing.assert_allclose(clf.predict_proba(fitted, x), sk.predict_proba(x), atol=1e-4)


def test_gaussian_nb_prior_keeps_a_constant_feature_finite():
    x = np.array([[0.0, 1.0], [0.0, 2.0], [0.0, 4.0], [0.0, 5.0]], np.float32)
    y = np.array([0, 0, 1, 1])
    with pytest.raises(ValueError, match="feature 0 is constant in class 0"):
        C.GaussianNB(var_prior=None).fit(x, y)
    fitted = C.GaussianNB(var_prior=(2.0, 0.5)).fit(x, y)
    # (b + S/2) / (a + n/2 - 1) with S = 0, n = 2: 0.5 / 2
    np.testing.assert_allclose(fitted.var[:, 0], [0.25, 0.25], rtol=1e-6)
    assert np.all(np.isfinite(C.GaussianNB(var_prior=(2.0, 0.5)).predict_proba(fitted, x)))


def test_gaussian_classifier_log_joint_is_the_gaussian_density(x64):
    rng = np.random.default_rng(3)
    y = np.arange(200) % 2
    x = rng.normal(size=(200, 3)) @ np.array([[1, 0.5, 0], [0, 1, 0.3], [0, 0, 1.0]]) + y[:, None]
    clf = C.GaussianClassifier()
    fitted = clf.fit(x, y)
    lj = np.asarray(clf.log_joint(fitted, x[:5]))
    for k in range(2):
        xs = x[y == k]
        cov = np.cov(xs.T, bias=True)
        ref = multivariate_normal(xs.mean(0), cov).logpdf(x[:5]) + np.log(0.5)
        np.testing.assert_allclose(lj[:, k], ref, rtol=1e-10)
    shared = C.GaussianClassifier(covariance="shared").fit(x, y)
    pooled = sum(np.cov(x[y == k].T, bias=True) * np.sum(y == k) for k in range(2)) / 200
    np.testing.assert_allclose(shared.chol[0] @ shared.chol[0].T, pooled, rtol=1e-10)


def test_singular_mle_covariance_is_an_error_naming_the_prior_and_the_prior_repairs_it():
    rng = np.random.default_rng(4)
    y = np.arange(20) % 2
    x = rng.normal(size=(20, 16)).astype(np.float32)   # 10 points per class in d = 16
    with pytest.raises(ValueError, match=r"10 points in d = 16\) is singular.*InverseWishart"):
        C.GaussianClassifier().fit(x, y)
    clf = C.GaussianClassifier(prior=C.InverseWishart(df=18.0, scale=1.0))
    fitted = clf.fit(x, y)
    probs = clf.predict_proba(fitted, x)
    assert np.all(np.isfinite(probs)) and np.allclose(probs.sum(1), 1.0, atol=1e-5)
    # the posterior mode (Ψ + S) / (ν + n + d + 1)
    xs = np.asarray(x[y == 0], np.float64)
    s = (xs - xs.mean(0)).T @ (xs - xs.mean(0))
    np.testing.assert_allclose(fitted.chol[0] @ fitted.chol[0].T,
                               (np.eye(16) + s) / (18 + 10 + 16 + 1), rtol=1e-4, atol=1e-6)


def test_class_prior_replaces_p_y_by_bayes_rule():
    x, y = _binary_data(seed=5, k=2)
    clf = C.BernoulliNB()
    fitted = clf.fit(x, y)
    p = np.asarray(clf.predict_proba(fitted, x))
    new = np.array([0.9, 0.1])
    shifted = np.asarray(clf.predict_proba(fitted, x, class_prior=new))
    train = np.exp(np.asarray(fitted.log_class_prior))
    np.testing.assert_allclose(shifted, C.adapt_prior(p, train, new), atol=1e-6)
    odds = (shifted[:, 0] / shifted[:, 1]) / (p[:, 0] / p[:, 1])
    np.testing.assert_allclose(odds, (0.9 / 0.1) / (train[0] / train[1]), rtol=1e-4)


def test_fit_is_vmappable_over_splits_and_jittable():
    x, y = _binary_data(seed=7, n=60, k=2)
    clf = C.BernoulliNB(alpha=1.0, num_classes=2)
    idx = np.stack([np.random.default_rng(s).permutation(60)[:30] for s in range(4)])
    fits = jax.vmap(lambda i: clf.fit(jnp.asarray(x)[i], jnp.asarray(y)[i]))(idx)
    assert fits.log_p.shape == (4, 2, 7)
    one = clf.fit(x[idx[2]], y[idx[2]])
    np.testing.assert_allclose(fits.log_p[2], one.log_p, rtol=1e-6)
    probs = jax.jit(clf.predict_proba)(one, x)
    assert probs.shape == (60, 2)
    with pytest.raises(ValueError, match="num_classes"):
        jax.vmap(lambda i: C.BernoulliNB().fit(jnp.asarray(x)[i], jnp.asarray(y)[i]))(idx)


@pytest.mark.parametrize("make, message", [
    (lambda: C.BernoulliNB(alpha=0.0), "alpha must be finite and > 0"),
    (lambda: C.BernoulliNB().fit(np.ones((3, 2)), np.array([0, 1, 3])), "class.*no training"),
    (lambda: C.BernoulliNB().fit(np.ones((3, 2)), np.array([0, 1, -1])), "outside"),
    (lambda: C.BernoulliNB().fit(np.ones((3, 2)), np.array([0.0, 1.5, 1.0])), "integer"),
    (lambda: C.BernoulliNB().fit(np.full((2, 2), 0.5), np.array([0, 1])), "binary"),
    (lambda: C.BernoulliNB().fit(np.array([[np.nan, 1.0], [0.0, 1.0]]), np.array([0, 1])),
     "non-finite"),
    (lambda: C.BernoulliNB().fit(np.ones((3, 2)), np.array([0, 1])), "3 rows but y has 2"),
    (lambda: C.GaussianNB(var_prior=(0.5, 1.0)), "a must be > 1"),
    (lambda: C.GaussianClassifier(covariance="diagonal"), "unknown covariance"),
    (lambda: C.InverseWishart(df=-1.0), "df must be finite and > 0"),
    (lambda: C.adapt_prior(np.full((2, 2), 0.5), np.array([0.5, 0.6]), np.array([0.5, 0.5])),
     "train_prior must be a probability vector"),
    (lambda: C.adapt_prior(np.full((2, 2), 0.5), np.array([0.5, 0.5]), np.array([1.0])),
     "new_prior must be a probability vector of length 2"),
])
def test_bad_input_is_a_clear_error(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_predict_proba_rejects_a_bad_class_prior():
    x, y = _binary_data(k=2)
    clf = C.BernoulliNB()
    with pytest.raises(ValueError, match="class_prior must be a probability vector"):
        clf.predict_proba(clf.fit(x, y), x, class_prior=np.array([0.7, 0.7]))


def test_parameter_counts_of_the_text():
    """A full-covariance Gaussian over a 64×64 image: d(d+1)/2 = 8,390,656 covariance entries."""
    d = 64 * 64
    assert d * (d + 1) // 2 == 8_390_656
    assert C.GaussianClassifier.num_parameters(d, 1) == d + 8_390_656
