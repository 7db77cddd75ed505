# The project's own tooling: measurements and the real recordings they use. The Makefile
# includes this file when it exists; delete tools/ and these targets and settings go with it.

#> bench.json | bench: where the JSON goes
BENCH_OUT ?=
TOOL_SETTINGS += BENCH_OUT
# The baselines (MiniRocket from aeon, a logistic regression) need numba, whose numpy is
# older than the image's: they run from a virtualenv of their own.
VENV_BASELINES := .venv-baselines
TOOL_VENVS += $(VENV_BASELINES)

##@ Project tooling (tools/: yours to delete)

.PHONY: bench
bench: $(VENV)/.installed $(VENV_BASELINES)/.installed ## Measure training speed, accuracy on real recordings against baselines, memory, make local (BENCH_OUT=bench.json)
	$(BIN)/python -m tools.bench

.PHONY: cross-validate
cross-validate: $(VENV)/.installed $(VENV_BASELINES)/.installed ## Score candidate defaults on the collection's training splits (never its test splits)
	$(BIN)/python -m tools.cross_validate

$(VENV_BASELINES)/.installed: tools/requirements-baselines.txt
	"$${PYTHON}" -m venv $(VENV_BASELINES)
	$(VENV_BASELINES)/bin/python -m pip install --quiet --upgrade pip
	$(VENV_BASELINES)/bin/python -m pip install --quiet -r tools/requirements-baselines.txt
	touch $@
