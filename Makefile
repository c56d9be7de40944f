# The two commands a fresh machine needs: `make test` and `make experiment NAME=flat_vs_sharp`.
# Both create .venv and install the package into it on first use (and again when
# pyproject.toml changes).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: test experiment figures lint bench bench-peers clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -n 2 --durations=15

experiment: $(STAMP)
	@if [ -z "$(NAME)" ]; then echo "usage: make experiment NAME=<name> [ARGS='--smoke --seed 1 key=value']"; \
	  $(PY) -m experiments --list; exit 2; fi
	$(PY) -m experiments $(NAME) $(ARGS)

figures: $(STAMP)
	$(PY) -m experiments --all $(ARGS)

lint: $(STAMP)
	$(PY) -m ruff check bayesjax experiments tests benchmarks

bench: $(STAMP)
	$(PY) -m benchmarks $(ARGS)

# `make bench-peers`: bayesjax's Laplace against laplace-torch on the same nets and weights. The torch
# side lives in its own venv (.venv is never touched): a CPU torch pinned first, then laplace-torch
# constrained to it; torchvision is removed (benchmarks/peers/requirements.txt says why).
# ARGS='--write-reference' rewrites tests/data/laplace_torch_reference.json instead.
PEERS       := .venv-peers
PEERS_PY    := $(PEERS)/bin/python
PEERS_STAMP := $(PEERS)/.installed
PEERS_REQ   := benchmarks/peers/requirements.txt
PEERS_PIN   := benchmarks/peers/constraints.txt

$(PEERS_STAMP): $(PEERS_REQ) $(PEERS_PIN)
	@test -x $(PEERS_PY) || $(PYTHON) -m venv $(PEERS)
	$(PEERS_PY) -m pip install -q -r $(PEERS_PIN)
	$(PEERS_PY) -m pip install -q -r $(PEERS_REQ) -c $(PEERS_PIN)
	$(PEERS_PY) -m pip uninstall -q -y torchvision
	$(PEERS_PY) -c "import laplace, torch; print('laplace-torch ready, torch', torch.__version__)"
	@touch $(PEERS_STAMP)

bench-peers: $(STAMP) $(PEERS_STAMP)
	$(PY) -m benchmarks.peers $(ARGS)

clean:
	rm -rf results .pytest_cache
