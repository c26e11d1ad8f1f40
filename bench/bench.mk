# bench/bench.mk: the benchmarks (see bench/README.md). Included from the top Makefile, which defines
# `setup`, VENV and the exported environment. Benchmarks are not tests: `make test` never runs them and
# nothing fails on a time; a bench exits non-zero only when a result is wrong (a count, a probe status, a
# playbook run) or it cannot run.
#   make bench                      all three, in order; exit 1 if any failed
#   make bench-logscan|bench-probes|bench-fleet|bench-remediate BENCH_ARGS='--rounds 5'
#   (bench-fleet and bench-remediate use the lab: run them under `flock /work/.lab.lock`)
.PHONY: bench bench-logscan bench-probes bench-fleet bench-report bench-remediate

BENCH_PY = $(or $(VENV),$(CURDIR)/.venv)/bin/python
BENCH_ARGS ?=

bench: setup
	@rc=0; for b in logscan probes report fleet; do \
	    echo "=== bench/$$b"; $(BENCH_PY) bench/$$b/run.py || { echo "=== bench/$$b FAILED"; rc=1; }; \
	done; exit $$rc

bench-logscan: setup
	$(BENCH_PY) bench/logscan/run.py $(BENCH_ARGS)

bench-probes: setup
	$(BENCH_PY) bench/probes/run.py $(BENCH_ARGS)

bench-fleet: setup
	$(BENCH_PY) bench/fleet/run.py $(BENCH_ARGS)

bench-remediate: setup
	$(BENCH_PY) bench/remediate/run.py $(BENCH_ARGS)

bench-report: setup
	$(BENCH_PY) bench/report/run.py $(BENCH_ARGS)
