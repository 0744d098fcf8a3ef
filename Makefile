# The two entry points of the README. Both set up .venv first (idempotent; 12-30 min the first time, mmcv compiles).
PY := .venv/bin/python

.PHONY: setup demo test doctor bench gpu-check clean

setup:
	bash scripts/setup.sh

demo: setup
	$(PY) -m tools.cli suite

test: setup
	bash scripts/run_tests.sh

doctor: setup
	$(PY) -m tools.cli doctor

bench: setup
	$(PY) benchmarks/pretrain_speed.py

gpu-check:  # on a GPU machine, after `bash scripts/gpu_check.sh fetch` where there is network (README: Performance)
	bash scripts/gpu_check.sh run

clean:
	rm -rf work_dirs demo_data .pytest_cache
