# Two commands set everything up on a fresh machine: `make corpus` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
GAP    := $(VENV)/bin/gap
STAMP  := $(VENV)/.installed
OUT    ?= out/corpus

.PHONY: install corpus test bench bench-gpu clean

install: $(STAMP)

$(STAMP): setup.cfg setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip==25.3
	$(PY) -m pip install -q -e '.[dev,train,gcp]'
	touch $(STAMP)

corpus: $(STAMP)
	$(GAP) build --out $(OUT)
	$(GAP) verify $(OUT)

test: $(STAMP)
	$(PY) -m pytest -q tests

bench: $(STAMP)
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) benchmarks/run.py --out BENCHMARKS.md

bench-gpu: $(STAMP)
	$(PY) benchmarks/gpu_train.py --out BENCHMARKS.md

clean:
	rm -rf out .pytest_cache
