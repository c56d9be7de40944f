"""The markdown body of ``report.md``."""

from __future__ import annotations

from experiments.bayes_rule.beta import BetaResult
from experiments.bayes_rule.channel import ChannelResult
from experiments.bayes_rule.classifier import ClassifierResult
from experiments.bayes_rule.map_of_mean import MapRow
from experiments.bayes_rule.probe import ProbeResult
from experiments.common.tables import markdown_table


def body(pr: ProbeResult, cl: ClassifierResult, be: BetaResult, ch: ChannelResult,
         rows: list[MapRow], *, sigma: float) -> str:
    examples = markdown_table(["example", "closed form", "numeric route"], [
        ["probe, P(X=0 \\| 00)", f"{pr.exact[2]:.6f}",
         f"simulation {pr.mc[2]:.6f} ± {pr.se[2]:.1e}"],
        ["classifier at x0=1", "0.0135 vs 0.375 → class 2",
         "library densities " + " vs ".join(f"{v:.5f}" for v in cl.at_x0)],
        ["Bayes error of that rule", f"quadrature {cl.bayes_error:.5f}",
         f"simulation {cl.mc_error:.5f}"],
        ["Beta posterior mean", f"{be.mean:.6f}", f"quadrature {be.q_mean:.6f}"],
        ["channel gain h, posterior mean", f"{ch.mean:.6f}",
         f"fit_map {ch.h_map:.6f}, quadrature {ch.q_mean:.6f}"],
        ["channel log evidence (nats)", f"{ch.log_evidence:.6f}",
         f"quadrature of exp(log_joint): {ch.q_log_evidence:.6f}"],
    ])
    shrink = markdown_table(
        ["n", "sample mean (MLE)", "MAP closed form", "MAP by fit_map", "shrinkage σ²/(n+σ²)"],
        [[r.n, r.sample_mean, r.map_closed_form, r.map_fit, r.shrinkage] for r in rows],
        floatfmt=("", ".4f", ".4f", ".4f", ".3f"))
    lo, hi = cl.class1_region
    return f"""
All five examples are computed twice: once in closed form (`bj.conjugate` for the Beta–Bernoulli,
the channel and the Gaussian mean), once by a route that does not use the formula (simulating the
channel, `bj.quadrature` on a grid of the log joint, or `bj.fit_map`). Everything runs in float64.

{examples}

The class-1 decision region is the interval ({lo:.4f}, {hi:.4f}): the Laplace class's heavier tails
win on both sides.

**MAP of a Gaussian mean.** With known noise σ = {sigma:g} and prior N(0, 1), the MAP is
n·x̄/(n+σ²), the sample mean shrunk toward the prior mean by the factor σ²/(n+σ²). Calling the sample
mean "the MAP" (as one of the articles does) is the flat-prior answer, i.e. the MLE; the two agree only
as n → ∞:

{shrink}
"""
