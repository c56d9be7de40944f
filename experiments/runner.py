"""Run an experiment: config -> ``run`` -> ``results/NAME/`` written atomically.

Outputs: ``metrics.json`` (with the ``claims`` list), ``config.json``, the figures (``*.png``) and
``report.md``. Everything is written to a temporary directory beside the target and renamed into
place at the end, so a crashed or rejected run leaves nothing half-written.

Exit status of the CLI: 0 all claims passed; 1 a claim failed (outputs are written, the failing
claims printed) or the run crashed; 2 bad input (unknown name, malformed override, invalid config
value), with one line naming the problem and no results directory.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
import os
import shutil
import sys
import tempfile
import time
import traceback
import typing
from pathlib import Path

from experiments import EXPERIMENTS, cell
from experiments.common import compile_cache, stats
from experiments.common.claims import RunResult, jsonable

RESULTS = Path("results")


class UsageError(ValueError):
    """Bad input to the runner: reported as one line, exit status 2."""


def load(name: str):
    """The experiment module for ``name``; ``UsageError`` listing the names if unknown."""
    if name not in EXPERIMENTS:
        raise UsageError(f"unknown experiment {name!r}; valid names: {', '.join(EXPERIMENTS)}")
    return importlib.import_module(EXPERIMENTS[name].module)


def _parse_value(key: str, text: str, typ):
    origin = typing.get_origin(typ)
    try:
        if typ is bool:
            low = text.lower()
            if low in ("1", "true", "yes"):
                return True
            if low in ("0", "false", "no"):
                return False
            raise ValueError(text)
        if typ is int:
            return int(text)
        if typ is float:
            v = float(text)
            if not math.isfinite(v):
                raise ValueError(text)
            return v
        if typ is str:
            return text
        if origin is tuple:
            (inner, *_rest) = typing.get_args(typ)
            return tuple(_parse_value(key, t.strip(), inner) for t in text.split(",") if t.strip())
    except ValueError:
        raise UsageError(f"override {key}={text!r}: expected {getattr(typ, '__name__', typ)}") \
            from None
    raise UsageError(f"override {key}: unsupported field type {typ}")


def make_config(module, *, smoke: bool = False, seed: int | None = None,
                overrides: list[str] | None = None):
    """Build the experiment's config from its defaults (or smoke defaults), a seed, and
    ``key=value`` overrides; every problem is a ``UsageError``."""
    cfg_cls = module.Config
    base = cfg_cls.smoke() if smoke else cfg_cls()
    hints = typing.get_type_hints(cfg_cls)
    changes = {}
    for item in overrides or []:
        if "=" not in item or item.startswith("="):
            raise UsageError(f"malformed override {item!r}: expected key=value")
        key, text = item.split("=", 1)
        if key not in hints:
            raise UsageError(f"unknown config key {key!r}; valid keys: {', '.join(hints)}")
        changes[key] = _parse_value(key, text, hints[key])
    if seed is not None:
        changes["seed"] = seed
    try:
        return dataclasses.replace(base, **changes)
    except (ValueError, TypeError) as e:
        raise UsageError(f"invalid config: {e}") from None


def _report(name: str, module, config, metrics: dict, body: str, outdir: Path, smoke: bool,
            seconds: float) -> str:
    doc = (module.__doc__ or "").strip()
    lines = [f"# {name}", ""]
    lines += ["> " + ln if ln else ">" for ln in doc.splitlines()]
    cmd = f"python -m experiments {name} --seed {config.seed}" + (" --smoke" if smoke else "")
    lines += ["", f"Run: `{cmd}` ({seconds:.1f} s).", ""]
    if body:
        lines += ["## Results", "", body.strip(), ""]
    figs = sorted(p.name for p in outdir.glob("*.png"))
    if figs:
        lines += ["## Figures", ""] + [f"![{f}]({f})\n" for f in figs]
    lines += ["## Claims", "", "| claim | measured | criterion | passed |", "|---|---|---|---|"]
    for c in metrics["claims"]:
        val = json.dumps(c["value"]) if not isinstance(c["value"], str) else c["value"]
        mark = "yes" if c["passed"] else "**NO**"
        lines.append(f"| {cell(c['statement'])} | {cell(val)} | {cell(c['criterion'])} | {mark} |")
    lines += ["", "## Config", "", "```json", json.dumps(dataclasses.asdict(config), indent=2),
              "```", ""]
    return "\n".join(lines)


def _check_result(name: str, result) -> tuple[dict, str]:
    """The run's metrics (JSON-able) and report body, after checking the experiment kept the
    contract: a ``RunResult`` whose metrics hold a ``claims`` list within the significance
    policy's budget of sampled comparisons."""
    if not isinstance(result, RunResult):
        raise TypeError(f"{name}.run must return a RunResult, got {type(result).__name__}")
    metrics, body = result
    if not isinstance(metrics, dict) or not isinstance(metrics.get("claims"), list):
        raise TypeError(f"{name}.run: RunResult.metrics must be a dict with a 'claims' list")
    used = sum(int(c.get("sampled_tests", 0)) for c in metrics["claims"])
    if used > stats.MAX_TESTS_PER_RUN:
        raise ValueError(f"{name}: its claims make {used} sampled comparisons, more than the "
                         f"{stats.MAX_TESTS_PER_RUN} the significance policy allows per run "
                         "(experiments/common/stats.py)")
    return jsonable(metrics), str(body)


def run_experiment(name: str, *, smoke: bool = False, seed: int | None = None,
                   out: str | os.PathLike | None = None,
                   overrides: list[str] | None = None) -> tuple[dict, Path]:
    """Run one experiment and write its outputs atomically. Returns ``(metrics, outdir)``."""
    module = load(name)
    config = make_config(module, smoke=smoke, seed=seed, overrides=overrides)
    final = Path(out) if out is not None else RESULTS / name
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    try:
        t0 = time.perf_counter()
        result = module.run(config, tmp)
        seconds = time.perf_counter() - t0
        metrics, body = _check_result(name, result)
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
        (tmp / "config.json").write_text(
            json.dumps(jsonable(dataclasses.asdict(config)), indent=2) + "\n")
        (tmp / "report.md").write_text(_report(name, module, config, metrics, body, tmp, smoke,
                                               seconds))
        if final.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
            os.replace(final, old / "x")
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return metrics, final


def write_index(rows: list[tuple[str, dict | None, Path | None, str]], path: Path) -> None:
    """``results/index.md``: one line per experiment (section, claim, claims passed, report); a
    crashed experiment's line says so and names the error."""
    lines = ["# Results", "", "| experiment | section | claim | claims passed | report |",
             "|---|---|---|---|---|"]
    for name, metrics, outdir, error in rows:
        entry = EXPERIMENTS[name]
        if metrics is None:
            status, link = f"**crashed**: {error}", "—"
        else:
            claims = metrics["claims"]
            status = f"{sum(c['passed'] for c in claims)}/{len(claims)}"
            rel = os.path.relpath(outdir / "report.md", path.parent)
            link = f"[{rel}]({rel})"
        lines.append(f"| {name} | {cell(entry.section)} | {cell(entry.claim)} | {cell(status)} "
                     f"| {link} |")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def _usage() -> str:
    return ("usage: python -m experiments NAME|--all|--list [--smoke] [--seed S] [--out DIR] "
            "[key=value ...]")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    compile_cache.enable()  # before any JAX computation; off under pytest and when asked
    try:
        smoke, seed, out, names, overrides = False, None, None, [], []
        it = iter(argv)
        for arg in it:
            if arg == "--smoke":
                smoke = True
            elif arg in ("--seed", "--out"):
                val = next(it, None)
                if val is None:
                    raise UsageError(f"{arg} needs a value")
                if arg == "--seed":
                    try:
                        seed = int(val)
                    except ValueError:
                        raise UsageError(f"--seed must be an integer, got {val!r}") from None
                else:
                    out = val
            elif arg == "--list":
                width = max(map(len, EXPERIMENTS))
                for n, e in EXPERIMENTS.items():
                    print(f"{n:<{width}}  [{e.section}] {e.claim}")
                return 0
            elif arg == "--all":
                names = list(EXPERIMENTS)
            elif arg in ("-h", "--help"):
                print(_usage())
                return 0
            elif arg.startswith("-"):
                raise UsageError(f"unknown option {arg!r}; {_usage()}")
            elif "=" in arg:
                overrides.append(arg)
            elif not names:
                names = [arg]
            else:
                raise UsageError(f"malformed override {arg!r}: expected key=value "
                                 "(one experiment name at a time)")
        if not names:
            raise UsageError(f"no experiment named; valid names: {', '.join(EXPERIMENTS)}")
        if len(names) > 1 and out is not None:
            raise UsageError("--out cannot be used with --all")
        for n in names:  # reject bad input before any experiment runs
            make_config(load(n), smoke=smoke, seed=seed, overrides=overrides)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    rows, failed = [], []
    for name in names:
        print(f"== {name}{' (smoke)' if smoke else ''}", flush=True)
        t0 = time.perf_counter()
        try:
            metrics, outdir = run_experiment(name, smoke=smoke, seed=seed, out=out,
                                             overrides=overrides)
        except UsageError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        except Exception as e:  # noqa: BLE001 -- one crash must not stop --all
            if len(names) == 1:
                raise
            error = f"{type(e).__name__}: {e}".splitlines()[0]
            traceback.print_exc()
            print(f"   CRASHED [{name}]: {error}", file=sys.stderr, flush=True)
            failed.append(name)
            rows.append((name, None, None, error))
            continue
        bad = [c for c in metrics["claims"] if not c["passed"]]
        print(f"   {len(metrics['claims']) - len(bad)}/{len(metrics['claims'])} claims passed "
              f"in {time.perf_counter() - t0:.1f} s; outputs in {outdir}/ (report.md)", flush=True)
        for c in bad:
            failed.append(name)
            print(f"   FAILED [{name}]: {c['statement']} -- measured {c['value']}, "
                  f"criterion: {c['criterion']}", file=sys.stderr)
        rows.append((name, metrics, outdir, ""))
    if len(names) > 1:
        write_index(rows, RESULTS / "index.md")
        print(f"index: {RESULTS / 'index.md'}")
    return 1 if failed else 0
