import json

from experiments.runner import run_experiment


def test_smoke_claims_pass_and_outputs_exist(tmp_path):
    metrics, out = run_experiment("bayes_rule", smoke=True, out=tmp_path / "a")
    failed = [c["statement"] for c in metrics["claims"] if not c["passed"]]
    assert not failed, failed
    assert len(metrics["claims"]) >= 9
    names = {p.name for p in out.iterdir()}
    assert {"metrics.json", "config.json", "report.md", "probe_receptions.png",
            "classifier_regions.png", "beta_update.png", "channel_posterior.png",
            "map_vs_mle.png"} <= names
    # the headline numbers of the text
    assert round(metrics["probe"]["posterior_x0_given_00"], 4) == 0.9994
    assert metrics["beta"]["posterior"] == [72.0, 32.0]
    assert metrics["classifier"]["decision_at_x0"] == 2


def test_same_seed_same_metrics(tmp_path):
    _, a = run_experiment("bayes_rule", smoke=True, out=tmp_path / "a")
    _, b = run_experiment("bayes_rule", smoke=True, out=tmp_path / "b")
    assert (a / "metrics.json").read_bytes() == (b / "metrics.json").read_bytes()
    _, c = run_experiment("bayes_rule", smoke=True, seed=1, out=tmp_path / "c")
    ma, mc = (json.loads((d / "metrics.json").read_text()) for d in (a, c))
    assert ma["probe"]["posterior_x0_given_00_mc"] != mc["probe"]["posterior_x0_given_00_mc"]

