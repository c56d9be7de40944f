"""Every registered experiment, in its smoke config: the claims pass, and the same seed gives the
same metrics.json (determinism). One test per experiment, parametrised over the registry."""

import pytest

import experiments
from experiments import runner


@pytest.mark.parametrize("name", list(experiments.EXPERIMENTS))
def test_smoke_claims_pass_and_are_deterministic(name, tmp_path):
    first, out1 = runner.run_experiment(name, smoke=True, seed=0, out=tmp_path / "a")
    failed = [c["statement"] for c in first["claims"] if not c["passed"]]
    assert first["claims"] and not failed, f"{name}: failed claims {failed}"
    assert {"metrics.json", "config.json", "report.md"} <= {p.name for p in out1.iterdir()}
    assert any(p.suffix == ".png" for p in out1.iterdir()), f"{name} saved no figure"
    _, out2 = runner.run_experiment(name, smoke=True, seed=0, out=tmp_path / "b")
    assert (out1 / "metrics.json").read_text() == (out2 / "metrics.json").read_text(), \
        f"{name}: the same seed gave different metrics"
