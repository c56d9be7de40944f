"""The experiment runner and CLI: atomic outputs, claims, and clear errors with exit status 2."""

import dataclasses
import json
import subprocess
import sys
import types

import pytest

import experiments
from experiments import runner


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
        return {"value": config.scale, "sizes": list(config.sizes),
                "claims": [runner.claim("toy", config.scale, "mode is pass",
                                        config.mode == "pass")],
                "report": "body text"}

    mod.Config, mod.run = Config, run
    monkeypatch.setitem(sys.modules, "experiments._fake", mod)
    monkeypatch.setitem(experiments.EXPERIMENTS, "_fake", "experiments._fake")
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
