# The project's own tooling: measurements and the real recordings they use. The Makefile
# includes this file when it exists; delete tools/ and these targets and settings go with it.

#> bench.json | bench: where the JSON goes
BENCH_OUT ?=
TOOL_SETTINGS += BENCH_OUT

##@ Project tooling (tools/: yours to delete)

.PHONY: bench
bench: $(VENV)/.installed ## Measure training speed, accuracy on real EEG, memory, make local (BENCH_OUT=bench.json)
	$(BIN)/python -m tools.bench
