"""experiments/common: the data protocol, the significance policy, markdown tables."""

import math

import numpy as np
import pytest
from scipy.stats import norm

from experiments.common import config, data, stats, tables


def test_stratified_split_keeps_each_class_share_and_is_seeded():
    y = np.repeat([0, 1, 2], [50, 30, 20])
    tr, te = data.stratified_split(y, 0.2, seed=3)
    assert np.array_equal(np.sort(np.concatenate([tr, te])), np.arange(100))
    assert [int(np.sum(y[te] == c)) for c in range(3)] == [10, 6, 4]
    assert np.array_equal(te, data.stratified_split(y, 0.2, seed=3)[1])
    assert not np.array_equal(te, data.stratified_split(y, 0.2, seed=4)[1])


def test_standardisation_uses_training_statistics_only():
    d = data.load("breast_cancer", test_fraction=0.25, seed=0)
    np.testing.assert_allclose(d.x_train.mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(d.x_train.std(0), 1.0, rtol=1e-4)
    assert not np.allclose(d.x_test.mean(0), 0.0, atol=1e-3)   # the test set was not used
    raw = data.load("breast_cancer", test_fraction=0.25, seed=0, scaling="none")
    np.testing.assert_allclose(raw.x_train.mean(0), d.mean, rtol=1e-5)
    np.testing.assert_allclose((raw.x_test - d.mean) / d.scale, d.x_test, rtol=1e-4, atol=1e-4)
    assert d.x_train.dtype == np.float32 and d.y_train.dtype == np.int32 and d.num_classes == 2


def test_constant_training_feature_is_centred_not_divided_by_zero():
    d = data.load("digits", seed=0)
    assert np.all(np.isfinite(d.x_train)) and np.all(np.isfinite(d.x_test))
    assert np.any(d.scale == 1.0)   # digits have pixels that are always 0


def test_digits_unit_scaling_and_class_selection():
    d = data.load("digits", scaling="unit", classes=(8, 3), test_fraction=0.0)
    assert d.x_test.shape == (0, 64) and d.x_train.max() == 1.0 and d.x_train.min() == 0.0
    assert d.num_classes == 2 and set(np.unique(d.y_train)) == {0, 1}
    from sklearn.datasets import load_digits
    x, y = load_digits(return_X_y=True)
    assert int(np.sum(d.y_train == 0)) == int(np.sum(y == 8))   # 8 -> label 0, as requested


def test_regression_target_standardised_and_all_points_when_no_test():
    d = data.load("diabetes", test_fraction=0.0)
    assert d.x_train.shape == (442, 10) and d.num_classes == 0
    assert abs(float(d.y_train.mean())) < 1e-5 and abs(float(d.y_train.std()) - 1) < 1e-5
    assert d.feature_names[:3] == ("age", "sex", "bmi")


@pytest.mark.parametrize("kwargs, message", [
    (dict(name="mnist"), "unknown data set 'mnist'"),
    (dict(name="digits", scaling="minmax"), "unknown scaling"),
    (dict(name="wine", scaling="unit"), "digits only"),
    (dict(name="digits", classes=(3, 3)), "two distinct labels"),
    (dict(name="digits", classes=(3, 11)), "two distinct labels"),
    (dict(name="diabetes", classes=(0, 1)), "regression"),
    (dict(name="digits", test_fraction=1.0), "test_fraction"),
])
def test_bad_data_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.load(**kwargs)


def test_policy_constants_follow_from_the_stated_budget():
    assert stats.NUM_TESTS == 16 * 5 * 25
    assert stats.ALPHA * stats.NUM_TESTS == pytest.approx(stats.FAMILY_ERROR)
    assert 2 * norm.sf(stats.Z) == pytest.approx(stats.ALPHA)
    assert norm.sf(stats.Z_ONE_SIDED) == pytest.approx(stats.ALPHA)
    assert 4.5 < stats.Z < 4.6


def test_t_threshold_is_the_policy_level_and_tends_to_z():
    from scipy.stats import t

    k = stats.t_threshold(16)
    assert 2 * t.sf(k, 15) == pytest.approx(stats.ALPHA, rel=1e-6)
    assert k > stats.Z and stats.t_threshold(10**6) == pytest.approx(stats.Z, rel=1e-4)
    with pytest.raises(ValueError, match="at least 2"):
        stats.t_threshold(1)


def test_policy_false_alarm_rate_on_simulated_null():
    """At the policy's threshold a correct N(0, 1) statistic almost never fails, a shifted one
    (an effect of 8 s.e.) almost always does."""
    z = np.random.default_rng(0).normal(size=2_000_000)
    assert np.mean(np.abs(z) > stats.Z) < 5 * stats.ALPHA
    assert stats.within(0.3, 0.0, 0.1) and not stats.within(0.8, 0.0, 0.1)
    assert stats.exceeds(0.8, 0.0, 0.1) and not stats.exceeds(0.3, 0.0, 0.1)


def test_paired_z_mean_se_binomial_se():
    a, b = np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.5, 1.0, 2.5, 3.0])
    d = a - b
    assert stats.paired_z(a, b) == pytest.approx(d.mean() / (d.std(ddof=1) / 2))
    m, se = stats.mean_se(a)
    assert m == 2.5 and se == pytest.approx(np.std(a, ddof=1) / 2)
    assert stats.binomial_se(0.5, 100) == pytest.approx(0.05)
    with pytest.raises(ValueError, match="standard error"):
        stats.z_score(1.0, 0.0, 0.0)


def test_markdown_table_formats_cells_and_checks_widths():
    t = tables.markdown_table(["m", "err", "ok"], [["NB", 0.123456, True], ["LR", math.inf, False],
                                                   ["x", None, 3]], floatfmt=("", ".3f", ""))
    assert t.splitlines() == ["| m | err | ok |", "|---|---|---|", "| NB | 0.123 | yes |",
                              "| LR | ∞ | **no** |", "| x | — | 3 |"]
    assert tables.markdown_table(["p(x|y)"], [["a|b"]]).splitlines()[2] == "| a\\|b |"
    with pytest.raises(ValueError, match="row 0 has 1 cells"):
        tables.markdown_table(["a", "b"], [[1]])


# ------------------------------------------------------------------- config.py (Config checks)
class _Cfg:
    def __init__(self, **kw):
        self.__dict__.update(kw)


def test_config_checks_accept_valid_values():
    cfg = _Cfg(n=3, zero=0, rate=0.5, big=1e300, p=0.25, edge=1.0, low=0.0)
    config.integers(cfg, ("n",), minimum=3)
    config.integers(cfg, ("zero",), minimum=0)
    config.positive(cfg, ("rate", "big", "n"))
    config.in_interval(cfg, ("p", "rate"))
    config.in_interval(cfg, ("edge",), closed_high=True)
    config.in_interval(cfg, ("low",), closed_low=True)
    config.in_interval(cfg, ("rate",), 0.05, 0.5, closed_low=True, closed_high=True)
    config.integers(cfg, ())


@pytest.mark.parametrize("call, message", [
    (lambda c: config.integers(c, ("n", "m")), "m must be an integer >= 1, got 0"),
    (lambda c: config.integers(c, ("n",), minimum=4), "n must be an integer >= 4, got 3"),
    (lambda c: config.integers(c, ("flag",)), "flag must be an integer >= 1, got True"),
    (lambda c: config.integers(c, ("half",)), "half must be an integer >= 1, got 1.5"),
    (lambda c: config.integers(c, ("text",)), "text must be an integer >= 1, got '3'"),
    (lambda c: config.positive(c, ("half", "zero")), "zero must be finite and > 0, got 0.0"),
    (lambda c: config.positive(c, ("neg",)), "neg must be finite and > 0, got -2"),
    (lambda c: config.positive(c, ("nan",)), "nan must be finite and > 0, got nan"),
    (lambda c: config.positive(c, ("inf",)), "inf must be finite and > 0, got inf"),
    (lambda c: config.positive(c, ("flag",)), "flag must be finite and > 0, got True"),
    (lambda c: config.positive(c, ("text",)), "text must be finite and > 0, got '3'"),
    (lambda c: config.in_interval(c, ("one",)), "one must be in (0, 1), got 1.0"),
    (lambda c: config.in_interval(c, ("zero",)), "zero must be in (0, 1), got 0.0"),
    (lambda c: config.in_interval(c, ("half",)), "half must be in (0, 1), got 1.5"),
    (lambda c: config.in_interval(c, ("nan",)), "nan must be in (0, 1), got nan"),
    (lambda c: config.in_interval(c, ("text",)), "text must be in (0, 1), got 3"),
    (lambda c: config.in_interval(c, ("zero",), closed_high=True),
     "zero must be in (0, 1], got 0.0"),
    (lambda c: config.in_interval(c, ("one",), closed_low=True), "one must be in [0, 1), got 1.0"),
    (lambda c: config.in_interval(c, ("one",), 0.05, 0.5, closed_low=True, closed_high=True),
     "one must be in [0.05, 0.5], got 1.0"),
])
def test_config_checks_name_the_first_bad_value(call, message):
    cfg = _Cfg(n=3, m=0, flag=True, half=1.5, text="3", zero=0.0, neg=-2, nan=math.nan,
               inf=math.inf, one=1.0)
    with pytest.raises(ValueError) as info:
        call(cfg)
    assert str(info.value) == message
