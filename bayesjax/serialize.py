"""Save a ``LaplaceResult`` or an ``MCMCResult`` to one file, and load it in a new process without
recomputing the curvature or re-running the sampler.

The file is an ``.npz`` archive (``numpy.savez``): the result's arrays, plus a JSON header with a
format version, the result's static parts (the flat view, ``structure``, ``curvature``, the KFAC
layers, ...) and a **fingerprint** of the ``Posterior`` it was built from. The ``Posterior`` itself is
not stored: it holds code (the model's forward function), and code is not data. ``load(path, post)``
takes the user's re-created ``Posterior`` (same model and data) and refuses one that differs, naming
what differs: the parameter paths, shapes and dtypes, the data's shapes, dtypes and SHA-256, the
likelihood (e.g. its noise σ), the prior, the temperature, and the model's outputs on the first
training points at the saved parameters (a different architecture with the same parameter shapes).

The result is stored generically, from its pytree (``tree_flatten`` of the result, down to arrays,
numbers, strings, tuples, lists, dicts and bayesjax's own NamedTuples), so that new fields or
structures of ``LaplaceResult`` are saved without changes here. A loaded result is the same pytree
as the saved one (equal aux data, bit-identical leaves): its ``log_marginal_likelihood``,
``predictive`` and ``sample`` (with the same key) are those of the original.

Example::

    bj.save("lap.npz", bj.laplace(post, fit.params, structure="kfac"))
    # later, in a new process, with post re-created from the same model class and data:
    lap = bj.load("lap.npz", post)

Security: nothing is unpickled (``numpy.load(..., allow_pickle=False)``), and the only classes a
file can name are bayesjax's own NamedTuples and pytree classes, which are rebuilt from their
fields; a file cannot make ``load`` run code of its choosing. Writes are atomic (a temporary file
in the same folder, then ``os.replace``): a crash leaves the old file or none, never half a file.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import math
import os
import tempfile
import zipfile

import jax
import jax.numpy as jnp
import numpy as np

from bayesjax.laplace import LaplaceResult
from bayesjax.mcmc_result import MCMCResult
from bayesjax.posterior import Posterior
from bayesjax.priors import param_paths

__all__ = ["save", "load", "FORMAT_VERSION"]

FORMAT = "bayesjax.result"
FORMAT_VERSION = 1
_HEADER = "__bayesjax_header__"
_PROBE = "__bayesjax_probe__"
_PROBE_POINTS = 8          # training points whose model outputs identify the model
_KINDS = {"LaplaceResult": LaplaceResult, "MCMCResult": MCMCResult}


# ------------------------------------------------------------------------------------ encoding
def _class_name(cls) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _own(cls) -> bool:
    return cls.__module__ == "bayesjax" or cls.__module__.startswith("bayesjax.")


def _encode(obj, arrays: dict, posts: list, where: str):
    """A JSON-able description of ``obj``; arrays go to ``arrays`` under generated names and the
    Posterior (not stored) to ``posts``."""
    if isinstance(obj, Posterior):
        posts.append(obj)
        return {"t": "posterior"}
    if isinstance(obj, jax.core.Tracer):
        raise TypeError(f"save: {where} is a traced value; save a result outside jax.jit")
    if isinstance(obj, (jax.Array, np.ndarray, np.generic)):
        kind = "jax" if isinstance(obj, jax.Array) else "np" if isinstance(obj, np.ndarray) else "scalar"
        try:
            host = np.asarray(obj)
        except Exception as e:
            raise TypeError(f"save: cannot store the array at {where} ({type(e).__name__}: {e})") from e
        if host.dtype.kind == "O":
            raise TypeError(f"save: {where} is an object array; only numeric arrays are stored")
        name = f"a{len(arrays)}"
        dtype = host.dtype
        if not dtype.isbuiltin:           # bfloat16 and friends: stored as their bits
            host = host.view(f"u{dtype.itemsize}")
        arrays[name] = host
        return {"t": kind, "name": name, "dtype": str(dtype)}
    if obj is None or isinstance(obj, (bool, int, float, str)):     # after np.float64, a float
        return obj
    if isinstance(obj, tuple) and hasattr(type(obj), "_fields"):
        if not _own(type(obj)):
            raise TypeError(f"save: {where} is a {_class_name(type(obj))}; only bayesjax's own "
                            "NamedTuples are stored")
        return {"t": "namedtuple", "cls": _class_name(type(obj)), "fields": list(obj._fields),
                "v": [_encode(v, arrays, posts, f"{where}.{f}") for f, v in zip(obj._fields, obj,
                                                                                strict=True)]}
    if isinstance(obj, (tuple, list)):
        return {"t": type(obj).__name__,
                "v": [_encode(v, arrays, posts, f"{where}[{i}]") for i, v in enumerate(obj)]}
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise TypeError(f"save: {where} has a key {k!r}; only str and int keys are stored")
            items.append([k, _encode(v, arrays, posts, f"{where}[{k!r}]")])
        return {"t": "dict", "v": items}
    if hasattr(obj, "tree_flatten") and hasattr(type(obj), "tree_unflatten") and _own(type(obj)):
        children, aux = obj.tree_flatten()
        name = type(obj).__name__
        return {"t": "node", "cls": _class_name(type(obj)),
                "aux": _encode(aux, arrays, posts, f"{name}.aux"),
                "children": _encode(tuple(children), arrays, posts, f"{name}.children")}
    raise TypeError(f"save: cannot store {type(obj).__name__} at {where}; a result holds arrays, "
                    "numbers, strings, tuples, lists, dicts and bayesjax NamedTuples")


def _resolve(name: str, path: str):
    module, _, qualname = name.partition(":")
    if not (module == "bayesjax" or module.startswith("bayesjax.")) or not qualname:
        raise ValueError(f"load: {path!r} names the class {name!r}, which is not bayesjax's; "
                         "not a bayesjax result file")
    try:
        obj = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"load: {path!r} needs {name}, which this bayesjax does not have (the file "
                         "was written by another version)") from e
    if not isinstance(obj, type):
        raise ValueError(f"load: {path!r} names {name!r}, which is not a class")
    return obj


def _decode(node, npz, post, path: str):
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    t = node["t"]
    if t == "posterior":
        return post
    if t in ("jax", "np", "scalar"):
        host = npz[node["name"]]
        dtype = jnp.dtype(node["dtype"])
        if host.dtype != dtype:
            host = host.view(dtype)
        if t == "scalar":
            return host[()]
        if t == "np":
            return host
        arr = jnp.asarray(host)
        if arr.dtype != dtype:
            raise ValueError(f"load: {path!r} holds {dtype} arrays, which JAX would cast to {arr.dtype}; "
                             "enable jax_enable_x64 before loading (and before building the Posterior)")
        return arr
    if t in ("tuple", "list"):
        values = [_decode(v, npz, post, path) for v in node["v"]]
        return tuple(values) if t == "tuple" else values
    if t == "dict":
        return {k: _decode(v, npz, post, path) for k, v in node["v"]}
    if t == "namedtuple":
        cls = _resolve(node["cls"], path)
        if not (issubclass(cls, tuple) and tuple(getattr(cls, "_fields", ())) == tuple(node["fields"])):
            raise ValueError(f"load: {path!r} stores {node['cls']} with fields {node['fields']}; this "
                             f"bayesjax's has {list(getattr(cls, '_fields', ()))} (another version)")
        return cls(*(_decode(v, npz, post, path) for v in node["v"]))
    if t == "node":
        cls = _resolve(node["cls"], path)
        if not hasattr(cls, "tree_unflatten"):
            raise ValueError(f"load: {path!r} names {node['cls']}, which is not a pytree class")
        aux = _decode(node["aux"], npz, post, path)
        children = _decode(node["children"], npz, post, path)
        try:
            return cls.tree_unflatten(aux, children)
        except (TypeError, ValueError) as e:
            raise ValueError(f"load: {path!r} stores a {node['cls']} this bayesjax cannot rebuild "
                             f"(another version?): {type(e).__name__}: {e}") from e
    raise ValueError(f"load: {path!r} has an entry of unknown type {t!r}; not a bayesjax result file")


# ------------------------------------------------------------------------------------ fingerprint
def _data_fingerprint(a) -> dict:
    host = np.ascontiguousarray(np.asarray(a))
    return {"shape": list(host.shape), "dtype": str(host.dtype),
            "sha256": hashlib.sha256(host.tobytes()).hexdigest()}


def _value_fingerprint(v) -> dict:
    leaves, treedef = jax.tree.flatten(v)
    return {"repr": repr(v), "tree": str(treedef), "leaves": [np.asarray(x).tolist() for x in leaves]}


def _fingerprint(post: Posterior) -> dict:
    leaves = jax.tree.leaves(post.params)
    return {
        "params": [[p, list(np.shape(x)), str(jnp.result_type(x))]
                   for p, x in zip(param_paths(post.params), leaves, strict=True)],
        "x": _data_fingerprint(post.x), "y": _data_fingerprint(post.y),
        "likelihood": _value_fingerprint(post.likelihood), "prior": _value_fingerprint(post.prior),
        "temperature": float(post.temperature),
    }


def _differences(saved: dict, given: dict) -> list[str]:
    out = []
    if saved["params"] != given["params"]:
        s, g = {p[0]: p[1:] for p in saved["params"]}, {p[0]: p[1:] for p in given["params"]}
        for p in sorted(s.keys() | g.keys()):
            if s.get(p) != g.get(p):
                def show(e):
                    return "absent" if e is None else f"shape {tuple(e[0])} {e[1]}"
                out.append(f"parameter {p!r}: saved {show(s.get(p))}, given {show(g.get(p))}")
        if not out:
            out.append("the parameters are in another order")
    for name in ("x", "y"):
        s, g = saved[name], given[name]
        if (s["shape"], s["dtype"]) != (g["shape"], g["dtype"]):
            out.append(f"data {name}: saved shape {tuple(s['shape'])} {s['dtype']}, given "
                       f"{tuple(g['shape'])} {g['dtype']}")
        elif s["sha256"] != g["sha256"]:
            out.append(f"data {name}: same shape and dtype but different values (another data set, "
                       "split or standardisation?)")
    for name in ("likelihood", "prior"):
        s, g = saved[name], given[name]
        if (s["tree"], s["leaves"]) != (g["tree"], g["leaves"]):
            out.append(f"{name}: saved {s['repr']}, given {g['repr']}")
    if saved["temperature"] != given["temperature"]:
        out.append(f"temperature: saved {saved['temperature']}, given {given['temperature']}")
    if any(s[2] == "float64" and g[2] == "float32"
           for s, g in zip(saved["params"], given["params"], strict=False)):
        out.append("(the result is float64: enable jax_enable_x64 before building the Posterior)")
    return out


def _probe_params(result):
    if isinstance(result, LaplaceResult):
        return result.mean
    return jax.tree.map(lambda s: s[0, 0], result.samples)     # chain 0, draw 0


@jax.jit
def _probe_outputs(post, params):
    return post.predict(params, post.x[:_PROBE_POINTS])


# ------------------------------------------------------------------------------------ save, load
def save(path, result) -> None:
    """Write ``result`` (a ``LaplaceResult`` or an ``MCMCResult``) to the file ``path`` (written
    as given; ``.npz`` is the natural suffix), atomically.

    Stored: every array of the result (for a Laplace approximation its curvature and factorisations,
    so loading recomputes nothing), its static parts and a fingerprint of its ``Posterior``; not the
    Posterior (its model is code). Reload with ``load(path, post)``. Nothing is pickled.
    """
    kind = type(result).__name__
    if type(result) not in _KINDS.values():
        raise TypeError(f"save: result must be a LaplaceResult or an MCMCResult, got {kind}")
    arrays, posts = {}, []
    tree = _encode(result, arrays, posts, "result")
    if not posts or any(p is not posts[0] for p in posts):
        raise ValueError(f"save: the {kind} must hold exactly one Posterior, found {len(posts)}")
    post = posts[0]
    import bayesjax

    probe = _probe_outputs(post, _probe_params(result))
    header = {"format": FORMAT, "version": FORMAT_VERSION, "bayesjax": bayesjax.__version__,
              "kind": kind, "fingerprint": _fingerprint(post), "probe_dtype": str(probe.dtype),
              "tree": tree}
    arrays[_PROBE] = np.asarray(probe, np.float64)        # any float dtype, stored exactly
    arrays[_HEADER] = np.array(json.dumps(header))
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".bayesjax-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)       # mkstemp makes it private; a saved file is not
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(path, post: Posterior):
    """The ``LaplaceResult`` or ``MCMCResult`` saved at ``path``, attached to ``post``.

    ``post`` is the ``Posterior`` re-created by the user: the same model (its parameter paths, shapes
    and dtypes, and its outputs at the saved parameters on the first training points, to
    ``sqrt(eps)`` relative), the same data (SHA-256 of x and y), likelihood, prior and temperature;
    its ``params`` values may differ (only the result's parameters are used). Any difference raises
    ``ValueError`` naming it. A file that is not a bayesjax result, or of another format version,
    raises ``ValueError``. Arrays are read with ``allow_pickle=False``.
    """
    if not isinstance(post, Posterior):
        raise TypeError(f"load: post must be a bayesjax.Posterior, got {type(post).__name__}")
    path = os.fspath(path)
    try:
        npz = np.load(path, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise ValueError(f"load: {path!r} is not a bayesjax result file ({type(e).__name__}: {e})") from e
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise ValueError(f"load: {path!r} is a single .npy array, not a bayesjax result file")
    with npz:
        if _HEADER not in npz.files:
            raise ValueError(f"load: {path!r} is an .npz archive without a bayesjax header; not a "
                             "bayesjax result file (write one with bayesjax.save)")
        try:
            header = json.loads(str(npz[_HEADER][()]))
            fmt, version, kind = header["format"], header["version"], header["kind"]
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"load: {path!r} has an unreadable bayesjax header ({e})") from e
        if fmt != FORMAT:
            raise ValueError(f"load: {path!r} is a {fmt!r} file, not a bayesjax result file")
        if version != FORMAT_VERSION:
            raise ValueError(f"load: {path!r} has format version {version} (written by bayesjax "
                             f"{header.get('bayesjax', '?')}); this bayesjax reads version "
                             f"{FORMAT_VERSION}")
        if kind not in _KINDS:
            raise ValueError(f"load: {path!r} holds a {kind!r}; expected one of {sorted(_KINDS)}")
        try:
            saved_print, tree, saved_out = header["fingerprint"], header["tree"], npz[_PROBE]
            probe_dtype = header["probe_dtype"]
        except (KeyError, TypeError) as e:
            raise ValueError(f"load: {path!r} has an incomplete bayesjax header (missing {e})") from e
        diffs = _differences(saved_print, _fingerprint(post))
        if diffs:
            raise ValueError(f"load: post is not the Posterior the {kind} in {path!r} was built "
                             "from: " + "; ".join(diffs))
        try:
            result = _decode(tree, npz, post, path)
        except (KeyError, TypeError, IndexError) as e:
            raise ValueError(f"load: {path!r} holds an unreadable result tree ({type(e).__name__}: "
                             f"{e})") from e
    if not isinstance(result, _KINDS[kind]):
        raise ValueError(f"load: {path!r} says {kind} but holds a {type(result).__name__}")
    out = np.asarray(_probe_outputs(post, _probe_params(result)), np.float64)
    scale = float(np.max(np.abs(saved_out), initial=0.0))
    # agreement to half the digits of the model's dtype: a rebuilt model on another backend passes
    tol = math.sqrt(float(jnp.finfo(probe_dtype).eps)) * (1.0 + scale)
    if out.shape != saved_out.shape or not float(np.max(np.abs(out - saved_out), initial=0.0)) <= tol:
        detail = (f"shape {out.shape} vs saved {saved_out.shape}" if out.shape != saved_out.shape
                  else f"max |Δ| = {float(np.max(np.abs(out - saved_out))):.3g} > {tol:.3g}")
        raise ValueError(f"load: post's model gives other outputs than the one the {kind} in {path!r} "
                         f"was built from, at the saved parameters on the first training points "
                         f"({detail}): a different architecture or activation with the same "
                         "parameter shapes?")
    return result
