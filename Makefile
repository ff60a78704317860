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
	$(PY) -m pip install -q -e '.[dev,train,gcp,gcs,s3]'
	touch $(STAMP)

corpus: $(STAMP)
	$(GAP) build --out $(OUT)
	$(GAP) verify $(OUT)

test: $(STAMP)
	$(PY) -m pytest -q tests

bench: $(STAMP)
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) benchmarks/run.py --out BENCHMARKS.md

# The first Python whose torch sees a GPU: the venv's, else the machine's own python3 (a GPU image
# ships a CUDA torch and may have no network to build the venv). Settings: BENCH_GPU_ARGS="--seq 2048".
bench-gpu:
	@py=""; for p in $(PY) python3; do \
	  if $$p -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then py=$$p; break; fi; \
	done; \
	if [ -z "$$py" ]; then $(MAKE) -s install; py=$(PY); fi; \
	echo "bench-gpu with $$py"; $$py benchmarks/gpu_train.py --out BENCHMARKS.md $(BENCH_GPU_ARGS)

clean:
	rm -rf out .pytest_cache
