# faultgraph: `make demo` and `make test` work on a fresh machine (they create .venv).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-dev
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: demo test bench bench-quick clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

# torch is pinned (a CPU wheel on local disk); never ask pip for an unpinned torch.
$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(PY) -m pip install --quiet "torch==2.13.0"
	$(PY) -m pip install --quiet -e ".[bench,dev]"
	touch $@

demo: $(STAMP)
	$(VENV)/bin/faultgraph demo

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(BENCH_STAMP)
	$(PY) benchmarks/discovery.py --out benchmarks/results/discovery.md

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
