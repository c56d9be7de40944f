"""Bayes' rule on the text's worked examples: posterior ∝ likelihood × prior, computed in closed form
and by an independent numeric route (simulation, quadrature, or MAP through ``bj.fit_map``), the two
agreeing.

The examples: a deep-space probe behind a binary symmetric channel (P(X=0 | two 0s received) ≈ 0.9994);
the Bayes-optimal classifier for a Gaussian and a Laplace class (x0 = 1 goes to class 2: 0.0135 vs
0.375); a Beta(2,2) prior updated by 70 ones and 30 zeros (Beta(72,32), mean 0.692); a Gaussian channel
y = h·x + n (posterior of h); and the MAP of a Gaussian mean, n·x̄/(n+σ²), which is *not* the sample
mean that one of the articles calls the MAP.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax

from experiments.bayes_rule import beta, channel, classifier, figures, map_of_mean, probe, report
from experiments.common.claims import RunResult, log
from experiments.common.config import in_interval, integers, positive


@dataclasses.dataclass(frozen=True)
class Config:
    seed: int = 0
    mc_draws: int = 2_000_000          # simulated transmissions / classifications
    probe_prior0: float = 0.95         # P(X = 0)
    probe_error: float = 0.10          # bit-flip probability of the channel
    max_receptions: int = 5
    beta_a: float = 2.0
    beta_b: float = 2.0
    ones: int = 70
    zeros: int = 30
    channel_sigma_h: float = 1.0       # prior std of the channel gain h
    channel_sigma_n: float = 0.5       # noise std
    channel_pilots: int = 8
    mean_sigma: float = 2.0            # known std of the data in the MAP-of-a-mean example
    mean_true: float = 1.0
    mean_ns: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    grid_points: int = 20001           # quadrature grid
    fit_steps: int = 2000

    def __post_init__(self):
        in_interval(self, ("probe_prior0", "probe_error"))
        positive(self, ("beta_a", "beta_b", "channel_sigma_h", "channel_sigma_n", "mean_sigma"))
        integers(self, ("mc_draws", "max_receptions", "channel_pilots", "grid_points", "fit_steps"))
        integers(self, ("ones", "zeros"), minimum=0)
        if not self.mean_ns or min(self.mean_ns) < 1:
            raise ValueError(f"mean_ns must be non-empty positive sample sizes, got {self.mean_ns}")

    @classmethod
    def smoke(cls) -> Config:
        return cls(mc_draws=200_000, mean_ns=(1, 4, 16), grid_points=4001, fit_steps=500)


def run(config: Config, outdir: Path) -> RunResult:
    keys = jax.random.split(jax.random.key(config.seed), 4)
    with jax.enable_x64(True):
        pr = probe.simulate(keys[0], prior0=config.probe_prior0, error=config.probe_error,
                            max_receptions=config.max_receptions, num_draws=config.mc_draws)
        log("probe done")
        cl = classifier.solve(keys[1], grid_points=config.grid_points, num_draws=config.mc_draws)
        log("classifier done")
        be = beta.update(a=config.beta_a, b=config.beta_b, ones=config.ones, zeros=config.zeros,
                         grid_points=config.grid_points)
        ch = channel.estimate(keys[2], sigma_h=config.channel_sigma_h,
                              sigma_n=config.channel_sigma_n, pilots=config.channel_pilots,
                              grid_points=config.grid_points, fit_steps=config.fit_steps)
        log("Beta and channel done")
        rows = map_of_mean.estimate(keys[3], sigma=config.mean_sigma, true_mean=config.mean_true,
                                    ns=config.mean_ns, fit_steps=config.fit_steps)
    figures.plot_probe(pr, outdir)
    figures.plot_classifier(cl, outdir)
    figures.plot_beta(be, outdir)
    figures.plot_channel(ch, outdir)
    figures.plot_map_of_mean(rows, config.mean_sigma, config.mean_true, outdir)
    metrics = {"claims": probe.claims(pr) + classifier.claims(cl) + beta.claims(be)
               + channel.claims(ch) + map_of_mean.claims(rows),
               "probe": probe.metrics(pr), "classifier": classifier.metrics(cl),
               "beta": beta.metrics(be), "channel": channel.metrics(ch), **map_of_mean.metrics(rows)}
    return RunResult(metrics, report.body(pr, cl, be, ch, rows, sigma=config.mean_sigma))
