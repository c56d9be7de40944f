"""diffusion_score: the exact-score samplers pass the claim's moment test and the flipped-drift
sampler fails it; the score field check; the distance test separates the data law from a Gaussian
fit. (A bad config value is rejected by the CLI: test_runner.py.)"""

import jax
import numpy as np

import bayesjax as bj
from experiments import diffusion_score as ds
from experiments.common import ring, stats
from experiments.diffusion_score.gaussian import exact_score_samples, moment_test, score_field_check


def test_exact_score_passes_and_flipped_drift_fails_the_moment_criterion():
    mean, cov = np.asarray(ds.DATA_MEAN), np.asarray(ds.DATA_COV)
    out = exact_score_samples(jax.random.key(0), bj.diffusion.VP(), mean, cov, 2000, 100)
    assert moment_test(out["sde_exact"], mean, cov)["within"]
    assert moment_test(out["ode_exact"], mean, cov)["within"]
    for k in ("sde_flipped_drift", "ode_flipped_drift"):
        assert moment_test(out[k], mean, cov)["max_abs_z"] > 3 * stats.Z


def test_score_field_points_to_the_mean_and_matches_autodiff():
    lim = np.linspace(-3, 5, 5)
    grid = np.stack(np.meshgrid(lim, lim), -1).reshape(-1, 2)
    f = score_field_check(bj.diffusion.VP(), np.asarray(ds.DATA_MEAN), np.asarray(ds.DATA_COV),
                          (0.01, 0.5), grid)
    assert f["max_rel_error_vs_autodiff"] < 1e-10 and f["min_cosine_to_mean"] > 0


def test_distance_test_passes_for_the_data_law_and_not_for_the_baseline_itself():
    c = ring.modes()
    data, model = (np.asarray(ring.sample(jax.random.key(i), 2000, c, 0.15)) for i in (1, 2))
    gauss = np.random.default_rng(0).multivariate_normal(data.mean(0), np.cov(data.T), 2000)
    d = ds.distances(data, {"model": model, "Gaussian fit": gauss}, 4)
    assert d["Gaussian fit"]["paired_z_vs_model"] > stats.Z_ONE_SIDED
    gauss2 = np.random.default_rng(1).multivariate_normal(data.mean(0), np.cov(data.T), 2000)
    d = ds.distances(data, {"model": gauss2, "Gaussian fit": gauss}, 4)
    assert d["Gaussian fit"]["paired_z_vs_model"] < stats.Z_ONE_SIDED
