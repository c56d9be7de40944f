"""``make bench-peers``: bayesjax's Laplace approximation against laplace-torch on the same nets with
the same weights (``python -m benchmarks.peers``; the README's "Laplace against laplace-torch").

``nets`` builds and exports the nets, ``bayesjax_side`` and ``torch_side`` time one case each in a
fresh process (the torch side imports no JAX and runs in ``.venv-peers``), ``table`` holds the
arithmetic limits and the table, ``reference`` writes ``tests/data/laplace_torch_reference.json``.
"""
