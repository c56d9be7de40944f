"""JAX's persistent compilation cache for the command lines (``python -m experiments``,
``python -m benchmarks``), so that a second run of an experiment starts warm.

XLA executables compiled by one run are written to a directory and read back by the next run
of the same computation (same program, shapes, flags and jax/jaxlib version), skipping XLA's
compile step; tracing and lowering still happen. A cached executable is the same binary that a
fresh compile produces, so results are unchanged.

Where, set by the environment variable ``BAYESJAX_COMPILE_CACHE``:

- unset, empty or ``1``: ``$XDG_CACHE_HOME/bayesjax/jax``, or ``~/.cache/bayesjax/jax`` when
  ``XDG_CACHE_HOME`` is unset or not an absolute path;
- ``0`` (or ``off``, ``false``, ``no``): no cache; nothing is written;
- anything else: that directory (``~`` expanded).

The cache is off under pytest (``PYTEST_CURRENT_TEST`` set, which subprocesses started by a test
inherit) unless ``BAYESJAX_COMPILE_CACHE`` is set explicitly, so ``make test`` never writes to the
user's home. Only the CLIs call :func:`enable`; importing the library or the experiments writes
nothing. The cache is not size-limited (a few MB per experiment); delete the directory to clear
it, or when JAX warns "Error reading persistent compilation cache entry" (a run killed while
writing an entry leaves it truncated: JAX then recompiles that program on every run, with the
same results, but never rewrites the entry).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

ENV = "BAYESJAX_COMPILE_CACHE"
_OFF = ("0", "off", "false", "no")
_DEFAULT = ("", "1", "on", "true", "yes")


def under_pytest(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this process runs under pytest: ``PYTEST_CURRENT_TEST`` set in ``environ``
    (default ``os.environ``), which subprocesses started by a test inherit. The one rule by which
    the experiments tell a test from a command-line run (this cache, ``claims.show_progress``)."""
    env = os.environ if environ is None else environ
    return bool(env.get("PYTEST_CURRENT_TEST"))


def cache_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """The cache directory that ``environ`` (default ``os.environ``) asks for, or ``None`` when
    the cache is off. Pure: creates nothing. ``RuntimeError`` if the home directory is needed
    and cannot be determined."""
    env = os.environ if environ is None else environ
    value = env.get(ENV)
    if value is None:
        if under_pytest(env):
            return None
        value = ""
    value = value.strip()
    if value.lower() in _OFF:
        return None
    if value.lower() not in _DEFAULT:
        return Path(value).expanduser()
    xdg = env.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "bayesjax" / "jax"


def enable(environ: Mapping[str, str] | None = None) -> Path | None:
    """Turn on JAX's persistent compilation cache in :func:`cache_dir`; returns the directory, or
    ``None`` when the cache is off.

    Every compilation without host callbacks is cached, however small or quick (``min_compile_time_secs = 0``,
    ``min_entry_size_bytes = -1``): an experiment is many small programs, each compiled in well
    under JAX's default threshold of 1 s. Call before the first JAX computation. If the
    directory cannot be created or written (a read-only home, say), prints one warning line to
    stderr and leaves the cache off: a run never fails because of its cache.
    """
    try:
        path = cache_dir(environ)
    except RuntimeError as e:  # no home directory
        print(f"warning: compilation cache off: {e}", file=sys.stderr)
        return None
    if path is None:
        return None
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):  # writable, not only present
            pass
    except OSError as e:
        print(f"warning: compilation cache off: cannot write {path} ({type(e).__name__}: "
              f"{e.strerror or e})", file=sys.stderr)
        return None
    import jax

    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    return path
