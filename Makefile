# faultgraph: `make demo` and `make test` work on a fresh machine (they create .venv).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
CORE_STAMP := $(VENV)/.installed-core
STAMP  := $(VENV)/.installed-dev
BENCH_STAMP := $(VENV)/.installed-bench

# One BLAS thread: on 2-core machines two were never faster, and numpy and scipy each
# bundle an OpenBLAS whose threads otherwise compete.
BLAS1 := OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

.PHONY: demo test bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(CORE_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

# torch (the nonlinear extra) is pinned to the CPU wheel on local disk; Chromium (Debian's
# package) renders the HTML report in a test; Prometheus, Alertmanager and PostgreSQL (Debian's
# packages, not left running: the test starts its own on 127.0.0.1) back the service's
# integration test. Without them, those tests are skipped with a message saying so.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -m pip install --quiet "torch==2.13.0" || echo "torch==2.13.0 unavailable: MLP tests will be skipped"
	command -v chromium >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && \
		apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
		|| echo "Chromium unavailable: the browser test of the HTML report will be skipped"
	{ command -v prometheus && command -v promtool && command -v prometheus-alertmanager && \
		ls /usr/lib/postgresql/*/bin/initdb; } >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && \
		[ "$$(id -u)" = 0 ] && apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends prometheus prometheus-alertmanager postgresql >/dev/null && \
		{ ! command -v systemctl >/dev/null 2>&1 || systemctl disable --now prometheus prometheus-alertmanager \
		postgresql >/dev/null 2>&1 || true; }; } \
		|| echo "Prometheus, Alertmanager or PostgreSQL unavailable: the service's integration test will be skipped"
	touch $@

# torch is pinned (a CPU wheel on local disk); never ask pip for an unpinned torch.
$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(PY) -m pip install --quiet "torch==2.13.0"
	$(PY) -m pip install --quiet -e ".[bench,dev]"
	touch $@

demo: $(CORE_STAMP)
	$(BLAS1) $(VENV)/bin/faultgraph demo

test: $(STAMP)
	$(BLAS1) $(PY) -m pytest -q

bench: $(BENCH_STAMP)
	$(BLAS1) $(PY) benchmarks/discovery.py --out benchmarks/results/discovery.md
	$(BLAS1) $(PY) benchmarks/effects.py --out benchmarks/results/effects.md
	$(BLAS1) $(PY) benchmarks/detection.py --out benchmarks/results/detection.md
	$(BLAS1) $(PY) benchmarks/rca.py --out benchmarks/results/rca.md
	$(BLAS1) $(PY) benchmarks/rca_scales.py --out benchmarks/results/rca_scales.md
	$(BLAS1) $(PY) benchmarks/stability.py --out benchmarks/results/stability.md
	$(BLAS1) $(PY) benchmarks/robustness.py --incidents 20 --out benchmarks/results/robustness.md
	$(BLAS1) $(PY) benchmarks/robustness_smd.py --out benchmarks/results/robustness_smd.md
	$(BLAS1) $(PY) benchmarks/calibration.py --report --only "soft_cap 30" "rank" --out benchmarks/results/calibration.md
	$(BLAS1) $(PY) benchmarks/adaptation.py --out benchmarks/results/adaptation.md
	$(BLAS1) $(PY) benchmarks/mechanism.py --incidents 100 --smd-machines 7 --ensemble 5 --out benchmarks/results/mechanism.md
	$(BLAS1) $(PY) benchmarks/identify.py --out benchmarks/results/identify.md
	$(BLAS1) $(PY) benchmarks/identify.py --seeds 106,107,108,109,110,111 --parts planted --out benchmarks/results/identify_heldout.md
	$(BLAS1) $(PY) benchmarks/trainticket.py --detector '' --detector 'scale_floor=0.01 soft_cap=30' --out benchmarks/results/trainticket.md
	$(BLAS1) $(PY) benchmarks/reliability.py --out benchmarks/results/reliability.md
	$(BLAS1) $(PY) benchmarks/budget.py --out benchmarks/results/budget.md
	$(BLAS1) $(PY) benchmarks/large_graphs.py --out benchmarks/results/large_graphs.md
	$(BLAS1) $(PY) benchmarks/fleet.py --out benchmarks/results/fleet.md
	$(BLAS1) $(PY) benchmarks/service.py --out benchmarks/results/service.md
# DoWhy gcm, the optional peer (its own venv: docs/baselines.md):
#   .venv-peers/bin/python benchmarks/peers.py --out benchmarks/results/peers.md

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
