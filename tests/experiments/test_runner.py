"""The experiment runner and CLI: atomic outputs, claims, and clear errors with exit status 2."""

import dataclasses
import json
import subprocess
import sys
import types

import pytest

import experiments
from experiments import runner
from experiments.common import stats
from experiments.common.claims import RunResult, claim


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "experiments", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def fake(monkeypatch):
    """A registered toy experiment whose behaviour the test chooses."""
    mod = types.ModuleType("experiments._fake")
    mod.__doc__ = "A toy experiment: the claim it checks."

    @dataclasses.dataclass(frozen=True)
    class Config:
        seed: int = 0
        scale: float = 1.0
        mode: str = "pass"
        sizes: tuple[int, ...] = (1, 2)
        flag: bool = False

        def __post_init__(self):
            if self.scale <= 0:
                raise ValueError(f"scale must be > 0, got {self.scale}")

        @classmethod
        def smoke(cls):
            return cls(scale=0.5)

    def run(config, outdir):
        (outdir / "partial.txt").write_text("written before any failure")
        if config.mode == "crash":
            raise RuntimeError("boom")
        if config.mode == "dict":  # the old contract: a dict with the report inside
            return {"claims": [], "report": "body text"}
        tests = stats.MAX_TESTS_PER_RUN + 1 if config.mode == "overbudget" else 2
        return RunResult({"value": config.scale, "sizes": list(config.sizes),
                          "claims": [claim("toy", config.scale, "mode is pass",
                                           config.mode == "pass", sampled_tests=tests)]},
                         "body text")

    mod.Config, mod.run = Config, run
    monkeypatch.setitem(sys.modules, "experiments._fake", mod)
    monkeypatch.setitem(experiments.EXPERIMENTS, "_fake",
                        experiments.Entry("experiments._fake", "0 Toys", "the toy claim"))
    return mod


def test_outputs_are_written(fake, tmp_path):
    metrics, out = runner.run_experiment("_fake", smoke=True, out=tmp_path / "r",
                                         overrides=["sizes=3,4", "flag=true"])
    assert out == tmp_path / "r"
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "metrics.json",
                                                     "partial.txt", "report.md"]
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["value"] == 0.5 and saved["sizes"] == [3, 4] and "report" not in saved
    assert json.loads((out / "config.json").read_text())["flag"] is True
    report = (out / "report.md").read_text()
    assert "A toy experiment" in report and "body text" in report and "| toy |" in report


def test_rerun_replaces_previous_outputs(fake, tmp_path):
    runner.run_experiment("_fake", out=tmp_path / "r", overrides=["scale=2"])
    runner.run_experiment("_fake", out=tmp_path / "r", overrides=["scale=3"])
    assert json.loads((tmp_path / "r" / "metrics.json").read_text())["value"] == 3.0
    assert [p.name for p in tmp_path.iterdir()] == ["r"]  # no temp dirs left over


def test_crash_leaves_nothing(fake, tmp_path):
    with pytest.raises(RuntimeError, match="boom"):
        runner.run_experiment("_fake", out=tmp_path / "r", overrides=["mode=crash"])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("mode, error, message", [
    ("dict", TypeError, "must return a RunResult"),
    ("overbudget", ValueError, "sampled comparisons"),
])
def test_broken_contract_is_an_error_and_leaves_nothing(fake, tmp_path, mode, error, message):
    with pytest.raises(error, match=message):
        runner.run_experiment("_fake", out=tmp_path / "r", overrides=[f"mode={mode}"])
    assert list(tmp_path.iterdir()) == []


def test_claim_rows_count_sampled_tests():
    row = claim("s", 1.0, "c", True, sampled_tests=3)
    assert row == {"statement": "s", "value": 1.0, "criterion": "c", "passed": True,
                   "sampled_tests": 3}
    with pytest.raises(ValueError, match="sampled_tests"):
        claim("s", 1.0, "c", True, sampled_tests=-1)


def test_all_runs_every_experiment_when_one_crashes(fake, tmp_path, monkeypatch, capsys):
    """``--all`` goes on after a crash, exits 1, and results/index.md records the crash."""
    crash = types.ModuleType("experiments._crash")
    crash.__doc__, crash.Config = "A toy experiment that crashes.", fake.Config
    crash.run = lambda config, outdir: (_ for _ in ()).throw(RuntimeError("kaboom"))
    monkeypatch.setitem(sys.modules, "experiments._crash", crash)
    registry = {"_crash": experiments.Entry("experiments._crash", "0 Toys", "crashes"),
                "_fake": experiments.EXPERIMENTS["_fake"]}
    monkeypatch.setattr(runner, "EXPERIMENTS", registry)
    monkeypatch.setattr(runner, "RESULTS", tmp_path / "results")
    assert runner.main(["--all", "--smoke"]) == 1
    index = (tmp_path / "results" / "index.md").read_text()
    assert "| _crash | 0 Toys | crashes | **crashed**: RuntimeError: kaboom | — |" in index
    assert "| _fake | 0 Toys | the toy claim | 1/1 |" in index
    assert (tmp_path / "results" / "_fake" / "metrics.json").exists()
    assert not (tmp_path / "results" / "_crash").exists()
    assert "CRASHED [_crash]: RuntimeError: kaboom" in capsys.readouterr().err


def test_list_prints_every_name_with_section_and_claim(capsys):
    assert runner.main(["--list"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [ln.split()[0] for ln in lines] == list(experiments.EXPERIMENTS)
    for line, entry in zip(lines, experiments.EXPERIMENTS.values(), strict=True):
        assert f"[{entry.section}] {entry.claim}" in line


def test_failed_claim_writes_outputs_and_exits_1(fake, tmp_path, capsys):
    code = runner.main(["_fake", "--out", str(tmp_path / "r"), "mode=fail"])
    assert code == 1
    assert (tmp_path / "r" / "metrics.json").exists()
    assert "FAILED [_fake]: toy" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, message",
    [
        (["nope"], "unknown experiment 'nope'; valid names: "),
        (["_fake", "scale"], "malformed override 'scale': expected key=value"),
        (["_fake", "=3"], "malformed override '=3'"),
        (["_fake", "scal=3"], "unknown config key 'scal'; valid keys: seed, scale"),
        (["_fake", "scale=abc"], "override scale='abc': expected float"),
        (["_fake", "scale=nan"], "override scale='nan': expected float"),
        (["_fake", "flag=maybe"], "override flag='maybe': expected bool"),
        (["_fake", "scale=-1"], "invalid config: scale must be > 0, got -1.0"),
        (["_fake", "--seed", "x"], "--seed must be an integer"),
        (["_fake", "--bogus"], "unknown option '--bogus'"),
        ([], "no experiment named"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_outputs(fake, tmp_path, capsys, args, message):
    out = tmp_path / "r"
    code = runner.main([*args, "--out", str(out)] if args else args)
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and message in err
    if args == ["nope"]:
        assert all(name in err for name in experiments.EXPERIMENTS)
    assert not out.exists() and list(tmp_path.iterdir()) == []


# one invalid override per registered experiment: (key=value, a fragment of the one-line error)
BAD_VALUES = {
    "bayes_rule": ("probe_error=1.5", "probe_error must be in (0, 1), got 1.5"),
    "bnn_posteriors": ("noise=-1", "noise must be finite and > 0, got -1.0"),
    "curse_of_dimensionality": ("sizes=80,100", "< d = 64"),
    "diffusion_score": ("num_batches=1", "num_batches must be an integer >= 2, got 1"),
    "flat_vs_sharp": ("evidence_structure=ful",
                      "unknown evidence_structure 'ful'; valid: full, diag, kfac"),
    "gan_mode_collapse": ("gan_steps=1001", "gan_steps=1001 must be a multiple"),
    "generative_vs_discriminative": ("num_sets=10", "num_sets must be >= 30"),
    "l1_vs_l2": ("num_scales=1", "num_scales must be an integer >= 2, got 1"),
    "label_shift": ("test_prior=1.5", "test_prior"),
    "likelihood_vs_quality": ("sharp_bandwidth=0", "sharp_bandwidth must be finite and > 0"),
    "linear_vae_ppca": ("latent_dims=2,64", "latent_dims"),
    "llm_sampling": ("top_p=0.5,1.5", "top_p"),
    "minibatch_scaling": ("batch_size=1000", "batch_size"),
    "posterior_collapse": ("betas=4,2", "betas"),
    "predictive_uncertainty": ("test_half_width=0.5", "test_half_width"),
    "sgd_as_posterior": ("num_bins=31", "num_bins must be even"),
}


def test_bad_value_table_covers_the_registry():
    assert sorted(BAD_VALUES) == sorted(experiments.EXPERIMENTS)


@pytest.mark.parametrize("name", sorted(BAD_VALUES))
def test_every_experiment_rejects_a_bad_value_with_one_line_and_no_outputs(name, tmp_path,
                                                                           capsys):
    override, fragment = BAD_VALUES[name]
    out = tmp_path / "r"
    assert runner.main([name, override, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: invalid config: ")
    assert fragment in err and override.split("=")[0] in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_cli_unknown_experiment_subprocess(tmp_path):
    res = _cli("flat_vs_sharpp", cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.strip().startswith("error: unknown experiment 'flat_vs_sharpp'; valid names:")
    assert len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "results").exists()


def test_cli_invalid_config_value_subprocess(tmp_path):
    res = _cli("bayes_rule", "--smoke", "probe_error=1.5", cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.strip() == ("error: invalid config: probe_error must be in (0, 1), got 1.5")
    assert not (tmp_path / "results").exists()


def test_every_experiment_has_the_contract():
    for name in experiments.EXPERIMENTS:
        mod = runner.load(name)
        assert mod.__doc__ and len(mod.__doc__.strip()) > 40, name
        assert "seed" in {f.name for f in dataclasses.fields(mod.Config)}, name
        assert isinstance(mod.Config.smoke(), mod.Config), name
        assert callable(mod.run), name
        # an experiment is a package named after its claim (experiments/<name>/__init__.py)
        assert mod.__name__ == f"experiments.{name}" and hasattr(mod, "__path__"), name
