"""The markdown body of ``report.md``."""

from __future__ import annotations

from experiments.common import stats
from experiments.common.tables import markdown_table
from experiments.predictive_uncertainty.claims import hetero_summary, ratios
from experiments.predictive_uncertainty.coverage import LEVEL
from experiments.predictive_uncertainty.hetero import HeteroResult
from experiments.predictive_uncertainty.linear import LinearResult
from experiments.predictive_uncertainty.mlp import MLPResult


def coverage_table(lin: LinearResult) -> str:
    pp, fw, ex = lin.coverage["prior predictive"], lin.coverage["fixed w"], lin.expect
    header = ["data", "interval", "coverage, |x| ≤ 1", "closed form",
              f"coverage, 1 < |x| ≤ {lin.half_width:g}", "closed form"]
    rows = [["w from the prior", "Bayesian", pp["bayes_in"], LEVEL, pp["bayes_out"], LEVEL],
            ["w from the prior", "plug-in", pp["plugin_in"], ex["plugin_in"], pp["plugin_out"],
             ex["plugin_out"]],
            ["fixed w", "Bayesian", fw["bayes_in"], ex["fixed_in"], fw["bayes_out"],
             ex["fixed_out"]],
            ["fixed w", "plug-in", fw["plugin_in"], None, fw["plugin_out"], None]]
    return markdown_table(header, rows, floatfmt=".4f")


def mlp_table(mlp: MLPResult) -> str:
    rat = ratios(mlp)
    header = ["Laplace", "P", "mean epistemic std, |x| ≤ 1",
              f"mean epistemic std, 1 < |x| ≤ {mlp.half_width:g}", "ratio",
              f"coverage of {mlp.num_test} fresh in-range test points",
              "share of the out-of-range grid where the band holds sin(3x)"]
    rows = [[name, p["num_params"], p["std_in"], p["std_out"], rat[name], p["test_coverage"],
             p["truth_in_band_out"]] for name, p in mlp.preds.items()]
    return markdown_table(header, rows, floatfmt=("", "", ".4f", ".4f", ".1f", ".3f", ".2f"))


def hetero_text(het: HeteroResult) -> list[str]:
    h = hetero_summary(het)
    return [
        f"**Heteroscedastic part** (float32). N = {len(het.x)} points uniform on [-1, 1], y = "
        f"sin(3x) + σ(x)ε with σ(x) = {het.base:g} + {het.slope:g}|x|. A tanh MLP "
        f"1-{het.width}-{het.width}-2 outputs (μ, s = log σ²) under "
        "`bj.likelihoods.HeteroscedasticGaussian` (prior "
        f"N(0, {het.prior_scale:g}²), `bj.fit_map`, {het.steps} Adam steps, grad_norm "
        f"{het.grad_norm['heteroscedastic']:.1e}); full-GGN Laplace with the likelihood's Fisher "
        "diag(e^{−s}, 1/2) as output precision (its Hessian is indefinite), GLM predictive on "
        f"[-{het.half_width:g}, {het.half_width:g}]. Aleatoric = E[exp(s)] = exp(s* + Var[s]/2) "
        "(the lognormal mean under the GLM), epistemic = Var[μ].",
        "",
        markdown_table(
            ["", "value"],
            [["sqrt(aleatoric)/σ(x) on the in-range grid, min / max",
              f"{h['sd_ratio_min']:.2f} / {h['sd_ratio_max']:.2f}"],
             ["correlation of sqrt(aleatoric) with σ(x), in range", f"{h['sd_corr']:.3f}"],
             ["aleatoric std at 0.8 ≤ |x| ≤ 1 over |x| ≤ 0.2 (true)",
              f"{h['sd_growth']:.2f} ({h['true_sd_growth']:.2f})"],
             ["mean aleatoric / epistemic std in range",
              f"{h['aleatoric_sd_in']:.4f} / {h['epistemic_sd_in']:.4f}"],
             ["epistemic std out of range / in range", f"{h['epistemic_ratio']:.1f}"],
             [f"held-out log density of the moment-matched Gaussian predictive per point "
              f"({het.lpd_het.size} points), heteroscedastic / homoscedastic",
              f"{h['lpd_het']:.3f} / {h['lpd_homo']:.3f} nats"],
             ["paired z of the difference", f"{h['lpd_z']:.1f}"]]),
        "",
        "The homoscedastic baseline is the same MLP with one output and `Gaussian(σ)` at the "
        f"oracle pooled σ = sqrt(E σ(x)²) = {het.homo_noise:.4f}, the best constant noise (not "
        "fitted, so it is not handicapped by a poor σ estimate); its full-GGN Laplace GLM "
        "predictive is scored on the same held-out points. It loses where the noise is small "
        "(its band is too wide near x = 0) and where it is large (too narrow at |x| ≈ 1).",
    ]


def body(lin: LinearResult, mlp: MLPResult, het: HeteroResult) -> str:
    errs, ex, r, g = lin.errs, lin.expect, lin.num_replicates, lin.grid.size
    se = float(stats.binomial_se(LEVEL, r))
    sig = mlp.noise
    return "\n".join([
        f"**Linear part** (float64). N = {len(lin.x)} inputs uniform on [-1, 1], features "
        f"1, x, …, x^{lin.degree}, prior w ~ N(0, {lin.prior_scale:g}²I), noise σ = "
        f"{lin.noise:g}. The exact posterior is `bj.conjugate.bayesian_linear_regression`. The "
        "same model as a `bj.Posterior`: the mode from `bj.fit_map` (5000 Adam steps) is "
        "polished by one Newton step with the Laplace precision (it moved by "
        f"{lin.fit_gap:.1e}); `bj.laplace` there equals the closed form (relative errors "
        f"{errs['precision']:.1e} precision, {errs['mean']:.1e} mean, "
        f"{errs['epistemic_var']:.1e} epistemic variance; κ(P) = {lin.cond:.0f}).",
        "",
        f"Coverage: R = {r} replicate data sets in one compiled sweep (`common.sweep.sharded_vmap`: "
        "a `jax.vmap` split over `jax.devices()`). Each "
        "replicate draws its y on the same design, and one test y* at each of the "
        f"{g} grid points, at one uniform point in [-1, 1] and at one uniform point in "
        f"1 < |x| ≤ {lin.half_width:g}; the in/out coverages use the last two, so each is "
        "a mean of R independent indicators and its binomial standard error "
        f"sqrt(0.95·0.05/R) = {se:.4f} is exact (the grid points of one replicate share its w and "
        "its posterior mean, so they are correlated and are only tested per x). Each replicate's "
        "posterior and predictive are the conjugate closed form for its data.",
        "",
        coverage_table(lin),
        "",
        "Why the Bayesian interval covers 95% *exactly* when w is drawn from the prior: then "
        "(w, D, y*) is drawn from the joint distribution the model assumes, so y* given D has "
        "exactly the predictive N(φᵀμ, σ² + φᵀΣφ), whatever x, the design or the data range. "
        "With one fixed w the interval is judged against a single world: its mean is shrunk "
        "towards the prior mean 0 by φᵀΣw/s², a bias that grows outside the data, while the "
        "width is the average over w's the prior finds plausible. The coverage is then whatever "
        "the fixed-w closed form says (table: here "
        f"{ex['fixed_in']:.3f} in range and {ex['fixed_out']:.3f} out of range, both matched by "
        "the simulation), close to 95% for a typical w but not exactly. "
        "The plug-in interval ignores φᵀΣφ: it is nearly right inside the data, where σ² "
        "dominates, and badly wrong outside, where the epistemic part dominates.",
        "",
        f"**MLP part** (float32). N = {len(mlp.x)} points uniform on [-1, 1], y = sin(3x) + "
        f"N(0, {sig:g}²), MLP 1-{mlp.width}-{mlp.width}-1 (tanh), prior "
        f"N(0, {mlp.prior_scale:g}²) on every weight, MAP by `bj.fit_map` "
        f"({mlp.steps} Adam steps, grad_norm {mlp.grad_norm:.1e}, RMSE to sin(3x) on "
        f"the training inputs {mlp.rmse:.3f}). Laplace at the MAP, GLM predictive on "
        f"[-{mlp.half_width:g}, {mlp.half_width:g}]:",
        "",
        mlp_table(mlp),
        "",
        f"`bj.optimize_prior_precision` (post hoc, at the same mode) picks prior precision "
        f"{mlp.opt_prior_precision:.3f} (prior std {mlp.opt_prior_precision ** -0.5:.2f}) "
        f"and noise σ = {mlp.opt_noise:.4f} (true {sig:g}); it is the evidence optimum at the "
        "mode fitted under the original prior and noise (not refitted), so σ̂ follows that "
        f"mode's training residuals (RMS {mlp.resid_rms:.4f}) rather than the true noise, and "
        "the smaller σ̂ makes that predictive's in-range intervals narrower. The coverage "
        "columns are not claims: the MLP Laplace posterior is an approximation and the data do "
        "not come from its prior, so there is no exact coverage to test against. The last one "
        "is the share of the 1 < |x| ≤ b grid where the total 95% band contains sin(3x).",
        "",
        "Remarks: the MLP ratios depend on the architecture, the prior and how far out one "
        "looks; the criterion (≥ 3, epistemic below σ in range and above it out of range) is one "
        "that a constant or zero epistemic variance fails. Out of range the last-layer "
        "Laplace is the least uncertain: it treats the hidden features φ(x) as known and only "
        "measures how well the output weights are pinned down along φ(x), not the uncertainty "
        "of the features themselves.",
        "",
        *hetero_text(het),
    ])
