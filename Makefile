# The two commands a fresh machine needs: `make test` and `make experiment NAME=flat_vs_sharp`.
# Both create .venv and install the package into it on first use (and again when
# pyproject.toml changes).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: test experiment figures lint bench clean

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

clean:
	rm -rf results .pytest_cache
