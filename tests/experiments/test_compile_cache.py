"""The CLIs' persistent compilation cache: where it lives, that it fills and is reused, that it
changes no result, that it can be switched off, and that an unwritable directory is a warning."""

import os
import subprocess
import sys
from pathlib import Path

import jax

from experiments.common import compile_cache
from experiments.common.compile_cache import ENV, cache_dir


def _cli_env(tmp_path, value):
    env = {k: v for k, v in os.environ.items() if k not in (ENV, "JAX_COMPILATION_CACHE_DIR")}
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    env[ENV] = value
    return env


def _run(tmp_path, value, out):
    res = subprocess.run([sys.executable, "-m", "experiments", "bayes_rule", "--smoke", "--out",
                          str(tmp_path / out)], cwd=tmp_path, env=_cli_env(tmp_path, value),
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "warning: compilation cache" not in res.stderr
    return (tmp_path / out / "metrics.json").read_text()


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() \
        else set()


def test_cli_off_writes_nothing_on_fills_and_reuses_the_cache_and_results_agree(tmp_path):
    ours = tmp_path / "xdg" / "bayesjax"  # matplotlib keeps its font cache beside it
    off = _run(tmp_path, "0", "off")
    assert not ours.exists()
    cache = ours / "jax"
    cold = _run(tmp_path, "1", "cold")
    entries = _files(cache)
    assert entries, "the first run with the cache on wrote no compiled executables"
    warm = _run(tmp_path, "1", "warm")
    # every compilation of the rerun was a cache hit, and nothing else was written
    assert _files(ours) == {f"jax/{e}" for e in entries}
    assert cold == off and warm == off  # metrics.json byte for byte, with the cache or without


def test_where_the_cache_lives(tmp_path):
    home = Path.home()
    assert cache_dir({}) == home / ".cache" / "bayesjax" / "jax"
    assert cache_dir({"XDG_CACHE_HOME": "/x/c"}) == Path("/x/c/bayesjax/jax")
    assert cache_dir({"XDG_CACHE_HOME": "relative"}) == home / ".cache" / "bayesjax" / "jax"
    assert cache_dir({ENV: "1", "XDG_CACHE_HOME": "/x/c"}) == Path("/x/c/bayesjax/jax")
    assert cache_dir({ENV: str(tmp_path / "mine")}) == tmp_path / "mine"
    assert cache_dir({ENV: "~/mine"}) == home / "mine"
    for off in ("0", "off", "False", " no "):
        assert cache_dir({ENV: off, "XDG_CACHE_HOME": "/x/c"}) is None
    # under pytest the cache is off unless the test asks for it
    assert cache_dir({"PYTEST_CURRENT_TEST": "t"}) is None
    assert cache_dir({"PYTEST_CURRENT_TEST": "t", ENV: "1", "XDG_CACHE_HOME": "/x/c"}) \
        == Path("/x/c/bayesjax/jax")
    assert cache_dir() is None  # this very test: make test never writes to the real home


def test_unwritable_directory_is_one_warning_line_and_no_cache(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache directory's parent should be")
    before = jax.config.jax_compilation_cache_dir
    assert compile_cache.enable({ENV: str(blocker / "jax")}) is None
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("warning: compilation cache off: cannot write")
    assert str(blocker / "jax") in err
    assert jax.config.jax_compilation_cache_dir == before
    assert not (blocker / "jax").exists()
